"""Push half of the inbound connectors: one HTTP server for the platforms' signed webhooks.

Meta (Facebook Page feed, Messenger, Instagram), X Account Activity and Discourse deliveries are
verified on their raw bytes, written untouched (Meta batches split per item) to ``social.raw``
and answered 200 only once the broker acknowledged them. Each platform is a push connector in
the shared registry (:mod:`.push`); the server is the HTTP shell around them. See ``README.md``
beside this file.
"""

from __future__ import annotations

from connectors.ingest.server import build_producer, create_app, run_ingest
from connectors.ingest.settings import IngestSettings

__all__ = ["IngestSettings", "build_producer", "create_app", "run_ingest"]

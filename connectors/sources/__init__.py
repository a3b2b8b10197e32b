"""Inbound connectors; importing this package registers them all: backfill and the pollers
(pull), and the webhook connectors the ingest server serves (push)."""

from connectors.ingest import push
from connectors.sources import backfill, pollers

__all__ = ["backfill", "pollers", "push"]

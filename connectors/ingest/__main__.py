"""``python -m connectors.ingest``: run the webhook ingest server from the environment."""

from __future__ import annotations

import logging
import sys

from connectors.ingest.server import run_ingest
from pipeline.errors import Fatal
from pipeline.settings import get_settings


def main() -> None:
    logging.basicConfig(level=get_settings().log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        run_ingest()
    except Fatal as exc:
        logging.getLogger("connectors.ingest").error("%s", exc.message)
        sys.exit(1)


if __name__ == "__main__":
    main()

"""``porte-voix poll SOURCE``: run one registered poller against the configured broker.

Exit codes: 0 every stream polled; 1 something was retriable or dead-lettered (run again);
2 an operator must act (unknown source, invalid or missing configuration, refused credentials).
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from types import FrameType

from pydantic import ValidationError

from connectors.base import REGISTRY
from connectors.cursors import KafkaCursorStore
from connectors.health import HealthReporter
from connectors.producer import RawProducer
from connectors.sources.pollers.base import Poller

__all__ = ["poll_command", "pollers"]

log = logging.getLogger(__name__)


def pollers() -> dict[str, type[Poller]]:  # type: ignore[type-arg]
    """Registered connectors that poll (the others, like backfill, are run differently)."""
    import connectors.sources  # noqa: F401  (registers every connector)

    return {name: cls for name, cls in sorted(REGISTRY.items())
            if isinstance(cls, type) and issubclass(cls, Poller)}


def poll_command(source: str, once: bool, interval: float,
                 accounts: list[str] | None = None) -> int:
    """Poll ``source`` once, or every ``interval`` seconds until SIGINT/SIGTERM."""
    from pipeline.settings import get_settings

    known = pollers()
    cls = known.get(source)
    if cls is None:
        print(f"unknown poller {source!r}; registered: {', '.join(known)}", file=sys.stderr)
        return 2
    overrides: dict[str, object] = {"accounts": accounts} if accounts else {}
    try:
        config = cls.config_model(**overrides)
    except ValidationError as exc:
        prefix = cls.config_model.model_config.get("env_prefix", "")
        for error in exc.errors():
            where = ".".join(str(p) for p in error["loc"]) or "config"
            print(f"{source}: {prefix}{where.upper()}: {error['msg']}", file=sys.stderr)
        return 2
    bootstrap = get_settings().bootstrap_list
    poller = cls(config)
    from connectors.sources.pollers.runner import PollRunner

    with RawProducer(bootstrap) as producer, KafkaCursorStore(bootstrap) as cursors, \
            HealthReporter(bootstrap) as health:
        runner = PollRunner(poller, producer, cursors, health)
        if once:
            report = runner.run_once()
            for outcome in report.outcomes:
                status = outcome.error.message if outcome.error else "ok"
                print(f"{source} {outcome.stream.account} {outcome.stream.name}: "
                      f"{outcome.new_items} new item(s) in {outcome.pages} page(s); {status}",
                      file=sys.stderr)
            return report.exit_code
        stop = threading.Event()

        def _stop(signum: int, frame: FrameType | None) -> None:
            log.info("signal %s: stopping after the current run", signum)
            stop.set()

        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, _stop)
            signal.signal(signal.SIGTERM, _stop)
        return runner.run_forever(interval, stop)

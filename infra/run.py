"""``make run``: the whole pipeline on one machine, with demo traffic, until Ctrl-C.

Starts the embedded broker, creates the topics, starts the local helpdesk, the faust worker, the
webhook ingest server and the dashboard, replays the bundled demo traffic and prints where to
look. Every process it starts is written to ``<state_dir>/*.pid`` so ``make stop`` (or a second
``make run``) can clean up after it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from infra.broker import EmbeddedBroker
from infra.processes import free_port, stop_process
from infra.topics import ensure_topics

log = logging.getLogger("porte-voix.run")

REPO = Path(__file__).resolve().parent.parent
DEMO_TRAFFIC = REPO / "infra" / "demo" / "demo_traffic.jsonl"
DEMO_MALFORMED = REPO / "infra" / "demo" / "malformed.jsonl"


def _port(env: str, preferred: int) -> int:
    """The port named in ``env``, else ``preferred`` when free, else any free port."""
    if os.environ.get(env):
        return int(os.environ[env])
    import socket

    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", preferred))
            return preferred
        except OSError:
            return free_port()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def stop_all(state_dir: Path) -> str:
    """Terminate the processes recorded in ``state_dir`` (the run first, it stops the rest)."""
    stopped = []
    for pid_file in sorted(state_dir.glob("*.pid"), key=lambda p: p.name != "run.pid"):
        try:
            pid = int(pid_file.read_text().strip())
        except (OSError, ValueError):
            pid_file.unlink(missing_ok=True)
            continue
        if pid != os.getpid() and _alive(pid):
            os.kill(pid, signal.SIGTERM)
            for _ in range(100):
                if not _alive(pid):
                    break
                time.sleep(0.1)
            else:
                os.kill(pid, signal.SIGKILL)
            stopped.append(f"{pid_file.stem} ({pid})")
        pid_file.unlink(missing_ok=True)
    return "stopped: " + ", ".join(stopped) if stopped else "nothing was running"


@contextlib.contextmanager
def _pid(state_dir: Path, name: str, pid: int) -> Iterator[None]:
    path = state_dir / f"{name}.pid"
    path.write_text(str(pid))
    try:
        yield
    finally:
        path.unlink(missing_ok=True)


def _ingest_secrets(state_dir: Path) -> dict[str, str]:
    """Webhook secrets for the local ingest server: from the environment, else made up once.

    They are kept in ``ingest.env`` (mode 600) so a developer can sign test deliveries.
    """
    import secrets

    path = state_dir / "ingest.env"
    names = ("PORTE_VOIX_INGEST_META_APP_SECRET", "PORTE_VOIX_INGEST_META_VERIFY_TOKEN",
             "PORTE_VOIX_INGEST_X_CONSUMER_SECRET", "PORTE_VOIX_INGEST_DISCOURSE_SECRET")
    saved = dict(line.split("=", 1) for line in path.read_text().splitlines()
                 if "=" in line) if path.exists() else {}
    values = {n: os.environ.get(n) or saved.get(n) or secrets.token_hex(16) for n in names}
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    path.chmod(0o600)
    return values


def _count_tickets(sink: object) -> int:
    try:
        return len(sink.list_tickets())  # type: ignore[attr-defined]
    except Exception:
        return -1


def run_all(state_dir: Path, demo: bool = True) -> int:
    """Run everything in the foreground; returns the exit code."""
    from connectors.producer import RawProducer
    from connectors.sinks.helpdesk import HelpdeskSink
    from connectors.sources.backfill import BackfillConfig, BackfillSource
    from infra.helpdesk_server import HelpdeskServer

    logging.getLogger("kafka").setLevel(logging.WARNING)
    state_dir = state_dir.resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    previous = stop_all(state_dir)
    if previous != "nothing was running":
        log.info("cleaned up an earlier run: %s", previous)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    broker = EmbeddedBroker(port=_port("PORTE_VOIX_BROKER_PORT", 9092),
                            log_path=state_dir / "broker.log")
    helpdesk = HelpdeskServer(data_dir=state_dir / "helpdesk",
                              port=_port("PORTE_VOIX_HELPDESK_PORT", 8090))
    worker: subprocess.Popen[bytes] | None = None
    ingest: subprocess.Popen[bytes] | None = None
    dashboard: subprocess.Popen[bytes] | None = None
    with _pid(state_dir, "run", os.getpid()):
        try:
            broker.start()
            assert broker.process is not None
            (state_dir / "broker.pid").write_text(str(broker.process.pid))
            ensure_topics(broker.bootstrap)
            log.info("broker on %s (in memory), %s topics ready", broker.bootstrap, "all")
            info = helpdesk.start()
            log.info("helpdesk on %s", info.base_url)
            env = {
                **os.environ,
                "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
                "PORTE_VOIX_HELPDESK_URL": info.base_url,
                "PORTE_VOIX_HELPDESK_TOKEN": info.api_token.get_secret_value(),
                "PORTE_VOIX_HELPDESK_QUEUES": json.dumps(info.queues),
            }
            with (state_dir / "worker.log").open("ab") as worker_log:
                worker = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "worker"],
                                          env=env, stdout=worker_log, stderr=worker_log,
                                          cwd=REPO)
            (state_dir / "worker.pid").write_text(str(worker.pid))
            ingest_port = _port("PORTE_VOIX_INGEST_PORT", 8088)
            ingest_env = _ingest_secrets(state_dir)
            with (state_dir / "ingest.log").open("ab") as ingest_log:
                ingest = subprocess.Popen(
                    [sys.executable, "-m", "pipeline.cli", "ingest"],
                    env={**env, **ingest_env, "PORTE_VOIX_INGEST_PORT": str(ingest_port)},
                    stdout=ingest_log, stderr=ingest_log, cwd=REPO)
            (state_dir / "ingest.pid").write_text(str(ingest.pid))
            dashboard_port = int(os.environ.get("PORTE_VOIX_DASHBOARD_PORT") or free_port())
            with (state_dir / "dashboard.log").open("ab") as dashboard_log:
                dashboard = subprocess.Popen(
                    [sys.executable, "-m", "pipeline.cli", "dashboard"],
                    env={**env, "PORTE_VOIX_DASHBOARD_PORT": str(dashboard_port)},
                    stdout=dashboard_log, stderr=dashboard_log, cwd=REPO)
            (state_dir / "dashboard.pid").write_text(str(dashboard.pid))
            log.info("dashboard on http://127.0.0.1:%d/", dashboard_port)
            sent = 0
            if demo:
                with RawProducer(broker.bootstrap) as producer:
                    for path in (DEMO_TRAFFIC, DEMO_MALFORMED):
                        source = BackfillSource(BackfillConfig(path=path))
                        sent += sum(producer.send_all(source.read()))
                log.info("demo traffic: %d raw payloads acknowledged on social.raw", sent)
            sink = HelpdeskSink.from_info(info)
            settle_deadline = time.monotonic() + 90
            last, stable_since = -1, time.monotonic()
            while demo and time.monotonic() < settle_deadline and not stop.is_set():
                count = _count_tickets(sink)
                if count != last:
                    last, stable_since = count, time.monotonic()
                elif count > 0 and time.monotonic() - stable_since > 8:
                    break
                if worker.poll() is not None:
                    log.error("the worker stopped; see %s", state_dir / "worker.log")
                    return 1
                stop.wait(2)
            summary = {
                "helpdesk": f"{info.base_url}/  (login {info.username} / "
                            f"{info.password.get_secret_value()})",
                "tickets_created": last,
                "dashboard": f"http://127.0.0.1:{dashboard_port}/  (?lang=fr|en)",
                "webhooks": f"http://127.0.0.1:{ingest_port}/webhooks/{{meta,x,discourse}} "
                            f"(secrets in {state_dir / 'ingest.env'})",
                "kafka_bootstrap": broker.bootstrap,
                "topics": "porte-voix topics list",
                "read a topic": f"KAFKA_BOOTSTRAP_SERVERS={broker.bootstrap} .venv/bin/porte-voix "
                                "tail social.enriched --from-beginning",
                "dead letters": f"KAFKA_BOOTSTRAP_SERVERS={broker.bootstrap} .venv/bin/porte-voix "
                                "tail social.deadletter --from-beginning",
                "logs": str(state_dir),
                "stop": "Ctrl-C here, or `make stop` from another terminal",
            }
            print("\nPorte-Voix is running (the embedded broker keeps data in memory only):")
            for key, value in summary.items():
                print(f"  {key:16} {value}")
            print(json.dumps({"ready": True, "helpdesk_url": info.base_url,
                              "dashboard_url": f"http://127.0.0.1:{dashboard_port}/",
                              "bootstrap": broker.bootstrap, "tickets": last}), flush=True)
            while not stop.is_set():
                if worker.poll() is not None:
                    log.error("the worker stopped; see %s", state_dir / "worker.log")
                    return 1
                stop.wait(1)
            return 0
        except KeyboardInterrupt:
            return 0
        finally:
            print("stopping…", file=sys.stderr)
            for proc in (dashboard, ingest, worker):
                stop_process(proc)
            helpdesk.stop()
            broker.stop()
            for name in ("dashboard", "ingest", "worker", "broker"):
                (state_dir / f"{name}.pid").unlink(missing_ok=True)

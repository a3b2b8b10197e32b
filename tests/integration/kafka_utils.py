"""Test helpers: read topics and run a worker as a real process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from kafka.consumer.fetcher import ConsumerRecord

from connectors.reading import read_from_start
from infra.processes import stop_process

REPO = Path(__file__).resolve().parents[2]


def read_topics(bootstrap: str, topics: list[str], min_count: int = 0, timeout: float = 60.0,
                quiet: float = 2.0) -> list[ConsumerRecord]:
    """Everything on ``topics`` from the start (see :func:`connectors.reading.read_from_start`)."""
    return read_from_start(bootstrap, topics, min_count, timeout, quiet)


class WorkerProcess:
    """``porte-voix worker`` as a real OS process, so it can be killed mid-stream."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = {**os.environ, **env}
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "pipeline.cli", "worker", "--loglevel", "info"],
                env=self.env, stdout=log, stderr=log, cwd=REPO,
            )
        return self

    def kill(self) -> None:
        """SIGKILL: no clean shutdown, no final commit (the crash case)."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def stop(self) -> None:
        stop_process(self.process, timeout=20)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]

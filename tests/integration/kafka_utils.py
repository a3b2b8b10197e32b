"""Test helpers: read topics and run a worker as a real process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord

from infra.processes import stop_process

REPO = Path(__file__).resolve().parents[2]


def read_topics(bootstrap: str, topics: list[str], min_count: int = 0, timeout: float = 60.0,
                quiet: float = 2.0) -> list[ConsumerRecord]:
    """Read everything on ``topics`` from the start, without joining a consumer group.

    Partitions are assigned by hand (no group join to wait for); we stop once at least
    ``min_count`` records arrived and ``quiet`` seconds passed with nothing new. End offsets are
    unreliable on the embedded broker, so we never ask for them.
    """
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                             enable_auto_commit=False, auto_offset_reset="earliest")
    records: list[ConsumerRecord] = []
    try:
        partitions = []
        for name in topics:
            ids = consumer.partitions_for_topic(name) or set()
            partitions.extend(TopicPartition(name, p) for p in sorted(ids))
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        deadline = time.monotonic() + timeout
        last_new = time.monotonic()
        while time.monotonic() < deadline:
            batch = consumer.poll(timeout_ms=300)
            got = [r for recs in batch.values() for r in recs]
            if got:
                records.extend(got)
                last_new = time.monotonic()
            elif len(records) >= min_count and time.monotonic() - last_new > quiet:
                break
    finally:
        consumer.close()
    return records


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

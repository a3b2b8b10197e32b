"""``make bench``: throughput and memory, every figure taken in one run on one broker.

Timings on a shared machine are noisy, so the useful numbers are the ratios between figures
measured together here (pipeline vs. raw aiokafka passthrough), never absolute thresholds in
tests. Figures:

- ``passthrough_eps``: aiokafka consume -> produce of the same records, nothing else (ceiling);
- ``pipeline_normalize_route_eps``: aiokafka loop running the real normalize and route stages;
- ``pipeline_full_eps``: the same loop with enrichment too;
- ``enrich_eps_per_core``: the enricher alone on one core, realistic EN/FR mix, batched;
- ``worker``: a real faust worker process end to end (raw -> enriched) with its peak RSS.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import resource
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from kafka import KafkaConsumer
from kafka.admin import KafkaAdminClient, NewTopic

from connectors.producer import RawProducer
from connectors.sources.backfill import envelope_from_line
from infra.broker import EmbeddedBroker
from infra.processes import stop_process
from infra.topics import ensure_topics
from pipeline.enrich import Enricher
from pipeline.normalize.brands import BrandDirectory
from pipeline.routing import load_rules
from pipeline.settings import DEFAULT_BRANDS, DEFAULT_RULES
from pipeline.stages import (
    Origin,
    Output,
    enrich_stage,
    guarded,
    normalize_stage,
    route_stage,
)
from schemas.models import RawEnvelope, Stage

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "infra" / "demo" / "demo_traffic.jsonl"


def bench_envelopes(count: int) -> list[RawEnvelope]:
    """``count`` realistic raw payloads: the demo traffic, each copy with fresh platform ids."""
    lines = [line for line in DEMO.read_text(encoding="utf-8").splitlines() if line.strip()]
    out: list[RawEnvelope] = []
    round_ = 0
    while len(out) < count:
        for line in lines:
            if len(out) >= count:
                break
            text = line if round_ == 0 else _reid(line, round_)
            out.append(envelope_from_line(text.encode()))
        round_ += 1
    return out


def _reid(line: str, round_: int) -> str:
    """Make a copy distinct: suffix every id-like string value so events do not collapse."""
    obj = json.loads(line)

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: (f"{v}r{round_}" if isinstance(v, str) and _is_id(k) else walk(v))
                    for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return json.dumps(walk(obj), ensure_ascii=False)


def _is_id(key: str) -> bool:
    return key in {"id", "id_str", "mid", "comment_id", "reviewId", "name"} or (key.endswith(
        "_id") and key not in {"for_user_id", "recipient_id", "post_id", "channelId"})


def _create(bootstrap: str, names: list[str], partitions: int = 6) -> None:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics([NewTopic(n, partitions, 1) for n in names])
    finally:
        admin.close()


def _produce(bootstrap: str, topic: str, envelopes: list[RawEnvelope]) -> None:
    with RawProducer(bootstrap, topic=topic) as producer:
        for _ in producer.send_all(envelopes):
            pass


async def _loop(bootstrap: str, topic: str, expected: int,
                work: Callable[[bytes, Origin], list[Output]], out_topic: str | None) -> float:
    """Consume ``expected`` records, run ``work`` on each, produce its outputs; events/s."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap,
                                group_id=f"bench-{uuid.uuid4().hex[:6]}",
                                auto_offset_reset="earliest", enable_auto_commit=False,
                                session_timeout_ms=6000, heartbeat_interval_ms=2000)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await consumer.start()
    await producer.start()
    seen = 0
    start: float | None = None
    try:
        while seen < expected:
            batches = await consumer.getmany(timeout_ms=1000, max_records=500)
            for tp, records in batches.items():
                if start is None:
                    start = time.perf_counter()
                for rec in records:
                    outputs = work(rec.value, Origin(tp.topic, tp.partition, rec.offset))
                    for out in outputs:
                        await producer.send(out_topic or out.topic, out.value, key=out.key)
                    seen += 1
            await producer.flush()
            await consumer.commit()
    finally:
        await producer.stop()
        await consumer.stop()
    return seen / (time.perf_counter() - (start or time.perf_counter()))


def _passthrough(raw: bytes, origin: Origin) -> list[Output]:
    return [Output("x", None, raw)]


def _enrich_eps(enricher: Enricher, envelopes: list[RawEnvelope],
                brands: BrandDirectory) -> tuple[float, int]:
    """Enricher alone, batched, on this (one) core."""
    events = []
    for env in envelopes:
        for out in normalize_stage(env.model_dump_json().encode(), brands):
            events.append(out.value)
    origins = [Origin()] * len(events)
    start = time.perf_counter()
    for i in range(0, len(events), 256):
        enrich_stage(events[i:i + 256], origins[i:i + 256], enricher)
    return len(events) / (time.perf_counter() - start), len(events)


def _worker_run(bootstrap: str, envelopes: list[RawEnvelope], tmp: Path) -> dict[str, Any]:
    """A real faust worker process: time from first raw record to the last enriched one."""
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
           "PORTE_VOIX_DELIVER_ENABLED": "false", "PORTE_VOIX_APP_ID": "porte-voix-bench"}
    log = (tmp / "bench-worker.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "worker"], env=env,
                            stdout=log, stderr=log, cwd=REPO)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        ps = psutil.Process(proc.pid)
        while not done.is_set():
            try:
                peak = max(peak, ps.memory_info().rss)
            except psutil.Error:
                return
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        expected = sum(len(normalize_stage(e.model_dump_json().encode(),
                                           BrandDirectory.load(DEFAULT_BRANDS)))
                       for e in envelopes)
        time.sleep(8)  # let the worker join its group before the clock starts
        start = time.perf_counter()
        _produce(bootstrap, "social.raw", envelopes)
        consumer = KafkaConsumer("social.enriched", bootstrap_servers=bootstrap,
                                 group_id=f"bench-{uuid.uuid4().hex[:6]}",
                                 auto_offset_reset="earliest", enable_auto_commit=False)
        seen: set[bytes] = set()
        deadline = time.monotonic() + 600
        while len(seen) < expected and time.monotonic() < deadline and proc.poll() is None:
            for records in consumer.poll(timeout_ms=500).values():
                seen.update(r.value[:200] + (r.key or b"") for r in records)
        elapsed = time.perf_counter() - start
        consumer.close()
        return {"events": expected, "enriched_seen": len(seen),
                "end_to_end_eps": round(len(seen) / elapsed, 1),
                "peak_rss_mib": round(peak / 2**20, 1)}
    finally:
        done.set()
        stop_process(proc, timeout=20)
        log.close()


def run_bench(events: int = 5000) -> dict[str, Any]:
    """Run every measurement against one fresh embedded broker and return the figures."""
    import tempfile

    brands = BrandDirectory.load(DEFAULT_BRANDS)
    rules = load_rules(DEFAULT_RULES)
    enricher = Enricher()
    envelopes = bench_envelopes(events)
    results: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "events": events,
    }
    with tempfile.TemporaryDirectory() as tmp, EmbeddedBroker(
        log_path=Path(tmp) / "tansu.log"
    ) as broker:
        ensure_topics(broker.bootstrap)
        _create(broker.bootstrap, ["bench.in", "bench.out", "bench.raw", "bench.raw2"])
        _produce(broker.bootstrap, "bench.in", envelopes)
        _produce(broker.bootstrap, "bench.raw", envelopes)
        _produce(broker.bootstrap, "bench.raw2", envelopes)

        results["passthrough_eps"] = round(asyncio.run(
            _loop(broker.bootstrap, "bench.in", events, _passthrough, "bench.out")), 1)

        def normalize_route(raw: bytes, origin: Origin) -> list[Output]:
            outs = guarded(Stage.normalize, lambda r: normalize_stage(r, brands), raw, origin)
            routed: list[Output] = []
            for out in outs:
                enriched = enrich_stage([out.value], [origin], enricher)
                for e in enriched:
                    routed.extend(route_stage(e.value, rules))
            return outs + routed

        def normalize_only_route(raw: bytes, origin: Origin) -> list[Output]:
            return guarded(Stage.normalize, lambda r: normalize_stage(r, brands), raw, origin)

        results["pipeline_normalize_eps"] = round(asyncio.run(_loop(
            broker.bootstrap, "bench.raw", events, normalize_only_route, None)), 1)
        results["pipeline_full_eps"] = round(asyncio.run(_loop(
            broker.bootstrap, "bench.raw2", events, normalize_route, None)), 1)
        results["ratio_pipeline_full_to_passthrough"] = round(
            results["pipeline_full_eps"] / results["passthrough_eps"], 3)

        eps, n = _enrich_eps(Enricher(), envelopes, brands)
        results["enrich_eps_per_core"] = round(eps, 1)
        results["enrich_events"] = n
        results["worker"] = _worker_run(broker.bootstrap, envelopes[: min(events, 3000)],
                                        Path(tmp))
    results["bench_process_peak_rss_mib"] = round(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return results

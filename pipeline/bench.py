"""``make bench``: throughput and memory, every figure taken in one run on one broker.

Timings on a shared machine are noisy, so the useful numbers are the ratios between figures
measured together here (pipeline vs. raw aiokafka passthrough), never absolute thresholds in
tests. Figures:

- ``passthrough_eps``: aiokafka consume -> produce of the same records, nothing else (ceiling);
- ``pipeline_normalize_route_eps``: aiokafka loop running the real normalize and route stages
  (enrichment replaced by fixed labels, to isolate the cost of the stages around it);
- ``pipeline_full_eps``: the same loop with enrichment too;
- ``enrich_eps_per_core``: the enricher alone on one core, batched, on the ~5,000 distinct
  EN/FR/other messages of ``data/train`` (every brand, one second apart), median of 3 passes;
- ``enrich_eps_per_core_reposts``: the same on the demo traffic copied over and over, where
  every message is a verbatim repost (the near-duplicate index's worst case);
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
from pipeline.repeats import RepeatFilter
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
from schemas.models import (
    EnrichedEvent,
    Enrichment,
    Intent,
    Lang,
    ProductArea,
    RawEnvelope,
    Sentiment,
    SocialEvent,
    Stage,
    Urgency,
)

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "infra" / "demo" / "demo_traffic.jsonl"


def bench_envelopes(count: int, brands_file: Path = DEFAULT_BRANDS) -> list[RawEnvelope]:
    """``count`` realistic raw payloads: the demo traffic, each copy with fresh item ids.

    Brand account ids and handles are left alone so every copy still finds its brand.
    """
    import yaml

    directory = yaml.safe_load(brands_file.read_text())
    protected = {str(value) for brand in directory["brands"]
                 for group in ("accounts", "handles")
                 for values in (brand.get(group) or {}).values() for value in values}
    lines = [line for line in DEMO.read_text(encoding="utf-8").splitlines() if line.strip()]
    out: list[RawEnvelope] = []
    round_ = 0
    while len(out) < count:
        for line in lines:
            if len(out) >= count:
                break
            text = line if round_ == 0 else _reid(line, round_, protected)
            out.append(envelope_from_line(text.encode()))
        round_ += 1
    return out


def _reid(line: str, round_: int, protected: set[str]) -> str:
    """Make a copy distinct: suffix id-like values so events do not collapse into one."""
    obj = json.loads(line)

    def walk(node: Any, key: str = "") -> Any:
        if isinstance(node, dict):
            return {k: walk(v, k) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v, key) for v in node]
        if isinstance(node, str) and _is_id(key) and node not in protected:
            return f"{node}r{round_}"
        return node

    return json.dumps(walk(obj), ensure_ascii=False)


def _is_id(key: str) -> bool:
    return key in {"id", "id_str", "mid", "reviewId", "name"} or key.endswith("_id")


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


Work = Callable[[list[tuple[bytes, Origin]]], list[Output]]


async def _loop(bootstrap: str, topic: str, expected: int, work: Work,
                out_topic: str | None) -> float:
    """Consume ``expected`` records, run ``work`` on each fetched batch, produce; events/s."""
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
                batch = [(r.value, Origin(tp.topic, tp.partition, r.offset)) for r in records]
                for out in work(batch):
                    await producer.send(out_topic or out.topic, out.value, key=out.key)
                seen += len(records)
            await producer.flush()
            await consumer.commit()
    finally:
        await producer.stop()
        await consumer.stop()
    return seen / (time.perf_counter() - (start or time.perf_counter()))


def _passthrough(batch: list[tuple[bytes, Origin]]) -> list[Output]:
    return [Output("x", None, raw) for raw, _ in batch]


_NEUTRAL = Enrichment(model_version="bench-fixed", lang=Lang.other, sentiment=Sentiment.neutral,
                      sentiment_score=0.0, intent=Intent.question, product_area=ProductArea.other,
                      urgency=Urgency.low, redacted_text="", actionable=True)


def _fake_enriched(event_json: bytes) -> bytes:
    """Wrap an event with fixed labels: isolates normalize+route cost from the models."""
    event = SocialEvent.model_validate_json(event_json)
    return EnrichedEvent(event=event, enrichment=_NEUTRAL.model_copy(
        update={"redacted_text": event.text})).model_dump_json().encode()


def corpus_events() -> list[bytes]:
    """The distinct labelled messages of ``data/train`` as serialized ``SocialEvent``s."""
    from pipeline.enrich.heldout import load_records
    from pipeline.enrich.train import TRAIN_DIR
    from pipeline.offline import record_to_event

    return [record_to_event({**r, "id": f"c{i}"}, i).model_dump_json().encode()
            for i, r in enumerate(load_records(TRAIN_DIR))]


def _enrich_eps(events: list[bytes], passes: int = 3) -> tuple[float, int]:
    """Enricher alone, batched, on this (one) core: the median of a few passes, each with a
    fresh enricher (so the duplicate and incident windows start empty every time)."""
    origins = [Origin()] * len(events)
    rates = []
    for _ in range(passes):
        enricher = Enricher()
        start = time.perf_counter()
        for i in range(0, len(events), 256):
            enrich_stage(events[i:i + 256], origins[i:i + 256], enricher)
        rates.append(len(events) / (time.perf_counter() - start))
    return sorted(rates)[len(rates) // 2], len(events)


def _expected_enriched(envelopes: list[RawEnvelope]) -> int:
    """How many records the worker writes to social.enriched for these envelopes: events
    the normalizer makes, less the exact re-deliveries the enrich agent drops."""
    brands = BrandDirectory.load(DEFAULT_BRANDS)
    repeats = RepeatFilter()
    return sum(1 for env in envelopes
               for out in normalize_stage(env.model_dump_json().encode(), brands)
               if out.topic == "social.events"
               and not repeats.is_repeat(SocialEvent.model_validate_json(out.value)))


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
        expected = _expected_enriched(envelopes)
        time.sleep(8)  # let the worker join its group before the clock starts
        start = time.perf_counter()
        _produce(bootstrap, "social.raw", envelopes)
        consumer = KafkaConsumer("social.enriched", bootstrap_servers=bootstrap,
                                 group_id=f"bench-{uuid.uuid4().hex[:6]}",
                                 auto_offset_reset="earliest", enable_auto_commit=False)
        seen = 0
        deadline = time.monotonic() + 600
        while seen < expected and time.monotonic() < deadline and proc.poll() is None:
            seen += sum(len(r) for r in consumer.poll(timeout_ms=500).values())
        elapsed = time.perf_counter() - start
        consumer.close()
        return {"events": expected, "enriched_seen": seen,
                "end_to_end_eps": round(seen / elapsed, 1),
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

        def normalize(batch: list[tuple[bytes, Origin]]) -> list[Output]:
            return [out for raw, origin in batch
                    for out in guarded(Stage.normalize, lambda r: normalize_stage(r, brands),
                                       raw, origin)]

        def normalize_route(batch: list[tuple[bytes, Origin]], enrich: bool) -> list[Output]:
            outs = normalize(batch)
            events = [o for o in outs if o.topic == "social.events"]
            if enrich:
                enriched = enrich_stage([o.value for o in events], [Origin()] * len(events),
                                        enricher)
            else:
                enriched = [Output("social.enriched", o.key, _fake_enriched(o.value))
                            for o in events]
            routed = [r for e in enriched if e.topic == "social.enriched"
                      for r in guarded(Stage.route, lambda v: route_stage(v, rules),
                                       e.value, Origin())]
            return outs + enriched + routed

        results["pipeline_normalize_route_eps"] = round(asyncio.run(_loop(
            broker.bootstrap, "bench.raw", events,
            lambda b: normalize_route(b, enrich=False), None)), 1)
        results["pipeline_full_eps"] = round(asyncio.run(_loop(
            broker.bootstrap, "bench.raw2", events,
            lambda b: normalize_route(b, enrich=True), None)), 1)
        results["ratio_pipeline_full_to_passthrough"] = round(
            results["pipeline_full_eps"] / results["passthrough_eps"], 3)

        eps, n = _enrich_eps(corpus_events())
        results["enrich_eps_per_core"] = round(eps, 1)
        results["enrich_events"] = n
        reposts = [out.value for env in envelopes
                   for out in normalize_stage(env.model_dump_json().encode(), brands)]
        eps, n = _enrich_eps(reposts)
        results["enrich_eps_per_core_reposts"] = round(eps, 1)
        results["enrich_reposts_events"] = n
        results["worker"] = _worker_run(broker.bootstrap, envelopes[: min(events, 3000)],
                                        Path(tmp))
    results["bench_process_peak_rss_mib"] = round(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return results

"""Read social.enriched, validate each record with the pydantic model, drop redeliveries.

    python docs/examples/consume_enriched.py --bootstrap 127.0.0.1:9092 --group my-team

Prints one JSON line per new event. Delivery is at least once, so the same record can arrive
twice: a redelivery repeats the event_id *and* the raw payload it came from (the ``trace_id``
header), while an edit of the same item keeps the event_id but comes in a new payload. Offsets
are committed only after a batch was handled.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import OrderedDict

from kafka import KafkaConsumer
from pydantic import ValidationError

from schemas.models import EnrichedEvent

MAJOR = EnrichedEvent.model_fields["schema_version"].default.split(".")[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--group", default="example-enriched-reader")
    parser.add_argument("--idle-seconds", type=float, default=None,
                        help="stop after this long without a record (default: run forever)")
    args = parser.parse_args()

    consumer = KafkaConsumer(
        "social.enriched", bootstrap_servers=args.bootstrap, group_id=args.group,
        auto_offset_reset="earliest", enable_auto_commit=False,
        session_timeout_ms=6000, heartbeat_interval_ms=2000,
    )
    seen: OrderedDict[tuple[str, str], None] = OrderedDict()  # bounded memory of recent ids
    counts = {"read": 0, "new": 0, "duplicate": 0, "invalid": 0, "other_version": 0}
    last = time.monotonic()
    try:
        while args.idle_seconds is None or time.monotonic() - last < args.idle_seconds:
            batch = consumer.poll(timeout_ms=1000)
            for record in (r for part in batch.values() for r in part):
                last = time.monotonic()
                counts["read"] += 1
                headers = {k: v.decode() for k, v in record.headers or []}
                if headers.get("schema_version", "").split(".")[0] != MAJOR:
                    counts["other_version"] += 1  # another major: not this reader's contract
                    continue
                try:
                    enriched = EnrichedEvent.model_validate_json(record.value)
                except ValidationError as exc:
                    counts["invalid"] += 1
                    print(f"skip {record.partition}@{record.offset}: {exc.errors()[0]['msg']}",
                          file=sys.stderr)
                    continue
                trace = headers.get("trace_id") or enriched.event.raw_id or ""
                dedup_key = (enriched.event.event_id, trace)
                if dedup_key in seen:
                    counts["duplicate"] += 1
                    continue
                seen[dedup_key] = None
                if len(seen) > 100_000:
                    seen.popitem(last=False)
                counts["new"] += 1
                event, labels = enriched.event, enriched.enrichment
                print(json.dumps({
                    "event_id": event.event_id, "action": event.action.value,
                    "brand": event.brand, "lang": labels.lang.value,
                    "intent": labels.intent.value, "urgency": labels.urgency.value,
                    "partition": record.partition, "offset": record.offset,
                }, ensure_ascii=False), flush=True)
            if batch:
                consumer.commit()
    except KeyboardInterrupt:
        pass
    finally:
        consumer.close()
        print(json.dumps(counts), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The bundled demo traffic run through the real stages offline, as topic records.

Normalize, enrich and route are the pipeline's own pure stages; the CRM loop-back (crm.results)
is answered here as a sink would, one ticket per conversation, so the dashboard has tickets to
count without a helpdesk. Built once per test session (the enricher takes a moment to load).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import lru_cache

from infra.run import DEMO_MALFORMED, DEMO_TRAFFIC
from pipeline.enrich import Enricher
from pipeline.normalize.brands import BrandDirectory
from pipeline.records import Origin, Output, guarded
from pipeline.routing import load_rules
from pipeline.settings import DEFAULT_BRANDS, DEFAULT_RULES
from pipeline.stages import enrich_stage, normalize_stage, route_stage
from schemas.models import (
    ConnectorHealth,
    RawEnvelope,
    Stage,
    TicketCommand,
    TicketOutcome,
    TicketResult,
)


def _raw(line: str) -> bytes:
    record = json.loads(line)
    payload = record["payload"]
    body = payload.encode() if isinstance(payload, str) else json.dumps(
        payload, ensure_ascii=False).encode()
    return RawEnvelope.wrap(record["source"], body, account=record["account"]).model_dump_json(
        ).encode()


@lru_cache(maxsize=1)
def demo_records() -> tuple[tuple[str, int, bytes], ...]:
    """(topic, partition, value) of everything the demo produces, in pipeline order."""
    brands = BrandDirectory.load(DEFAULT_BRANDS)
    rules = load_rules(DEFAULT_RULES)
    raws = [_raw(line) for path in (DEMO_TRAFFIC, DEMO_MALFORMED)
            for line in path.read_text().splitlines() if line.strip()]
    events: list[Output] = []
    out: list[Output] = []
    for i, raw in enumerate(raws):
        for o in guarded(Stage.normalize, lambda r: normalize_stage(r, brands), raw,
                         Origin("social.raw", 0, i)):
            (events if o.topic == "social.events" else out).append(o)
    enriched = enrich_stage([e.value for e in events],
                            [Origin("social.events", 0, i) for i in range(len(events))],
                            Enricher())
    out.extend(enriched)
    for o in enriched:
        out.extend(route_stage(o.value, rules))
    records = [(o.topic, 0, o.value) for o in out]
    at = datetime(2026, 11, 20, 20, tzinfo=UTC)
    seen: set[str] = set()
    for topic, _, value in list(records):
        if topic == "crm.commands":
            cmd = TicketCommand.model_validate_json(value)
            first = cmd.external_id not in seen
            seen.add(cmd.external_id)
            result = TicketResult(
                command_id=cmd.command_id, external_id=cmd.external_id, event_id=cmd.event_id,
                target="helpdesk", ticket_id=str(len(seen)),
                outcome=TicketOutcome.created if first else TicketOutcome.followed_up, at=at)
            records.append(("crm.results", 0, result.model_dump_json().encode()))
    for connector, status in (("meta_webhook", "ok"), ("trustpilot", "auth_failed")):
        health = ConnectorHealth(connector=connector, account="demo", status=status,
                                 detail="" if status == "ok" else "token revoked", at=at)
        records.append(("connectors.health", 0, health.model_dump_json().encode()))
    return tuple(records)

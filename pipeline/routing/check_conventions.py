"""Measure the rules alone: route the labelled dev set as if enrichment were perfect.

Each message's labels become its enrichment (intent, urgency, area, sentiment, language,
duplicate), and the three judgements the labels only express through routes are read back from
them: ``actionable`` = a ticket is expected, ``feature_specific`` = product feedback is expected,
``crisis_signal`` = crisis watch is expected. The exact-set match of the decided routes then
measures how well the rules express the labelling conventions; whatever the live pipeline loses
beyond that comes from enrichment.

    python -m pipeline.routing.check_conventions [--data FILE] [--rules FILE] [--show N]
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from schemas.models import (
    Author,
    EnrichedEvent,
    Enrichment,
    Kind,
    Platform,
    Route,
    SocialEvent,
)

from .rules import RuleSet, load_rules

DEFAULT_DATA = Path("/work/shared/data/dev_messages.jsonl")
DEFAULT_RULES = Path(__file__).with_name("default_rules.yaml")
_EPOCH = datetime(2025, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Miss:
    id: str
    intent: str
    expected: list[str]
    decided: list[str]
    matched: list[str]
    text: str


@dataclass(frozen=True)
class Report:
    total: int
    exact: int
    misses: list[Miss]
    per_route: dict[str, tuple[int, int, int]]  # route -> (true pos, false pos, false neg)

    @property
    def accuracy(self) -> float:
        return self.exact / self.total if self.total else 0.0


def event_from_labels(row: Mapping[str, Any]) -> EnrichedEvent:
    """An EnrichedEvent whose enrichment is the labels of one dev message."""
    expected = set(row["expected_routes"])
    platform = Platform(row["platform"]) if row["platform"] in set(Platform) else Platform.other
    event = SocialEvent(
        event_id=SocialEvent.make_event_id(platform, row["id"]),
        platform=platform, kind=Kind(row["kind"]), source="dev_labels",
        platform_item_id=row["id"], conversation_id=row["id"], brand=row["brand"],
        author=Author(handle=f"user_{row['id']}"), text=row["text"], rating=row.get("rating"),
        created_at=_EPOCH,
    )
    dup_of = row.get("dup_of")
    enrichment = Enrichment(
        model_version="dev-labels", lang=row["lang"], sentiment=row["sentiment"],
        sentiment_score={"negative": -0.8, "neutral": 0.0, "positive": 0.8}[row["sentiment"]],
        intent=row["intent"], product_area=row["product_area"], urgency=row["urgency"],
        pii=row.get("pii") or [], redacted_text=row["text"],
        dup_of=SocialEvent.make_event_id(platform, dup_of) if dup_of else None,
        crisis_signal="crisis_watch" in expected, actionable="crm_ticket" in expected,
        feature_specific="product_feedback" in expected,
    )
    return EnrichedEvent(event=event, enrichment=enrichment)


def read_rows(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def evaluate(rules: RuleSet, rows: Sequence[Mapping[str, Any]]) -> Report:
    exact = 0
    misses: list[Miss] = []
    counts: dict[str, Counter[str]] = {r.value: Counter() for r in Route}
    for row in rows:
        decision = rules.decide(event_from_labels(row))
        decided = {r.value for r in decision.routes}
        expected = set(row["expected_routes"])
        for route in Route:
            got, want = route.value in decided, route.value in expected
            outcome = "tp" if got and want else "fp" if got else "fn" if want else "tn"
            counts[route.value][outcome] += 1
        if decided == expected:
            exact += 1
        else:
            misses.append(Miss(row["id"], row["intent"], sorted(expected), sorted(decided),
                               decision.matched, row["text"]))
    per_route = {name: (c["tp"], c["fp"], c["fn"]) for name, c in counts.items()}
    return Report(total=len(rows), exact=exact, misses=misses, per_route=per_route)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--rules", type=Path, default=DEFAULT_RULES)
    parser.add_argument("--show", type=int, default=20, help="misses to print")
    args = parser.parse_args(argv)
    report = evaluate(load_rules(args.rules), list(read_rows(args.data)))
    print(f"rules {args.rules} on {args.data}")
    print(f"exact route-set match: {report.exact}/{report.total} = {report.accuracy:.3f}")
    for name, (tp, fp, fn) in report.per_route.items():
        precision = tp / (tp + fp) if tp + fp else 1.0
        recall = tp / (tp + fn) if tp + fn else 1.0
        print(f"  {name:<17} tp={tp:<4} fp={fp:<4} fn={fn:<4} "
              f"precision={precision:.3f} recall={recall:.3f}")
    for miss in report.misses[: args.show]:
        print(f"- {miss.id} {miss.intent}: expected {miss.expected}, decided {miss.decided} "
              f"by {miss.matched}: {miss.text[:90]!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

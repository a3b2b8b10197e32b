"""``porte-voix route --dry-run``: replay recorded traffic through the rules, before going live.

Input lines are either enriched events (``social.enriched`` records, e.g. saved with
``porte-voix tail --raw``) or flat records (``id, platform, kind, brand, text, rating``), which
are enriched first. The report counts events per route with examples and, given a second rules
file, the events whose routes differ between the two, grouped by change.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pipeline.enrich import Enricher
from pipeline.offline import record_to_event
from pipeline.routing import RuleSet
from schemas.models import EnrichedEvent

EXAMPLES = 3


def load_events(records: Sequence[dict[str, Any]], enricher: Enricher | None = None,
                ) -> list[EnrichedEvent]:
    """Enriched events from recorded lines (enriching flat records on the way)."""
    enriched = [EnrichedEvent.model_validate(r) for r in records if "enrichment" in r]
    flat = [r for r in records if "enrichment" not in r]
    if flat:
        events = [record_to_event(r, i) for i, r in enumerate(flat)]
        enricher = enricher or Enricher()
        enriched += [EnrichedEvent(event=e, enrichment=x)
                     for e, x in zip(events, enricher.enrich_many(events), strict=True)]
    return enriched


def _routes(rules: RuleSet, event: EnrichedEvent) -> tuple[str, ...]:
    return tuple(r.value for r in rules.decide(event).routes)


@dataclass
class DryRunReport:
    total: int = 0
    per_route: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    changes: Counter[str] = field(default_factory=Counter)
    change_examples: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    def lines(self) -> list[str]:
        out = [f"{self.total} events"]
        for route, count in self.per_route.most_common():
            out.append(f"  {route:18} {count:6}  ({count / max(self.total, 1):.0%})")
            out.extend(f"      e.g. {text}" for text in self.examples[route])
        if self.changes:
            changed = sum(self.changes.values())
            out.append(f"{changed} events routed differently by the other rules:")
            for change, count in self.changes.most_common():
                out.append(f"  {change:40} {count:6}")
                out.extend(f"      e.g. {text}" for text in self.change_examples[change])
        return out


def dry_run(events: Iterable[EnrichedEvent], rules: RuleSet,
            other: RuleSet | None = None) -> DryRunReport:
    """Count routes per event; with ``other``, also what would change by switching to it."""
    report = DryRunReport()
    for event in events:
        report.total += 1
        routes = _routes(rules, event)
        snippet = f"[{event.event.event_id}] {event.enrichment.redacted_text[:90]}"
        for route in routes:
            report.per_route[route] += 1
            if len(report.examples[route]) < EXAMPLES:
                report.examples[route].append(snippet)
        if other is not None:
            then = _routes(other, event)
            if then != routes:
                change = f"{'+'.join(routes)} -> {'+'.join(then)}"
                report.changes[change] += 1
                if len(report.change_examples[change]) < EXAMPLES:
                    report.change_examples[change].append(snippet)
    return report

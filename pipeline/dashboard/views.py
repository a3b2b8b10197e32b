"""The dashboard's data: JSON-ready payloads built from an :class:`AnalyticsState`.

Pure functions, shared by the JSON endpoints and the HTML pages, so what the page shows is
exactly what ``/api/...`` returns. The period ends at the newest message the state holds (the
data's "now"), rounded up to the hour, so a replayed week shows as a week and not as empty.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from pipeline.analytics.feedback import feedback_view
from pipeline.analytics.kpis import Period, overview
from pipeline.analytics.state import AnalyticsState
from schemas.models import Platform, ProductArea, utcnow

__all__ = ["as_of", "bucket_for", "feedback_payload", "overview_payload", "status_payload"]


def as_of(state: AnalyticsState) -> datetime:
    """End of the views' period: the newest message, rounded up to the next hour."""
    latest = state.latest_time() or utcnow()
    floor = latest.replace(minute=0, second=0, microsecond=0)
    return floor + timedelta(hours=1)


def bucket_for(days: float) -> timedelta:
    """Hourly buckets for two days or less, six-hourly up to two weeks, daily beyond."""
    if days <= 2:
        return timedelta(hours=1)
    return timedelta(hours=6) if days <= 14 else timedelta(days=1)


def overview_payload(state: AnalyticsState, brand: str | None, days: float,
                     platform: Platform | None = None,
                     area: ProductArea | None = None) -> dict[str, Any]:
    """KPIs of a brand plus incidents, connector health, dead letters and ticket outcomes."""
    end = as_of(state)
    period = Period.ending(end, days, brand=brand, platform=platform, area=area)
    payload = overview(state, period, bucket_for(days))
    alerts = [a for a in state.alerts.values() if brand is None or a.brand == brand]
    alerts.sort(key=lambda a: (a.status == "closed", -a.updated_at.timestamp()))
    letters = Counter(f"{d.stage.value}/{d.error_kind.value}" for d in state.dead_letters.values())
    payload.update({
        "brands": state.brands(),
        "as_of": end.isoformat(),
        "incidents": [a.model_dump(mode="json") for a in alerts],
        "connectors": [h.model_dump(mode="json")
                       for _, h in sorted(state.health.items())],
        "dead_letters": {"total": sum(letters.values()), "by_stage": dict(letters.most_common())},
    })
    return payload


def feedback_payload(state: AnalyticsState, area: ProductArea | None, brand: str | None,
                     days: float) -> dict[str, Any]:
    payload = feedback_view(state, area, brand, as_of(state), days)
    payload["brands"] = sorted({f.brand for f in state.feedback.values()} | set(state.brands()))
    return payload


def status_payload(state: AnalyticsState, caught_up: bool) -> dict[str, Any]:
    """What has been read so far (the page says so while the first read is in progress)."""
    latest = state.latest_time()
    return {"records": dict(state.records), "total": state.total_records,
            "unreadable": dict(state.unreadable), "caught_up": caught_up,
            "events": len(state.events), "latest": latest.isoformat() if latest else None}

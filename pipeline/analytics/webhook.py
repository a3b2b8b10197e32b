"""Crisis alerts to a chat webhook (Slack-style ``{"text": ..., "blocks": [...]}``).

The stream never waits on the webhook: alerts go into a bounded queue that one background task
drains, retrying failures with exponential backoff. When the queue is full the oldest alert is
dropped with a warning (the alert is on ``alerts.crisis`` anyway; the chat is a convenience).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import requests

from connectors.http import build_session
from pipeline.analytics.i18n import label
from schemas.models import CrisisAlert

__all__ = ["AlertPoster", "slack_payload"]

log = logging.getLogger(__name__)

_EMOJI = {"open": ":rotating_light:", "update": ":chart_with_upwards_trend:",
          "closed": ":white_check_mark:"}


def slack_payload(alert: CrisisAlert, lang: str = "en",
                  dashboard_url: str | None = None) -> dict[str, Any]:
    """A Slack-compatible message: a plain ``text`` fallback and Block Kit sections."""
    theme = label(f"area_{alert.theme.value}", lang)
    headline = f"{label('alert_' + alert.status, lang)}: {alert.brand} — {theme}"
    facts = (f"*{alert.message_count}* {label('messages_count', lang)} · "
             f"×{alert.growth:g} {label('growth', lang)} "
             f"({alert.baseline_per_hour:g} {label('baseline', lang)}) · "
             f"{label('started', lang)} {alert.started_at:%Y-%m-%d %H:%M} UTC")
    where = (f"{label('platforms', lang)}: {', '.join(p.value for p in alert.platforms)} · "
             f"{label('languages', lang)}: {', '.join(x.value for x in alert.languages)}")
    blocks: list[dict[str, Any]] = [
        {"type": "header",
         "text": {"type": "plain_text", "text": f"{_EMOJI[alert.status]} {headline}"[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": facts}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": where}]},
    ]
    if alert.first_messages and alert.status == "open":
        quotes = "\n".join(f"> {m[:280]}" for m in alert.first_messages[:3])
        blocks.append({"type": "section", "text": {
            "type": "mrkdwn", "text": f"*{label('first_messages', lang)}*\n{quotes}"}})
    if dashboard_url:
        blocks.append({"type": "actions", "elements": [{
            "type": "button", "text": {"type": "plain_text", "text": label("overview", lang)},
            "url": dashboard_url}]})
    return {"text": f"{headline} ({alert.message_count} {label('messages_count', lang)})",
            "blocks": blocks}


class AlertPoster:
    """POSTs alerts to a webhook from a background task; failures are retried, then dropped."""

    def __init__(self, url: str, *, lang: str = "en", attempts: int = 5, backoff: float = 1.0,
                 timeout: float = 10.0, queue_size: int = 1000,
                 session: requests.Session | None = None) -> None:
        self.url = url
        self.lang = lang
        self.attempts = attempts
        self.backoff = backoff
        self.timeout = timeout
        self.queue: asyncio.Queue[CrisisAlert] = asyncio.Queue(maxsize=queue_size)
        # No urllib3 status retries on POST: this loop owns the retries and their backoff.
        self.session = session or build_session(retries=0)
        self.sent = 0
        self.failed = 0

    def submit(self, alert: CrisisAlert) -> None:
        """Queue an alert without waiting; a full queue loses its oldest alert."""
        if self.queue.full():
            dropped = self.queue.get_nowait()
            log.warning("webhook queue full: dropping alert %s (%s)", dropped.incident_id,
                        dropped.status)
        self.queue.put_nowait(alert)

    async def run(self) -> None:
        """Drain the queue forever (run as a background task)."""
        while True:
            alert = await self.queue.get()
            await self.deliver(alert)

    async def deliver(self, alert: CrisisAlert) -> bool:
        payload = slack_payload(alert, self.lang)
        delay = self.backoff
        for attempt in range(1, self.attempts + 1):
            try:
                response = await asyncio.to_thread(self.session.post, self.url, json=payload,
                                                   timeout=self.timeout)
                if response.status_code < 300:
                    self.sent += 1
                    return True
                if 400 <= response.status_code < 500 and response.status_code != 429:
                    log.error("webhook refused alert %s: HTTP %s %s", alert.incident_id,
                              response.status_code, response.text[:200])
                    break
                problem = f"HTTP {response.status_code}"
            except requests.RequestException as exc:
                problem = f"{type(exc).__name__}: {exc}"
            log.warning("webhook attempt %d/%d for %s failed: %s", attempt, self.attempts,
                        alert.incident_id, problem)
            if attempt < self.attempts:
                await asyncio.sleep(delay)
                delay = min(delay * 2, 60.0)
        self.failed += 1
        return False

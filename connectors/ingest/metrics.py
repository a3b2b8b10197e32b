"""Counters of the ingest server, exposed on ``GET /metrics`` in Prometheus text format.

Each application owns its registry (not prometheus-client's global one), so two servers in one
process, as in tests, never mix their counts.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import choose_encoder

__all__ = ["IngestMetrics"]

_ACK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class IngestMetrics:
    """What operators alert on: refusals by platform and reason, stored deliveries, ack time."""

    def __init__(self, platforms: tuple[str, ...]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.rejections = Counter(
            "porte_voix_ingest_rejections", "Requests refused, by platform and reason.",
            ["platform", "reason"], registry=self.registry)
        self.deliveries = Counter(
            "porte_voix_ingest_deliveries", "Deliveries stored on social.raw and answered 200.",
            ["platform"], registry=self.registry)
        self.envelopes = Counter(
            "porte_voix_ingest_envelopes", "Raw envelopes acknowledged by the broker.",
            ["platform"], registry=self.registry)
        self.handshakes = Counter(
            "porte_voix_ingest_handshakes",
            "Verification requests answered (Meta hub challenge, X CRC).",
            ["platform"], registry=self.registry)
        self.pings = Counter(
            "porte_voix_ingest_pings", "Signed pings acknowledged without storing anything.",
            ["platform"], registry=self.registry)
        self.ack_seconds = Histogram(
            "porte_voix_ingest_broker_ack_seconds",
            "Time from send to the broker's acknowledgement of a whole delivery.",
            ["platform"], buckets=_ACK_BUCKETS, registry=self.registry)
        for platform in platforms:  # zero-valued series exist from the start, for rate()
            self.deliveries.labels(platform)
            self.envelopes.labels(platform)

    def reject(self, platform: str, reason: str) -> None:
        self.rejections.labels(platform, reason).inc()

    def render(self, accept: str = "") -> tuple[bytes, str]:
        """The page and its content type, in the format the scraper's Accept header asks for
        (Prometheus text 0.0.4 by default, OpenMetrics when requested)."""
        encoder, content_type = choose_encoder(accept)
        return encoder(self.registry), content_type

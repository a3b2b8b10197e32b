"""Paging strategies, the token bucket, health rules and the shared session's retry reading."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from connectors.health import HealthTracker
from connectors.http import POLL_RETRY_STATUSES, build_session, retry_statuses
from connectors.sources.pollers.base import PollerConfig, PollError, jwt_expiry
from connectors.sources.pollers.paging import (
    AfterFullnamePaginator,
    LinksNextPaginator,
    PageNumberPaginator,
    PageTokenPaginator,
)
from connectors.sources.pollers.ratelimit import TokenBucket
from connectors.sources.pollers.reviews import TrustpilotConfig, TrustpilotPoller
from schemas.models import ErrorKind
from tests.fakes.reviews import TrustpilotFake


def test_page_token_paginator_sends_the_token_and_stops_without_one() -> None:
    pager = PageTokenPaginator("token", ("tokenPagination", "nextPageToken"))
    assert pager.request("u", {"a": "1"}, None) == ("u", {"a": "1"})
    assert pager.request("u", {}, "T2") == ("u", {"token": "T2"})
    assert pager.next_position({"tokenPagination": {"nextPageToken": "T3"}}, [1], "T2") == "T3"
    assert pager.next_position({"reviews": []}, [], "T2") is None


def test_links_next_paginator_follows_the_full_url() -> None:
    pager = LinksNextPaginator()
    nxt = "https://api.example/v1/apps/1/customerReviews?cursor=Mg&limit=2"
    assert pager.next_position({"links": {"self": "s", "next": nxt}}, [1], None) == nxt
    assert pager.request("base", {"limit": "2"}, nxt) == (nxt, {})
    assert pager.next_position({"links": {"self": "s"}}, [1], nxt) is None


def test_page_number_paginator_uses_the_next_page_link() -> None:
    pager = PageNumberPaginator()
    assert pager.request("u", {}, None) == ("u", {"page": "1"})
    linked = {"links": [{"rel": "self"}, {"rel": "next-page", "href": "h"}]}
    assert pager.next_position(linked, [1], "1") == "2"
    assert pager.next_position({"links": [{"rel": "self"}]}, [1], "2") is None


def test_after_fullname_paginator_reads_data_after() -> None:
    pager = AfterFullnamePaginator()
    assert pager.next_position({"data": {"after": "t3_x"}}, [1], None) == "t3_x"
    assert pager.next_position({"data": {"after": None}}, [1], "t3_x") is None


def test_token_bucket_paces_requests_after_the_burst() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    bucket = TokenBucket(rate=2.0, burst=2, clock=lambda: now[0], sleep=sleep)
    waits = [bucket.acquire() for _ in range(4)]
    assert waits[:2] == [0.0, 0.0] and waits[2] == pytest.approx(0.5)
    assert sum(slept) == pytest.approx(1.0)


def test_health_rules_auth_then_failing_then_recovery() -> None:
    tracker = HealthTracker("reddit", "NuviaMobile", failing_after=2)
    assert tracker.failure(ErrorKind.fatal, "HTTP 401", auth=True).status == "auth_failed"
    assert tracker.failure(ErrorKind.retriable, "HTTP 503").status == "failing"
    ok = tracker.success(items=3)
    assert ok.status == "ok" and ok.last_success_at is not None
    assert tracker.failure(ErrorKind.retriable, "timeout").status == "degraded"
    soon = datetime.now(UTC) + timedelta(hours=2)
    expiring = tracker.success(token_expires_at=soon)
    assert expiring.status == "token_expiring" and expiring.last_success_at is not None
    assert tracker.success(rate_limited="429 x1").status == "degraded"


def test_jwt_expiry_reads_exp_and_ignores_opaque_tokens() -> None:
    import jwt

    token = jwt.encode({"exp": 1_900_000_000}, "k" * 32, algorithm="HS256")
    assert jwt_expiry(token) == datetime.fromtimestamp(1_900_000_000, tz=UTC)
    assert jwt_expiry("ya29.opaque") is None


def test_config_splits_comma_separated_accounts() -> None:
    config = PollerConfig(base_url="http://x/", accounts="a, b,,c")  # type: ignore[arg-type]
    assert config.accounts == ["a", "b", "c"] and config.base_url == "http://x"


def test_session_waits_out_a_short_retry_after_and_reports_it() -> None:
    with TrustpilotFake() as fake:
        fake.rate_limit(after=0, times=1, retry_after="0")
        session = build_session(retries=2, backoff_factor=0,
                                status_forcelist=POLL_RETRY_STATUSES)
        response = session.get(f"{fake.url}/v1/business-units/abc/reviews",
                               params={"apikey": fake.api_key})
        assert response.status_code == 200 and retry_statuses(response) == [429]


def test_a_long_retry_after_is_not_slept_but_handed_back_to_the_poller() -> None:
    with TrustpilotFake() as fake:
        fake.rate_limit(after=0, times=1, retry_after="3600")
        config = TrustpilotConfig(base_url=fake.url, api_key=fake.api_key, accounts=["abc"],
                                  max_retry_after=5)
        poller = TrustpilotPoller(config)
        started = time.monotonic()
        with pytest.raises(PollError) as caught:
            poller.fetch(poller.streams()[0], None)
        assert time.monotonic() - started < 2
    error = caught.value
    assert error.kind is ErrorKind.retriable and error.rate_limited and not error.auth
    assert error.status == 429 and error.retry_after == 3600

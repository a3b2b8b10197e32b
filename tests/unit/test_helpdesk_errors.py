"""Status -> ErrorKind table of the helpdesk sink, against a local fake HTTP server.

The fake answers with real status codes and headers over a real socket, so the requests/urllib3
retry behaviour under test is the one production uses.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from pydantic import SecretStr

from connectors.sinks.base import DeliveryError, error_kind_for_status, parse_retry_after
from connectors.sinks.helpdesk import HelpdeskSink, build_session, neutralize_template
from infra.helpdesk_server import free_port
from pipeline.errors import classify
from schemas.models import ErrorKind, Kind, Platform, TicketCommand, TicketOutcome

TOKEN = "s3cr3t-token-value"
EMPTY_LIST: dict[str, object] = {"count": 0, "next": None, "previous": None, "results": []}
DEFAULT_STATUSES = [1, 2, 3, 4, 5]


def status_metadata(statuses: list[int]) -> dict[str, object]:
    """What DRF answers to OPTIONS /api/tickets/ (only the part the sink reads)."""
    choices = [{"value": value, "display_name": str(value)} for value in statuses]
    return {"actions": {"POST": {"status": {"type": "choice", "choices": choices}}}}


@dataclass
class Reply:
    status: int
    body: object = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    raw: bytes | None = None
    content_type: str = "application/json"


@dataclass
class Script:
    """Replies per method, consumed in order; the last one repeats."""

    replies: dict[str, list[Reply]] = field(default_factory=dict)
    seen: list[tuple[str, str, str | None]] = field(default_factory=list)
    posted: list[dict[str, object]] = field(default_factory=list)

    def next(self, method: str) -> Reply:
        default = Reply(200, status_metadata(DEFAULT_STATUSES)) if method == "OPTIONS" else None
        queue = self.replies.get(method) or [default or Reply(405)]
        return queue.pop(0) if len(queue) > 1 else queue[0]


class FakeHelpdesk(ThreadingHTTPServer):
    script: Script


class Handler(BaseHTTPRequestHandler):
    server: FakeHelpdesk

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length and self.command == "POST":
            self.server.script.posted.append(json.loads(self.rfile.read(length)))
        elif length:
            self.rfile.read(length)
        self.server.script.seen.append(
            (self.command, self.path, self.headers.get("Authorization"))
        )
        reply = self.server.script.next(self.command)
        if reply.delay:
            time.sleep(reply.delay)
        payload = reply.raw if reply.raw is not None else json.dumps(reply.body).encode()
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_OPTIONS = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def fake() -> Iterator[tuple[str, Script]]:
    server = FakeHelpdesk(("127.0.0.1", 0), Handler)
    server.script = Script()
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server.script
    finally:
        server.shutdown()
        server.server_close()


def make_sink(base_url: str, retries: int = 2, timeout: float = 5.0) -> HelpdeskSink:
    return HelpdeskSink(
        base_url,
        SecretStr(TOKEN),
        session=build_session(retries=retries, backoff_factor=0),
        timeout=timeout,
        queues={"support": 1},
    )


def cmd() -> TicketCommand:
    return TicketCommand(
        command_id="c1",
        external_id="x:42",
        event_id="x:42",
        brand="acme",
        platform=Platform.x,
        kind=Kind.mention,
        title="t",
        body="b",
        created_at=datetime(2025, 1, 1, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, ErrorKind.bad_input),
        (422, ErrorKind.bad_input),
        (401, ErrorKind.fatal),
        (403, ErrorKind.fatal),
        (404, ErrorKind.fatal),
        (429, ErrorKind.retriable),
        (500, ErrorKind.retriable),
        (502, ErrorKind.retriable),
        (503, ErrorKind.retriable),
        (504, ErrorKind.retriable),
    ],
)
def test_given_create_answers_status_when_delivering_then_error_kind_follows_the_table(
    fake: tuple[str, Script], status: int, kind: ErrorKind
) -> None:
    base_url, script = fake
    script.replies = {"GET": [Reply(200, EMPTY_LIST)], "POST": [Reply(status, {"detail": "x"})]}

    with pytest.raises(DeliveryError) as caught:
        make_sink(base_url).deliver(cmd())

    assert caught.value.kind is kind
    assert caught.value.status == status
    assert caught.value.body is not None and "detail" in caught.value.body
    assert classify(caught.value) is kind
    assert [m for m, _, _ in script.seen].count("POST") == 1  # a create is never re-sent


def test_given_429_with_retry_after_when_delivering_then_the_delay_is_kept(
    fake: tuple[str, Script],
) -> None:
    base_url, script = fake
    script.replies = {
        "GET": [Reply(200, EMPTY_LIST)],
        "POST": [Reply(429, {}, {"Retry-After": "7"})],
    }

    with pytest.raises(DeliveryError) as caught:
        make_sink(base_url).deliver(cmd())

    assert caught.value.kind is ErrorKind.retriable
    assert caught.value.retry_after == 7.0


def test_given_a_502_on_lookup_when_the_next_try_succeeds_then_the_transport_retried_it(
    fake: tuple[str, Script],
) -> None:
    base_url, script = fake
    script.replies = {
        "GET": [Reply(502), Reply(200, EMPTY_LIST)],
        "POST": [Reply(201, {"id": 9, "status": 1})],
    }

    result = make_sink(base_url).deliver(cmd())

    assert result.outcome is TicketOutcome.created and result.ticket_id == "9"
    # statuses, then 502 and its retry (open tickets), closed tickets, create
    assert [m for m, _, _ in script.seen] == ["OPTIONS", "GET", "GET", "GET", "POST"]


def test_given_a_long_retry_after_when_looking_up_then_it_is_returned_not_slept(
    fake: tuple[str, Script],
) -> None:
    base_url, script = fake
    script.replies = {"GET": [Reply(503, {}, {"Retry-After": "3600"})]}

    started = time.monotonic()
    with pytest.raises(DeliveryError) as caught:
        make_sink(base_url).deliver(cmd())

    assert time.monotonic() - started < 5
    assert caught.value.kind is ErrorKind.retriable
    assert caught.value.retry_after == 3600.0
    assert [m for m, _, _ in script.seen] == ["OPTIONS", "GET"]


def test_given_a_slow_helpdesk_when_the_timeout_passes_then_retriable(
    fake: tuple[str, Script],
) -> None:
    base_url, script = fake
    script.replies = {"GET": [Reply(200, EMPTY_LIST, delay=1.0)]}

    with pytest.raises(DeliveryError) as caught:
        make_sink(base_url, retries=0, timeout=0.2).deliver(cmd())

    assert caught.value.kind is ErrorKind.retriable
    assert caught.value.status is None


def test_given_nothing_listening_when_delivering_then_retriable() -> None:
    with pytest.raises(DeliveryError) as caught:
        make_sink(f"http://127.0.0.1:{free_port()}", retries=1).deliver(cmd())

    assert caught.value.kind is ErrorKind.retriable


def test_given_a_non_json_answer_when_delivering_then_fatal(fake: tuple[str, Script]) -> None:
    base_url, script = fake
    script.replies = {"GET": [Reply(200, raw=b"<html>a web server, not the helpdesk API</html>")]}

    with pytest.raises(DeliveryError) as caught:
        make_sink(base_url).deliver(cmd())

    assert caught.value.kind is ErrorKind.fatal
    assert caught.value.body is not None and caught.value.body.startswith("<html>")


def test_the_token_is_sent_but_never_logged(
    fake: tuple[str, Script], caplog: pytest.LogCaptureFixture
) -> None:
    base_url, script = fake
    script.replies = {
        "GET": [Reply(401, {"detail": "Invalid token."})],
        "OPTIONS": [Reply(401, {"detail": "Invalid token."})],
    }

    with caplog.at_level(logging.DEBUG), pytest.raises(DeliveryError) as caught:
        make_sink(base_url).deliver(cmd())

    assert script.seen[0][2] == f"Token {TOKEN}"
    assert TOKEN not in caplog.text
    assert TOKEN not in str(caught.value) and TOKEN not in repr(caught.value)
    assert TOKEN not in repr(make_sink(base_url))


@pytest.mark.parametrize(
    ("status", "kind"),
    [(408, ErrorKind.retriable), (409, ErrorKind.retriable), (405, ErrorKind.fatal),
     (418, ErrorKind.bad_input), (507, ErrorKind.retriable)],
)
def test_statuses_outside_the_main_table_fall_back_by_class(status: int, kind: ErrorKind) -> None:
    assert error_kind_for_status(status) is kind


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    now = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
    later = format_datetime(now + timedelta(seconds=90), usegmt=True)

    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(later, now=now.timestamp()) == pytest.approx(90.0)
    assert parse_retry_after(format_datetime(now - timedelta(hours=1), usegmt=True),
                             now=now.timestamp()) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_template_delimiters_are_broken_and_nothing_else_changes() -> None:
    text = "{{ x }} {% y %} {# z #} 100%} {a} 50% {"

    neutral = neutralize_template(text)

    assert neutral.replace("\u200b", "") == text
    for delimiter in ("{{", "{%", "{#", "%}"):
        assert delimiter not in neutral


def test_given_customised_statuses_when_looking_up_then_every_declared_status_is_scanned(
    fake: tuple[str, Script],
) -> None:
    base_url, script = fake
    script.replies = {
        "OPTIONS": [Reply(200, status_metadata([1, 2, 3, 4, 5, 6]))],
        "GET": [Reply(200, EMPTY_LIST)],
        "POST": [Reply(201, {"id": 3})],
    }

    make_sink(base_url).deliver(cmd())

    scanned = [path for method, path, _ in script.seen if method == "GET"]
    assert "status=1%2C2" in scanned[0]
    assert "status=3%2C4%2C5%2C6" in scanned[1]


QUEUE_FORM = b"""<html><form><select class="form-control" name="assigned_to">
<option value="7">agent</option></select>
<select class="form-control" name="queue">
  <option value="2"  >Billing</option>
  <option value="3"  >Social media</option>
  <option value="1"  >Support</option>
</select></form></html>"""


def test_given_no_queue_map_when_delivering_then_queue_ids_come_from_the_api_form(
    fake: tuple[str, Script],
) -> None:
    base_url, script = fake
    script.replies = {
        "GET": [
            Reply(200, raw=QUEUE_FORM, content_type="text/html"),
            Reply(200, EMPTY_LIST),
        ],
        "POST": [Reply(201, {"id": 4})],
    }
    sink = HelpdeskSink(base_url, SecretStr(TOKEN), session=build_session(retries=0))

    sink.deliver(cmd().model_copy(update={"queue": "social-media"}))

    assert sink.queues == {"billing": 2, "social-media": 3, "support": 1}
    assert script.posted[0]["queue"] == 3
    with pytest.raises(DeliveryError) as caught:
        sink.deliver(cmd().model_copy(update={"queue": "nope"}))
    assert caught.value.kind is ErrorKind.bad_input
    assert sum(1 for m, p, _ in script.seen if m == "GET" and "status=5" in p) == 1

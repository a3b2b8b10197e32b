"""One contract every registered connector passes (Singer's tap tests, Airbyte's acceptance).

Parametrized over ``connectors.base.REGISTRY``: a connector registered without a case in
``cases.py`` fails here. Each check runs for the kinds it applies to:

- every connector: its config validates and refuses a missing secret, a recorded page or
  delivery parses, every raw event it produces normalizes to a valid SocialEvent, and the same
  input twice collapses (same raw_id; the same item in another delivery, same event_id);
- pull connectors (pollers): the cursor advances and forged credentials are refused, against
  their local fake API and the real embedded broker;
- push connectors (webhooks): a correctly signed delivery verifies, forged ones (wrong secret,
  altered body, missing or malformed header) are refused in constant time, and the platform's
  handshake answers only the right secret.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

import connectors.sources  # noqa: F401  (registers every connector)
from connectors.base import REGISTRY, PushSource, Source
from connectors.sources.backfill import BackfillConfig, BackfillSource
from connectors.sources.pollers import Poller, PollRunner
from pipeline.normalize import BrandDirectory, normalize
from schemas.models import RawEnvelope, SocialEvent
from tests.contract.cases import CASES, RECORDED, Case, times
from tests.contract.conftest import BrokerIO

NAMES = sorted(REGISTRY)
WHEN = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def case_of(name: str) -> Case:
    assert name in CASES, f"connector {name!r} is registered but has no contract case"
    return CASES[name]


def polling(name: str) -> tuple[Case, type[Poller[Any]]]:
    case = case_of(name)
    if case.push:
        pytest.skip(f"{name} is pushed to: the platform delivers each event, no cursor to keep")
    if not case.polls:
        pytest.skip(f"{name} reads files: no cursor and no credential to check")
    cls = REGISTRY[name]
    assert issubclass(cls, Poller)
    return case, cls


def pushing(name: str) -> tuple[Case, type[PushSource[Any]]]:
    case = case_of(name)
    if not case.push:
        pytest.skip(f"{name} pulls: it signs nothing; forged credentials are refused by "
                    "test_forged_credentials_are_refused_and_health_says_auth_failed")
    cls = REGISTRY[name]
    assert issubclass(cls, PushSource)
    return case, cls


def push_connector(case: Case, cls: type[PushSource[Any]]) -> PushSource[Any]:
    return cls(cls.config_model(**case.config(None, [])))


def forged_config(case: Case) -> dict[str, Any]:
    config = case.config(None, [])
    return {**config, **{f: f"forged-{config[f]}" for f in case.secret_fields}}


def test_every_registered_connector_has_a_contract_case() -> None:
    assert set(REGISTRY) <= set(CASES), sorted(set(REGISTRY) - set(CASES))
    assert {"backfill", "youtube", "google_business", "trustpilot", "google_play", "app_store",
            "reddit", "meta_webhook", "x_account_activity", "discourse_webhook"} <= set(REGISTRY)
    for name, cls in REGISTRY.items():  # the case drives the connector as what it is
        assert case_of(name).push == issubclass(cls, PushSource), name
        assert case_of(name).polls == issubclass(cls, Poller), name


@pytest.mark.parametrize("name", NAMES)
def test_config_validates_and_rejects_missing_secrets(
        name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    case = case_of(name)
    model: type[BaseModel] = REGISTRY[name].config_model
    if not case.polls and not case.push:
        assert model(path=RECORDED / "backfill.jsonl")
        with pytest.raises(ValidationError):
            model()
        return
    prefix = str(model.model_config.get("env_prefix", ""))
    assert prefix.startswith("PORTE_VOIX_")
    for key in list(os.environ):
        if key.startswith(prefix):
            monkeypatch.delenv(key)
    fake = case.make_fake() if case.make_fake else None
    assert (fake is None) == case.push
    if fake is not None:
        fake.start()
    try:
        good = case.config(fake, [case.account()])
    finally:
        if fake is not None:
            fake.stop()
    assert model(**good)
    assert case.secret_fields
    for secret in case.secret_fields:
        with pytest.raises(ValidationError):
            model(**{k: v for k, v in good.items() if k != secret})
        if case.push:  # an empty secret would accept any signature made with an empty key
            with pytest.raises(ValidationError):
                model(**{**good, secret: ""})
    built = model(**good)
    shown = f"{built!r} {built} {built.model_dump_json()}"
    for secret in case.secret_fields:
        assert str(good[secret]) not in shown  # secrets never in reprs or logs
    if case.push:
        with pytest.raises(ValidationError):
            model()  # nothing in the environment: the platform stays disabled
    for key, value in case.env.items():
        monkeypatch.setenv(key, value)
    from_env = model()
    if not case.push:
        assert from_env.accounts  # type: ignore[attr-defined]
        return
    # The environment's secret is the one the connector checks signatures with.
    cls = REGISTRY[name]
    assert issubclass(cls, PushSource)
    env_config = {field: os.environ[f"{prefix}{field}".upper()] for field in case.secret_fields}
    (headers, body), _ = case.deliveries()[0]
    assert cls(from_env).verify({**headers, **case.sign(env_config, body)}, body)
    assert not cls(from_env).verify({**headers, **case.sign(good, body)}, body)


def _pulled(name: str, case: Case, fake: Any, account: str) -> tuple[list[Any],
                                                                     list[RawEnvelope]]:
    if not case.polls:
        source = BackfillSource(BackfillConfig(path=RECORDED / "backfill.jsonl"))
        lines = (RECORDED / "backfill.jsonl").read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines], list(source.read())
    cls = REGISTRY[name]
    assert issubclass(cls, Source)
    recorded = case.load_recorded(fake, account)
    poller: Source[Any] = cls(cls.config_model(**case.config(fake, [account])))
    return recorded, list(poller.read())


def _pushed(case: Case, connector: PushSource[Any], received_at: datetime = WHEN
            ) -> list[list[RawEnvelope]]:
    """The envelopes of every recorded delivery, each signed as the platform signs it."""
    config = case.config(None, [])
    out = []
    for (headers, body), decoded in case.deliveries():
        envelopes = connector.envelopes({**headers, **case.sign(config, body)}, body, received_at)
        assert len(envelopes) == case.items_in(decoded)
        digest = hashlib.sha256(body).hexdigest()
        for envelope in envelopes:
            assert envelope.source == connector.name
            assert envelope.signature_verified and envelope.received_at == received_at
            assert envelope.headers["origin"] == "ingest"
            assert envelope.headers["batch_sha256"] == digest
        out.append(envelopes)
    return out


def _raw_events(name: str, case: Case, fake: Any, account: str) -> list[RawEnvelope]:
    """Every raw envelope the connector produces from its recorded page or deliveries."""
    if case.push:
        cls = REGISTRY[name]
        assert issubclass(cls, PushSource)
        return [e for batch in _pushed(case, push_connector(case, cls)) for e in batch]
    recorded, envelopes = _pulled(name, case, fake, account)
    assert len(envelopes) == len(recorded)
    if case.polls:
        for envelope, item in zip(envelopes, recorded, strict=True):
            assert envelope.source == name and envelope.account == account
            assert json.loads(envelope.payload) == item  # one envelope = one item, untouched
    return envelopes


def _with_fake(case: Case, run: Callable[[Any, str], Any]) -> tuple[Any, list[str]]:
    """Run against the case's fake API (if any); also returns the secrets it was given."""
    fake = case.make_fake() if case.make_fake else None
    account = case.account()
    if fake is not None:
        fake.start()
    try:
        result = run(fake, account)
        config = case.config(fake, [account])
    finally:
        if fake is not None:
            fake.stop()
    return result, [str(config[field]) for field in case.secret_fields]


@pytest.mark.parametrize("name", NAMES)
def test_recorded_page_parses_and_every_raw_event_normalizes(
        name: str, brands: BrandDirectory) -> None:
    case = case_of(name)
    envelopes, secrets = _with_fake(case, lambda fake, account: _raw_events(
        name, case, fake, account))
    assert len(envelopes) >= 2
    for envelope in envelopes:
        events = normalize(envelope, brands)
        assert events, f"{name}: no event from {envelope.payload[:120]!r}"
        for event in events:
            assert SocialEvent.model_validate_json(event.model_dump_json()) == event
            assert event.raw_id == envelope.raw_id
            assert event.event_id == SocialEvent.make_event_id(event.platform,
                                                               event.platform_item_id)
    # No secret (nor signature) leaks into what is stored.
    stored = b"".join(e.model_dump_json().encode() for e in envelopes)
    for secret in secrets:
        assert secret.encode() not in stored
    if case.push:
        assert all(not header.lower().endswith("signature") for e in envelopes
                   for header in e.headers)


def _event_ids(envelopes: list[RawEnvelope], brands: BrandDirectory) -> set[str]:
    return {event.event_id for e in envelopes for event in normalize(e, brands)}


@pytest.mark.parametrize("name", NAMES)
def test_the_same_input_twice_collapses_same_raw_id_and_same_event_id(
        name: str, brands: BrandDirectory) -> None:
    case = case_of(name)
    if not case.push:  # reading again (a restart, a replayed file) gives the same raw ids
        def twice(fake: Any, account: str) -> tuple[list[str], list[str]]:
            first = [e.raw_id for e in _raw_events(name, case, fake, account)]
            return first, [e.raw_id for e in _raw_events(name, case, fake, account)]

        (first, second), _ = _with_fake(case, twice)
        assert first == second and len(set(first)) == len(first) >= 2
        return
    cls = REGISTRY[name]
    assert issubclass(cls, PushSource)
    connector = push_connector(case, cls)
    # A platform retry carries the same bytes: the same raw ids, whenever it arrives.
    first = _pushed(case, connector)
    retried = _pushed(case, connector, WHEN + timedelta(minutes=7))
    assert [[e.raw_id for e in b] for b in first] == [[e.raw_id for e in b] for b in retried]
    ids = [e.raw_id for batch in first for e in batch]
    assert len(set(ids)) == len(ids)  # distinct items never collapse together
    # The same items in other deliveries (re-batched, re-serialized, edited): same event ids.
    config = case.config(None, [])
    redelivered = 0
    for batch, ((headers, _), decoded) in zip(first, case.deliveries(), strict=True):
        again: list[RawEnvelope] = []
        for other_headers, other_body in case.redeliver(headers, decoded):
            signed = {**other_headers, **case.sign(config, other_body)}
            again.extend(connector.envelopes(signed, other_body, WHEN))
            redelivered += 1
        assert _event_ids(again, brands) == _event_ids(batch, brands)
    assert redelivered >= 2


@pytest.mark.parametrize("name", NAMES)
def test_signed_deliveries_verify_and_forgeries_are_rejected_in_constant_time(
        name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    case, cls = pushing(name)
    connector = push_connector(case, cls)
    config, forged = case.config(None, []), forged_config(case)
    compared: list[int] = []
    real_compare = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        compared.append(1)
        return real_compare(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    for (headers, body), _ in case.deliveries():
        good = {**headers, **case.sign(config, body)}
        assert connector.verify(good, body) and connector.check_signature(good, body) is None
        assert connector.verify({k.lower(): v for k, v in good.items()}, body)  # HTTP names
        wrong_secret = {**headers, **case.sign(forged, body)}
        altered = body[:-1] + b" " + body[-1:]  # still the same JSON, not the signed bytes
        [(name_, value)] = case.sign(config, body).items()
        cases = {
            "signature_invalid": [(wrong_secret, body), (good, altered)],
            "signature_missing": [(headers, body), ({**headers, name_: " "}, body)],
            "signature_malformed": [({**headers, name_: value.removeprefix("sha256=")}, body)],
        }
        for reason, attempts in cases.items():
            for attempt_headers, attempt_body in attempts:
                assert not connector.verify(attempt_headers, attempt_body)
                assert connector.check_signature(attempt_headers, attempt_body) == reason
        # Envelopes never claim a signature that was not verified.
        assert not any(e.signature_verified
                       for e in connector.envelopes(wrong_secret, body, WHEN))
    assert compared, "signatures must be compared with hmac.compare_digest"


@pytest.mark.parametrize("name", NAMES)
def test_handshake_answers_only_the_configured_secret(name: str) -> None:
    case, cls = pushing(name)
    connector = push_connector(case, cls)
    if case.handshake is None:
        assert not cls.has_handshake
        with pytest.raises(NotImplementedError):
            connector.handshake({})
        return
    assert cls.has_handshake
    good, expected, forged = case.handshake(case.config(None, []))
    answer = connector.handshake(good)
    assert answer.status == 200 and answer.refusal is None
    if answer.content_type == "application/json":
        assert json.loads(answer.body) == json.loads(expected)
    else:
        assert answer.body == expected
    refused = connector.handshake(forged)
    assert refused.status in (400, 403) and refused.refusal
    assert expected not in refused.body
    # A connector configured with another secret gives another answer.
    other = cls(cls.config_model(**forged_config(case))).handshake(good)
    assert other.status != 200 or other.body != answer.body


@pytest.mark.parametrize("name", NAMES)
def test_cursor_advances_and_polling_twice_adds_no_raw_ids(
        name: str, broker_io: BrokerIO) -> None:
    case, cls = polling(name)
    assert case.make_fake is not None
    account = case.account()
    stamps = times(5)
    with case.make_fake() as fake:
        for i, when in enumerate(stamps):
            case.add_item(fake, account, i, when)
        config = cls.config_model(**{**case.config(fake, [account]), "page_size": 2})
        stream = cls(config).streams()[0]
        with broker_io.cursors() as cursors:
            first = PollRunner(cls(config), broker_io.producer, cursors,
                               broker_io.health).run_once()
        assert first.exit_code == 0, first.errors
        assert first.new_items == 5 and first.outcomes[0].pages == 3

        with broker_io.cursors() as cursors:  # a restart reads the cursor back
            state = cursors.get(name, account, stream.name)
            assert state is not None and state.items == 5
            assert state.high_watermark == stamps[-1]
            runner = PollRunner(cls(config), broker_io.producer, cursors, broker_io.health)
            second = runner.run_once()
            assert second.exit_code == 0 and second.new_items == 0  # nothing sent again
            assert second.outcomes[0].pages == 1  # stops at the first known item
            assert second.health[0].status == "ok" and second.health[0].last_success_at

            case.add_item(fake, account, 99, datetime.now(UTC).replace(microsecond=0))
            third = runner.run_once()
            assert third.new_items == 1
            advanced = cursors.get(name, account, stream.name)
            assert advanced is not None and advanced.items == 6
            assert advanced.high_watermark is not None and advanced.high_watermark > stamps[-1]


@pytest.mark.parametrize("name", NAMES)
def test_forged_credentials_are_refused_and_health_says_auth_failed(
        name: str, broker_io: BrokerIO) -> None:
    case, cls = polling(name)
    assert case.make_fake is not None
    account = case.account()
    with case.make_fake() as fake:
        case.add_item(fake, account, 0, times(1)[0])
        forged = cls.config_model(**case.forge(case.config(fake, [account])))
        with broker_io.cursors() as cursors:
            report = PollRunner(cls(forged), broker_io.producer, cursors,
                                broker_io.health).run_once()
            assert cursors.get(name, account, cls(forged).streams()[0].name) is None
    assert report.exit_code == 2
    assert report.fatal is not None and report.fatal.auth and report.fatal.status == 401
    assert [h.status for h in report.health] == ["auth_failed"]
    assert report.new_items == 0


def test_backfill_lines_are_read_in_order() -> None:
    path = Path(RECORDED / "backfill.jsonl")
    envelopes = list(BackfillSource(BackfillConfig(path=path)).read())
    assert [e.source for e in envelopes] == ["trustpilot", "youtube", "reddit"]

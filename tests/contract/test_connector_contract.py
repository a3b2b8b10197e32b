"""One contract every registered connector passes (Singer's tap tests, Airbyte's acceptance).

Parametrized over ``connectors.base.REGISTRY``: a connector registered without a case in
``cases.py`` fails here. Pollers run against their local fake API and the real embedded broker.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

import connectors.sources  # noqa: F401  (registers every connector)
from connectors.base import REGISTRY, Source
from connectors.sources.backfill import BackfillConfig, BackfillSource
from connectors.sources.pollers import Poller, PollRunner
from pipeline.normalize import BrandDirectory, normalize
from schemas.models import RawEnvelope, SocialEvent
from tests.contract.cases import CASES, RECORDED, Case, times
from tests.contract.conftest import BrokerIO

NAMES = sorted(REGISTRY)


def case_of(name: str) -> Case:
    assert name in CASES, f"connector {name!r} is registered but has no contract case"
    return CASES[name]


def polling(name: str) -> tuple[Case, type[Poller[Any]]]:
    case = case_of(name)
    if not case.polls:
        pytest.skip(f"{name} reads files: no cursor and no credential to check")
    cls = REGISTRY[name]
    assert issubclass(cls, Poller)
    return case, cls


def test_every_registered_connector_has_a_contract_case() -> None:
    assert set(REGISTRY) <= set(CASES), sorted(set(REGISTRY) - set(CASES))
    assert {"backfill", "youtube", "google_business", "trustpilot", "google_play", "app_store",
            "reddit"} <= set(REGISTRY)


@pytest.mark.parametrize("name", NAMES)
def test_config_validates_and_rejects_missing_secrets(
        name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    case = case_of(name)
    model: type[BaseModel] = REGISTRY[name].config_model
    if not case.polls:
        assert model(path=RECORDED / "backfill.jsonl")
        with pytest.raises(ValidationError):
            model()
        return
    for key in list(os.environ):
        if key.startswith(f"PORTE_VOIX_POLL_{name.upper()}_"):
            monkeypatch.delenv(key)
    fake = case.make_fake() if case.make_fake else None
    assert fake is not None
    with fake:
        good = case.config(fake, [case.account()])
        assert model(**good)
        for secret in case.secret_fields:
            with pytest.raises(ValidationError):
                model(**{k: v for k, v in good.items() if k != secret})
        shown = repr(model(**good))
        for secret in case.secret_fields:
            assert str(good[secret]) not in shown  # secrets never in reprs or logs
    for key, value in case.env.items():
        monkeypatch.setenv(key, value)
    from_env = model()
    assert from_env.accounts  # type: ignore[attr-defined]


def _raw_events(name: str, case: Case, fake: Any, account: str) -> tuple[list[Any],
                                                                          list[RawEnvelope]]:
    if not case.polls:
        source = BackfillSource(BackfillConfig(path=RECORDED / "backfill.jsonl"))
        lines = (RECORDED / "backfill.jsonl").read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines], list(source.read())
    cls = REGISTRY[name]
    recorded = case.load_recorded(fake, account)
    poller: Source[Any] = cls(cls.config_model(**case.config(fake, [account])))
    return recorded, list(poller.read())


@pytest.mark.parametrize("name", NAMES)
def test_recorded_page_parses_and_every_raw_event_normalizes(
        name: str, brands: BrandDirectory) -> None:
    case = case_of(name)
    fake = case.make_fake() if case.make_fake else None
    account = case.account()
    secrets: list[str] = []
    if fake is not None:
        fake.start()
    try:
        recorded, envelopes = _raw_events(name, case, fake, account)
        if fake is not None:
            config = case.config(fake, [account])
            secrets = [str(config[field]) for field in case.secret_fields]
    finally:
        if fake is not None:
            fake.stop()
    assert len(envelopes) == len(recorded) >= 2
    for envelope, item in zip(envelopes, recorded, strict=True):
        if case.polls:
            assert envelope.source == name and envelope.account == account
            assert json.loads(envelope.payload) == item  # one envelope = one item, untouched
        events = normalize(envelope, brands)
        assert events, f"{name}: no event from {envelope.payload[:120]!r}"
        for event in events:
            assert SocialEvent.model_validate_json(event.model_dump_json()) == event
            assert event.raw_id == envelope.raw_id
            assert event.event_id == SocialEvent.make_event_id(event.platform,
                                                               event.platform_item_id)
    # No secret leaks into what is stored.
    stored = b"".join(e.model_dump_json().encode() for e in envelopes)
    for secret in secrets:
        assert secret.encode() not in stored


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

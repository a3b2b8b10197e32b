"""Settings come from the environment, secrets stay secret, the reference cannot drift."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.settings import Settings

REPO = Path(__file__).resolve().parents[2]


def test_kafka_bootstrap_servers_is_read_from_its_conventional_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "k1:9092, k2:9092")
    assert Settings().bootstrap_list == ["k1:9092", "k2:9092"]


def test_secrets_never_show_in_a_repr_or_a_dump(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTE_VOIX_HELPDESK_TOKEN", "tok-very-secret")
    settings = Settings()
    assert "tok-very-secret" not in repr(settings)
    assert "tok-very-secret" not in settings.model_dump_json()
    assert settings.helpdesk_token.get_secret_value() == "tok-very-secret"


def test_helpdesk_queues_are_json_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTE_VOIX_HELPDESK_QUEUES", '{"support": 1, "billing": 2}')
    assert Settings().helpdesk_queues == {"support": 1, "billing": 2}


def test_committed_settings_reference_matches_the_code() -> None:
    out = subprocess.run([sys.executable, "-m", "pipeline.cli", "settings", "--markdown"],
                         capture_output=True, text=True, check=True, cwd=REPO).stdout
    assert out == (REPO / "docs" / "settings.md").read_text(), "run `make schemas`"

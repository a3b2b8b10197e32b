"""Settings come from the environment, secrets stay secret, the reference cannot drift."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from connectors.sinks.helpdesk import HelpdeskConfig, HelpdeskSink
from connectors.sinks.registry import make_sink
from pipeline.settings import Settings

REPO = Path(__file__).resolve().parents[2]


def test_kafka_bootstrap_servers_is_read_from_its_conventional_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "k1:9092, k2:9092")
    assert Settings().bootstrap_list == ["k1:9092", "k2:9092"]


def test_secrets_never_show_in_a_repr_or_a_dump(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTE_VOIX_HELPDESK_TOKEN", "tok-very-secret")
    config = HelpdeskConfig()
    assert "tok-very-secret" not in repr(config)
    assert "tok-very-secret" not in config.model_dump_json()
    assert config.token.get_secret_value() == "tok-very-secret"


def test_helpdesk_queues_are_json_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTE_VOIX_HELPDESK_QUEUES", '{"support": 1, "billing": 2}')
    assert HelpdeskConfig().queues == {"support": 1, "billing": 2}


def test_the_worker_builds_the_sink_named_in_its_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTE_VOIX_HELPDESK_URL", "http://127.0.0.1:1/")
    sink = make_sink(Settings().crm_sink)
    assert isinstance(sink, HelpdeskSink)
    assert sink.base_url == "http://127.0.0.1:1"
    with pytest.raises(KeyError, match="registered"):
        make_sink("nope")


def test_committed_settings_reference_matches_the_code() -> None:
    out = subprocess.run([sys.executable, "-m", "pipeline.cli", "settings", "--markdown"],
                         capture_output=True, text=True, check=True, cwd=REPO).stdout
    assert out == (REPO / "docs" / "settings.md").read_text(), "run `make schemas`"

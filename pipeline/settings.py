"""Every setting of Porte-Voix, in one place, each with its environment name and a default.

Read once per process with :func:`get_settings`; tests build their own ``Settings(...)``.
Secrets are ``SecretStr`` so they never show up in logs, reprs or topics.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_RULES = PACKAGE_ROOT / "pipeline" / "routing" / "default_rules.yaml"
DEFAULT_BRANDS = PACKAGE_ROOT / "infra" / "demo" / "brands.yaml"


class Settings(BaseSettings):
    """Runtime configuration. Environment variables win over defaults; names are listed here."""

    model_config = SettingsConfigDict(env_prefix="PORTE_VOIX_", extra="ignore")

    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:9092",
        validation_alias=AliasChoices(
            "KAFKA_BOOTSTRAP_SERVERS", "PORTE_VOIX_KAFKA_BOOTSTRAP_SERVERS"
        ),
        description="Kafka-compatible brokers, comma-separated host:port list.",
    )
    app_id: str = Field(default="porte-voix", description="faust app id = consumer group prefix.")
    topic_replication_factor: int = Field(
        default=1, ge=1, description="Replication factor used when creating topics (3 in prod)."
    )
    topic_partitions_override: int | None = Field(
        default=None, ge=1, description="Force every topic's partition count (small test setups)."
    )
    worker_web_port: int = Field(default=6066, description="faust web server port (127.0.0.1).")
    worker_web_enabled: bool = Field(default=False, description="Start faust's web server.")
    brands_file: Path = Field(default=DEFAULT_BRANDS, description="YAML brand directory.")
    rules_file: Path = Field(default=DEFAULT_RULES, description="YAML routing rules.")
    crm_sink: str = Field(
        default="helpdesk",
        description="Registered CRM sink the deliver agent uses; its own settings are "
        "PORTE_VOIX_<NAME>_* (see the sink).",
    )
    feedback_sink: str | None = Field(
        default=None,
        description="Registered feedback sink (e.g. jira) that files feedback.<area> items; "
        "its settings are PORTE_VOIX_<NAME>_*. Unset: feedback stays on the topics.",
    )
    deliver_enabled: bool = Field(
        default=True, description="Run the deliver agent (off for benchmarks without a CRM)."
    )
    deliver_max_attempts: int = Field(
        default=3, ge=1,
        description="Attempts in place before a failing command moves to a retry topic.",
    )
    deliver_retry_delays: tuple[float, ...] = Field(
        default=(10.0, 60.0, 300.0),
        description="Delay (s) of each retry topic crm.retry.1..3 (JSON list, at most 3); "
        "then crm.deadletter.",
    )
    deliver_backoff_seconds: float = Field(
        default=0.5, gt=0, description="First retry delay; doubles each attempt, with jitter."
    )
    deliver_backoff_max_seconds: float = Field(
        default=30.0, gt=0, description="Longest wait between two delivery attempts."
    )
    session_timeout_ms: int = Field(
        default=6000, description="Consumer session timeout (short: group joins wait on it)."
    )
    heartbeat_interval_ms: int = Field(default=2000, description="Consumer heartbeat interval.")
    quality_enabled: bool = Field(
        default=True,
        description="Run the data-quality agents (quarantine and per-batch results).",
    )
    quality_batch_size: int = Field(
        default=500, ge=1, description="Records per quality micro-batch (at most)."
    )
    quality_batch_seconds: float = Field(
        default=2.0, gt=0, description="A quality micro-batch closes after this many seconds."
    )
    analytics_enabled: bool = Field(
        default=True,
        description="Run the analytics task in the worker (KPI state, crisis detection, "
        "alerts.crisis and the webhook). Run it on one worker only: it reads every partition.",
    )
    crisis_window_minutes: float = Field(
        default=60.0, gt=0, description="Recent window compared with the rolling baseline."
    )
    crisis_halflife_hours: float = Field(
        default=24.0, gt=0, description="Half-life of the hourly-count EWMA baseline."
    )
    crisis_baseline_floor: float = Field(
        default=0.5, gt=0,
        description="Lowest baseline (messages/hour) a brand x theme is compared with.",
    )
    crisis_z_threshold: float = Field(
        default=3.0, gt=0, description="Poisson z-score of the window over the baseline to alert."
    )
    crisis_ratio_threshold: float = Field(
        default=3.0, gt=1, description="Window count over expected count needed to alert."
    )
    crisis_min_messages: int = Field(
        default=3, ge=1, description="Fewest messages in the window that can open an incident."
    )
    crisis_negative_share_min: float = Field(
        default=0.5, ge=0, le=1,
        description="A pure volume spike alerts only with at least this share of negatives.",
    )
    crisis_update_growth: float = Field(
        default=1.0, gt=0,
        description="An update is sent once an incident grew by this share since its last alert.",
    )
    crisis_update_min_messages: int = Field(
        default=3, ge=1, description="An update also needs at least this many new messages."
    )
    crisis_update_min_interval_minutes: float = Field(
        default=30.0, ge=0, description="Shortest time between two updates of an incident."
    )
    crisis_warmup_hours: float = Field(
        default=6.0, ge=0, description="No incident opens before this much history was seen."
    )
    crisis_cooldown_minutes: float = Field(
        default=120.0, gt=0, description="An incident closes after this long without a message."
    )
    crisis_webhook_url: str | None = Field(
        default=None, description="Slack-style webhook the crisis alerts are POSTed to (none: off)."
    )
    crisis_webhook_lang: str = Field(
        default="en", pattern="^(en|fr)$", description="Language of the webhook messages."
    )
    crisis_webhook_attempts: int = Field(
        default=5, ge=1, description="Attempts per alert before the webhook gives up on it."
    )
    dashboard_port: int = Field(
        default=0, ge=0, le=65535, description="Dashboard port on 127.0.0.1 (0: a free port)."
    )
    dashboard_days: float = Field(
        default=7.0, gt=0, description="Default period of the dashboard views, in days."
    )
    log_level: str = Field(default="INFO", description="Log level of the CLI tools.")

    @property
    def bootstrap_list(self) -> list[str]:
        return [s.strip() for s in self.kafka_bootstrap_servers.split(",") if s.strip()]


def settings_reference(*classes: type[BaseSettings]) -> list[tuple[str, str, str]]:
    """(environment variable, default, description) of every setting, generated from the code."""
    rows = []
    for cls in classes or (Settings,):
        rows.extend(_reference(cls))
    return rows


def _reference(cls: type[BaseSettings]) -> list[tuple[str, str, str]]:
    prefix = cls.model_config.get("env_prefix", "")
    rows = []
    for name, field in cls.model_fields.items():
        alias = field.validation_alias
        env = alias.choices[0] if isinstance(alias, AliasChoices) else f"{prefix}{name}".upper()
        if field.is_required():
            rows.append((str(env), "(required)", field.description or ""))
            continue
        default = field.get_default(call_default_factory=True)
        shown = "(secret)" if isinstance(default, SecretStr) else (
            default.relative_to(PACKAGE_ROOT).as_posix() if isinstance(default, Path)
            and default.is_relative_to(PACKAGE_ROOT) else str(default))
        rows.append((str(env), shown, field.description or ""))
    return rows


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read from the environment once."""
    return Settings()

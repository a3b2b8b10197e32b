"""Settings of the webhook ingest server, read from ``PORTE_VOIX_INGEST_*`` variables.

Secrets are ``SecretStr`` (never in logs or reprs). A platform whose secret is unset or empty is
disabled: its route answers 404 and start-up says so, so an unsigned payload is never accepted.
The broker address is not here: it is the pipeline's ``KAFKA_BOOTSTRAP_SERVERS``.
"""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["MIB", "IngestSettings"]

MIB = 1024 * 1024


def _set(value: SecretStr | None) -> bytes | None:
    if value is None or not value.get_secret_value():
        return None
    return value.get_secret_value().encode("utf-8")


class IngestSettings(BaseSettings):
    """Where the server listens, the platforms' secrets and the limits of one delivery."""

    model_config = SettingsConfigDict(env_prefix="PORTE_VOIX_INGEST_", extra="ignore")

    host: str = Field(default="127.0.0.1", description="Interface the ingest server binds.")
    port: int = Field(default=8088, ge=0, le=65535,
                      description="Port of the ingest server (0: any free port).")
    meta_app_secret: SecretStr | None = Field(
        default=None, description="Meta app secret: key of X-Hub-Signature-256.")
    meta_verify_token: SecretStr | None = Field(
        default=None, description="Token typed into Meta's webhook setup (hub.verify_token).")
    x_consumer_secret: SecretStr | None = Field(
        default=None, description="X app consumer secret: CRC and x-twitter-webhooks-signature.")
    discourse_secret: SecretStr | None = Field(
        default=None, description="Discourse webhook secret: X-Discourse-Event-Signature.")
    max_body_bytes: int = Field(default=MIB, ge=1024,
                                description="Largest body accepted; larger ones get 413.")
    ack_timeout_seconds: float = Field(
        default=5.0, gt=0, le=60,
        description="Wait this long for the broker's acknowledgement, then answer 503.")

    @property
    def meta_secret(self) -> bytes | None:
        return _set(self.meta_app_secret)

    @property
    def meta_token(self) -> bytes | None:
        return _set(self.meta_verify_token)

    @property
    def x_secret(self) -> bytes | None:
        return _set(self.x_consumer_secret)

    @property
    def discourse_key(self) -> bytes | None:
        return _set(self.discourse_secret)

"""Settings of the webhook ingest server, read from ``PORTE_VOIX_INGEST_*`` variables.

Split by owner: :class:`IngestSettings` is the server's (where it listens, the limits of one
delivery); each platform's secrets are its push connector's config (:class:`MetaWebhookConfig`,
:class:`XWebhookConfig`, :class:`DiscourseWebhookConfig`), registered with the connector, so the
contract suite checks them like every connector's. The variable names are the same either way.

Secrets are ``SecretStr`` (never in logs or reprs) and required: a platform whose secret is unset
or empty has no valid config, so the server disables it (its route answers 404 and start-up says
so) and an unsigned payload is never accepted. The broker address is not here: it is the
pipeline's ``KAFKA_BOOTSTRAP_SERVERS``.
"""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["MIB", "DiscourseWebhookConfig", "IngestSettings", "MetaWebhookConfig",
           "XWebhookConfig", "secret_bytes"]

MIB = 1024 * 1024


def secret_bytes(value: SecretStr) -> bytes:
    """The key bytes of a secret: platforms key their HMAC with the secret's UTF-8 bytes."""
    return value.get_secret_value().encode("utf-8")


class IngestSettings(BaseSettings):
    """Where the server listens and the limits of one delivery."""

    model_config = SettingsConfigDict(env_prefix="PORTE_VOIX_INGEST_", extra="ignore")

    host: str = Field(default="127.0.0.1", description="Interface the ingest server binds.")
    port: int = Field(default=8088, ge=0, le=65535,
                      description="Port of the ingest server (0: any free port).")
    max_body_bytes: int = Field(default=MIB, ge=1024,
                                description="Largest body accepted; larger ones get 413.")
    ack_timeout_seconds: float = Field(
        default=5.0, gt=0, le=60,
        description="Wait this long for the broker's acknowledgement, then answer 503.")


class MetaWebhookConfig(BaseSettings):
    """Meta (Facebook Page, Messenger, Instagram): both values are needed to serve Meta."""

    model_config = SettingsConfigDict(env_prefix="PORTE_VOIX_INGEST_META_", extra="ignore",
                                      frozen=True)

    app_secret: SecretStr = Field(min_length=1,
                                  description="Meta app secret: key of X-Hub-Signature-256.")
    verify_token: SecretStr = Field(
        min_length=1, description="Token typed into Meta's webhook setup (hub.verify_token).")


class XWebhookConfig(BaseSettings):
    """X Account Activity."""

    model_config = SettingsConfigDict(env_prefix="PORTE_VOIX_INGEST_X_", extra="ignore",
                                      frozen=True)

    consumer_secret: SecretStr = Field(
        min_length=1, description="X app consumer secret: CRC and x-twitter-webhooks-signature.")


class DiscourseWebhookConfig(BaseSettings):
    """Discourse forums."""

    model_config = SettingsConfigDict(env_prefix="PORTE_VOIX_INGEST_DISCOURSE_", extra="ignore",
                                      frozen=True)

    secret: SecretStr = Field(
        min_length=1, description="Discourse webhook secret: X-Discourse-Event-Signature.")

"""Create every declared topic, idempotently, with kafka-python's admin client.

Tansu auto-creates unknown topics with 4 partitions and reports no topic configs, so every topic
is created up front from :data:`schemas.topics.TOPICS` before any producer or worker runs.
"""

from __future__ import annotations

import logging

from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError

from schemas.topics import TOPICS, TopicSpec

log = logging.getLogger(__name__)


def new_topic(spec: TopicSpec, replication_factor: int = 1,
              partitions_override: int | None = None) -> NewTopic:
    return NewTopic(
        name=spec.name,
        num_partitions=partitions_override or spec.partitions,
        replication_factor=replication_factor,
        topic_configs=spec.config,
    )


def ensure_topics(bootstrap: str | list[str], replication_factor: int = 1,
                  partitions_override: int | None = None,
                  specs: list[TopicSpec] | None = None) -> list[str]:
    """Create the missing topics; returns the names created (existing ones are left alone)."""
    wanted = specs if specs is not None else list(TOPICS.values())
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="porte-voix-admin")
    try:
        existing = set(admin.list_topics())
        missing = [s for s in wanted if s.name not in existing]
        created: list[str] = []
        for spec in missing:
            try:
                admin.create_topics([new_topic(spec, replication_factor, partitions_override)])
                created.append(spec.name)
            except TopicAlreadyExistsError:
                pass
        if created:
            log.info("created %d topics: %s", len(created), ", ".join(created))
        return created
    finally:
        admin.close()

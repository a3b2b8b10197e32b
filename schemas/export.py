"""Export one JSON Schema (draft 2020-12) per topic, for data teams and compatibility checks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from schemas.topics import TOPICS, TopicSpec

DRAFT = "https://json-schema.org/draft/2020-12/schema"


def topic_schema(spec: TopicSpec) -> dict[str, Any]:
    """The value schema of a topic, stamped with the topic and the model's schema_version."""
    schema = spec.value_model.model_json_schema(mode="serialization")
    version = spec.value_model.model_fields["schema_version"].default
    return {
        "$schema": DRAFT,
        "$id": f"urn:porte-voix:topic:{spec.name}:{version}",
        "x-topic": spec.name,
        "x-key": spec.key,
        "x-partitions": spec.partitions,
        "x-cleanup-policy": spec.cleanup_policy,
        "x-schema-version": version,
        **schema,
    }


def export_schemas(directory: Path) -> list[Path]:
    """Write ``<topic>.json`` for every declared topic; returns the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for spec in TOPICS.values():
        path = directory / f"{spec.name}.json"
        path.write_text(json.dumps(topic_schema(spec), indent=2, sort_keys=False) + "\n")
        written.append(path)
    return written

"""The topic catalog covers every declared topic, every field and a valid example of each."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, get_args, get_origin

import pytest
from pydantic import BaseModel

from schemas.catalog import catalog_markdown, field_rows, write_catalog
from schemas.examples import EXAMPLES, example, topic_example
from schemas.export import topic_schema
from schemas.models import FeedbackItem
from schemas.topics import TOPICS

REPO = Path(__file__).resolve().parents[2]
MODELS = sorted({spec.value_model for spec in TOPICS.values()}, key=lambda m: m.__name__)


def model_paths(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Every field path of a model, read from pydantic itself (not from the JSON Schema)."""
    paths = []
    for name, info in model.model_fields.items():
        paths.append(prefix + name)
        is_list = get_origin(info.annotation) is list
        for candidate in (info.annotation, *get_args(info.annotation)):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                paths += model_paths(candidate, f"{prefix}{name}{'[]' if is_list else ''}.")
    return paths


def sections(markdown: str) -> dict[str, str]:
    parts = re.split(r"^## ", markdown, flags=re.MULTILINE)
    return {part.split("\n", 1)[0].strip(): part for part in parts[1:]}


@pytest.fixture(scope="module")
def markdown() -> str:
    return catalog_markdown()


def test_every_declared_topic_has_a_section_with_its_declaration(markdown: str) -> None:
    by_title = sections(markdown)
    for name, spec in TOPICS.items():
        section = by_title[name]
        assert spec.purpose in section
        assert f"`{spec.key}`" in section
        assert f"| partitions | {spec.partitions} |" in section
        assert f"| cleanup policy | {spec.cleanup_policy} |" in section
        assert f"[{spec.value_model.__name__}]" in section
        assert f"| schema version | {topic_schema(spec)['x-schema-version']} |" in section
        for who in (*spec.producers, *spec.consumers):
            assert who in section


def test_every_field_of_every_value_model_is_listed_with_type(markdown: str) -> None:
    models = markdown.split("## Value models", 1)[1]
    blocks = {b.split("\n", 1)[0].split()[0]: b for b in models.split("### ")[1:]}
    for model in MODELS:
        block = blocks[model.__name__]
        for path in model_paths(model):
            row = re.search(rf"^\| `{re.escape(path)}` \| ((?:[^|\\]|\\\|)+) \|", block,
                            re.MULTILINE)
            assert row, f"{model.__name__}.{path} missing from the catalog"
            assert row.group(1).strip(), f"{model.__name__}.{path} has no type"


def test_field_rows_carry_descriptions_and_enum_values() -> None:
    rows = {r.path: r for r in field_rows(topic_schema(TOPICS["social.enriched"]))}
    assert rows["enrichment.lang"].type.startswith("Lang: en | fr | other")
    assert rows["event.raw_id"].description == "RawEnvelope it was normalized from."
    assert rows["enrichment.lang"].presence == "required"
    assert rows["enrichment.needs_review"].presence == "default false"
    assert "or null" in rows["event.rating"].type


def test_each_topic_example_in_the_catalog_is_a_valid_record_of_its_model(
        markdown: str) -> None:
    by_title = sections(markdown)
    for name, spec in TOPICS.items():
        blocks = re.findall(r"```json\n(.*?)\n```", by_title[name], re.DOTALL)
        assert len(blocks) == 1, name
        record = spec.value_model.model_validate_json(blocks[0])
        assert record == topic_example(spec)


def test_examples_set_every_field_so_the_catalog_never_depends_on_a_clock() -> None:
    assert set(EXAMPLES) >= set(MODELS)
    for model in MODELS:
        record = example(model)
        assert set(EXAMPLES[model]) == set(model.model_fields), model.__name__
        assert record.model_fields_set == set(model.model_fields)


def test_feedback_examples_belong_to_their_topic_area() -> None:
    for name, spec in TOPICS.items():
        if spec.value_model is FeedbackItem:
            record = topic_example(spec)
            assert isinstance(record, FeedbackItem)
            assert f"feedback.{record.product_area.value}" == name


def test_examples_validate_against_the_exported_json_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    for spec in TOPICS.values():
        value: Any = json.loads(topic_example(spec).model_dump_json())
        jsonschema.validate(value, topic_schema(spec))


def test_write_catalog_writes_markdown_and_html_with_every_topic(tmp_path: Path) -> None:
    paths = write_catalog(tmp_path / "catalog")
    assert [p.name for p in paths] == ["topics.md", "topics.html"]
    page = paths[1].read_text()
    assert page.startswith("<!DOCTYPE html>")
    for name in TOPICS:
        assert f'<h2 id="{name.replace(".", "")}">{name}</h2>' in page
    for anchor in set(re.findall(r'href="#([^"]+)"', page)):
        assert f'id="{anchor}"' in page, f"link to #{anchor} goes nowhere"


def test_committed_catalog_matches_the_declaration(tmp_path: Path) -> None:
    committed = REPO / "docs" / "catalog"
    for path in write_catalog(tmp_path):
        assert path.read_text() == (committed / path.name).read_text(), (
            f"docs/catalog/{path.name} is stale: run `porte-voix topics catalog docs/catalog`")

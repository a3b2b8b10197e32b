"""Schema compatibility: breaking changes are caught and explained, additive ones pass."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field, create_model

from schemas.compat import (
    BASELINE_DIR,
    Change,
    check_against_baseline,
    check_versions,
    diff_schemas,
    explain,
    release_baselines,
    schemas_diff_command,
)
from schemas.export import topic_schema
from schemas.topics import TOPICS, TopicSpec


class Lang(StrEnum):
    en = "en"
    fr = "fr"
    other = "other"


class LangNarrow(StrEnum):
    en = "en"
    fr = "fr"


class LangWide(StrEnum):
    en = "en"
    fr = "fr"
    other = "other"
    de = "de"


class Author(BaseModel):
    model_config = ConfigDict(extra="forbid")
    handle: str | None = None
    followers: int | None = Field(default=None, ge=0)


class AuthorNoHandle(BaseModel):
    model_config = ConfigDict(extra="forbid", title="Author")
    followers: int | None = Field(default=None, ge=0)


class Place(BaseModel):
    city: str = ""


class Base(BaseModel):
    model_config = ConfigDict(extra="forbid")


BASE_FIELDS: dict[str, Any] = {
    "event_id": (str, Field(description="Stable id.")),
    "lang": (Lang, ...),
    "score": (float, Field(ge=-1.0, le=1.0)),
    "tags": (list[str], Field(default_factory=list)),
    "note": (str | None, None),
    "author": (Author, Field(default_factory=Author)),
}


def spec(version: str = "1.0", name: str = "test.things", **changes: Any) -> TopicSpec:
    """A topic whose model is the base model with some fields changed (None removes one)."""
    fields = {**BASE_FIELDS, **changes}
    fields = {k: v for k, v in fields.items() if v is not None}
    model = create_model("Thing", __base__=Base,
                         schema_version=(Literal[version], version),  # type: ignore[arg-type]
                         **fields)
    return TopicSpec(name, model, key="event_id", purpose="test")


def schema(version: str = "1.0", **changes: Any) -> dict[str, Any]:
    return topic_schema(spec(version, **changes))


def kinds(changes: list[Change]) -> set[str]:
    return {c.kind for c in changes}


def breaking(changes: list[Change]) -> list[Change]:
    return [c for c in changes if c.kind == "breaking"]


# ------------------------------------------------------------------------ breaking changes


def test_identical_schemas_have_no_differences() -> None:
    assert diff_schemas(schema(), schema()) == []
    assert explain([]) == "No differences."


def test_removed_field_is_breaking_and_named_in_words() -> None:
    changes = diff_schemas(schema(), schema(note=None))
    assert [(c.kind, c.path) for c in breaking(changes)] == [("breaking", "note")]
    assert "'note' was removed" in explain(changes)


def test_retyped_field_is_breaking_and_says_from_what_to_what() -> None:
    changes = breaking(diff_schemas(schema(), schema(score=(str, ...))))
    assert [c.path for c in changes] == ["score"]
    assert "from number to string" in changes[0].message


def test_narrowed_enum_is_breaking_and_names_the_removed_value() -> None:
    changes = breaking(diff_schemas(schema(), schema(lang=(LangNarrow, ...))))
    assert [c.path for c in changes] == ["lang"]
    assert '["other"]' in changes[0].message


def test_new_required_field_without_default_is_breaking() -> None:
    changes = breaking(diff_schemas(schema(), schema(brand=(str, ...))))
    assert [c.path for c in changes] == ["brand"]
    assert "new required field 'brand'" in changes[0].message


def test_field_that_became_required_is_breaking() -> None:
    changes = breaking(diff_schemas(schema(), schema(note=(str | None, ...))))
    assert [c.path for c in changes] == ["note"]
    assert "became required" in changes[0].message


def test_field_that_may_now_be_null_is_breaking() -> None:
    changes = breaking(diff_schemas(schema(), schema(event_id=(str | None, None))))
    assert any("may now be null" in c.message for c in changes)


def test_tighter_bound_is_breaking_and_looser_bound_is_additive() -> None:
    tighter = diff_schemas(schema(), schema(score=(float, Field(ge=0.0, le=1.0))))
    looser = diff_schemas(schema(), schema(score=(float, Field(ge=-2.0, le=1.0))))
    assert [c.path for c in breaking(tighter)] == ["score"]
    assert kinds(looser) == {"additive"}


def test_removed_field_of_a_nested_model_is_reported_at_its_dotted_path() -> None:
    changes = breaking(diff_schemas(
        schema(), schema(author=(AuthorNoHandle, Field(default_factory=AuthorNoHandle)))))
    assert [c.path for c in changes] == ["author.handle"]


def test_changed_key_and_cleanup_policy_are_breaking() -> None:
    old = schema()
    new = {**old, "x-key": "brand", "x-cleanup-policy": "compact"}
    messages = [c.message for c in breaking(diff_schemas(old, new))]
    assert any("record key changed" in m for m in messages)
    assert any("cleanup policy changed" in m for m in messages)


# ------------------------------------------------------------------------ additive changes


def test_optional_field_widened_enum_new_def_and_description_are_not_breaking() -> None:
    new = schema(lang=(LangWide, ...), place=(Place | None, None),
                 event_id=(str, Field(description="Stable id, one per item.")))
    changes = diff_schemas(schema(), new)
    assert breaking(changes) == []
    by_path = {(c.kind, c.path) for c in changes}
    assert ("additive", "place") in by_path
    assert ("additive", "lang") in by_path
    assert ("additive", "$defs.Place") in by_path
    assert ("cosmetic", "event_id") in by_path
    text = explain(changes)
    assert "now also allows [\"de\"]" in text
    assert "new optional field 'place'" in text


# ------------------------------------------------------------------------------- versions


def test_breaking_change_needs_a_new_major_version() -> None:
    old = schema("1.0")
    assert any("new major version: 1.0 -> 2.0" in p
               for p in check_versions(old, schema("1.1", note=None)))
    assert check_versions(old, schema("2.0", note=None)) == []


def test_additive_change_passes_with_a_minor_bump_and_fails_without() -> None:
    old = schema("1.0")
    assert check_versions(old, schema("1.1", place=(Place | None, None))) == []
    problems = check_versions(old, schema("1.0", place=(Place | None, None)))
    assert any("at least a new minor version: 1.0 -> 1.1" in p for p in problems)


def test_cosmetic_change_needs_no_bump_and_versions_may_not_go_backwards() -> None:
    old = schema("1.2")
    assert check_versions(old, schema("1.2", event_id=(str, Field(description="Id.")))) == []
    assert any("backwards" in p for p in check_versions(old, schema("1.1")))


# ------------------------------------------------------------------- the baseline gate


def test_current_models_pass_against_the_committed_baseline() -> None:
    problems = check_against_baseline(BASELINE_DIR)
    assert problems == [], "\n\n".join(problems)


def test_every_baseline_file_belongs_to_a_declared_topic() -> None:
    """A removed topic breaks its readers: deleting its baseline must be a deliberate step."""
    for path in BASELINE_DIR.glob("*.json"):
        assert path.stem in TOPICS, f"{path.name}: topic no longer declared"
        assert json.loads(path.read_text())["topic"] == path.stem


def test_renamed_definition_is_cosmetic() -> None:
    class Writer(BaseModel):
        model_config = ConfigDict(extra="forbid")
        handle: str | None = None
        followers: int | None = Field(default=None, ge=0)

    changes = diff_schemas(schema(), schema(author=(Writer, Field(default_factory=Writer))))
    assert kinds(changes) == {"cosmetic"}
    assert any("definition Author renamed to Writer" in c.message for c in changes)


def test_gate_fails_with_words_when_a_released_model_changes_without_a_bump(
        tmp_path: Path) -> None:
    written, problems = release_baselines(tmp_path, [spec("1.0")])
    assert problems == [] and [p.name for p in written] == ["test.things.json"]

    problems = check_against_baseline(tmp_path, [spec("1.0", note=None)])
    assert len(problems) == 1
    assert "still 1.0" in problems[0] and "bump the major version of Thing" in problems[0]
    assert "'note' was removed" in problems[0]

    problems = check_against_baseline(tmp_path, [spec("1.1", note=None)])
    assert "need a new major version" in problems[0]

    assert check_against_baseline(tmp_path, [spec("2.0", note=None)]) == []
    assert check_against_baseline(tmp_path, [spec("1.1", place=(Place | None, None))]) == []


def test_gate_asks_for_a_minor_bump_after_an_additive_change_to_a_released_version(
        tmp_path: Path) -> None:
    release_baselines(tmp_path, [spec("1.0")])
    problems = check_against_baseline(tmp_path, [spec("1.0", place=(Place | None, None))])
    assert "bump the minor version" in problems[0]


def test_release_refuses_an_incompatible_schema_and_keeps_every_released_version(
        tmp_path: Path) -> None:
    release_baselines(tmp_path, [spec("1.0")])
    written, problems = release_baselines(tmp_path, [spec("1.0", note=None)])
    assert written == [] and problems

    written, problems = release_baselines(tmp_path, [spec("2.0", note=None)])
    assert problems == []
    releases = json.loads(written[0].read_text())["releases"]
    assert list(releases) == ["1.0", "2.0"]
    assert "note" in releases["1.0"]["properties"]
    assert "note" not in releases["2.0"]["properties"]


def test_gate_checks_the_released_history_itself(tmp_path: Path) -> None:
    path = tmp_path / "test.things.json"
    path.write_text(json.dumps({"topic": "test.things", "releases": {
        "1.0": schema("1.0"), "1.1": schema("1.1", note=None)}}))
    problems = check_against_baseline(tmp_path, [spec("1.1", note=None)])
    assert any("released 1.1 does not follow released 1.0" in p for p in problems)


def test_a_topic_without_baseline_is_reported(tmp_path: Path) -> None:
    problems = check_against_baseline(tmp_path, [spec("1.0")])
    assert "no released baseline" in problems[0]


# ---------------------------------------------------------------------- schemas diff CLI


def _write(path: Path, data: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


def test_diff_command_exits_1_and_explains_a_breaking_change_without_major_bump(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = _write(tmp_path / "old.json", schema("1.0"))
    new = _write(tmp_path / "new.json", schema("1.1", lang=(LangNarrow, ...)))
    assert schemas_diff_command(old, new) == 1
    out = capsys.readouterr().out
    assert "'lang' no longer allows [\"other\"]" in out
    assert "VERSION PROBLEM" in out


def test_diff_command_exits_0_for_a_major_bump_and_compares_directories(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write(tmp_path / "old" / "test.things.json", schema("1.0"))
    _write(tmp_path / "new" / "test.things.json", schema("2.0", note=None))
    _write(tmp_path / "new" / "test.more.json", schema("1.0"))
    assert schemas_diff_command(tmp_path / "old", tmp_path / "new") == 0
    out = capsys.readouterr().out
    assert "test.more: new topic" in out and "1.0 -> 2.0" in out

    _write(tmp_path / "old" / "test.gone.json", schema("1.0"))
    assert schemas_diff_command(tmp_path / "old", tmp_path / "new") == 1
    assert "test.gone: topic removed" in capsys.readouterr().out


def test_diff_command_reads_baseline_files_and_committed_exports_alike() -> None:
    repo = BASELINE_DIR.parent
    assert schemas_diff_command(BASELINE_DIR, repo / "jsonschema") == 0


def test_diff_command_exits_2_on_unusable_input(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert schemas_diff_command(bad, bad) == 2
    assert schemas_diff_command(tmp_path, bad) == 2
    assert "error:" in capsys.readouterr().err

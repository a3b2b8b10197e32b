"""Schema compatibility: what changed between two topic schemas, and does the version say so.

Records outlive the model that wrote them (topics keep days of history and ``social.raw`` is
replayed through newer code) and consumers upgrade after producers. A change is therefore
*breaking* when a record written with the old schema fails the new one (a field became
required, an enum value was removed, a constraint got tighter) or when a reader written against
the old schema loses something it relied on (a field removed or retyped, the key changed). It is
*additive* when both still work (an optional field, a new enum value, a new definition) and
*cosmetic* when only the documentation changed.

The version rule (``schema_version`` is ``MAJOR.MINOR``): a breaking change needs a new MAJOR,
an additive one at least a new MINOR; cosmetic changes need nothing.

Released schemas live in ``schemas/baseline/<topic>.json`` (one entry per released
``MAJOR.MINOR``), apart from ``schemas/jsonschema`` which ``make schemas`` overwrites: see
``schemas/README.md``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any, Literal

from schemas.export import topic_schema
from schemas.topics import TOPICS, TopicSpec

__all__ = [
    "BASELINE_DIR",
    "Change",
    "ChangeKind",
    "SchemaFileError",
    "check_against_baseline",
    "check_versions",
    "diff_schemas",
    "explain",
    "load_schema",
    "parse_version",
    "release_baselines",
    "schema_version",
    "schemas_diff_command",
    "unwrap",
]

BASELINE_DIR = Path(__file__).resolve().parent / "baseline"

ChangeKind = Literal["breaking", "additive", "cosmetic"]
Schema = dict[str, Any]

_KIND_ORDER: dict[str, int] = {"breaking": 0, "additive": 1, "cosmetic": 2}
_ANNOTATIONS = ("title", "description", "examples")
# Raising one of these, or adding it, makes the schema stricter.
_LOWER_BOUNDS = ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties")
# Lowering one of these, or adding it, makes the schema stricter.
_UPPER_BOUNDS = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties")


@dataclass(frozen=True)
class Change:
    """One difference between two schemas, at a dotted field path (``""`` is the record)."""

    kind: ChangeKind
    path: str
    message: str


class SchemaFileError(ValueError):
    """A schema file or directory that cannot be compared (missing, not JSON, no version)."""


# ----------------------------------------------------------------------------- versions


def parse_version(version: str) -> tuple[int, int]:
    """``"1.2"`` -> ``(1, 2)``; anything else is an error, not a silent ``(0, 0)``."""
    major, sep, minor = version.partition(".")
    if not sep or not major.isdigit() or not minor.isdigit():
        raise SchemaFileError(f"schema version {version!r} is not MAJOR.MINOR")
    return int(major), int(minor)


def schema_version(schema: Mapping[str, Any]) -> str:
    """The ``MAJOR.MINOR`` a schema declares (``x-schema-version``, else its schema_version)."""
    version = schema.get("x-schema-version")
    if version is None:
        field = schema.get("properties", {}).get("schema_version", {})
        version = field.get("const", field.get("default"))
    if not isinstance(version, str):
        raise SchemaFileError("schema has no x-schema-version nor a schema_version default")
    parse_version(version)
    return version


# --------------------------------------------------------------------------------- diff


def _label(path: str) -> str:
    return f"'{path}'" if path else "the record"


def _pointer(root: Schema, ref: str) -> Schema:
    if not ref.startswith("#/"):
        raise SchemaFileError(f"only local $ref are supported, got {ref!r}")
    node: Any = root
    for part in ref[2:].split("/"):
        key = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or key not in node:
            raise SchemaFileError(f"$ref {ref!r} points nowhere")
        node = node[key]
    if not isinstance(node, dict):
        raise SchemaFileError(f"$ref {ref!r} is not a schema")
    return node


def _resolve(root: Schema, node: Schema) -> tuple[Schema, str | None]:
    """Follow ``$ref`` (sibling keywords win, as in 2020-12); returns the def's name too."""
    name = None
    seen: set[str] = set()
    while "$ref" in node:
        ref = node["$ref"]
        if ref in seen:
            raise SchemaFileError(f"$ref cycle through {ref!r}")
        seen.add(ref)
        name = ref.rsplit("/", 1)[-1]
        siblings = {k: v for k, v in node.items() if k != "$ref"}
        node = {**_pointer(root, ref), **siblings}
    return node, name


def _is_null(branch: Schema) -> bool:
    return branch.get("type") == "null" or branch.get("const", 0) is None


def unwrap(root: Schema, node: Schema) -> tuple[Schema, bool, str | None]:
    """Resolve a node and take ``X | None`` apart: ``(X, nullable, name of X's $def)``."""
    node, name = _resolve(root, node)
    types = node.get("type")
    if isinstance(types, list) and "null" in types:
        rest = [t for t in types if t != "null"]
        node = {**node, "type": rest[0] if len(rest) == 1 else rest}
        return node, True, name
    for union in ("anyOf", "oneOf"):
        branches = node.get(union)
        if not isinstance(branches, list):
            continue
        others = [b for b in branches if not _is_null(b)]
        nullable = len(others) < len(branches)
        outer = {k: v for k, v in node.items() if k != union}
        if len(others) == 1:
            inner, inner_name = _resolve(root, {**others[0], **outer})
            return inner, nullable, inner_name or name
        return {**outer, union: others}, nullable, name
    return node, False, name


def _types(node: Schema) -> frozenset[str]:
    """The JSON types a node allows; inferred from enum/const/properties when not stated."""
    declared = node.get("type")
    if isinstance(declared, str):
        return frozenset({declared})
    if isinstance(declared, list):
        return frozenset(declared)
    values = node.get("enum", [node["const"]] if "const" in node else None)
    if values is not None:
        names = {"str": "string", "bool": "boolean", "int": "integer", "float": "number",
                 "NoneType": "null", "list": "array", "dict": "object"}
        return frozenset(names[type(v).__name__] for v in values)
    if "properties" in node or "additionalProperties" in node:
        return frozenset({"object"})
    if "items" in node:
        return frozenset({"array"})
    return frozenset()


def _describe_type(node: Schema, name: str | None) -> str:
    types = sorted(_types(node))
    text = " or ".join(types) if types else "any value"
    if "format" in node:
        text += f" ({node['format']})"
    if name and "object" in types:
        text += f" {name}"
    return text


def _values(node: Schema) -> list[Any] | None:
    if "enum" in node:
        return list(node["enum"])
    if "const" in node:
        return [node["const"]]
    return None


def _unversioned(node: Schema) -> Schema:
    return {k: v for k, v in node.items() if k not in ("const", "enum", "default")}


def _unannotated(node: Schema) -> Schema:
    return {k: v for k, v in node.items() if k not in _ANNOTATIONS}


def _canon(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


class _Differ:
    """Walks two schemas side by side from the root, following ``$ref`` on both sides."""

    def __init__(self, old: Schema, new: Schema) -> None:
        self.old_root = old
        self.new_root = new
        self.changes: list[Change] = []
        self._stack: set[tuple[str | None, str | None]] = set()

    def add(self, kind: ChangeKind, path: str, message: str) -> None:
        self.changes.append(Change(kind, path, message))

    def compare(self, old: Schema, new: Schema, path: str) -> None:
        o, o_null, o_name = unwrap(self.old_root, old)
        n, n_null, n_name = unwrap(self.new_root, new)
        pair = (o_name, n_name)
        if o_name and n_name:
            if pair in self._stack:  # recursive definitions: compared once per walk
                return
            self._stack.add(pair)
        try:
            self._compare_resolved(o, n, path, o_null, n_null, o_name, n_name)
        finally:
            self._stack.discard(pair)

    def _compare_resolved(self, o: Schema, n: Schema, path: str, o_null: bool, n_null: bool,
                          o_name: str | None, n_name: str | None) -> None:
        where = _label(path)
        for key in _ANNOTATIONS:
            if o.get(key) != n.get(key):
                self.add("cosmetic", path, f"the {key} of {where} changed")
        if "default" in o and "default" in n and o["default"] != n["default"]:
            self.add("additive", path, f"the default of {where} changed from "
                     f"{_canon(o['default'])} to {_canon(n['default'])}")
        if o_null and not n_null:
            self.add("breaking", path, f"{where} can no longer be null: stored records "
                     "holding null fail validation")
        elif n_null and not o_null:
            self.add("breaking", path, f"{where} may now be null: readers that expect a "
                     "value break")
        o_union, n_union = o.get("anyOf", o.get("oneOf")), n.get("anyOf", n.get("oneOf"))
        if o_union is not None or n_union is not None:
            if _canon(o_union) != _canon(n_union):
                self.add("breaking", path, f"{where} changed its alternatives from "
                         f"{_canon(o_union)} to {_canon(n_union)}")
            return
        o_types, n_types = _types(o), _types(n)
        if o_types != n_types:
            self.add("breaking", path, f"{where} changed type from "
                     f"{_describe_type(o, o_name)} to {_describe_type(n, n_name)}: readers "
                     "and stored records no longer match")
            return
        if o.get("format") != n.get("format"):
            self.add("breaking", path, f"{where} changed format from {o.get('format')} to "
                     f"{n.get('format')}: readers that parse it break")
        self._compare_values(o, n, path)
        self._compare_bounds(o, n, path)
        if "object" in o_types:
            self._compare_object(o, n, path)
        if "array" in o_types and isinstance(o.get("items"), dict) \
                and isinstance(n.get("items"), dict):
            self.compare(o["items"], n["items"], f"{path}[]")

    def _compare_values(self, o: Schema, n: Schema, path: str) -> None:
        old_values, new_values = _values(o), _values(n)
        if _canon(old_values) == _canon(new_values):
            return
        where = _label(path)
        if path.endswith(".schema_version") and len(old_values or []) == 1 == len(new_values or []):
            self.add("additive", path, f"the nested model version {where} went from "
                     f"{_canon(old_values)} to {_canon(new_values)}")
            return
        if old_values is None:
            self.add("breaking", path, f"{where} is now restricted to {_canon(new_values)}: "
                     "stored records with other values fail validation")
            return
        if new_values is None:
            self.add("additive", path, f"{where} is no longer restricted to "
                     f"{_canon(old_values)}: readers must accept any value")
            return
        old_set = {_canon(v): v for v in old_values}
        new_set = {_canon(v): v for v in new_values}
        removed = [v for k, v in old_set.items() if k not in new_set]
        added = [v for k, v in new_set.items() if k not in old_set]
        if removed:
            self.add("breaking", path, f"{where} no longer allows {_canon(removed)}: stored "
                     "records with these values fail validation")
        if added:
            self.add("additive", path, f"{where} now also allows {_canon(added)}: readers "
                     "must accept values they do not know yet")

    def _compare_bounds(self, o: Schema, n: Schema, path: str) -> None:
        where = _label(path)
        for key in (*_LOWER_BOUNDS, *_UPPER_BOUNDS):
            before, after = o.get(key), n.get(key)
            if before == after:
                continue
            lower = key in _LOWER_BOUNDS
            tighter = before is None or (after is not None and (after > before if lower
                                                                 else after < before))
            if tighter:
                self.add("breaking", path, f"{where} got a stricter {key} ({before} -> "
                         f"{after}): stored records may fail validation")
            else:
                self.add("additive", path, f"{where} got a looser {key} ({before} -> "
                         f"{after}): readers may see values outside the old range")
        for key in ("pattern", "multipleOf"):
            before, after = o.get(key), n.get(key)
            if before == after:
                continue
            if after is None:
                self.add("additive", path, f"{where} dropped its {key} {before!r}")
            else:
                self.add("breaking", path, f"{where} has a new {key} {after!r} (was "
                         f"{before!r}): stored records may fail validation")

    def _compare_object(self, o: Schema, n: Schema, path: str) -> None:
        old_props: dict[str, Schema] = o.get("properties", {})
        new_props: dict[str, Schema] = n.get("properties", {})
        old_req, new_req = set(o.get("required", [])), set(n.get("required", []))
        prefix = f"{path}." if path else ""
        for name, schema in old_props.items():
            field = prefix + name
            if name not in new_props:
                self.add("breaking", field, f"field '{field}' was removed: readers that use "
                         "it break")
                continue
            if name in new_req and name not in old_req:
                self.add("breaking", field, f"field '{field}' became required: stored "
                         "records without it fail validation")
            elif name in old_req and name not in new_req:
                self.add("additive", field, f"field '{field}' is no longer required")
            if field == "schema_version":  # the record's own version: check_versions' job
                schema, other = _unversioned(schema), _unversioned(new_props[name])
                self.compare(schema, other, field)
            else:
                self.compare(schema, new_props[name], field)
        for name, schema in new_props.items():
            if name in old_props:
                continue
            field = prefix + name
            node, _, def_name = unwrap(self.new_root, schema)
            kind = _describe_type(node, def_name)
            if name in new_req:
                self.add("breaking", field, f"new required field '{field}' ({kind}) has no "
                         "default: records written before it fail validation")
            else:
                self.add("additive", field, f"new optional field '{field}' ({kind})")
        self._compare_extra(o.get("additionalProperties", True),
                            n.get("additionalProperties", True), path)

    def _compare_extra(self, before: bool | Schema, after: bool | Schema, path: str) -> None:
        where = _label(path)
        if isinstance(before, dict) and isinstance(after, dict):
            self.compare(before, after, f"{path}.*" if path else "*")
        elif before is False and after is not False:
            self.add("additive", path, f"{where} now accepts fields it does not declare")
        elif after is False and before is not False:
            self.add("breaking", path, f"{where} now rejects fields it does not declare: "
                     "stored records with extra fields fail validation")
        elif isinstance(after, dict) and before is True:
            self.add("breaking", path, f"{where} now constrains its extra values")
        elif isinstance(before, dict) and after is True:
            self.add("additive", path, f"{where} no longer constrains its extra values")


def diff_schemas(old: Schema, new: Schema) -> list[Change]:
    """Every difference between two topic schemas, breaking first, each in plain words."""
    differ = _Differ(old, new)
    if old.get("x-key") != new.get("x-key"):
        differ.add("breaking", "", f"the record key changed from {old.get('x-key')!r} to "
                   f"{new.get('x-key')!r}: joins, compaction and per-key ordering break")
    if old.get("x-cleanup-policy") != new.get("x-cleanup-policy"):
        differ.add("breaking", "", "the cleanup policy changed from "
                   f"{old.get('x-cleanup-policy')!r} to {new.get('x-cleanup-policy')!r}: "
                   "readers relying on full history or on latest-per-key break")
    if old.get("x-partitions") != new.get("x-partitions"):
        differ.add("additive", "", f"partitions changed from {old.get('x-partitions')} to "
                   f"{new.get('x-partitions')}: keys move to other partitions, so per-key "
                   "order only holds on each side of the change")
    if old.get("x-topic") != new.get("x-topic"):
        differ.add("cosmetic", "", f"the topic name changed from {old.get('x-topic')!r} to "
                   f"{new.get('x-topic')!r}")
    old_defs, new_defs = old.get("$defs", {}), new.get("$defs", {})
    gone = {_canon(_unannotated(old_defs[n])): n for n in old_defs.keys() - new_defs.keys()}
    for name in sorted(new_defs.keys() - old_defs.keys()):
        before = gone.pop(_canon(_unannotated(new_defs[name])), None)
        if before is not None:
            differ.add("cosmetic", f"$defs.{name}", f"definition {before} renamed to {name}")
        else:
            differ.add("additive", f"$defs.{name}", f"new definition {name}")
    for name in sorted(gone.values()):
        differ.add("cosmetic", f"$defs.{name}", f"definition {name} is no longer used")
    differ.compare(old, new, "")
    return sorted(differ.changes, key=lambda c: (_KIND_ORDER[c.kind], c.path))


_HEADINGS: dict[str, str] = {
    "breaking": "a reader or a stored record written with the old schema fails; needs a new "
                "MAJOR version",
    "additive": "safe for readers and stored records; needs at least a new MINOR version",
    "cosmetic": "documentation only; no new version needed",
}


def explain(changes: Iterable[Change]) -> str:
    """The changes as a short report a developer can act on, grouped by kind."""
    changes = list(changes)
    if not changes:
        return "No differences."
    lines: list[str] = []
    for kind in ("breaking", "additive", "cosmetic"):
        group = [c for c in changes if c.kind == kind]
        if not group:
            continue
        plural = "s" if len(group) > 1 else ""
        lines.append(f"{len(group)} {kind} change{plural} ({_HEADINGS[kind]}):")
        lines.extend(f"  - {c.message}" for c in group)
    return "\n".join(lines)


def _bump_problems(old_version: str, new_version: str, changes: list[Change]) -> list[str]:
    old_v, new_v = parse_version(old_version), parse_version(new_version)
    problems = []
    if new_v < old_v:
        problems.append(f"the version went backwards, from {old_version} to {new_version}")
    breaking = sum(c.kind == "breaking" for c in changes)
    additive = sum(c.kind == "additive" for c in changes)
    if breaking and new_v[0] <= old_v[0]:
        problems.append(f"{breaking} breaking change(s) need a new major version: "
                        f"{old_version} -> {old_v[0] + 1}.0, but the schema says {new_version}")
    elif additive and new_v <= old_v:
        problems.append(f"{additive} additive change(s) need at least a new minor version: "
                        f"{old_version} -> {old_v[0]}.{old_v[1] + 1}, but the schema says "
                        f"{new_version}")
    return problems


def check_versions(old: Schema, new: Schema) -> list[str]:
    """Problems with ``new``'s version given what changed since ``old`` (empty: fine)."""
    return _bump_problems(schema_version(old), schema_version(new), diff_schemas(old, new))


# ----------------------------------------------------------------------------- baseline


def _baseline_path(directory: Path, name: str) -> Path:
    return directory / f"{name}.json"


def _read_releases(path: Path) -> dict[str, Schema]:
    """Released schemas of one topic by version, oldest first."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise SchemaFileError(f"{path}: {exc}") from exc
    releases = data.get("releases") if isinstance(data, dict) else None
    if not isinstance(releases, dict) or not releases:
        raise SchemaFileError(f"{path}: not a baseline file (no 'releases')")
    return dict(sorted(releases.items(), key=lambda item: parse_version(item[0])))


def _topic_problems(spec: TopicSpec, directory: Path) -> list[str]:
    """Why the current schema of one topic may not ship against its released baseline."""
    path = _baseline_path(directory, spec.name)
    if not path.exists():
        return [f"no released baseline ({path.name}): a new topic is released with "
                "`python -m schemas.compat release`"]
    releases = _read_releases(path)
    problems: list[str] = []
    versions = list(releases)
    for before, after in pairwise(versions):
        for problem in check_versions(releases[before], releases[after]):
            problems.append(f"released {after} does not follow released {before}: {problem}")
    current = topic_schema(spec)
    version = schema_version(current)
    latest = versions[-1]
    changes = diff_schemas(releases[latest], current)
    meaningful = [c for c in changes if c.kind != "cosmetic"]
    if parse_version(version) == parse_version(latest) and meaningful:
        wanted = "major" if any(c.kind == "breaking" for c in meaningful) else "minor"
        problems.append(
            f"schema_version is still {version}, as released, but the model changed since: "
            f"bump the {wanted} version of {spec.value_model.__name__} in schemas/models.py"
            f"{' or make the change compatible' if wanted == 'major' else ''}.\n"
            f"{explain(meaningful)}")
    else:
        bump = _bump_problems(latest, version, changes)
        if bump:
            problems.append("; ".join(bump) + f" ({spec.value_model.__name__} in "
                            f"schemas/models.py; last released {latest}).\n{explain(meaningful)}")
    return problems


def check_against_baseline(directory: Path = BASELINE_DIR,
                           specs: Iterable[TopicSpec] | None = None) -> list[str]:
    """The compatibility gate: one message per problem, topics sharing a model grouped."""
    grouped: dict[str, list[str]] = {}
    for spec in specs if specs is not None else TOPICS.values():
        for problem in _topic_problems(spec, directory):
            grouped.setdefault(problem, []).append(spec.name)
    return [f"{', '.join(names)}: {problem}" for problem, names in grouped.items()]


def release_baselines(directory: Path = BASELINE_DIR,
                      specs: Iterable[TopicSpec] | None = None) -> tuple[list[Path], list[str]]:
    """Record every topic's current schema as released under its version.

    Refuses (writes nothing, returns the problems) when the gate does not pass for a topic that
    already has a baseline: a release never overwrites a version with an incompatible schema.
    Re-releasing a version replaces it only when the difference is cosmetic.
    """
    chosen = list(specs if specs is not None else TOPICS.values())
    existing = [s for s in chosen if _baseline_path(directory, s.name).exists()]
    problems = check_against_baseline(directory, existing)
    if problems:
        return [], problems
    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for spec in chosen:
        path = _baseline_path(directory, spec.name)
        releases = _read_releases(path) if path.exists() else {}
        current = topic_schema(spec)
        version = schema_version(current)
        if releases.get(version) == current:
            continue
        releases[version] = current
        ordered = dict(sorted(releases.items(), key=lambda item: parse_version(item[0])))
        path.write_text(json.dumps({"topic": spec.name, "releases": ordered}, indent=2)
                        + "\n", encoding="utf-8")
        written.append(path)
    return written, []


# ---------------------------------------------------------------------------------- CLI


def load_schema(path: Path) -> Schema:
    """A topic schema from an exported file, or the latest release of a baseline file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise SchemaFileError(f"{path}: {exc}") from exc
    if isinstance(data, dict) and "releases" in data:
        return list(_read_releases(path).values())[-1]
    if not isinstance(data, dict):
        raise SchemaFileError(f"{path}: not a JSON Schema object")
    return data


def _pairs(old: Path, new: Path) -> Iterator[tuple[str, Path | None, Path | None]]:
    if old.is_dir() != new.is_dir():
        raise SchemaFileError("compare two files or two directories, not one of each")
    if not old.is_dir():
        yield new.stem, old, new
        return
    old_files = {p.name: p for p in old.glob("*.json")}
    new_files = {p.name: p for p in new.glob("*.json")}
    for name in sorted(old_files.keys() | new_files.keys()):
        yield name.removesuffix(".json"), old_files.get(name), new_files.get(name)


def schemas_diff_command(old: Path, new: Path) -> int:
    """``porte-voix schemas diff OLD NEW``: explain the changes, exit 1 on a version problem.

    OLD and NEW are two schema files or two directories of ``<topic>.json`` (exported schemas
    or baseline files). Exit codes: 0 compatible, 1 a change the version does not account for
    (or a removed topic), 2 unusable input.
    """
    status = 0
    try:
        for name, before, after in _pairs(old, new):
            if before is None:
                print(f"== {name}: new topic (additive)\n")
                continue
            if after is None:
                print(f"== {name}: topic removed (breaking: its readers lose their input)\n")
                status = 1
                continue
            old_schema, new_schema = load_schema(before), load_schema(after)
            changes = diff_schemas(old_schema, new_schema)
            problems = _bump_problems(schema_version(old_schema), schema_version(new_schema),
                                      changes)
            print(f"== {name}: {schema_version(old_schema)} -> {schema_version(new_schema)}")
            print(explain(changes))
            for problem in problems:
                print(f"VERSION PROBLEM: {problem}")
            print()
            status = status or (1 if problems else 0)
    except SchemaFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return status


def _main(argv: list[str]) -> int:
    """``python -m schemas.compat check|release|diff OLD NEW`` until the CLI has them."""
    command = argv[0] if argv else "check"
    if command == "diff" and len(argv) == 3:
        return schemas_diff_command(Path(argv[1]), Path(argv[2]))
    if command == "check":
        problems = check_against_baseline()
        print("\n\n".join(problems) or "every topic matches its released baseline")
        return 1 if problems else 0
    if command == "release":
        written, problems = release_baselines()
        print("\n\n".join(problems) or "\n".join(str(p) for p in written)
              or "nothing to release: baselines are current")
        return 1 if problems else 0
    print("usage: python -m schemas.compat check | release | diff OLD NEW", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))

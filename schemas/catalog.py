"""The topic catalog for data teams, written from the one topic declaration.

Every fact comes from :data:`schemas.topics.TOPICS`, the JSON Schema each topic exports and the
validated examples of :mod:`schemas.examples`, so the catalog cannot say something the code does
not do. ``write_catalog`` writes ``topics.md`` and the same page as ``topics.html``.
"""

from __future__ import annotations

import html
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from markdown_it import MarkdownIt

from schemas.compat import unwrap
from schemas.examples import example_json, example_key, topic_example
from schemas.export import topic_schema
from schemas.topics import DAY_MS, TOPICS, TopicSpec

__all__ = ["FieldRow", "catalog_markdown", "field_rows", "render_html", "write_catalog"]

Schema = dict[str, Any]

_ROUTED = "social.events, social.enriched, crm.commands, feedback.*, moderation.queue, " \
    "crisis.signals"
HEADERS = (
    ("schema_version", "every topic", "MAJOR.MINOR of the value model that wrote the record."),
    ("value_model", "every topic but social.raw", "Name of the pydantic model of the value."),
    ("trace_id", f"social.raw, {_ROUTED}", "raw_id of the social.raw delivery the record "
     "comes from: follows one payload through every stage."),
    ("trace_id", "crm.results", "event_id of the event the ticket command was for."),
    ("event_time", _ROUTED, "When the message was posted (ISO 8601 with offset): order and "
     "window on it, not on the Kafka timestamp (the time it was produced)."),
    ("event_time", "social.raw", "When the payload was received."),
    ("source", "social.raw", "Connector that received the payload."),
)


@dataclass(frozen=True)
class FieldRow:
    """One field of a value model, flattened to a dotted path (``event.author.handle``)."""

    path: str
    type: str
    presence: str
    description: str


def _retention(ms: int) -> str:
    if ms % DAY_MS == 0:
        days = ms // DAY_MS
        return f"{days} day{'s' if days != 1 else ''}"
    return f"{ms / 3_600_000:g} hours"


def _bounds(node: Schema) -> str:
    parts = []
    for key, sign in (("minimum", "≥"), ("exclusiveMinimum", ">"), ("maximum", "≤"),
                      ("exclusiveMaximum", "<"), ("minLength", "length ≥"),
                      ("maxLength", "length ≤")):
        if key in node:
            parts.append(f"{sign} {node[key]}")
    return ", ".join(parts)


def _type_text(root: Schema, node: Schema, nullable: bool, name: str | None) -> str:
    if "const" in node:
        text = f"constant {json.dumps(node['const'])}"
    elif "enum" in node:
        values = " | ".join(str(v) for v in node["enum"])
        text = f"{name or 'one of'}: {values}"
    elif node.get("type") == "array" and isinstance(node.get("items"), dict):
        item, item_null, item_name = unwrap(root, node["items"])
        text = f"list of {_type_text(root, item, item_null, item_name)}"
    elif node.get("type") == "object" and isinstance(node.get("additionalProperties"), dict):
        value, value_null, value_name = unwrap(root, node["additionalProperties"])
        text = f"map of string to {_type_text(root, value, value_null, value_name)}"
    elif "properties" in node:
        text = f"object {name or ''}".rstrip()
    elif "anyOf" in node or "oneOf" in node:
        text = "one of several shapes"
    else:
        text = str(node.get("type", "any value"))
        if node.get("format") == "base64url":
            text = "bytes, URL-safe base64 (base64url) in JSON"
        elif "format" in node:
            text += f" ({node['format']})"
    bounds = _bounds(node)
    if bounds:
        text += f", {bounds}"
    return text + (" or null" if nullable else "")


def _presence(name: str, parent: Schema, node: Schema, original: Schema) -> str:
    if name in parent.get("required", []):
        return "required"
    default = original.get("default", node.get("default"))
    if "default" in original or "default" in node:
        return f"default {json.dumps(default, ensure_ascii=False)}"
    return "default computed when written"


def field_rows(schema: Schema) -> list[FieldRow]:
    """Every field of a topic schema, nested models flattened, in declaration order."""
    rows: list[FieldRow] = []

    def walk(parent: Schema, prefix: str, seen: tuple[str, ...]) -> None:
        for name, original in parent.get("properties", {}).items():
            node, nullable, def_name = unwrap(schema, original)
            path = f"{prefix}{name}"
            description = original.get("description") or node.get("description") or ""
            rows.append(FieldRow(path, _type_text(schema, node, nullable, def_name),
                                 _presence(name, parent, node, original),
                                 " ".join(description.split())))
            if def_name in seen:
                continue
            nested_seen = (*seen, def_name) if def_name else seen
            if "properties" in node:
                walk(node, f"{path}.", nested_seen)
            items = node.get("items")
            if isinstance(items, dict):
                item, _, item_name = unwrap(schema, items)
                if "properties" in item and item_name not in seen:
                    walk(item, f"{path}[].", (*nested_seen, *(n for n in [item_name] if n)))

    walk(schema, "", ())
    return rows


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _anchor(model: str) -> str:
    return f"model-{model.lower()}"


def _topic_section(spec: TopicSpec) -> list[str]:
    schema = topic_schema(spec)
    model = spec.value_model.__name__
    record = topic_example(spec)
    key_example = example_key(spec, record)
    key = f"`{spec.key}`" + (f" (here `{key_example}`)" if key_example else "")
    lines = [
        f"## {spec.name}",
        "",
        spec.purpose,
        "",
        "| | |",
        "|---|---|",
        f"| key | {_cell(key)} |",
        f"| partitions | {spec.partitions} |",
        f"| cleanup policy | {spec.cleanup_policy} |",
        f"| retention | {_retention(spec.retention_ms)} |",
        f"| value model | [{model}](#{_anchor(model)}) |",
        f"| schema version | {schema['x-schema-version']} |",
        f"| JSON Schema | `schemas/jsonschema/{spec.name}.json` |",
        f"| producers | {_cell(', '.join(spec.producers) or '-')} |",
        f"| consumers | {_cell(', '.join(spec.consumers) or '-')} |",
        "",
        "Example record:",
        "",
        "```json",
        example_json(record),
        "```",
        "",
    ]
    return lines


def _model_section(spec: TopicSpec, topics: list[str]) -> list[str]:
    model = spec.value_model
    schema = topic_schema(spec)
    doc = " ".join((model.__doc__ or "").split())
    lines = [
        f'<a id="{_anchor(model.__name__)}"></a>',
        "",
        f"### {model.__name__} {schema['x-schema-version']}",
        "",
        *([doc, ""] if doc else []),
        f"On: {', '.join(topics)}.",
        "",
        "| field | type | presence | description |",
        "|---|---|---|---|",
    ]
    for row in field_rows(schema):
        lines.append(f"| `{row.path}` | {_cell(row.type)} | {_cell(row.presence)} | "
                     f"{_cell(row.description)} |")
    lines.append("")
    return lines


def catalog_markdown() -> str:
    """The whole catalog as Markdown."""
    lines = [
        "# Topic catalog",
        "",
        "Written by `porte-voix topics catalog` from `schemas/topics.py` and "
        "`schemas/models.py`; do not edit by hand. How to read these topics: "
        "`docs/consuming-topics.md`.",
        "",
        "| topic | value model | key | partitions | cleanup | retention |",
        "|---|---|---|---|---|---|",
    ]
    for spec in TOPICS.values():
        model = spec.value_model.__name__
        lines.append(f"| [{spec.name}](#{spec.name.replace('.', '')}) | "
                     f"[{model}](#{_anchor(model)}) | `{spec.key}` | {spec.partitions} | "
                     f"{spec.cleanup_policy} | {_retention(spec.retention_ms)} |")
    lines += ["", "## Record headers", "",
              "Values are UTF-8 JSON (`model_dump_json`) and carry every field of their model: "
              "*presence* in the field tables says what a producer must set, not what a reader "
              "may miss. Keys are UTF-8 strings. Headers:", "",
              "| header | on | meaning |", "|---|---|---|"]
    lines += [f"| `{name}` | {where} | {meaning} |" for name, where, meaning in HEADERS]
    lines.append("")
    for spec in TOPICS.values():
        lines += _topic_section(spec)
    lines += ["## Value models", ""]
    by_model: dict[str, tuple[TopicSpec, list[str]]] = {}
    for spec in TOPICS.values():
        by_model.setdefault(spec.value_model.__name__, (spec, []))[1].append(spec.name)
    for spec, names in by_model.values():
        lines += _model_section(spec, names)
    return "\n".join(lines).rstrip() + "\n"


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 70rem; margin: 2rem auto;
       padding: 0 1rem; line-height: 1.45; }}
table {{ border-collapse: collapse; margin: 0.5rem 0 1rem; }}
th, td {{ border: 1px solid #ccc; padding: 0.25rem 0.5rem; text-align: left;
          vertical-align: top; }}
code, pre {{ background: #f5f5f5; }}
pre {{ padding: 0.75rem; overflow-x: auto; }}
</style>
</head>
<body>
{body}</body>
</html>
"""


def render_html(markdown: str, title: str = "Porte-Voix topic catalog") -> str:
    """The Markdown as one self-contained HTML page, headings given ids for the links."""
    renderer = MarkdownIt("commonmark", {"html": True}).enable("table")
    tokens = renderer.parse(markdown)
    for index, token in enumerate(tokens):
        if token.type == "heading_open" and token.tag == "h2":
            text = tokens[index + 1].content
            token.attrSet("id", text.replace(".", "").replace(" ", "-").lower())
    body = renderer.renderer.render(tokens, renderer.options, {})
    return _PAGE.format(title=html.escape(title), body=body)


def write_catalog(directory: Path) -> list[Path]:
    """Write ``topics.md`` and ``topics.html`` into ``directory``; returns their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    markdown = catalog_markdown()
    md_path = directory / "topics.md"
    html_path = directory / "topics.html"
    md_path.write_text(markdown, encoding="utf-8")
    html_path.write_text(render_html(markdown), encoding="utf-8")
    return [md_path, html_path]


if __name__ == "__main__":
    for written in write_catalog(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/catalog")):
        print(written)

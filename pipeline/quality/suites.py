"""The expectation suites of the validated topics, built from the column specs in ``frames``.

Row-level expectations (ids, enums, ranges, timestamps, PII patterns) name the records that break
them; batch-level ones (language and sentiment shares) judge the batch as a whole. Each
expectation carries ``meta = {"check": <label>, "level": "row" | "batch"}``: the label is the key
of :attr:`schemas.models.QualityResult.expectations`, the level tells the validator whether a
failure quarantines records.

The PII patterns are deliberately broader than :class:`pipeline.enrich.pii.PiiRedactor` (no
Luhn, mod-97 or libphonenumber check): redacted text should hold no card-like run of digits
at all, valid checksum or not.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any, Literal

import great_expectations as gx
import great_expectations.expectations as gxe
from great_expectations.expectations.expectation import Expectation

from pipeline.quality.frames import JSON_OBJECT, FrameSpec, QualityConfig, share_column

Level = Literal["row", "batch"]

#: Suite parameters filled at validation time (the bounds of a sane ``created_at``).
EARLIEST = "earliest_created_at"
LATEST = "latest_created_at"

PII_PATTERNS: dict[str, str] = {
    "email": (r"(?i)(?<![\w.+-])[\w.+-]+(?:@|\s?\[at\]\s?|\s\(at\)\s)"
              r"[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}\b"),
    "phone": (
        r"(?<![\w+])(?:"
        r"(?:\+|00)(?=(?:[\s.\-()]*\d){9})"
        r"\d{1,3}[\s.\-]?(?:\(0\)[\s.\-]?)?\(?\d{1,4}\)?(?:[\s.\-]?\d{2,4}){2,4}"
        r"|0[1-9](?:[\s.\-]?\d{2}){4}"
        r"|\(?\d{3}\)?[\s.\-]\d{3}[\s.\-]\d{4}"
        r")(?!\w)"
    ),
    "card": r"(?<![\w+])\d(?:[ \-]?\d){12,18}(?!\w)",
    # Groups of four that each hold a digit: "PA21 with crew" is a flight, not an account.
    "iban": (r"(?i)\b[A-Z]{2}\d{2}(?:[ \-]?(?=[A-Z0-9]*\d)[A-Z0-9]{4}){2,7}"
             r"(?:[ \-]?[A-Z0-9]{1,4})?\b"),
}
_COMPILED = {kind: re.compile(pattern) for kind, pattern in PII_PATTERNS.items()}


def _tag(expectation: Expectation, label: str, level: Level, notes: str) -> Expectation:
    expectation.meta = {"check": label, "level": level}
    expectation.notes = notes
    return expectation


def _label(kind: str, *args: str) -> str:
    return f"{kind}({', '.join(args)})"


def _row_expectations(spec: FrameSpec) -> list[Expectation]:
    out: list[Expectation] = [_tag(
        gxe.ExpectColumnValuesToBeInSet(column=JSON_OBJECT, value_set=[True]),
        _label("expect_column_values_to_be_in_set", JSON_OBJECT), "row",
        "The record is a JSON object (not truncated bytes or another format).")]
    if len(spec.key) == 1:
        out.append(_tag(
            gxe.ExpectColumnValuesToBeUnique(column=spec.key[0]),
            _label("expect_column_values_to_be_unique", spec.key[0]), "row",
            "The id appears once per batch; every copy of a repeated id is quarantined."))
    else:
        out.append(_tag(
            gxe.ExpectCompoundColumnsToBeUnique(column_list=list(spec.key)),
            _label("expect_compound_columns_to_be_unique", *spec.key), "row",
            "A redelivered record repeats event_id and raw_id; an edit has a new raw_id."))
    for name in spec.not_empty:
        out.append(_tag(
            gxe.ExpectColumnValueLengthsToBeBetween(column=name, min_value=1),
            _label("expect_column_value_lengths_to_be_between", name), "row",
            "An empty id cannot be joined or deduplicated."))
    for col in spec.columns:
        if col.required:
            out.append(_tag(
                gxe.ExpectColumnValuesToNotBeNull(column=col.name),
                _label("expect_column_values_to_not_be_null", col.name), "row",
                "Present, and of its type (a value that cannot be read as one counts as missing)."))
        if col.enum is not None:
            out.append(_tag(
                gxe.ExpectColumnValuesToBeInSet(column=col.name, value_set=list(col.enum)),
                _label("expect_column_values_to_be_in_set", col.name), "row",
                "A label the contract declares."))
        if col.bounds is not None:
            out.append(_tag(
                gxe.ExpectColumnValuesToBeBetween(column=col.name, min_value=col.bounds[0],
                                                  max_value=col.bounds[1]),
                _label("expect_column_values_to_be_between", col.name), "row",
                "Within the range the contract declares."))
        if col.timestamp:
            out.append(_tag(
                gxe.ExpectColumnValuesToBeBetween(
                    column=col.name, min_value={"$PARAMETER": EARLIEST},
                    max_value={"$PARAMETER": LATEST}),
                _label("expect_column_values_to_be_between", col.name), "row",
                "Not in the future beyond clock skew, not before the platforms existed."))
        if col.pii_free:
            # One expectation for the four patterns: great-expectations' cost is per
            # expectation, not per row; the validator names the pattern that matched.
            out.append(_tag(
                gxe.ExpectColumnValuesToNotMatchRegexList(
                    column=col.name, regex_list=list(PII_PATTERNS.values())),
                _label("expect_column_values_to_not_match_regex_list", col.name), "row",
                "Redacted text holds nothing email-, phone-, card- or IBAN-like "
                "(patterns in this order)."))
    return out


def _batch_expectations(spec: FrameSpec, config: QualityConfig) -> list[Expectation]:
    out: list[Expectation] = []
    for name in spec.distribution:
        for value, (low, high) in config.shares(name).items():
            column = share_column(name, value)
            out.append(_tag(
                gxe.ExpectColumnMeanToBeBetween(column=column, min_value=low, max_value=high),
                _label("expect_column_mean_to_be_between", column), "batch",
                f"Share of {name}={value} in the batch; outside it, a model may be stuck."))
    return out


def build_suite(spec: FrameSpec, config: QualityConfig, *, batch_level: bool = True,
                name: str | None = None) -> gx.ExpectationSuite:
    """The suite of one topic; ``batch_level=False`` leaves the distribution bounds out."""
    suite = gx.ExpectationSuite(name=name or spec.suite)
    expectations = _row_expectations(spec)
    if batch_level:
        expectations += _batch_expectations(spec, config)
    for expectation in expectations:
        suite.add_expectation(expectation)
    return suite


def expectation_parameters(config: QualityConfig, now: datetime) -> dict[str, Any]:
    """Values of the suite parameters for a batch validated at ``now``."""
    return {EARLIEST: config.earliest_created_at,
            LATEST: now + timedelta(seconds=config.future_skew_seconds)}


def pii_kinds(text: str) -> list[str]:
    """The PII patterns ``text`` matches (names of :data:`PII_PATTERNS`), in their order."""
    return [kind for kind, pattern in _COMPILED.items() if pattern.search(text)]


def check_of(meta: dict[str, Any] | None) -> tuple[str, Level]:
    """(label, level) of an expectation from its meta, as set by this module."""
    meta = meta or {}
    level: Level = "batch" if meta.get("level") == "batch" else "row"
    return str(meta.get("check", "")), level

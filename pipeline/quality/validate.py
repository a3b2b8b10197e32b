"""Validate one micro-batch of a topic: records -> table -> suite -> result and quarantine.

One great-expectations context per process (ephemeral: nothing on disk), built on first use.
Batches are validated with ``Batch.validate``, which keeps no result in the context: a
``ValidationDefinition.run`` would store every result in memory for the life of the worker.
Validation is serialised by a lock, so faust agents may call it from worker threads.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import great_expectations as gx
from great_expectations.core.expectation_validation_result import (
    ExpectationSuiteValidationResult,
    ExpectationValidationResult,
)
from great_expectations.data_context.types.base import ProgressBarsConfig

from pipeline.quality.frames import (
    JSON_OBJECT,
    Frame,
    FrameSpec,
    QualityConfig,
    flatten,
    frame_spec,
)
from pipeline.quality.suites import build_suite, check_of, expectation_parameters, pii_kinds
from pipeline.records import Origin, Output
from schemas.models import FailedExpectation, QualityResult, QuarantineRecord, stable_id, utcnow

log = logging.getLogger(__name__)

RESULT_FORMAT: dict[str, Any] = {"result_format": "COMPLETE"}
DATASOURCE = "porte-voix"
DETAIL_MAX = 300


@dataclass
class _Engine:
    """The process's great-expectations context, its dataframe assets and the built suites."""

    context: Any
    config: QualityConfig
    batch_definitions: dict[str, Any] = field(default_factory=dict)
    suites: dict[tuple[str, str, bool], gx.ExpectationSuite] = field(default_factory=dict)

    def batch_definition(self, asset_name: str) -> Any:
        if asset_name not in self.batch_definitions:
            source = self.context.data_sources.get(DATASOURCE)
            asset = source.add_dataframe_asset(name=asset_name)
            self.batch_definitions[asset_name] = asset.add_batch_definition_whole_dataframe(
                "micro-batch")
        return self.batch_definitions[asset_name]

    def suite(self, spec: FrameSpec, config: QualityConfig,
              batch_level: bool) -> gx.ExpectationSuite:
        key = (spec.suite, config.model_dump_json(), batch_level)
        if key not in self.suites:
            self.suites[key] = build_suite(spec, config, batch_level=batch_level)
        return self.suites[key]


_ENGINE: _Engine | None = None
_LOCK = threading.Lock()


def new_context() -> Any:
    """An ephemeral context without progress bars (they would flood the worker's log)."""
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False,
                                                         metric_calculations=False)
    return context


def _engine() -> _Engine:
    global _ENGINE
    if _ENGINE is None:
        context = new_context()
        context.data_sources.add_pandas(DATASOURCE)
        _ENGINE = _Engine(context=context, config=QualityConfig())
    return _ENGINE


def warm_up() -> None:
    """Import great-expectations and build the context now (about 4-7 s, once per process)."""
    with _LOCK:
        _engine()


def batch_id_of(topic: str, origins: Sequence[Origin] | None) -> str:
    """Deterministic for a batch read from known offsets (a replayed batch keeps its id)."""
    if origins and all(o.offset is not None for o in origins):
        return stable_id("quality", topic, *(f"{o.partition}:{o.offset}" for o in origins))
    return uuid.uuid4().hex[:24]


def validate_batch(topic: str, records: list[bytes], *, origins: Sequence[Origin] | None = None,
                   config: QualityConfig | None = None, now: datetime | None = None,
                   batch_id: str | None = None) -> tuple[QualityResult, list[QuarantineRecord]]:
    """Run the topic's suite over a batch; return its result and the records that failed.

    A record is quarantined with every row-level expectation it failed. Batch-level expectations
    (distribution bounds, only checked from ``min_rows_for_distribution`` records) can fail the
    result without quarantining anything.
    """
    if origins is not None and len(origins) != len(records):
        raise ValueError(f"{len(records)} records but {len(origins)} origins")
    started = time.perf_counter()
    spec = frame_spec(topic)
    with _LOCK:
        engine = _engine()
        config = config or engine.config
        frame = flatten(spec, records, config)
        outcome = None
        parameters = expectation_parameters(config, now or utcnow())
        if records:
            batch = engine.batch_definition(spec.suite).get_batch(
                batch_parameters={"dataframe": frame.data})
            outcome = batch.validate(
                engine.suite(spec, config, uses_batch_level(len(records), config)),
                result_format=RESULT_FORMAT, expectation_parameters=parameters)
    return summarize(topic, records, outcome, frame, parameters, origins=origins,
                     started=started, batch_id=batch_id)


def uses_batch_level(rows: int, config: QualityConfig) -> bool:
    """Distribution bounds are only meaningful from a minimum batch size."""
    return rows >= config.min_rows_for_distribution


def summarize(topic: str, records: Sequence[bytes],
              outcome: ExpectationSuiteValidationResult | None, frame: Frame,
              parameters: dict[str, Any], *, origins: Sequence[Origin] | None = None,
              started: float | None = None, batch_id: str | None = None,
              ) -> tuple[QualityResult, list[QuarantineRecord]]:
    """Turn a great-expectations result over ``frame`` into the batch result and quarantine."""
    spec = frame_spec(topic)
    checks, failures = ({}, {}) if outcome is None else _read_outcome(
        outcome, frame, _Explain(spec, parameters))
    quarantined = [
        QuarantineRecord(
            source_topic=topic,
            partition=origins[index].partition if origins else None,
            offset=origins[index].offset if origins else None,
            key=origins[index].key if origins else None,
            value=records[index],
            suite=spec.suite,
            failed=failed,
        )
        for index, failed in sorted(failures.items())
    ]
    result = QualityResult(
        batch_id=batch_id or batch_id_of(topic, origins),
        source_topic=topic,
        suite=spec.suite,
        records=len(records),
        failed_records=len(quarantined),
        success=bool(outcome.success) if outcome is not None else True,
        expectations=checks,
        duration_ms=(time.perf_counter() - started) * 1000 if started is not None else 0.0,
    )
    return result, quarantined


@dataclass(frozen=True)
class _Explain:
    """What a failure detail needs besides the result: column types, parameter values."""

    spec: FrameSpec
    parameters: dict[str, Any]

    def kind(self, column: str) -> str:
        found = [c.kind for c in self.spec.columns if c.name == column]
        return {"float": "number", "datetime": "ISO 8601 time"}.get(found[0] if found else "",
                                                                      "string")

    def bound(self, value: Any) -> str:
        if isinstance(value, dict) and "$PARAMETER" in value:
            value = self.parameters.get(value["$PARAMETER"])
        return value.isoformat() if isinstance(value, datetime) else str(value)


def _read_outcome(outcome: ExpectationSuiteValidationResult, frame: Frame, explain: _Explain,
                  ) -> tuple[dict[str, bool], dict[int, list[FailedExpectation]]]:
    checks: dict[str, bool] = {}
    failures: dict[int, list[FailedExpectation]] = defaultdict(list)
    for one in outcome.results:
        config = one.expectation_config
        label, level = check_of(config.meta if config else None)
        checks[label] = bool(one.success)
        if one.success or config is None:
            continue
        if one.exception_info and one.exception_info.get("raised_exception"):
            log.warning("expectation %s raised: %s", label,
                        one.exception_info.get("exception_message"))
            continue
        if level != "row":
            continue
        column = _column_of(config.kwargs)
        for index in (one.result or {}).get("unexpected_index_list") or []:
            row = int(index["index"]) if isinstance(index, dict) else int(index)
            if not frame.data[JSON_OBJECT].iat[row] and column != JSON_OBJECT:
                continue  # not a JSON object: that one failure says it all
            failures[row].append(FailedExpectation(
                expectation=config.type, column=column,
                detail=_detail(one, label, frame.originals[row], explain)[:DETAIL_MAX]))
    return checks, failures


def _column_of(kwargs: dict[str, Any]) -> str | None:
    if "column" in kwargs:
        return str(kwargs["column"])
    if "column_list" in kwargs:
        return ",".join(str(c) for c in kwargs["column_list"])
    return None


def _detail(one: ExpectationValidationResult, label: str, original: dict[str, Any],
            explain: _Explain) -> str:
    """Why the record failed, in words; never repeats a value a PII pattern matched."""
    config = one.expectation_config
    assert config is not None
    kwargs = config.kwargs
    column = kwargs.get("column")
    value = original.get(column) if column else None
    kind = config.type
    if column == JSON_OBJECT:
        return "the record is not a JSON object"
    if kind == "expect_column_values_to_not_be_null":
        return f"{column} is missing" if value is None else (
            f"{column}={value!r} cannot be read as a {explain.kind(str(column))}")
    if kind == "expect_column_values_to_be_in_set":
        return f"{column}={value!r} is not one of {sorted(kwargs['value_set'])}"
    if kind == "expect_column_values_to_be_between":
        low, high = explain.bound(kwargs.get("min_value")), explain.bound(kwargs.get("max_value"))
        return f"{column}={value!r} is outside [{low}, {high}]"
    if kind == "expect_column_values_to_be_unique":
        return f"{column}={value!r} appears more than once in the batch"
    if kind == "expect_compound_columns_to_be_unique":
        ids = {c: original.get(c) for c in kwargs["column_list"]}
        return f"{ids} appears more than once in the batch"
    if kind == "expect_column_values_to_not_match_regex_list":
        found = pii_kinds(value) if isinstance(value, str) else []
        return f"{column} contains something {'/'.join(found) or 'PII'}-like"
    if kind == "expect_column_value_lengths_to_be_between":
        return f"{column} is empty"
    return f"{label} failed"


def quality_outputs(result: QualityResult, quarantined: Sequence[QuarantineRecord]) -> list[Output]:
    """The records to produce: one per quarantined record, then the batch result."""
    outputs = [Output.of("quality.quarantine", record.key, record) for record in quarantined]
    outputs.append(Output.of("quality.results", result.source_topic, result))
    return outputs

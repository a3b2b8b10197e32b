"""``make quality``: run the suites over a sample and write Data Docs a person can open.

The sample is the bundled demo traffic pushed offline through the pipeline's own stages
(normalize -> enrich -> route, no broker), plus a few deliberately broken records so the docs
show what a failure looks like. Each topic is validated by a great-expectations Checkpoint whose
``UpdateDataDocsAction`` renders the result into ``<out>/index.html``; the batch results and the
quarantined records are written beside it (``results.json``, ``quarantine.jsonl``).

    python -m pipeline.quality.report --out artifacts/quality
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import great_expectations as gx
from great_expectations.checkpoint import UpdateDataDocsAction

from pipeline.quality.frames import QualityConfig, flatten, frame_spec, validated_topics
from pipeline.quality.suites import build_suite, expectation_parameters
from pipeline.quality.validate import RESULT_FORMAT, new_context, summarize, uses_batch_level
from pipeline.records import Origin
from schemas.models import QualityResult, QuarantineRecord, Stage, utcnow

SITE = "porte-voix-quality"
GENERATED_DIRS = ("expectations", "validations", "static")


def pipeline_sample(demo: Path | None = None) -> dict[str, list[bytes]]:
    """Demo traffic through normalize, enrich and route offline: topic -> record values."""
    from connectors.sources.backfill import BackfillConfig, BackfillSource
    from infra.run import DEMO_TRAFFIC
    from pipeline.enrich import EnrichConfig, Enricher
    from pipeline.normalize.brands import BrandDirectory
    from pipeline.routing import load_rules
    from pipeline.settings import get_settings
    from pipeline.stages import enrich_stage, guarded, normalize_stage, route_stage

    settings = get_settings()
    brands = BrandDirectory.load(settings.brands_file)
    rules = load_rules(settings.rules_file)
    enricher = Enricher(EnrichConfig())
    raws = [env.model_dump_json().encode()
            for env in BackfillSource(BackfillConfig(path=demo or DEMO_TRAFFIC)).read()]
    events = [out for raw in raws
              for out in guarded(Stage.normalize, lambda r: normalize_stage(r, brands), raw,
                                 Origin(topic="social.raw"))
              if out.topic == "social.events"]
    enriched = [out for out in enrich_stage([e.value for e in events],
                                            [Origin(topic="social.events")] * len(events),
                                            enricher)
                if out.topic == "social.enriched"]
    routed = [out for e in enriched
              for out in guarded(Stage.route, lambda r: route_stage(r, rules), e.value,
                                 Origin(topic="social.enriched"))]
    by_topic: dict[str, list[bytes]] = defaultdict(list)
    for out in [*enriched, *routed]:
        by_topic[out.topic].append(out.value)
    return dict(by_topic)


def _mutated(raw: bytes, **changes: Any) -> bytes:
    """A copy of a record with dotted fields (``__`` stands for ``.``) replaced."""
    record = json.loads(raw)
    for path, value in changes.items():
        *parents, last = path.split("__")
        target = record
        for part in parents:
            target = target[part]
        target[last] = value
    return json.dumps(record, ensure_ascii=False).encode()


def with_bad_records(sample: dict[str, list[bytes]]) -> dict[str, list[bytes]]:
    """The sample plus broken records, each with its own id so it breaks one expectation."""
    out = {topic: list(records) for topic, records in sample.items()}
    future = (utcnow() + timedelta(days=1)).isoformat()
    enriched = out.get("social.enriched", [])
    if enriched:
        first = enriched[0]
        enriched += [
            _mutated(first, event__event_id="bad:lang", enrichment__lang="de"),
            _mutated(first, event__event_id="bad:score", enrichment__sentiment_score=1.7),
            _mutated(first, event__event_id="bad:future", event__created_at=future),
            first,  # a redelivery: both copies break the unique key
            b'{"event": {"event_id": "truncated',
        ]
    feedback = next((t for t in sorted(out) if t.startswith("feedback.")), None)
    if feedback:
        item = out[feedback][0]
        out[feedback] += [
            _mutated(item, feedback_id="bad-email",
                     redacted_text="écrivez-moi à marie.dupont@example.fr"),
            _mutated(item, feedback_id="bad-card",
                     redacted_text="carte 4111 1111 1111 1111 débitée deux fois"),
        ]
    commands = out.get("crm.commands", [])
    if commands:
        commands += [_mutated(commands[0], command_id="bad-priority", priority=9), commands[1]]
    return out


def run_report(out: Path, sample: dict[str, list[bytes]],
               config: QualityConfig | None = None) -> tuple[Path, list[QualityResult],
                                                              list[QuarantineRecord]]:
    """Validate each topic of ``sample`` with a Checkpoint; Data Docs land in ``out``."""
    config = config or QualityConfig()
    out.mkdir(parents=True, exist_ok=True)
    for stale in GENERATED_DIRS:  # pages of an earlier run would linger beside the new ones
        shutil.rmtree(out / stale, ignore_errors=True)
    context = new_context()
    context.add_data_docs_site(SITE, {
        "class_name": "SiteBuilder",
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        "store_backend": {"class_name": "TupleFilesystemStoreBackend",
                          "base_directory": str(out.resolve())},
    })
    source = context.data_sources.add_pandas("porte-voix-sample")
    results: list[QualityResult] = []
    quarantined: list[QuarantineRecord] = []
    now = utcnow()
    for topic in [t for t in validated_topics() if sample.get(t)]:
        records = sample[topic]
        spec = frame_spec(topic)
        frame = flatten(spec, records, config)
        started = time.perf_counter()
        suite = context.suites.add(build_suite(
            spec, config, batch_level=uses_batch_level(len(records), config)))
        batch_definition = source.add_dataframe_asset(name=topic) \
            .add_batch_definition_whole_dataframe("sample")
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=topic, data=batch_definition, suite=suite))
        checkpoint = context.checkpoints.add(gx.Checkpoint(
            name=f"{topic} sample", validation_definitions=[definition],
            actions=[UpdateDataDocsAction(name="data docs", site_names=[SITE])],
            result_format=RESULT_FORMAT))
        parameters = expectation_parameters(config, now)
        run = checkpoint.run(batch_parameters={"dataframe": frame.data},
                             expectation_parameters=parameters)
        (outcome,) = run.run_results.values()
        origins = [Origin(topic=topic, offset=i) for i in range(len(records))]
        result, bad = summarize(topic, records, outcome, frame, parameters, origins=origins,
                                started=started)
        results.append(result)
        quarantined.extend(bad)
    (out / "results.json").write_text(
        json.dumps([json.loads(r.model_dump_json()) for r in results], indent=2) + "\n")
    with (out / "quarantine.jsonl").open("w", encoding="utf-8") as handle:
        for record in quarantined:
            handle.write(record.model_dump_json() + "\n")
    return out / "index.html", results, quarantined


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=Path("artifacts/quality"),
                        help="Directory of the Data Docs site (created)")
    parser.add_argument("--demo", type=Path, default=None,
                        help="JSONL of raw payloads (default: the bundled demo traffic)")
    args = parser.parse_args(argv)
    sample = with_bad_records(pipeline_sample(args.demo))
    index, results, quarantined = run_report(args.out, sample)
    for result in results:
        failed = [name for name, ok in result.expectations.items() if not ok]
        shown = ", ".join(failed[:4]) + (f" (+{len(failed) - 4} more)" if len(failed) > 4 else "")
        print(f"{result.source_topic:28} {result.records:>4} records "
              f"{result.failed_records:>3} quarantined  "
              f"{'pass' if result.success else 'FAIL'}  {shown}", file=sys.stderr)
    print(f"{len(quarantined)} records quarantined -> {args.out / 'quarantine.jsonl'}",
          file=sys.stderr)
    print(index.resolve())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

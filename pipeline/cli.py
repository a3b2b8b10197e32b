"""``porte-voix``: the command line of the pipeline (typer).

Imports are done inside commands so that ``porte-voix --help`` stays instant and a command only
loads what it needs (the worker does not import Django, the CLI tools do not import faust).
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Porte-Voix: community voice to CRM tickets, feedback and alerts.",
                  no_args_is_help=True, pretty_exceptions_show_locals=False)
schemas_app = typer.Typer(help="Topic contracts (JSON Schema).", no_args_is_help=True)
topics_app = typer.Typer(help="Topic administration.", no_args_is_help=True)
rules_app = typer.Typer(help="Routing rules.", no_args_is_help=True)
app.add_typer(schemas_app, name="schemas")
app.add_typer(topics_app, name="topics")
app.add_typer(rules_app, name="rules")
dlq_app = typer.Typer(help="Dead letters: list them, replay them after a fix.",
                      no_args_is_help=True)
app.add_typer(dlq_app, name="dlq")


def _logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@app.command()
def worker(loglevel: Annotated[str, typer.Option(help="faust log level")] = "info") -> None:
    """Run the faust worker (normalize, enrich, route, deliver)."""
    from pipeline.app import run_worker
    from pipeline.settings import get_settings

    run_worker(get_settings(), loglevel=loglevel)


@app.command()
def ingest() -> None:
    """Run the webhook ingest server (Meta, X, Discourse) in front of social.raw."""
    from connectors.ingest import run_ingest
    from pipeline.settings import get_settings

    _logging(get_settings().log_level)
    run_ingest()


@app.command()
def dashboard(port: Annotated[int | None, typer.Option(
        help="Port on 127.0.0.1 (default PORTE_VOIX_DASHBOARD_PORT; 0 = a free port)")] = None,
) -> None:
    """Serve the community dashboard, rebuilt from the topics, on 127.0.0.1."""
    from pipeline.dashboard.server import run_dashboard
    from pipeline.settings import get_settings

    _logging(get_settings().log_level)
    run_dashboard(get_settings(), port)


@app.command()
def poll(
    source: Annotated[str, typer.Argument(
        help="youtube, google_business, trustpilot, google_play, app_store, reddit")],
    once: Annotated[bool, typer.Option("--once", help="Poll every stream once and exit")] = False,
    interval: Annotated[float, typer.Option(help="Seconds between runs")] = 300.0,
    account: Annotated[list[str] | None, typer.Option(
        "--account", help="Overrides PORTE_VOIX_POLL_<SOURCE>_ACCOUNTS (repeatable)")] = None,
) -> None:
    """Poll a platform API into social.raw (cursor on connectors.cursors, health events)."""
    from connectors.sources.pollers import poll_command
    from pipeline.settings import get_settings

    _logging(get_settings().log_level)
    raise typer.Exit(poll_command(source, once=once, interval=interval,
                                  accounts=account or None))


@app.command()
def backfill(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="JSONL of payloads")],
    source: Annotated[str | None, typer.Option(help="Source of bare payload lines")] = None,
    account: Annotated[str | None, typer.Option(help="Brand account of bare lines")] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar")] = True,
) -> None:
    """Write every line of FILE to social.raw (acks=all), with a progress bar."""
    from tqdm import tqdm

    from connectors.producer import RawProducer
    from connectors.sources.backfill import BackfillConfig, BackfillSource
    from pipeline.settings import get_settings

    settings = get_settings()
    src = BackfillSource(BackfillConfig(path=file, source=source, account=account))
    total = src.count()
    with RawProducer(settings.bootstrap_list) as producer, tqdm(
        total=total, unit="msg", disable=not progress, desc=file.name
    ) as bar:
        for acked in producer.send_all(src.read()):
            bar.update(acked)
    typer.echo(f"{total} raw payloads acknowledged on social.raw", err=True)


@topics_app.command("create")
def topics_create() -> None:
    """Create every declared topic that does not exist yet (idempotent)."""
    from infra.topics import ensure_topics
    from pipeline.settings import get_settings

    settings = get_settings()
    created = ensure_topics(settings.bootstrap_list, settings.topic_replication_factor,
                            settings.topic_partitions_override)
    typer.echo(f"created {len(created)} topic(s)" + (": " + ", ".join(created) if created else ""))


@topics_app.command("list")
def topics_list() -> None:
    """Print the declared topics: name, partitions, cleanup policy, key, value model."""
    from schemas.topics import TOPICS

    for spec in TOPICS.values():
        typer.echo(f"{spec.name:28} {spec.partitions:>3}  {spec.cleanup_policy:8} "
                   f"key={spec.key:18} {spec.value_model.__name__}")


@schemas_app.command("export")
def schemas_export(directory: Annotated[Path, typer.Argument(help="Output directory")]) -> None:
    """Write one JSON Schema (draft 2020-12) per topic into DIRECTORY."""
    from schemas.export import export_schemas

    for path in export_schemas(directory):
        typer.echo(str(path))


@schemas_app.command("diff")
def schemas_diff(old: Annotated[Path, typer.Argument(exists=True)],
                 new: Annotated[Path, typer.Argument(exists=True)]) -> None:
    """Explain in words what changed between two schema files or directories."""
    from schemas.compat import schemas_diff_command

    raise typer.Exit(schemas_diff_command(old, new))


@schemas_app.command("check")
def schemas_check() -> None:
    """Fail when a model changed without the schema_version bump its change needs."""
    from schemas.compat import check_against_baseline

    problems = check_against_baseline()
    for problem in problems:
        typer.echo(problem, err=True)
    raise typer.Exit(1 if problems else 0)


@topics_app.command("catalog")
def topics_catalog(directory: Annotated[Path, typer.Argument()] = Path("docs/catalog")) -> None:
    """Write the topic catalog (Markdown and HTML) from the one topic declaration."""
    from schemas.catalog import write_catalog

    for path in write_catalog(directory):
        typer.echo(str(path))


@app.command("tail")
def tail_cmd(
    topic: Annotated[str, typer.Argument(help="Topic name, e.g. social.enriched")],
    from_beginning: Annotated[bool, typer.Option("--from-beginning")] = False,
    filters: Annotated[list[str] | None, typer.Option(
        "--filter", help="FIELD=VALUE on the value (dotted), repeatable")] = None,
    max_records: Annotated[int | None, typer.Option("--max")] = None,
    raw: Annotated[bool, typer.Option("--raw", help="Print values as stored")] = False,
) -> None:
    """Pretty-print the records of a topic (keys, headers, parsed values)."""
    from pipeline.settings import get_settings
    from pipeline.tail import tail

    raise typer.Exit(tail(get_settings().bootstrap_list, topic, from_beginning,
                          filters or [], max_records, raw))


@rules_app.command("check")
def rules_check(file: Annotated[Path, typer.Argument(exists=True, dir_okay=False)]) -> None:
    """Validate a rules file; problems are printed with their line numbers."""
    from pipeline.routing import RuleError, load_rules

    try:
        ruleset = load_rules(file)
    except RuleError as exc:
        for problem in exc.problems:
            rule = f" [{problem.rule}]" if problem.rule else ""
            typer.echo(f"{file}:{problem.line}:{rule} {problem.message}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"{file}: {len(ruleset.rules)} rule(s), OK")


@app.command()
def route(
    input: Annotated[Path, typer.Option("--input", exists=True, dir_okay=False,
                                        help="Enriched events or flat records, JSONL")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Report only (the only mode)")] = True,
    rules: Annotated[Path | None, typer.Option(help="Rules file (default: the configured)")] = None,
    diff: Annotated[Path | None, typer.Option(help="Other rules file to compare with")] = None,
) -> None:
    """Replay recorded traffic through the rules: counts and examples per route, and a diff."""
    from pipeline.dryrun import dry_run as run_dry
    from pipeline.dryrun import load_events
    from pipeline.offline import read_jsonl
    from pipeline.routing import load_rules
    from pipeline.settings import get_settings

    if not dry_run:
        raise typer.BadParameter("routing live is the worker's job; use --dry-run")
    with input.open(encoding="utf-8") as handle:
        events = load_events(list(read_jsonl(handle)))
    report = run_dry(events, load_rules(rules or get_settings().rules_file),
                     load_rules(diff) if diff else None)
    for line in report.lines():
        typer.echo(line)


@dlq_app.command("list")
def dlq_list(
    topic: Annotated[list[str] | None, typer.Option(help="Dead-letter topic(s)")] = None,
    stage: Annotated[str | None, typer.Option(help="Only this stage")] = None,
    contains: Annotated[str | None, typer.Option(help="Reason contains this text")] = None,
    max_records: Annotated[int, typer.Option("--max")] = 20,
) -> None:
    """Counts per topic/stage/kind, then the letters themselves (reason, origin)."""
    from pipeline.dlq import DEADLETTER_TOPICS, read_letters, select, summary
    from pipeline.settings import get_settings
    from schemas.models import Stage

    letters = select(read_letters(get_settings().bootstrap_list, topic or DEADLETTER_TOPICS),
                     Stage(stage) if stage else None, contains)
    for key, count in summary(letters).items():
        typer.echo(f"{count:6}  {key}")
    for item in letters[:max_records]:
        d = item.letter
        typer.echo(f"{item.topic}@{item.partition}:{item.offset} [{d.stage.value}/"
                   f"{d.error_kind.value}] from {d.source_topic}@{d.partition}:{d.offset}: "
                   f"{d.error}")


@dlq_app.command("replay")
def dlq_replay(
    topic: Annotated[list[str] | None, typer.Option(help="Dead-letter topic(s)")] = None,
    stage: Annotated[str | None, typer.Option(help="Only this stage")] = None,
    contains: Annotated[str | None, typer.Option(help="Reason contains this text")] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do it (otherwise only say what)")] = False,
) -> None:
    """Put the selected dead letters back on the topics they came from."""
    from pipeline.dlq import DEADLETTER_TOPICS, read_letters, replay, select
    from pipeline.settings import get_settings
    from schemas.models import Stage

    bootstrap = get_settings().bootstrap_list
    letters = select(read_letters(bootstrap, topic or DEADLETTER_TOPICS),
                     Stage(stage) if stage else None, contains)
    if not yes:
        typer.echo(f"{len(letters)} dead letter(s) would be replayed; add --yes to do it")
        return
    for source, count in replay(bootstrap, letters).items():
        typer.echo(f"{count:6} replayed to {source}")


@app.command()
def enrich(
    input: Annotated[Path, typer.Option("--input", exists=True, dir_okay=False)],
    output: Annotated[Path, typer.Option("--output")],
) -> None:
    """Enrich and route flat records offline (no broker): one JSON line out per line in."""
    from pipeline.enrich import Enricher
    from pipeline.offline import read_jsonl, route_records
    from pipeline.routing import load_rules
    from pipeline.settings import get_settings

    settings = get_settings()
    with input.open(encoding="utf-8") as handle:
        records = list(read_jsonl(handle))
    rows = route_records(records, Enricher(), load_rules(settings.rules_file))
    with output.open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    typer.echo(f"{len(rows)} records enriched -> {output}", err=True)


@app.command()
def replay(
    since: Annotated[datetime, typer.Option(
        "--since", formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S%z"],
        help="Replay records written at or after this time (UTC unless an offset is given)")],
    source: Annotated[str, typer.Option(
        "--from", help="social.raw, social.events or social.enriched")] = "social.raw",
    output_suffix: Annotated[str, typer.Option(
        "--output-suffix", help="Write to <topic>.<suffix>, e.g. social.enriched.v2")] = "v2",
) -> None:
    """Re-run the pipeline over history into versioned topics (no tickets are created)."""
    from datetime import UTC

    from pipeline.replay import replay_command
    from pipeline.settings import get_settings

    _logging(get_settings().log_level)
    since = since if since.tzinfo else since.replace(tzinfo=UTC)
    count = replay_command(source, since, output_suffix, get_settings().bootstrap_list)
    typer.echo(f"{count} records of {source} replayed into *.{output_suffix}", err=True)


@app.command()
def broker(port: Annotated[int, typer.Option(help="Port on 127.0.0.1")] = 9092) -> None:
    """Run the embedded in-memory broker (Tansu) in the foreground and create the topics."""
    import signal
    import threading

    from infra.broker import EmbeddedBroker
    from infra.topics import ensure_topics

    with EmbeddedBroker(port=port) as b:
        ensure_topics(b.bootstrap)
        typer.echo(f"broker on {b.bootstrap} (memory only); Ctrl-C stops it")
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass


@app.command()
def run(
    demo: Annotated[bool, typer.Option(help="Replay the bundled demo traffic")] = True,
    state_dir: Annotated[Path, typer.Option(help="Where pids, logs and helpdesk data go")] = Path(
        ".run"),
) -> None:
    """Start broker, topics, helpdesk and worker, replay demo traffic, wait for Ctrl-C."""
    from infra.run import run_all

    _logging("INFO")
    raise typer.Exit(run_all(state_dir=state_dir, demo=demo))


@app.command()
def stop(state_dir: Annotated[Path, typer.Option()] = Path(".run")) -> None:
    """Stop what `porte-voix run` started (reads the pid files)."""
    from infra.run import stop_all

    typer.echo(stop_all(state_dir))


@app.command()
def bench(output: Annotated[Path, typer.Option()] = Path("bench-results.json"),
          events: Annotated[int, typer.Option(help="Events per measurement")] = 5000) -> None:
    """Measure passthrough, pipeline and enrichment throughput; write OUTPUT and print it."""
    from pipeline.bench import run_bench

    _logging("WARNING")
    results = run_bench(events=events)
    output.write_text(json.dumps(results, indent=2) + "\n")
    typer.echo(json.dumps(results, indent=2))


@app.command()
def settings(markdown: Annotated[bool, typer.Option(help="As a Markdown table")] = False) -> None:
    """List every setting with its environment variable, default and meaning."""
    from pydantic_settings import BaseSettings

    import connectors.sinks
    import connectors.sources
    from connectors.base import REGISTRY
    from connectors.ingest.settings import IngestSettings
    from pipeline.quality.frames import QualityConfig
    from pipeline.settings import Settings, settings_reference

    pollers = [c.config_model for c in REGISTRY.values()
               if issubclass(c.config_model, BaseSettings)]
    from connectors.sinks.feedback import FEEDBACK_SINKS

    sinks = [*(c.config_model for c in connectors.sinks.SINKS.values()),
             *(c.config_model for c in FEEDBACK_SINKS.values())]
    from pipeline.enrich.config import EnrichConfig

    rows = settings_reference(Settings, EnrichConfig, IngestSettings, QualityConfig, *sinks,
                              *pollers)
    if markdown:
        typer.echo("# Settings reference\n\nGenerated by `porte-voix settings --markdown` from "
                   "the pydantic-settings classes; every setting is an environment variable.\n")
        typer.echo("| environment variable | default | meaning |\n|---|---|---|")
        for env, default, doc in rows:
            typer.echo(f"| `{env}` | `{default}` | {doc} |")
    else:
        for env, default, doc in rows:
            typer.echo(f"{env:40} {default:28} {doc}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()

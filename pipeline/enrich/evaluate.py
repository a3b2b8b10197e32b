"""Score the enrichment stage on a labelled JSONL set (e.g. /work/shared/data/dev_messages.jsonl).

``python -m pipeline.enrich.evaluate --dev FILE --out eval-results.json`` prints and writes
per-field precision/recall/F1 per class and macro-F1 per language, confusion matrices for
sentiment and intent, PII figures by kind with a count of PII left in the redacted text,
near-duplicate pair figures, speed, and route exact-set match when routing is available.
"""

from __future__ import annotations

import argparse
import importlib
import json
import re
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pipeline.enrich import EnrichConfig, Enricher
from schemas.models import Enrichment, Kind, Platform, SocialEvent

BASE_TIME = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
FIELDS = ("lang", "sentiment", "intent", "product_area", "urgency")
GROUPS = ("en", "fr", "all")
# Loose shapes that should never survive redaction, whatever the detectors decided.
_RESIDUAL = {
    "email": re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+"),
    "long_number": re.compile(r"(?<!\w)\+?\d(?:[ .\-]?\d){8,}(?!\w)"),
    "iban_like": re.compile(r"\b[A-Z]{2}\d{2}(?:\s?[A-Z0-9]{4}){3,}", re.IGNORECASE),
}


def load_records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]


def to_event(record: dict[str, Any], index: int) -> SocialEvent:
    """A dev record as the normaliser would have produced it."""
    return SocialEvent(
        event_id=str(record["id"]), platform=Platform(record["platform"]),
        kind=Kind(record["kind"]), source="jsonl", platform_item_id=str(record["id"]),
        conversation_id=str(record["id"]), brand=str(record["brand"]),
        text=str(record.get("text") or ""), rating=record.get("rating"),
        created_at=BASE_TIME + timedelta(seconds=index),
    )


def prf(gold: Sequence[str], pred: Sequence[str]) -> dict[str, Any]:
    """Per-class precision/recall/F1, macro-F1 over gold-present classes, and accuracy."""
    classes = sorted(set(gold) | set(pred))
    per_class: dict[str, dict[str, float]] = {}
    for cls in classes:
        tp = sum(g == cls and p == cls for g, p in zip(gold, pred, strict=True))
        fp = sum(g != cls and p == cls for g, p in zip(gold, pred, strict=True))
        fn = sum(g == cls and p != cls for g, p in zip(gold, pred, strict=True))
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[cls] = {"precision": round(precision, 3), "recall": round(recall, 3),
                          "f1": round(f1, 3), "support": tp + fn}
    present = [c for c in classes if per_class[c]["support"]]
    macro = sum(per_class[c]["f1"] for c in present) / len(present) if present else 0.0
    accuracy = sum(g == p for g, p in zip(gold, pred, strict=True)) / len(gold) if gold else 0.0
    return {"n": len(gold), "accuracy": round(accuracy, 3), "macro_f1": round(macro, 3),
            "per_class": per_class}


def confusion(gold: Sequence[str], pred: Sequence[str]) -> dict[str, dict[str, int]]:
    classes = sorted(set(gold) | set(pred))
    matrix = {g: dict.fromkeys(classes, 0) for g in classes}
    for g, p in zip(gold, pred, strict=True):
        matrix[g][p] += 1
    return matrix


def pii_scores(records: Sequence[dict[str, Any]], out: Sequence[Enrichment]) -> dict[str, Any]:
    kinds = sorted({k for r in records for k in r.get("pii") or []} |
                   {k.value for e in out for k in e.pii})
    by_kind: dict[str, dict[str, float]] = {}
    tp_all = fp_all = fn_all = 0
    for kind in kinds:
        pairs = [(kind in (r.get("pii") or []), kind in e.pii)
                 for r, e in zip(records, out, strict=True)]
        tp = sum(g and p for g, p in pairs)
        fp = sum(p and not g for g, p in pairs)
        fn = sum(g and not p for g, p in pairs)
        tp_all, fp_all, fn_all = tp_all + tp, fp_all + fp, fn_all + fn
        by_kind[kind] = {"precision": round(tp / (tp + fp), 3) if tp + fp else 1.0,
                         "recall": round(tp / (tp + fn), 3) if tp + fn else 1.0,
                         "tp": tp, "fp": fp, "fn": fn}
    left = []
    for record, enrichment in zip(records, out, strict=True):
        missed = [k for k in record.get("pii") or [] if k not in enrichment.pii]
        residual = [name for name, rx in _RESIDUAL.items() if rx.search(enrichment.redacted_text)]
        if missed or residual:
            left.append({"id": record["id"], "missed_kinds": missed, "residual": residual})
    return {
        "precision": round(tp_all / (tp_all + fp_all), 3) if tp_all + fp_all else 1.0,
        "recall": round(tp_all / (tp_all + fn_all), 3) if tp_all + fn_all else 1.0,
        "by_kind": by_kind, "pii_left_in_redacted_text": len(left), "left": left,
    }


def dup_scores(records: Sequence[dict[str, Any]], out: Sequence[Enrichment]) -> dict[str, Any]:
    gold = {(r["id"], r["dup_of"]) for r in records if r.get("dup_of")}
    pred = {(r["id"], e.dup_of) for r, e in zip(records, out, strict=True) if e.dup_of}
    tp = len(gold & pred)
    precision = tp / len(pred) if pred else 1.0
    recall = tp / len(gold) if gold else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 3), "recall": round(recall, 3), "f1": round(f1, 3),
            "gold_pairs": len(gold), "predicted_pairs": len(pred),
            "missed": sorted(gold - pred), "spurious": sorted(pred - gold)}


def route_scores(records: Sequence[dict[str, Any]],
                 config: EnrichConfig) -> dict[str, Any] | None:
    """Exact-set route match through ``pipeline.offline.route_records`` when routing exists."""
    try:
        offline = importlib.import_module("pipeline.offline")
        routing = importlib.import_module("pipeline.routing")
    except ImportError:
        return None
    route_records = getattr(offline, "route_records", None)
    load_rules = getattr(routing, "load_default_rules", None)
    if route_records is None or load_rules is None:
        return None
    try:
        rows = route_records(records, Enricher(config), load_rules())
        predicted = [sorted(str(r) for r in row["routes"]) for row in rows]
    except Exception as exc:  # routing is optional for this report
        return {"error": f"{type(exc).__name__}: {exc}"}
    gold = [sorted(r.get("expected_routes") or []) for r in records]
    match = sum(g == p for g, p in zip(gold, predicted, strict=True))
    misses = [{"id": r["id"], "gold": g, "predicted": p}
              for r, g, p in zip(records, gold, predicted, strict=True) if g != p]
    return {"exact_set_match": round(match / len(gold), 3), "n": len(gold), "misses": misses}


def measure_speed(events: Sequence[SocialEvent], config: EnrichConfig, repeats: int,
                  batch: int) -> dict[str, float]:
    """Events/s of enrich_many on fresh enrichers (so duplicates state is the same each pass)."""
    total = 0
    elapsed = 0.0
    for _ in range(repeats):
        enricher = Enricher(config)
        started = time.perf_counter()
        for i in range(0, len(events), batch):
            enricher.enrich_many(events[i:i + batch])
        elapsed += time.perf_counter() - started
        total += len(events)
    return {"events": total, "seconds": round(elapsed, 3),
            "events_per_s": round(total / elapsed, 1), "batch": batch}


def evaluate(path: Path, config: EnrichConfig | None = None,
             speed_repeats: int = 10) -> dict[str, Any]:
    config = config or EnrichConfig()
    records = load_records(path)
    events = [to_event(r, i) for i, r in enumerate(records)]
    enricher = Enricher(config)
    out = enricher.enrich_many(events)
    report: dict[str, Any] = {"model_version": enricher.model_version, "n": len(records),
                              "fields": {}}
    for field in FIELDS:
        report["fields"][field] = {}
        for group in GROUPS:
            idx = [i for i, r in enumerate(records) if group == "all" or r.get("lang") == group]
            gold = [str(records[i][field]) for i in idx]
            pred = [str(getattr(out[i], field).value) for i in idx]
            report["fields"][field][group] = prf(gold, pred)
    for field in ("sentiment", "intent"):
        report[f"{field}_confusion"] = confusion(
            [str(r[field]) for r in records], [getattr(e, field).value for e in out])
    report["pii"] = pii_scores(records, out)
    report["dup_of"] = dup_scores(records, out)
    report["speed"] = measure_speed(events, config, speed_repeats, batch=256)
    routes = route_scores(records, config)
    if routes is not None:
        report["routes"] = routes
    return report


def print_report(report: dict[str, Any]) -> None:
    print(f"model {report['model_version']}  n={report['n']}")
    for field, groups in report["fields"].items():
        line = "  ".join(f"{g}: acc {v['accuracy']:.3f} macro-F1 {v['macro_f1']:.3f} (n={v['n']})"
                         for g, v in groups.items())
        print(f"{field:<13} {line}")
        for cls, figures in groups["all"]["per_class"].items():
            print(f"    {cls:<17} P {figures['precision']:.2f}  R {figures['recall']:.2f}  "
                  f"F1 {figures['f1']:.2f}  n={figures['support']}")
    for field in ("sentiment", "intent"):
        matrix = report[f"{field}_confusion"]
        classes = list(matrix)
        print(f"{field} confusion (rows gold, columns predicted):")
        print("    " + " ".join(f"{c[:8]:>8}" for c in ["", *classes]))
        for g in classes:
            print("    " + f"{g[:8]:>8} " + " ".join(f"{matrix[g][p]:>8}" for p in classes))
    pii = report["pii"]
    print(f"pii: precision {pii['precision']:.3f} recall {pii['recall']:.3f}  "
          f"left in redacted_text: {pii['pii_left_in_redacted_text']}")
    for kind, figures in pii["by_kind"].items():
        print(f"    {kind:<9} P {figures['precision']:.2f} R {figures['recall']:.2f} "
              f"(tp {figures['tp']} fp {figures['fp']} fn {figures['fn']})")
    dup = report["dup_of"]
    print(f"dup_of: precision {dup['precision']:.3f} recall {dup['recall']:.3f} "
          f"F1 {dup['f1']:.3f} (gold {dup['gold_pairs']}, predicted {dup['predicted_pairs']})")
    speed = report["speed"]
    print(f"speed: {speed['events_per_s']:.0f} events/s ({speed['events']} events, "
          f"batches of {speed['batch']})")
    if "routes" in report:
        routes = report["routes"]
        if "error" in routes:
            print(f"routes: not scored ({routes['error']})")
        else:
            print(f"routes: exact-set match {routes['exact_set_match']:.3f} (n={routes['n']})")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dev", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=Path("eval-results.json"))
    parser.add_argument("--speed-repeats", type=int, default=10)
    args = parser.parse_args(argv)
    report = evaluate(args.dev, speed_repeats=args.speed_repeats)
    print_report(report)
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

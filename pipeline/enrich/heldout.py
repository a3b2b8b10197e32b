"""Score enrichment on training files held out whole, replayed as mixed message streams.

``python -m pipeline.enrich.heldout [--set incident_min_size=5 ...]``

Crisis traffic comes in clusters, and a cluster lives in one training file, so random folds
would show the models messages of the very incidents they are tested on. Here the training
files are split into groups; for each group, models are trained on the other files, and the
held-out files are shuffled together into one stream (several brands, several unseen
incidents, ordinary traffic in between) and enriched three ways: per-message crisis head
only, streaming (batches of 256, no look-ahead) and offline (whole stream, look-ahead).
Printed: crisis precision/recall/F1, route exact-set match, urgency, product area and
sentiment per language. Fold models are cached under ``--cache`` by training-data digest.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sklearn.metrics import f1_score
from sklearn.model_selection import GroupKFold

from pipeline.enrich.classifier import TextModels
from pipeline.enrich.config import DEFAULT_MODEL_PATH, EnrichConfig
from pipeline.enrich.enricher import Enricher
from pipeline.enrich.features import prepare
from pipeline.enrich.train import TRAIN_DIR, Example, fit_all, load_examples
from pipeline.offline import output_row, record_to_event
from pipeline.routing import load_default_rules
from schemas.models import EnrichedEvent, Enrichment

BASE_TIME = datetime(2025, 6, 1, tzinfo=UTC)


def load_records(train_dir: Path) -> list[dict[str, Any]]:
    """Records in the order and with the text deduplication of ``train.load_examples``."""
    seen: set[str] = set()
    records: list[dict[str, Any]] = []
    for path in sorted(train_dir.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            text = str(record.get("text") or "")
            if not text or text in seen:
                continue
            seen.add(text)
            record["source"] = path.name
            records.append(record)
    return records


# The modules whose code changes what training produces (features, term weights, heads).
_TRAINING_CODE = ("classifier", "features", "incidents", "lang", "pii", "text", "train")


def fold_models(examples: Sequence[Example], train_idx: Sequence[int], cache: Path,
                thresholds: dict[str, float]) -> Path:
    """Models trained on the given examples only, cached on disk by their digest.

    The digest covers the code and lexicons that shape the models too, so a change to the
    features or the incident vocabulary never reuses stale fold models.
    """
    hasher = hashlib.sha256("\n".join(examples[i].doc.text for i in train_idx).encode())
    package = Path(__file__).parent
    shaping = [package / f"{name}.py" for name in _TRAINING_CODE]
    for source in sorted([*shaping, *(package / "lexicons").glob("*")]):
        if source.is_file():
            hasher.update(source.read_bytes())
    digest = hasher.hexdigest()[:12]
    path = cache / f"fold-{digest}.npz"
    if not path.exists():
        chosen = [examples[i] for i in train_idx]
        models = fit_all([prepare(ex.doc) for ex in chosen], chosen,
                         {"thresholds": thresholds})
        TextModels(models.featurizer, list(models.heads.values()), models.meta, (),
                   models.term_idf).save(path)
    return path


def run(records: Sequence[dict[str, Any]], config: EnrichConfig, batch: int | None,
        lookahead: bool) -> list[Enrichment]:
    events = [record_to_event({**r, "id": f"h{i}", "created_at": BASE_TIME
                               + timedelta(minutes=i)}, i) for i, r in enumerate(records)]
    enricher = Enricher(config)
    if batch is None:
        return enricher.enrich_many(events, lookahead=lookahead)
    out: list[Enrichment] = []
    for start in range(0, len(events), batch):
        out.extend(enricher.enrich_many(events[start:start + batch], lookahead=lookahead))
    return out


def scores(records: Sequence[dict[str, Any]], out: Sequence[Enrichment]) -> dict[str, float]:
    rules = load_default_rules()
    gold_c = [bool(r["crisis"]) for r in records]
    pred_c = [e.crisis_signal for e in out]
    tp = sum(g and p for g, p in zip(gold_c, pred_c, strict=True))
    precision = tp / max(1, sum(pred_c))
    recall = tp / max(1, sum(gold_c))
    routes = 0
    for i, (record, enrichment) in enumerate(zip(records, out, strict=True)):
        event = record_to_event({**record, "id": f"h{i}"}, i)
        row = output_row(EnrichedEvent(event=event, enrichment=enrichment), rules)
        routes += sorted(row["routes"]) == sorted(record["expected_routes"])
    figures = {
        "crisis_P": precision, "crisis_R": recall,
        "crisis_F1": 2 * precision * recall / (precision + recall) if tp else 0.0,
        "routes": routes / len(records),
        "urgency_F1": f1_score([r["urgency"] for r in records],
                               [e.urgency.value for e in out], average="macro"),
        "area_acc": sum(r["product_area"] == e.product_area.value
                        for r, e in zip(records, out, strict=True)) / len(records),
    }
    for lang in ("en", "fr"):
        idx = [i for i, r in enumerate(records) if r["lang"] == lang]
        figures[f"sent_{lang}_F1"] = f1_score([records[i]["sentiment"] for i in idx],
                                              [out[i].sentiment.value for i in idx],
                                              average="macro")
    return figures


def _value(raw: str) -> Any:
    """An override as JSON when it parses (lists, numbers), else the plain string."""
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=TRAIN_DIR)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/porte-voix-heldout"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="EnrichConfig override for the incident runs")
    args = parser.parse_args(argv)
    examples, _ = load_examples(args.data)
    records = load_records(args.data)
    if len(records) != len(examples):
        raise SystemExit("training records and examples do not line up")
    thresholds = TextModels.load(DEFAULT_MODEL_PATH).meta.get("thresholds") or {}
    assert isinstance(thresholds, dict)
    overrides = {key: _value(raw) for key, raw in (item.split("=", 1) for item in args.set)}
    args.cache.mkdir(parents=True, exist_ok=True)
    groups = [ex.source for ex in examples]
    pooled: dict[str, tuple[list[dict[str, Any]], list[Enrichment]]] = {}
    splitter = GroupKFold(n_splits=args.folds)
    for train_idx, test_idx in splitter.split(examples, groups=groups):
        path = fold_models(examples, list(train_idx), args.cache, thresholds)
        stream = [records[i] for i in test_idx]
        random.Random(args.seed).shuffle(stream)
        modes: dict[str, tuple[EnrichConfig, int | None, bool]] = {
            "head only": (EnrichConfig(model_path=path, incidents=False), 256, False),
            "streaming": (EnrichConfig.model_validate({"model_path": path, **overrides}),
                          256, False),
            "offline": (EnrichConfig.model_validate({"model_path": path, **overrides}),
                        None, True),
        }
        for mode, (config, batch, lookahead) in modes.items():
            gold, predicted = pooled.setdefault(mode, ([], []))
            gold.extend(stream)
            predicted.extend(run(stream, config, batch, lookahead))
    print(f"{args.folds} groups of held-out files, overrides {overrides or 'none'}")
    for mode, (gold, predicted) in pooled.items():
        figures = scores(gold, predicted)
        print(f"  {mode:<10} " + "  ".join(f"{k} {v:.3f}" for k, v in figures.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Train the enrichment classifiers from ``data/train/*.jsonl``.

Run ``python -m pipeline.enrich.train``.

Reproducible: files are read in name order, exact duplicate texts are dropped, and every
random step is seeded. Prints cross-validated figures on the training data (per language for
sentiment and intent), chooses the thresholds of the yes/no heads on folds that hold whole
files out (new clusters, new wording), then fits on everything and writes
``models/enrich.npz`` with the thresholds in its metadata.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import GroupKFold, StratifiedKFold

from pipeline.enrich.classifier import (
    BINARY_HEADS,
    HEADS,
    STACKED_HEADS,
    Head,
    TextModels,
    stack_inputs,
)
from pipeline.enrich.config import DEFAULT_MODEL_PATH
from pipeline.enrich.features import Doc, Featurizer, Prepared, prepare
from pipeline.enrich.incidents import content_words, document_frequencies
from pipeline.enrich.pii import PiiRedactor

REPO_ROOT = Path(__file__).resolve().parents[2]
TRAIN_DIR = REPO_ROOT / "data" / "train"
SEED = 0
MAX_WORD_FEATURES = 25_000
MAX_CHAR_FEATURES = 35_000
# Inverse regularisation per head, chosen by cross-validation on the training data.
C_BY_HEAD = {"sentiment": 8.0, "intent": 8.0, "product_area": 8.0, "urgency": 4.0,
             "actionable": 4.0, "feature_specific": 4.0, "crisis": 4.0}


@dataclass(frozen=True, slots=True)
class Example:
    doc: Doc
    labels: dict[str, str]
    source: str = ""


def _label(record: dict[str, object], head: str) -> str | None:
    value = record.get(head)
    if value is None:
        return None
    if head in BINARY_HEADS:
        return "1" if bool(value) else "0"
    return str(value)


def load_examples(train_dir: Path) -> tuple[list[Example], str]:
    """All labelled records, deduplicated on text; also a digest of what was read."""
    redactor = PiiRedactor()
    digest = hashlib.sha256()
    seen: set[str] = set()
    examples: list[Example] = []
    for path in sorted(train_dir.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # a file still being written may end mid-line
            text = str(record.get("text") or "")
            if not text or text in seen:
                continue
            seen.add(text)
            digest.update(line.encode())
            _, redacted = redactor.redact(text)
            rating = record.get("rating")
            doc = Doc(redacted, str(record.get("kind") or "comment"),
                      str(record.get("platform") or "other"),
                      int(rating) if isinstance(rating, int) else None,
                      str(record.get("lang") or "other"))
            labels = {h: v for h in HEADS if (v := _label(record, h)) is not None}
            examples.append(Example(doc, labels, path.name))
    return examples, digest.hexdigest()[:12]


# Heads that read word features only. Crisis messages come in clusters about one topic, and
# character n-grams let the model learn the topics of past clusters instead of what makes a
# crisis: with training files held out whole (clusters never seen), crisis F1 rose from 0.57
# to 0.62 with words only, while the other heads lost a little.
WORD_ONLY_HEADS = frozenset({"crisis"})


def fit_head(name: str, x: sp.csr_matrix, y: Sequence[str], n_word: int | None = None) -> Head:
    """One logistic regression; a word-only head gets zero weights on character columns."""
    model = LogisticRegression(C=C_BY_HEAD[name], max_iter=3000, class_weight="balanced",
                               random_state=SEED)
    width = x.shape[1]
    if n_word is not None and name in WORD_ONLY_HEADS:
        x = x[:, :n_word]
    model.fit(x, np.asarray(y))
    coef = np.zeros((model.coef_.shape[0], width), dtype=np.float32)
    coef[:, :x.shape[1]] = model.coef_
    return Head(name, tuple(str(c) for c in model.classes_), coef,
                model.intercept_.astype(np.float32))


def fit_all(prepared: Sequence[Prepared], examples: Sequence[Example],
            meta: dict[str, object]) -> TextModels:
    featurizer = Featurizer.fit(prepared, MAX_WORD_FEATURES, MAX_CHAR_FEATURES)
    x = featurizer.transform(prepared)
    n_word = len(featurizer.word.vocabulary_)
    heads = []
    for name in HEADS:
        rows = [i for i, ex in enumerate(examples) if name in ex.labels]
        heads.append(fit_head(name, x[rows], [examples[i].labels[name] for i in rows], n_word))
    term_idf, default_idf = term_weights(examples)
    meta["term_default_idf"] = default_idf
    return TextModels(featurizer, heads, meta, term_idf=term_idf)


def term_weights(examples: Sequence[Example]) -> tuple[dict[int, float], float]:
    """Smoothed IDF of content words seen in at least two messages; the rest weigh the most.

    Rounded to float16 precision here so that the weights are the same before and after
    the model file round trip.
    """
    df, n = document_frequencies(content_words(ex.doc.text) for ex in examples)

    def idf(count: int) -> float:
        return float(np.float16(np.log((1 + n) / (1 + count)) + 1.0))

    return {k: idf(c) for k, c in df.items() if c >= 2}, idf(1)


THRESHOLD_GRID = np.round(np.arange(0.25, 0.751, 0.05), 2)


def choose_thresholds(x: sp.csr_matrix, n_word: int, examples: Sequence[Example],
                      folds: int) -> dict[str, float]:
    """Decision threshold of each binary head: the most accurate one out of fold.

    Whole training files are held out together, so a fold never holds messages of a cluster
    (an outage, a scandal) it was trained on: that is what new traffic looks like, and
    random folds would make the crisis head look surer than it is. Ties go to the threshold
    nearest 0.5. The featurizer is the one fitted on everything (no labels are involved).
    """
    chosen: dict[str, float] = {}
    for name in BINARY_HEADS:
        rows = np.array([i for i, ex in enumerate(examples) if name in ex.labels])
        y = np.array([examples[i].labels[name] == "1" for i in rows])
        groups = [examples[i].source for i in rows]
        if len(set(groups)) < folds or y.all() or not y.any():
            continue
        xs = x[rows]
        p = np.zeros(len(rows), dtype=np.float32)
        for train_idx, test_idx in GroupKFold(n_splits=folds).split(xs, y, groups):
            head = fit_head(name, xs[train_idx], ["1" if v else "0" for v in y[train_idx]],
                            n_word)
            scores = np.asarray(xs[test_idx] @ head.coef.T).ravel() + head.intercept[0]
            p1 = 1.0 / (1.0 + np.exp(-scores))
            p[test_idx] = p1 if head.classes[1] == "1" else 1.0 - p1
        chosen[name] = _best_threshold(p, y, name)
        if name in PER_INTENT_HEADS:
            intents = np.array([examples[i].labels.get("intent", "") for i in rows])
            for intent in sorted(set(intents.tolist())):
                mask = intents == intent
                if mask.sum() >= PER_INTENT_MIN_ROWS and 0 < y[mask].sum() < mask.sum():
                    key = f"{name}@{intent}"
                    chosen[key] = _best_threshold(p[mask], y[mask], key)
    return chosen


# A head whose base rate differs a lot between intents gets a threshold per intent: most
# insults need no ticket, most complaints do, and one cut-off for both misses the insults
# that carry a case ("thieves, give me my money back").
PER_INTENT_HEADS = frozenset({"actionable"})
PER_INTENT_MIN_ROWS = 100


def _best_threshold(p: np.ndarray, y: np.ndarray, name: str) -> float:
    """The most accurate threshold of the grid; ties go to the one nearest 0.5."""
    accuracy = [float(((p >= t) == y).mean()) for t in THRESHOLD_GRID]
    best = max(range(len(THRESHOLD_GRID)),
               key=lambda k: (round(accuracy[k], 4), -abs(THRESHOLD_GRID[k] - 0.5)))
    print(f"  threshold {name:<26} {THRESHOLD_GRID[best]:.2f}  grouped-CV accuracy "
          f"{accuracy[best]:.3f} (at 0.50: {accuracy[list(THRESHOLD_GRID).index(0.5)]:.3f}, "
          f"n={len(y)})")
    return float(THRESHOLD_GRID[best])


def out_of_fold(prepared: Sequence[Prepared], examples: Sequence[Example],
                folds: int) -> dict[str, np.ndarray]:
    """Every head's probabilities for each example, from a model that never saw it."""
    strata = [ex.labels.get("intent", "?") + ex.doc.lang for ex in examples]
    counts = {s: strata.count(s) for s in set(strata)}
    strata = [s if counts[s] >= folds else "rare" for s in strata]
    oof: dict[str, np.ndarray] = {}
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=SEED)
    for train_idx, test_idx in splitter.split(np.zeros(len(examples)), strata):
        models = fit_all([prepared[i] for i in train_idx], [examples[i] for i in train_idx], {})
        probs = models.predict([prepared[i] for i in test_idx])
        for name, p in probs.items():
            full = oof.setdefault(name, np.zeros((len(examples), p.shape[1]), np.float32))
            full[test_idx] = p
            oof[f"{name}__classes"] = np.array(models.classes(name))
    return oof


def stacked_out_of_fold(inputs: np.ndarray, examples: Sequence[Example], name: str,
                        folds: int) -> list[str | None]:
    """Cross-validated predictions of the second layer (inputs are already out-of-fold)."""
    predicted: list[str | None] = [None] * len(examples)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=SEED + 1)
    labelled = [i for i, ex in enumerate(examples) if name in ex.labels]
    y = [examples[i].labels[name] for i in labelled]
    for train_pos, test_pos in splitter.split(np.zeros(len(labelled)), y):
        head = _fit_rows(inputs, examples, name, [labelled[j] for j in train_pos])
        z = inputs[[labelled[j] for j in test_pos]] @ head.coef.T + head.intercept
        best = z.argmax(axis=1)
        for k, j in enumerate(test_pos):
            predicted[labelled[j]] = head.classes[best[k]]
    return predicted


def _fit_rows(inputs: np.ndarray, examples: Sequence[Example], name: str,
              rows: Sequence[int]) -> Head:
    """Second-layer head on the given rows of the out-of-fold probability table."""
    model = LogisticRegression(C=1.0, max_iter=3000, class_weight="balanced",
                               random_state=SEED)
    model.fit(inputs[list(rows)], np.asarray([examples[i].labels[name] for i in rows]))
    return Head(name, tuple(str(c) for c in model.classes_), model.coef_.astype(np.float32),
                model.intercept_.astype(np.float32))


def report(examples: Sequence[Example], predicted: dict[str, list[str | None]]) -> None:
    for name, preds in predicted.items():
        for lang in ("en", "fr", "all"):
            idx = [i for i, ex in enumerate(examples) if name.split(" ")[0] in ex.labels
                   and preds[i] is not None and (lang == "all" or ex.doc.lang == lang)]
            if not idx:
                continue
            gold = [examples[i].labels[name.split(" ")[0]] for i in idx]
            pred = [str(preds[i]) for i in idx]
            print(f"  {name + '/' + lang:<30} n={len(idx):>5}  "
                  f"acc={accuracy_score(gold, pred):.3f}  "
                  f"macro-F1={f1_score(gold, pred, average='macro'):.3f}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=TRAIN_DIR)
    parser.add_argument("--out", type=Path, default=DEFAULT_MODEL_PATH)
    parser.add_argument("--folds", type=int, default=5, help="0 skips cross-validation")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    examples, digest = load_examples(args.data)
    if len(examples) < 20:
        print(f"only {len(examples)} examples in {args.data}: not enough to train", file=sys.stderr)
        return 1
    prepared = [prepare(ex.doc) for ex in examples]
    langs = {lang: sum(ex.doc.lang == lang for ex in examples) for lang in ("en", "fr", "other")}
    print(f"{len(examples)} examples {langs} digest {digest}")
    meta: dict[str, object] = {"train_digest": digest, "n_examples": len(examples)}
    stacked: list[Head] = []
    if args.folds:
        oof = out_of_fold(prepared, examples, args.folds)
        predicted: dict[str, list[str | None]] = {}
        for name in HEADS:
            classes = [str(c) for c in oof[f"{name}__classes"]]
            predicted[name] = [classes[k] for k in oof[name].argmax(axis=1)]
        inputs = stack_inputs(oof, prepared)
        for name in STACKED_HEADS:
            predicted[f"{name} (stacked)"] = stacked_out_of_fold(inputs, examples, name,
                                                                 args.folds)
            stacked.append(_fit_rows(inputs, examples, name,
                                     [i for i, ex in enumerate(examples) if name in ex.labels]))
        print(f"{args.folds}-fold cross-validation on the training data:")
        report(examples, predicted)
    models = fit_all(prepared, examples, meta)
    if args.folds:
        print("decision thresholds (training files held out whole):")
        meta["thresholds"] = choose_thresholds(
            models.featurizer.transform(prepared), len(models.featurizer.word.vocabulary_),
            examples, args.folds)
    models = TextModels(models.featurizer, list(models.heads.values()), meta, stacked,
                        models.term_idf)
    models.save(args.out)
    size = args.out.stat().st_size / 1e6
    print(f"wrote {args.out} ({size:.2f} MB, {models.featurizer.n_features} features) "
          f"in {time.perf_counter() - started:.1f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Linear text classifiers for every label, stored as plain arrays in one ``.npz`` file.

All heads share one feature matrix, and their weights are stacked into one dense matrix, so a
batch costs a single sparse-dense product whatever the number of labels. A second, tiny
linear layer ("stacking") then re-reads every head's probabilities together with the rating,
the language and the lexicon cues, so that e.g. a confident ``praise`` intent pulls sentiment
towards positive; it is trained on out-of-fold probabilities, never on its own training fit.
It is kept only for the heads where cross-validation showed a gain. Some heads read only the
word block (their character weights are zero, see ``train.WORD_ONLY_HEADS``), and the
decision thresholds of the yes/no heads travel in ``meta["thresholds"]``. Loading reads
arrays only (``allow_pickle=False``): a model file cannot run code.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.enrich.features import Featurizer, Prepared
from pipeline.enrich.lexicons import FAMILIES

HEADS = ("sentiment", "intent", "product_area", "urgency", "actionable", "feature_specific",
         "crisis")
BINARY_HEADS = ("actionable", "feature_specific", "crisis")
STACKED_HEADS = ("sentiment", "urgency")
_LANGS = ("en", "fr", "other")


@dataclass(frozen=True, slots=True)
class Head:
    """One label's classes and weights; binary heads keep sklearn's single-row form."""

    name: str
    classes: tuple[str, ...]
    coef: np.ndarray
    intercept: np.ndarray


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def stack_inputs(base: dict[str, np.ndarray], prepared: Sequence[Prepared]) -> np.ndarray:
    """Second-layer inputs: every head's probabilities, rating, language and cue families."""
    n = len(prepared)
    extra = np.zeros((n, 6 + len(_LANGS) + len(FAMILIES)), dtype=np.float32)
    for i, p in enumerate(prepared):
        extra[i, p.doc.rating or 0] = 1.0
        if p.doc.lang in _LANGS:
            extra[i, 6 + _LANGS.index(p.doc.lang)] = 1.0
        for family in p.cues:
            extra[i, 6 + len(_LANGS) + FAMILIES.index(family)] = 1.0
    return np.hstack([base[h] for h in HEADS] + [extra]).astype(np.float32)


def head_probs(head: Head, scores: np.ndarray) -> np.ndarray:
    if head.coef.shape[0] == 1:
        p1 = 1.0 / (1.0 + np.exp(-scores[:, 0]))
        return np.stack([1.0 - p1, p1], axis=1)
    return _softmax(scores)


class TextModels:
    """Every head behind one featurizer; ``predict`` returns class probabilities per head."""

    def __init__(self, featurizer: Featurizer, heads: Sequence[Head], meta: dict[str, object],
                 stacked: Sequence[Head] = (),
                 term_idf: dict[int, float] | None = None) -> None:
        self.featurizer = featurizer
        # Inverse document frequency of content-word keys (``incidents.term_key``) in the
        # training data: the weights with which incident clusters compare messages.
        self.term_idf = term_idf or {}
        self.heads = {h.name: h for h in heads}
        self.stacked = {h.name: h for h in stacked}
        self.meta = meta
        self._slices: dict[str, slice] = {}
        rows = []
        start = 0
        for head in heads:
            rows.append(head.coef.astype(np.float32))
            self._slices[head.name] = slice(start, start + head.coef.shape[0])
            start += head.coef.shape[0]
        self._weights = np.ascontiguousarray(np.vstack(rows).T)
        self._bias = np.concatenate([h.intercept.astype(np.float32) for h in heads])

    def classes(self, name: str) -> tuple[str, ...]:
        """Class order of the probabilities ``predict`` returns for a head."""
        return (self.stacked.get(name) or self.heads[name]).classes

    def predict(self, prepared: Sequence[Prepared]) -> dict[str, np.ndarray]:
        """Probabilities per head, shape (n, n_classes), classes in ``heads[name].classes``."""
        x = self.featurizer.transform(prepared)
        scores = np.asarray(x @ self._weights) + self._bias
        base = {name: head_probs(head, scores[:, self._slices[name]])
                for name, head in self.heads.items()}
        if not self.stacked:
            return base
        inputs = stack_inputs(base, prepared)
        out = dict(base)
        for name, head in self.stacked.items():
            # Row-wise products: a row's result must not depend on the batch it came in.
            z = (inputs[:, None, :] * head.coef[None, :, :]).sum(axis=2) + head.intercept
            out[name] = head_probs(head, z)
        return out

    def save(self, path: Path) -> None:
        arrays = self.featurizer.to_arrays()
        for head in self.heads.values():
            arrays[f"{head.name}__classes"] = np.array(head.classes, dtype=np.str_)
            arrays[f"{head.name}__coef"] = head.coef.astype(np.float16)
            arrays[f"{head.name}__intercept"] = head.intercept.astype(np.float32)
        for head in self.stacked.values():
            arrays[f"stack_{head.name}__classes"] = np.array(head.classes, dtype=np.str_)
            arrays[f"stack_{head.name}__coef"] = head.coef.astype(np.float32)
            arrays[f"stack_{head.name}__intercept"] = head.intercept.astype(np.float32)
        keys = sorted(self.term_idf)
        arrays["term_keys"] = np.array(keys, dtype=np.int64)
        arrays["term_idf"] = np.array([self.term_idf[k] for k in keys], dtype=np.float16)
        arrays["meta"] = np.array(json.dumps(self.meta, sort_keys=True))
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as fh:
            np.savez_compressed(fh, **arrays)  # type: ignore[arg-type]

    @classmethod
    def load(cls, path: Path) -> TextModels:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        heads = [
            Head(name, tuple(str(c) for c in arrays[f"{name}__classes"]),
                 arrays[f"{name}__coef"].astype(np.float32),
                 arrays[f"{name}__intercept"].astype(np.float32))
            for name in HEADS
        ]
        stacked = [
            Head(name, tuple(str(c) for c in arrays[f"stack_{name}__classes"]),
                 arrays[f"stack_{name}__coef"], arrays[f"stack_{name}__intercept"])
            for name in STACKED_HEADS if f"stack_{name}__coef" in arrays
        ]
        meta = json.loads(str(arrays["meta"]))
        meta["digest"] = hashlib.sha256(path.read_bytes()).hexdigest()[:10]
        term_idf: dict[int, float] = {}
        if "term_keys" in arrays:
            term_idf = dict(zip(arrays["term_keys"].tolist(),
                                arrays["term_idf"].astype(np.float32).tolist(), strict=True))
        return cls(Featurizer.from_arrays(arrays), heads, meta, stacked, term_idf)

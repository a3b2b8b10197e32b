"""Features shared by training and inference: TF-IDF words and characters plus cue tokens.

Word n-grams carry meaning, character n-grams survive typos, slang and missing accents, and
a handful of synthetic tokens (``__rating_1``, ``__kind_review``, ``__cue_toxic``, ``__q``)
let the linear models use the star rating, the message kind and the lexicon cues. Words in
the scope of a negation get a ``neg_`` twin ("pas terrible" -> ``neg_terrible``), so "not
bad" stops reading like "bad". Praise words next to a failure, ironic emoji, shouting and
stretched words get tokens of their own: they are how sarcasm and anger show in short posts.
The vectorizers are rebuilt from arrays stored in the model file, so nothing is unpickled;
``transform`` caches each word's character n-gram columns, as most words recur.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from pipeline.enrich.lexicons import cues
from pipeline.enrich.text import for_model

_EMOJI_POS = re.compile("[😀😁😂😃😄😊😍🥰😘👍👏🙏❤💯🔥✨🎉🙌💪⭐🤩😎🥳💕💖]")
_EMOJI_NEG = re.compile("[😡😠🤬😤😞😢😭👎💩🙄😒😩😫🤮😑😬]")
_UPPER = re.compile(r"[A-ZÀ-Ý]")
_LETTERS = re.compile(r"[^\W\d_]")
_PLACEHOLDER = re.compile(r"\[(EMAIL|PHONE|CARD|IBAN|ORDER_ID)\]")
_EMOJI_IRONY = re.compile("[🙃🙄😒👌😏🤡]")
_STRETCHED = re.compile(r"([^\W\d_])\1{2,}")
_CAPS_WORD = re.compile(r"\b[A-ZÀ-Ý]{4,}\b")
_SCOPE_END = re.compile(r"[.,;:!?()\[\]«»\"]")
_WORD_TOKEN = re.compile(r"\w+n't\b|\w+'?|[.,;:!?()\"]")
# Negators after accent folding and elision splitting ("n' est" -> "n'"). French "plus" and
# "personne" are too ambiguous alone and only count after "ne"/"n'".
_NEGATORS = frozenset(
    "not no never nothing nobody none nor cannot cant dont doesnt didnt isnt wasnt arent "
    "werent wont wouldnt couldnt shouldnt havent hasnt aint hardly without "
    "pas jamais rien aucun aucune ni sans guere".split()
)
_NEG_SUFFIX = "n't"
_NEG_SCOPE = 3


@dataclass(frozen=True, slots=True)
class Doc:
    """What the models see of one message."""

    text: str
    kind: str
    platform: str
    rating: int | None
    lang: str


def meta_tokens(doc: Doc, model_text: str, found: dict[str, int]) -> list[str]:
    """Synthetic tokens for facts a bag of words cannot see by itself."""
    tokens = [f"__kind_{doc.kind}", f"__plat_{doc.platform}", f"__lang_{doc.lang}"]
    if doc.rating is not None:
        tokens.append(f"__rating_{doc.rating}")
        tokens.append("__rated_low" if doc.rating <= 2 else
                      "__rated_high" if doc.rating >= 4 else "__rated_mid")
    raw = doc.text
    if "?" in raw:
        tokens.append("__q")
    if "!!" in raw or "?!" in raw:
        tokens.append("__excl")
    upper = len(_UPPER.findall(raw))
    if upper >= 8 and upper > 0.6 * len(_LETTERS.findall(raw)):
        tokens.append("__caps")
    if _CAPS_WORD.search(raw):
        tokens.append("__caps_word")
    if _STRETCHED.search(raw):
        tokens.append("__stretched")
    pos_emoji = _EMOJI_POS.search(raw) is not None
    if pos_emoji:
        tokens.append("__emo_pos")
    if _EMOJI_NEG.search(raw):
        tokens.append("__emo_neg")
    if _EMOJI_IRONY.search(raw):
        tokens.append("__emo_irony")
    if "xurlx" in model_text:
        tokens.append("__url")
    for name in _PLACEHOLDER.findall(raw):
        tokens.append(f"__pii_{name.lower()}")
    failure = found.keys() & {"negative", "outage", "angry"}
    if "positive" in found and failure:
        tokens.append("__mixed_pos_neg")  # praise words around a failure: often sarcasm
    if failure and pos_emoji:
        tokens.append("__mixed_emo_neg")
    for family, hits in found.items():
        tokens.append(f"__cue_{family}")
        if hits > 1:
            tokens.append(f"__cue_{family}_many")
    words = len(model_text.split())
    tokens.append("__len_short" if words <= 6 else "__len_long" if words >= 40 else "__len_mid")
    return tokens


@dataclass(slots=True)
class Prepared:
    """Per-message intermediate values, reused by the rules after the models ran."""

    doc: Doc
    model_text: str
    cues: dict[str, int]
    word_doc: str


def negation_tokens(model_text: str) -> list[str]:
    """``neg_<word>`` for the few words after a negator, up to the next punctuation.

    French "ne ... plus/personne" counts too; the plain word stays in the text, so a model
    sees both "terrible" and that it was negated.
    """
    out: list[str] = []
    left = 0
    after_ne = False
    for token in _WORD_TOKEN.findall(model_text):
        if _SCOPE_END.fullmatch(token):
            left = 0
            after_ne = False
            continue
        word = token.rstrip("'")
        if word in _NEGATORS or token.endswith(_NEG_SUFFIX) \
                or (after_ne and word in ("plus", "personne")):
            left = _NEG_SCOPE
            continue
        if word in ("ne", "n"):
            after_ne = True
            continue
        if left:
            out.append("neg_" + word)
            left -= 1
    return out


def prepare(doc: Doc) -> Prepared:
    model_text = for_model(doc.text)
    found = cues(model_text)
    extra = meta_tokens(doc, model_text, found) + negation_tokens(model_text)
    word_doc = model_text + " " + " ".join(extra)
    return Prepared(doc, model_text, found, word_doc)


WORD_PARAMS: dict[str, object] = {
    "analyzer": "word", "ngram_range": (1, 2), "sublinear_tf": True, "lowercase": False,
    "token_pattern": r"(?u)\b\w+\b|[^\w\s]",
}
CHAR_PARAMS: dict[str, object] = {
    "analyzer": "char_wb", "ngram_range": (3, 5), "sublinear_tf": True, "lowercase": False,
}


def _rebuild(params: dict[str, object], vocab: np.ndarray, idf: np.ndarray,
             ngram: np.ndarray) -> TfidfVectorizer:
    """A fitted vectorizer from stored arrays; the n-gram range comes from the file too."""
    settings = {**params, "ngram_range": (int(ngram[0]), int(ngram[1]))}
    vectorizer = TfidfVectorizer(**settings,
                                 vocabulary={str(t): i for i, t in enumerate(vocab)},
                                 dtype=np.float32)
    vectorizer.idf_ = idf.astype(np.float64)
    return vectorizer


_CACHE_WORDS = 200_000


class Featurizer:
    """Two fitted TF-IDF vectorizers side by side (words with cue tokens, characters)."""

    def __init__(self, word: TfidfVectorizer, char: TfidfVectorizer) -> None:
        self.word = word
        self.char = char
        self._char_analyze = char.build_analyzer()
        self._char_cols: dict[str, list[int]] = {}
        self._char_idf = char.idf_.astype(np.float32)

    @classmethod
    def fit(cls, prepared: Sequence[Prepared], max_word: int, max_char: int,
            min_df: int = 2) -> Featurizer:
        word = TfidfVectorizer(**WORD_PARAMS, max_features=max_word, min_df=min_df,
                               dtype=np.float32)
        char = TfidfVectorizer(**CHAR_PARAMS, max_features=max_char, min_df=min_df,
                               dtype=np.float32)
        word.fit([p.word_doc for p in prepared])
        char.fit([p.model_text for p in prepared])
        return cls(word, char)

    def transform(self, prepared: Sequence[Prepared]) -> sp.csr_matrix:
        words = self.word.transform([p.word_doc for p in prepared])
        chars = self.char_transform([p.model_text for p in prepared])
        return sp.hstack([words, chars], format="csr")

    def char_transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        """Same matrix as ``self.char.transform``, built from per-word cached columns.

        ``char_wb`` n-grams never cross a space, so a text's n-grams are the union of its
        words' n-grams; the columns of each word are looked up once and then reused.
        """
        vocab = self.char.vocabulary_
        cache = self._char_cols
        if len(cache) > _CACHE_WORDS:
            cache.clear()
        cols: list[int] = []
        lengths = np.zeros(len(texts), dtype=np.int64)
        for i, text in enumerate(texts):
            start = len(cols)
            for word in text.split():
                found = cache.get(word)
                if found is None:
                    found = [vocab[g] for g in self._char_analyze(word) if g in vocab]
                    cache[word] = found
                cols.extend(found)
            lengths[i] = len(cols) - start
        rows = np.repeat(np.arange(len(texts), dtype=np.int32), lengths)
        matrix = sp.csr_matrix(
            (np.ones(len(cols), dtype=np.float32), (rows, np.asarray(cols, dtype=np.int32))),
            shape=(len(texts), len(vocab)), dtype=np.float32)
        matrix.sum_duplicates()
        matrix.data = (np.log(matrix.data) + 1.0) * self._char_idf[matrix.indices]
        return normalize(matrix, copy=False)

    @property
    def n_features(self) -> int:
        return len(self.word.vocabulary_) + len(self.char.vocabulary_)

    def to_arrays(self) -> dict[str, np.ndarray]:
        arrays: dict[str, np.ndarray] = {}
        for name, vec in (("word", self.word), ("char", self.char)):
            vocab = sorted(vec.vocabulary_, key=lambda t: vec.vocabulary_[t])
            arrays[f"{name}_vocab"] = np.array(vocab, dtype=np.str_)
            arrays[f"{name}_idf"] = vec.idf_.astype(np.float32)
            arrays[f"{name}_ngram"] = np.array(vec.ngram_range, dtype=np.int32)
        return arrays

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> Featurizer:
        return cls(_rebuild(WORD_PARAMS, arrays["word_vocab"], arrays["word_idf"],
                            arrays["word_ngram"]),
                   _rebuild(CHAR_PARAMS, arrays["char_vocab"], arrays["char_idf"],
                            arrays["char_ngram"]))

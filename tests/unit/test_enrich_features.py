"""Features and decision rules of the enrichment stage: negation, sarcasm cues, one-pass cue
scanning, cached character n-grams, labelling conventions and stored thresholds."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from pipeline.enrich import EnrichConfig, Enricher
from pipeline.enrich.classifier import TextModels
from pipeline.enrich.config import DEFAULT_MODEL_PATH
from pipeline.enrich.enricher import _agree, brand_pattern, consistent_flags
from pipeline.enrich.features import Doc, Featurizer, meta_tokens, negation_tokens, prepare
from pipeline.enrich.lexicons import cues, lexicons
from pipeline.enrich.text import for_model, strip_accents
from pipeline.enrich.train import THRESHOLD_GRID, Example, choose_thresholds
from schemas.models import Enrichment, Intent, Kind, Platform, SocialEvent, Urgency


def tokens_of(text: str) -> list[str]:
    return prepare(Doc(text, "comment", "x", None, "en")).word_doc.split()


@pytest.mark.parametrize(("text", "negated"), [
    ("C'est pas terrible, vraiment.", ["neg_terrible"]),
    ("not bad at all", ["neg_bad", "neg_at", "neg_all"]),
    ("I don't like it", ["neg_like", "neg_it"]),
    ("Je ne suis plus client", ["neg_client"]),
    ("rien ne marche", ["neg_marche"]),
])
def test_words_after_a_negator_get_a_negated_twin(text: str, negated: list[str]) -> None:
    assert negation_tokens(for_model(text)) == negated


def test_negation_scope_stops_at_punctuation_and_after_three_words() -> None:
    assert negation_tokens(for_model("not good. great food")) == ["neg_good"]
    assert negation_tokens(for_model("never had a cold meal here")) == ["neg_had", "neg_a",
                                                                         "neg_cold"]


def test_plain_words_stay_when_negated() -> None:
    assert {"terrible", "neg_terrible"} <= set(tokens_of("pas terrible"))


def test_message_without_negator_has_no_negated_tokens() -> None:
    assert negation_tokens(for_model("super service, merci beaucoup")) == []


@pytest.mark.parametrize(("text", "token"), [
    ("Bravo, encore une panne 🙃", "__emo_irony"),
    ("Great job 👏 the app crashed again and my order is lost", "__mixed_emo_neg"),
    ("this is UNACCEPTABLE", "__caps_word"),
    ("noooooon pas encore", "__stretched"),
])
def test_sarcasm_and_shouting_cues_become_tokens(text: str, token: str) -> None:
    assert token in tokens_of(text)


def test_calm_message_has_no_shouting_or_irony_tokens() -> None:
    found = set(meta_tokens(Doc("Merci pour la livraison rapide", "comment", "x", None, "fr"),
                            for_model("Merci pour la livraison rapide"), {}))
    assert not found & {"__emo_irony", "__caps_word", "__stretched", "__mixed_emo_neg"}


@pytest.mark.parametrize("text", [
    "the app is down again, can't log in, i'm switching to another bank",
    "vous êtes des voleurs, je porte plainte, remboursez moi",
    "WIN a free iphone!!! click the link www.example.com",
    "merci pour le remboursement rapide de la fraude sur ma carte",
    "",
])
def test_one_pass_cue_scan_finds_every_family_the_per_family_patterns_find(text: str) -> None:
    model_text = for_model(text)
    separate = {family for family, pattern in lexicons().items() if pattern.search(model_text)}
    assert set(cues(model_text)) == separate


def test_a_phrase_inside_a_longer_phrase_still_counts_for_its_family() -> None:
    found = cues(for_model("after the update i can't log in anymore"))
    assert "outage" in found
    assert "negative" in found  # "can't" on its own is a negative cue


def test_cached_char_ngrams_equal_the_vectorizer_output() -> None:
    featurizer = TextModels.load(DEFAULT_MODEL_PATH).featurizer
    texts = [for_model(t) for t in ("Ma commande est arrivée froide", "app crashed again!!",
                                    "", "   ", "z", "Ma commande est arrivée froide 😡")]
    expected = featurizer.char.transform(texts).toarray()
    first = featurizer.char_transform(texts).toarray()
    cached = featurizer.char_transform(texts).toarray()  # second call reads the word cache
    np.testing.assert_allclose(first, expected, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(cached, first)


@pytest.mark.parametrize(("intent", "flags", "expected"), [
    (Intent.question, (False, False), (True, False)),
    (Intent.question, (False, True), (True, True)),
    (Intent.praise, (True, True), (False, True)),
    (Intent.spam, (True, True), (False, False)),
    (Intent.complaint, (False, True), (False, True)),
    (Intent.toxic, (True, False), (True, False)),
])
def test_labelling_conventions_tie_flags_to_the_intent(
        intent: Intent, flags: tuple[bool, bool], expected: tuple[bool, bool]) -> None:
    assert consistent_flags(intent, *flags) == expected


def _event(text: str, n: int) -> SocialEvent:
    return SocialEvent(event_id=f"x:{n}", platform=Platform.x, kind=Kind.comment,
                       source="test", platform_item_id=str(n), conversation_id=str(n),
                       brand="Croque", text=text, created_at=datetime(2025, 3, 1, tzinfo=UTC))


def test_enriched_praise_is_never_actionable_and_questions_always_are() -> None:
    out = Enricher().enrich_many([
        _event("Livraison ultra rapide et burger parfait, merci Croque, au top ! 😍", 1),
        _event("Comment je change l'adresse de livraison de ma commande ?", 2),
    ])
    assert (out[0].intent, out[0].actionable) == (Intent.praise, False)
    assert (out[1].intent, out[1].actionable) == (Intent.question, True)


def test_thresholds_stored_with_the_model_decide_the_binary_flags(tmp_path: Path) -> None:
    models = TextModels.load(DEFAULT_MODEL_PATH)
    text = "Le site plante au paiement, page blanche, testé sur deux navigateurs"

    def with_thresholds(value: float) -> Enricher:
        meta = {**models.meta, "thresholds": {"crisis": value, "feature_specific": value}}
        path = tmp_path / f"m{value}.npz"
        TextModels(models.featurizer, list(models.heads.values()), meta,
                   list(models.stacked.values())).save(path)
        return Enricher(EnrichConfig(model_path=path, crisis_threshold=None, incidents=False))

    never, always = with_thresholds(1.01), with_thresholds(0.0)
    assert (never.enrich(_event(text, 3)).crisis_signal,
            always.enrich(_event(text, 3)).crisis_signal) == (False, True)
    assert always.enrich(_event(text, 4)).feature_specific is True
    configured = Enricher(EnrichConfig(model_path=tmp_path / "m1.01.npz", crisis_threshold=0.0,
                                       incidents=False))
    assert configured.enrich(_event(text, 3)).crisis_signal is True  # the setting wins


def test_a_per_intent_threshold_applies_to_messages_of_that_intent(tmp_path: Path) -> None:
    models = TextModels.load(DEFAULT_MODEL_PATH)
    insult = "Vous êtes des voleurs et des incapables, rendez-moi mon argent"
    meta = {**models.meta, "thresholds": {"actionable": 1.01, "actionable@toxic": 0.0}}
    path = tmp_path / "per-intent.npz"
    TextModels(models.featurizer, list(models.heads.values()), meta,
               list(models.stacked.values())).save(path)
    out = Enricher(EnrichConfig(model_path=path)).enrich(_event(insult, 3))
    assert out.intent is Intent.toxic and out.actionable is True


def test_unvalidated_output_equals_its_validated_copy() -> None:
    out = Enricher().enrich_many([
        _event("Ma commande n° 4588123 est arrivée froide, remboursez-moi !!", 5),
        _event("WIN a free iphone, click www.example.com", 6),
        _event("😍", 7),
    ])
    for enrichment in out:
        assert Enrichment.model_validate_json(enrichment.model_dump_json()) == enrichment
        assert all(type(getattr(enrichment, f)) is bool
                   for f in ("crisis_signal", "actionable", "feature_specific", "needs_review"))


def test_thresholds_are_chosen_on_held_out_files_for_every_binary_head() -> None:
    texts = [("the app is down for everyone tonight", "1"), ("love the new colours", "0"),
             ("outage again, nobody can pay", "1"), ("thanks for the quick delivery", "0")]
    examples = [
        Example(Doc(f"{text} {n}", "comment", "x", None, "en"),
                {"crisis": label, "actionable": label, "feature_specific": label},
                f"file_{n % 5}.jsonl")
        for n in range(40) for text, label in [texts[n % 4]]
    ]
    prepared = [prepare(ex.doc) for ex in examples]
    featurizer = Featurizer.fit(prepared, 500, 500, min_df=1)
    chosen = choose_thresholds(featurizer.transform(prepared),
                               len(featurizer.word.vocabulary_), examples, folds=5)
    assert set(chosen) == {"crisis", "actionable", "feature_specific"}
    assert all(value in THRESHOLD_GRID for value in chosen.values())


@pytest.mark.parametrize(("brand", "text", "found"), [
    ("Nuvia Mobile", "@NuviaMobile_Care send us your PIN to fix your bill", True),
    ("Banque Azur", "BANQUE AZUR : votre carte va expirer, mettez à jour vos infos", True),
    ("Nuvia Mobile", "cheap mobile plans, DM me", False),
    ("Banque Azur", "Crédit sans banque, taux 2%, réponse immédiate sur WhatsApp", False),
])
def test_brand_pattern_finds_the_brand_not_its_generic_words(brand: str, text: str,
                                                             found: bool) -> None:
    assert bool(brand_pattern(brand).search(strip_accents(text.lower()))) is found


def test_spam_in_the_brands_name_is_urgent_and_a_generic_scam_is_not() -> None:
    out = Enricher().enrich_many([
        _event("Croque Support : vous avez droit à un remboursement de 25€, envoyez votre "
               "numéro de carte en DM", 8),
        _event("Make money online with NO experience needed 💰 DM me 'INFO' 📩", 9),
    ])
    assert [e.intent for e in out] == [Intent.spam, Intent.spam]
    assert [e.urgency for e in out] == [Urgency.high, Urgency.low]
    assert out[0].urgency_reasons == ["fraud", "brand_impersonation"]


@pytest.mark.parametrize(("intent", "label", "expected"), [
    (Intent.feature_request, "positive", "neutral"),   # "Great app! Please add ..."
    (Intent.spam, "positive", "neutral"),              # "Earn free crypto!"
    (Intent.complaint, "positive", "negative"),        # "Génial, encore une panne"
    (Intent.praise, "negative", "positive"),
    (Intent.complaint, "neutral", "neutral"),          # a calm complaint stays neutral
    (Intent.question, "positive", "positive"),         # questions carry any sentiment
])
def test_a_confident_intent_sets_the_sentiment_its_labelling_convention_gives(
        intent: Intent, label: str, expected: str) -> None:
    assert _agree(intent, 0.9, label, 0.5, 0.8)[0] == expected
    assert _agree(intent, 0.3, label, 0.5, 0.8)[0] == label  # unsure intent: head decides

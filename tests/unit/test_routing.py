"""Routing rules: the default conventions, the rule-file checks, and the records a plan builds."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from pipeline.routing import (
    DEFAULT_RULES_PATH,
    Decision,
    RuleError,
    RuleSet,
    command_id,
    load_default_rules,
    outputs_for_topics,
    parse_rules,
    plan,
)
from pipeline.routing.check_conventions import DEFAULT_DATA, evaluate, read_rows
from schemas.models import (
    Action,
    Author,
    AuthorTier,
    EnrichedEvent,
    Enrichment,
    Kind,
    PiiKind,
    Platform,
    Route,
    SocialEvent,
)

R = Route


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return load_default_rules()


def make(
    text: str = "Ma commande n'est jamais arrivée",
    *,
    redacted: str | None = None,
    platform: Platform = Platform.x,
    kind: Kind = Kind.mention,
    action: Action = Action.created,
    brand: str = "Croque",
    is_brand: bool = False,
    rating: int | None = None,
    **enrichment: Any,
) -> EnrichedEvent:
    """An enriched event with plausible defaults; keyword arguments override enrichment fields."""
    fields: dict[str, Any] = {
        "model_version": "test", "lang": "fr", "sentiment": "negative", "sentiment_score": -0.6,
        "intent": "complaint", "product_area": "delivery", "urgency": "medium",
        "redacted_text": redacted if redacted is not None else text,
    }
    fields.update(enrichment)
    event = SocialEvent(
        event_id="x:123", platform=platform, kind=kind, action=action, source="test",
        platform_item_id="123", conversation_id="conv-9", brand=brand,
        author=Author(handle="@marie", name="Marie", followers=120, is_brand=is_brand),
        text=text, rating=rating, created_at=datetime(2025, 3, 1, 20, 30, tzinfo=UTC),
        url="https://x.com/marie/status/123",
    )
    return EnrichedEvent(event=event, enrichment=Enrichment(**fields))


# ------------------------------------------------------------------------ default conventions


@pytest.mark.parametrize(
    ("enrichment", "expected"),
    [
        ({"intent": "complaint", "actionable": True}, [R.crm_ticket]),
        ({"intent": "complaint", "actionable": True, "feature_specific": True},
         [R.crm_ticket, R.product_feedback]),
        ({"intent": "complaint", "actionable": False, "feature_specific": True},
         [R.product_feedback]),
        ({"intent": "question", "actionable": False}, [R.crm_ticket]),
        ({"intent": "question", "actionable": True, "crisis_signal": True},
         [R.crisis_watch, R.crm_ticket]),
        ({"intent": "feature_request"}, [R.product_feedback]),
        ({"intent": "praise", "sentiment": "positive"}, [R.none]),
        ({"intent": "praise", "feature_specific": True}, [R.product_feedback]),
        ({"intent": "praise", "crisis_signal": True}, [R.crisis_watch]),
        ({"intent": "spam", "actionable": True}, [R.moderation]),
        ({"intent": "spam", "crisis_signal": True}, [R.crisis_watch, R.moderation]),
        ({"intent": "toxic"}, [R.moderation]),
        ({"intent": "toxic", "actionable": True}, [R.crm_ticket, R.moderation]),
        ({"intent": "toxic", "actionable": True, "crisis_signal": True},
         [R.crisis_watch, R.crm_ticket, R.moderation]),
        ({"intent": "other"}, [R.none]),
        ({"intent": "other", "crisis_signal": True}, [R.crisis_watch]),
    ],
)
def test_default_rules_route_each_intent_by_the_labelling_conventions(
    rules: RuleSet, enrichment: dict[str, Any], expected: list[Route]
) -> None:
    assert rules.decide(make(**enrichment)).routes == expected


def test_brand_own_echo_is_dropped_even_when_it_looks_like_a_complaint(rules: RuleSet) -> None:
    decision = rules.decide(make(is_brand=True, actionable=True, crisis_signal=True))
    assert decision.dropped
    assert decision.routes == [R.none]
    assert decision.matched == ["brand-own-posts"]
    assert plan(make(is_brand=True), decision).ticket is None


def test_deleted_item_is_dropped(rules: RuleSet) -> None:
    deleted = make(action=Action.deleted, actionable=True, crisis_signal=True)
    decision = rules.decide(deleted)
    assert decision.dropped and decision.matched == ["deleted-items"]
    routed = plan(deleted, decision)
    assert (routed.ticket, routed.feedback, routed.moderation, routed.crisis) == (
        None, None, None, None)
    assert outputs_for_topics(routed) == []


def test_billing_complaint_goes_to_billing_queue(rules: RuleSet) -> None:
    decision = rules.decide(make(product_area="billing", actionable=True))
    assert decision.ticket is not None
    assert decision.ticket.queue == "billing"


def test_urgent_complaint_gets_priority_two_and_urgent_tag(rules: RuleSet) -> None:
    decision = rules.decide(make(urgency="high", actionable=True))
    assert decision.ticket is not None
    assert decision.ticket.priority == 2
    assert "urgent" in decision.ticket.tags
    assert plan(make(urgency="high", actionable=True), decision).ticket.priority == 2  # type: ignore[union-attr]


def test_urgent_influencer_is_priority_one_on_the_social_media_queue(rules: RuleSet) -> None:
    decision = rules.decide(
        make(urgency="high", actionable=True, author_tier=AuthorTier.celebrity))
    assert decision.ticket is not None
    assert (decision.ticket.priority, decision.ticket.queue) == (1, "social-media")


def test_ticket_settings_alone_never_open_a_ticket(rules: RuleSet) -> None:
    decision = rules.decide(make(intent="praise", urgency="high", product_area="billing"))
    assert decision.ticket is None
    assert "urgent" in decision.matched and "billing-queue" in decision.matched


def test_low_confidence_sets_review_without_changing_routes(rules: RuleSet) -> None:
    enriched = make(intent="question", needs_review=True)
    decision = rules.decide(enriched)
    assert decision.review and decision.routes == [R.crm_ticket]
    ticket = plan(enriched, decision).ticket
    assert ticket is not None and "needs-review" in ticket.tags


# ------------------------------------------------------------------------ the rule language


def test_rating_comparison_any_and_brand_conditions() -> None:
    ruleset = parse_rules("""
rules:
  - name: angry-review
    when:
      kind: review
      rating: {lte: 2}
      brand: {in: [croque, Kairo]}
      any:
        - urgency: {gte: medium}
        - lang: {not_in: [fr, en]}
    then:
      crm_ticket: {queue: reviews, priority: 2, tags: [low-rating]}
""")
    hit = make(kind=Kind.review, rating=1, platform=Platform.trustpilot)
    assert ruleset.decide(hit).routes == [R.crm_ticket]
    assert ruleset.decide(make(kind=Kind.review, rating=3)).routes == [R.none]
    assert ruleset.decide(make(kind=Kind.review, rating=None)).routes == [R.none]
    assert ruleset.decide(make(kind=Kind.review, rating=1, urgency="low")).routes == [R.none]
    assert ruleset.decide(make(kind=Kind.review, rating=1, brand="Nuvia")).routes == [R.none]
    assert ruleset.decide(
        make(kind=Kind.review, rating=1, urgency="low", lang="other")).routes == [R.crm_ticket]


def test_stop_ends_evaluation_and_accumulation_merges_tickets() -> None:
    ruleset = parse_rules("""
rules:
  - name: a
    when: {urgency: high}
    then: {ticket: {priority: 1, tags: [urgent]}}
  - name: b
    when: {intent: complaint}
    then: {crm_ticket: {queue: first, priority: 3, tags: [c]}, stop: true}
  - name: c
    when: {intent: {in: [complaint, question]}}
    then: {product_feedback: true}
""")
    decision = ruleset.decide(make(urgency="high"))
    assert decision.matched == ["a", "b"]
    assert decision.routes == [R.crm_ticket]
    assert decision.ticket is not None
    assert (decision.ticket.queue, decision.ticket.priority, decision.ticket.tags) == (
        "first", 1, ["urgent", "c"])


def test_rating_null_means_no_rating() -> None:
    ruleset = parse_rules(
        "rules:\n  - name: unrated\n    when: {rating: null}\n    then: {review: true}\n")
    assert ruleset.decide(make(rating=None)).review
    assert not ruleset.decide(make(kind=Kind.review, rating=4)).review


# ------------------------------------------------------------------------ rule-file errors


def problems_of(text: str) -> list[tuple[int, str | None, str]]:
    with pytest.raises(RuleError) as caught:
        parse_rules(text, "rules.yaml")
    return [(p.line, p.rule, p.message) for p in caught.value.problems]


def test_yaml_syntax_error_names_its_line() -> None:
    [(line, rule, message)] = problems_of("rules:\n  - name: a\n    when: {intent: [x\n")
    assert line == 4 and rule is None and "YAML syntax" in message


def test_unknown_field_is_reported_with_line_rule_and_known_fields() -> None:
    [(line, rule, message)] = problems_of(
        "rules:\n  - name: a\n    when:\n      colour: red\n    then: {review: true}\n")
    assert (line, rule) == (4, "a")
    assert "unknown condition field 'colour'" in message and "product_area" in message


def test_bad_enum_value_lists_the_allowed_values() -> None:
    [(line, rule, message)] = problems_of(
        "rules:\n  - name: a\n    when: {intent: complain}\n    then: {review: true}\n")
    assert (line, rule) == (3, "a")
    assert "'complain'" in message and "complaint, question, feature_request" in message


def test_bad_priority_unknown_action_and_wrong_type_are_reported_together() -> None:
    found = problems_of("""\
version: 1
rules:
  - name: ok
    when: {intent: spam}
    then: {moderation: true}
  - name: bad-ticket
    when: {intent: complaint}
    then:
      crm_ticket:
        queue: support
        priority: 9
      escalate: true
  - name: bad-types
    when:
      actionable: "yes please"
      rating: {lte: high}
      urgency: {gt: low, near: high}
    then: {moderation: maybe}
""")
    by_line = {(line, rule): message for line, rule, message in found}
    assert "less than or equal to 5" in by_line[(11, "bad-ticket")]
    assert "unknown action 'escalate'" in by_line[(12, "bad-ticket")]
    assert "actionable" in by_line[(15, "bad-types")]
    assert "rating" in by_line[(16, "bad-types")]
    assert "unknown operator 'near'" in by_line[(17, "bad-types")]
    assert "moderation" in by_line[(18, "bad-types")]
    assert len(found) == 6


def test_unreachable_rule_behind_a_broader_stop_or_drop_rule_is_reported() -> None:
    found = problems_of("""\
rules:
  - name: spam
    when: {intent: {in: [spam, toxic]}}
    then: {moderation: true, stop: true}
  - name: french-spam
    when: {intent: spam, lang: fr}
    then: {crm_ticket: true}
  - name: brand
    when: {author_is_brand: true}
    then: {drop: true}
  - name: brand-or-spam
    when:
      any:
        - {author_is_brand: true, urgency: high}
        - {intent: toxic}
    then: {review: true}
  - name: still-reachable
    when:
      any:
        - {intent: spam}
        - {intent: question}
    then: {review: true}
  - name: never
    when: {rating: {gt: 4, lt: 3}}
    then: {review: true}
""")
    assert [(line, rule) for line, rule, _ in found] == [
        (5, "french-spam"), (11, "brand-or-spam"), (23, "never")]
    assert "rule 'spam' (line 2) matches every event" in found[0][2] and "stops" in found[0][2]
    assert "rules 'spam' (line 2), 'brand' (line 8) match every event" in found[1][2]
    assert "can never match" in found[2][2] and "rating" in found[2][2]


def test_non_stopping_broader_rule_does_not_make_later_rules_unreachable() -> None:
    parse_rules("""
rules:
  - name: all-complaints
    when: {intent: complaint}
    then: {crm_ticket: true}
  - name: billing-complaints
    when: {intent: complaint, product_area: billing}
    then: {crm_ticket: {queue: billing}}
""")


def test_drop_with_other_actions_duplicate_names_and_duplicate_keys_are_reported() -> None:
    found = problems_of("""\
rules:
  - name: a
    when: {author_is_brand: true}
    then: {drop: true, crm_ticket: true}
  - name: a
    when: {intent: spam}
    when: {intent: toxic}
    then: {moderation: true}
""")
    messages = {line: message for line, _, message in found}
    assert "drop discards the event" in messages[4]
    assert "duplicate rule name" in messages[5]
    assert "duplicate key 'when'" in messages[7]


def test_empty_file_and_missing_then_are_reported() -> None:
    assert problems_of("")[0][2].startswith("empty rule file")
    [(line, rule, message)] = problems_of("rules:\n  - name: lonely\n    when: {intent: spam}\n")
    assert (line, rule, message) == (2, "lonely", "missing 'then'")


def test_cli_check_exits_nonzero_and_prints_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - name: a\n    when: {lang: de}\n    then: {review: true}\n")
    result = subprocess.run(
        [sys.executable, "-c",
         "import sys; from pipeline.routing.rules import main; "
         "sys.exit(main(sys.argv[1:]))", str(bad), str(DEFAULT_RULES_PATH)],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 1
    assert f"{bad}:line 3, rule 'a': lang: 'de' is not allowed" in result.stderr
    assert "17 rules OK" in result.stdout


# ------------------------------------------------------------------------ plan


def test_feedback_and_moderation_carry_only_the_redacted_text(rules: RuleSet) -> None:
    raw = "Commande CRQ-88412 : l'appli plante, rappelez-moi au 06 12 34 56 78"
    redacted = "Commande [ORDER_ID] : l'appli plante, rappelez-moi au [PHONE]"
    enriched = make(raw, redacted=redacted, pii=[PiiKind.order_id, PiiKind.phone],
                    actionable=True, feature_specific=True, product_area="app")
    routed = plan(enriched, rules.decide(enriched))
    assert routed.feedback is not None and routed.ticket is not None
    assert routed.feedback.redacted_text == redacted
    assert "CRQ-88412" not in routed.feedback.model_dump_json()
    assert "06 12 34 56 78" not in routed.feedback.model_dump_json()
    # Support needs the order number: the ticket body keeps the original text.
    assert routed.ticket.body.startswith(raw)
    assert "CRQ-88412" not in routed.ticket.title


def test_toxic_moderation_item_is_redacted(rules: RuleSet) -> None:
    enriched = make("t'es nul, mon mail x@y.fr", redacted="t'es nul, mon mail [EMAIL]",
                    intent="toxic", pii=[PiiKind.email])
    routed = plan(enriched, rules.decide(enriched))
    assert routed.moderation is not None and routed.ticket is None
    assert routed.moderation.redacted_text == "t'es nul, mon mail [EMAIL]"


def test_ticket_command_fields_and_topics(rules: RuleSet) -> None:
    enriched = make("x" * 500, actionable=True, feature_specific=True, crisis_signal=True,
                    urgency="low", product_area="app", rating=None)
    routed = plan(enriched, rules.decide(enriched))
    ticket = routed.ticket
    assert ticket is not None
    assert ticket.external_id == "x:conv-9"
    assert len(ticket.title) <= 200 and ticket.title.startswith("[Croque] x mention · complaint")
    assert ticket.priority == 4  # low urgency, no rule priority
    assert {"intent-complaint", "area-app", "lang-fr", "platform-x", "crisis"} <= set(ticket.tags)
    assert "Author: @marie (Marie)" in ticket.body and "URL: https://x.com" in ticket.body
    topics = [(name, key) for name, key, _ in outputs_for_topics(routed)]
    assert topics == [("crm.commands", "x:conv-9"), ("feedback.app", "x:123"),
                      ("crisis.signals", "Croque")]


def test_command_ids_are_deterministic_and_distinct_for_an_edit(rules: RuleSet) -> None:
    first = make(actionable=True)
    again = make(actionable=True)
    edit = make("Ma commande n'est jamais arrivée, toujours rien", action=Action.edited,
                actionable=True)
    second_edit = make("Toujours rien !", action=Action.edited, actionable=True)
    ids = [plan(e, rules.decide(e)).ticket.command_id  # type: ignore[union-attr]
           for e in (first, again, edit, second_edit)]
    assert ids[0] == ids[1] == command_id(first)
    assert len({ids[0], ids[2], ids[3]}) == 3
    assert plan(edit, rules.decide(edit)).ticket.action is Action.edited  # type: ignore[union-attr]


def test_plan_without_a_ticket_spec_uses_defaults() -> None:
    enriched = make(urgency="high")
    routed = plan(enriched, Decision(routes=[R.crm_ticket]))
    assert routed.ticket is not None
    assert (routed.ticket.queue, routed.ticket.priority) == ("support", 2)


# ------------------------------------------------------------------------ conventions on dev set


@pytest.mark.skipif(not DEFAULT_DATA.exists(), reason="shared dev set not available")
def test_default_rules_reproduce_the_dev_labels_when_enrichment_is_perfect(
    rules: RuleSet,
) -> None:
    report = evaluate(rules, list(read_rows(DEFAULT_DATA)))
    assert report.accuracy >= 0.98, report.misses[:5]


def test_readme_example_is_a_valid_rule_file() -> None:
    readme = (DEFAULT_RULES_PATH.parent / "README.md").read_text(encoding="utf-8")
    example = readme.split("```yaml\n", 1)[1].split("```", 1)[0]
    ruleset = parse_rules(example, "README.md")
    review = make(kind=Kind.review, rating=1, platform=Platform.trustpilot)
    decision = ruleset.decide(review)
    assert decision.routes == [R.crm_ticket] and decision.ticket is not None
    assert decision.ticket.queue == "reviews"

"""Routing as code: YAML rules decide where an enriched event goes; the plan builds the records.

Both halves are pure functions so that the route agent, dry-runs over recorded traffic and the
tests share exactly the same logic.
"""

from __future__ import annotations

from pathlib import Path

from .plan import (
    URGENCY_PRIORITY,
    RoutedOutputs,
    command_id,
    outputs_for_topics,
    plan,
    priority_for,
)
from .rules import (
    CONDITION_FIELDS,
    OPERATORS,
    Decision,
    Rule,
    RuleError,
    RuleProblem,
    RuleSet,
    TicketSpec,
    load_rules,
    parse_rules,
)

DEFAULT_RULES_PATH = Path(__file__).with_name("default_rules.yaml")


def load_default_rules() -> RuleSet:
    """The rules shipped with the package, for when no rule file is configured."""
    return load_rules(DEFAULT_RULES_PATH)


__all__ = [
    "CONDITION_FIELDS",
    "DEFAULT_RULES_PATH",
    "OPERATORS",
    "URGENCY_PRIORITY",
    "Decision",
    "RoutedOutputs",
    "Rule",
    "RuleError",
    "RuleProblem",
    "RuleSet",
    "TicketSpec",
    "command_id",
    "load_default_rules",
    "load_rules",
    "outputs_for_topics",
    "parse_rules",
    "plan",
    "priority_for",
]

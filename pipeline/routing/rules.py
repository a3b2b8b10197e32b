"""Routing rules as configuration: a YAML rule file, validated with line numbers, and its decision.

A rule file is the contract between community managers and the pipeline: it must be readable,
and a mistake in it must be caught at start-up (or by ``python -m pipeline.routing.rules FILE``)
with the line to fix, never discovered later as silently lost tickets. The language is documented
in ``pipeline/routing/README.md``.

Every condition is compiled to the set of values it allows (or, for ``brand``, an included or
excluded set of names). The same form drives matching and the static check that finds rules an
earlier ``stop``/``drop`` rule always catches first.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from schemas.models import (
    Action,
    AuthorTier,
    EnrichedEvent,
    Intent,
    Kind,
    Lang,
    Platform,
    ProductArea,
    Route,
    Sentiment,
    Urgency,
)

__all__ = [
    "CONDITION_FIELDS",
    "OPERATORS",
    "Actions",
    "BrandTest",
    "Conditions",
    "Decision",
    "Rule",
    "RuleError",
    "RuleProblem",
    "RuleSet",
    "TicketSettings",
    "TicketSpec",
    "load_rules",
    "main",
    "parse_rules",
]

DEFAULT_QUEUE = "support"

# Values each finite condition field can take, in their natural order (order matters only for
# the fields in _ORDERED, where lt/lte/gt/gte compare positions).
_UNIVERSES: dict[str, tuple[Any, ...]] = {
    "intent": tuple(Intent),
    "sentiment": tuple(Sentiment),
    "urgency": tuple(Urgency),
    "product_area": tuple(ProductArea),
    "lang": tuple(Lang),
    "platform": tuple(Platform),
    "kind": tuple(Kind),
    "action": tuple(Action),
    "author_tier": tuple(AuthorTier),
    "author_is_brand": (False, True),
    "rating": (None, 1, 2, 3, 4, 5),
    "duplicate": (False, True),
    "crisis": (False, True),
    "actionable": (False, True),
    "feature_specific": (False, True),
    "needs_review": (False, True),
    "has_pii": (False, True),
}
_ORDERED = frozenset({"rating", "urgency", "sentiment"})
_ORDER_OPS = ("lt", "lte", "gt", "gte")
OPERATORS: tuple[str, ...] = ("equals", "not_equals", "in", "not_in", *_ORDER_OPS)
CONDITION_FIELDS: tuple[str, ...] = (*_UNIVERSES, "brand")
_ACTION_NAMES = (
    "crm_ticket", "ticket", "product_feedback", "moderation", "crisis_watch", "review", "drop",
    "stop",
)
_TICKET_SETTINGS = ("queue", "priority", "tags", "assignee_group")
_RULE_KEYS = ("name", "description", "when", "then")


def _fail(message: str) -> PydanticCustomError:
    return PydanticCustomError("rule", message)


def _show(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, StrEnum):
        return value.value
    return str(value)


def _coerce(field: str, op: str, raw: object) -> object:
    """One value of a field as the events carry it, or a clear error naming the allowed ones."""
    universe = _UNIVERSES[field]
    for value in universe:
        # bool is an int subclass: compare types so that `rating: true` is not taken for 1.
        if type(raw) is type(value) and raw == value:
            return value
        if isinstance(value, StrEnum) and isinstance(raw, str) and raw == value.value:
            return value
    allowed = ", ".join(_show(v) for v in universe)
    shown = _show(raw) if op == "equals" else f"{op} {_show(raw)}"
    raise _fail(f"{field}: {shown!r} is not allowed; allowed values: {allowed}")


def _allowed_values(field: str, raw: object) -> frozenset[Any]:
    """Compile a condition (a value, or a mapping of operators) to the set of values it allows."""
    universe = _UNIVERSES[field]
    tests = raw if isinstance(raw, Mapping) else {"equals": raw}
    if not tests:
        raise _fail(f"{field}: give a value or an operator ({', '.join(OPERATORS)})")
    allowed = set(universe)
    for op, operand in tests.items():
        if op not in OPERATORS:
            raise _fail(f"{field}: unknown operator {op!r}; operators: {', '.join(OPERATORS)}")
        if op in ("in", "not_in"):
            if not isinstance(operand, list):
                raise _fail(f"{field}: {op} takes a list of values")
            values = {_coerce(field, op, item) for item in operand}
            allowed &= values if op == "in" else set(universe) - values
        elif op in _ORDER_OPS:
            if field not in _ORDERED:
                ordered = ", ".join(sorted(_ORDERED))
                raise _fail(f"{field}: {op} compares ordered fields only ({ordered})")
            if operand is None:
                raise _fail(f"{field}: {op} needs a value, not null")
            ranked = [v for v in universe if v is not None]
            pos = ranked.index(_coerce(field, op, operand))
            keep = {
                "lt": ranked[:pos], "lte": ranked[: pos + 1],
                "gt": ranked[pos + 1:], "gte": ranked[pos:],
            }[op]
            allowed &= set(keep)
        else:
            value = _coerce(field, op, operand)
            allowed &= {value} if op == "equals" else set(universe) - {value}
    return frozenset(allowed)


class BrandTest(BaseModel):
    """Brand names a condition accepts (``include``) or rejects; compared case-insensitively."""

    model_config = ConfigDict(frozen=True)

    include: bool
    names: frozenset[str]

    @classmethod
    def parse(cls, raw: object) -> BrandTest:
        tests = raw if isinstance(raw, Mapping) else {"equals": raw}
        if not tests:
            raise _fail("brand: give a name or an operator (equals, not_equals, in, not_in)")
        result = cls(include=False, names=frozenset())  # everything
        for op, operand in tests.items():
            if op in _ORDER_OPS or op not in OPERATORS:
                raise _fail(f"brand: unknown operator {op!r}; operators: equals, not_equals, "
                            "in, not_in")
            items = operand if op in ("in", "not_in") else [operand]
            if not isinstance(items, list) or not all(
                isinstance(i, str) and i.strip() for i in items
            ):
                raise _fail(f"brand: {op} takes " + (
                    "a list of brand names" if op in ("in", "not_in") else "a brand name"))
            names = frozenset(i.strip().casefold() for i in items)
            include = op in ("equals", "in")
            result = result.intersect(cls(include=include, names=names))
        return result

    def intersect(self, other: BrandTest) -> BrandTest:
        if self.include and other.include:
            return BrandTest(include=True, names=self.names & other.names)
        if self.include:
            return BrandTest(include=True, names=self.names - other.names)
        if other.include:
            return BrandTest(include=True, names=other.names - self.names)
        return BrandTest(include=False, names=self.names | other.names)

    def is_subset(self, other: BrandTest) -> bool:
        if self.include and other.include:
            return self.names <= other.names
        if self.include:
            return not (self.names & other.names)
        if other.include:
            return False  # an open set of names is never inside a finite one
        return other.names <= self.names

    @property
    def is_empty(self) -> bool:
        return self.include and not self.names

    def accepts(self, brand: str) -> bool:
        return (brand.strip().casefold() in self.names) == self.include


Allowed = frozenset[Any]


class Conditions(BaseModel):
    """Conditions of a rule: all fields must hold (AND); ``any`` adds alternatives (OR).

    Each field holds the compiled set of values it allows; ``None`` means "not tested".
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    intent: Allowed | None = None
    sentiment: Allowed | None = None
    urgency: Allowed | None = None
    product_area: Allowed | None = None
    lang: Allowed | None = None
    platform: Allowed | None = None
    kind: Allowed | None = None
    action: Allowed | None = None
    author_tier: Allowed | None = None
    author_is_brand: Allowed | None = None
    rating: Allowed | None = None
    duplicate: Allowed | None = None
    crisis: Allowed | None = None
    actionable: Allowed | None = None
    feature_specific: Allowed | None = None
    needs_review: Allowed | None = None
    has_pii: Allowed | None = None
    brand: BrandTest | None = None
    any_of: tuple[Conditions, ...] | None = Field(default=None, alias="any", min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _keep_explicit_nulls(cls, data: object) -> object:
        """`rating: null` means "no rating", not "no test": wrap nulls so they reach the test."""
        if isinstance(data, Mapping):
            return {k: ({"equals": None} if v is None and k != "any" else v)
                    for k, v in data.items()}
        return data

    @field_validator(*_UNIVERSES, mode="before")
    @classmethod
    def _compile(cls, raw: object, info: ValidationInfo) -> frozenset[Any]:
        return _allowed_values(str(info.field_name), raw)

    @field_validator("brand", mode="before")
    @classmethod
    def _compile_brand(cls, raw: object) -> BrandTest:
        return BrandTest.parse(raw)

    def alternatives(self) -> list[_Conjunction]:
        """The conditions as a disjunction of plain conjunctions (no ``any`` left)."""
        own = _Conjunction(
            {f: getattr(self, f) for f in _UNIVERSES if getattr(self, f) is not None},
            self.brand,
        )
        if not self.any_of:
            return [own]
        return [own.conjoin(alt) for branch in self.any_of for alt in branch.alternatives()]


@dataclass(frozen=True)
class _Conjunction:
    """AND of field tests: what an event's values must fall in."""

    finite: dict[str, frozenset[Any]]
    brand: BrandTest | None

    def conjoin(self, other: _Conjunction) -> _Conjunction:
        merged = dict(self.finite)
        for name, values in other.finite.items():
            merged[name] = merged[name] & values if name in merged else values
        if self.brand is None or other.brand is None:
            brand = self.brand or other.brand
        else:
            brand = self.brand.intersect(other.brand)
        return _Conjunction(merged, brand)

    @property
    def is_empty(self) -> bool:
        return any(not v for v in self.finite.values()) or bool(self.brand and self.brand.is_empty)

    def empty_fields(self) -> list[str]:
        names = [f for f, v in self.finite.items() if not v]
        return names + (["brand"] if self.brand and self.brand.is_empty else [])

    def is_subset(self, other: _Conjunction) -> bool:
        """True when every event this conjunction matches also matches ``other``."""
        if self.is_empty:
            return True
        for name, values in other.finite.items():
            mine = self.finite.get(name, frozenset(_UNIVERSES[name]))
            if not mine <= values:
                return False
        if other.brand is None:
            return True
        return self.brand is not None and self.brand.is_subset(other.brand)

    def matches(self, values: Mapping[str, Any], brand: str) -> bool:
        if any(values[name] not in allowed for name, allowed in self.finite.items()):
            return False
        return self.brand is None or self.brand.accepts(brand)


class TicketSettings(BaseModel):
    """Settings a rule gives the CRM ticket; unset ones come from other rules or defaults."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    queue: Annotated[str, Field(min_length=1)] | None = None
    priority: Annotated[StrictInt, Field(ge=1, le=5)] | None = None
    tags: tuple[Annotated[str, Field(min_length=1, pattern=r"^\S+$")], ...] = ()
    assignee_group: Annotated[str, Field(min_length=1)] | None = None


class Actions(BaseModel):
    """What a matching rule does; routes accumulate over matching rules until stop or drop."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    crm_ticket: TicketSettings | None = None
    ticket: TicketSettings | None = None
    product_feedback: StrictBool = False
    moderation: StrictBool = False
    crisis_watch: StrictBool = False
    review: StrictBool = False
    drop: StrictBool = False
    stop: StrictBool | None = None

    @field_validator("crm_ticket", mode="before")
    @classmethod
    def _ticket_shorthand(cls, raw: object) -> object:
        if raw is True:
            return {}
        if raw is False:
            return None
        return raw

    @field_validator("ticket", mode="before")
    @classmethod
    def _settings_only(cls, raw: object) -> object:
        if isinstance(raw, bool):
            raise _fail("ticket adjusts a ticket another rule opens: give settings "
                        f"({', '.join(_TICKET_SETTINGS)}); to open one use crm_ticket")
        return raw

    @model_validator(mode="after")
    def _coherent(self) -> Actions:
        effects = [n for n in ("product_feedback", "moderation", "crisis_watch", "review")
                   if getattr(self, n)]
        effects += [n for n in ("crm_ticket", "ticket") if getattr(self, n) is not None]
        if self.drop and effects:
            raise _fail(f"drop discards the event: it cannot go with {', '.join(effects)}")
        if self.drop and self.stop is False:
            raise _fail("drop always stops evaluation: remove `stop: false`")
        if not effects and not self.drop and not self.stop:
            raise _fail(f"a rule needs at least one action: {', '.join(_ACTION_NAMES)}")
        return self

    @property
    def stops(self) -> bool:
        return self.drop or bool(self.stop)

    @property
    def routes(self) -> set[Route]:
        routes = {Route(n) for n in ("product_feedback", "moderation", "crisis_watch")
                  if getattr(self, n)}
        if self.crm_ticket is not None:
            routes.add(Route.crm_ticket)
        return routes


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, Field(min_length=1)]
    description: str = ""
    when: Conditions = Field(default_factory=Conditions)
    then: Actions

    @field_validator("when", mode="before")
    @classmethod
    def _empty_when(cls, raw: object) -> object:
        return {} if raw is None else raw

    @cached_property
    def _alternatives(self) -> list[_Conjunction]:
        return [alt for alt in self.when.alternatives() if not alt.is_empty]

    def alternatives(self) -> list[_Conjunction]:
        """The conjunctions this rule matches on, contradictory ones left out (compiled once)."""
        return self._alternatives


class _RuleFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1] = 1
    rules: list[Any]


class TicketSpec(BaseModel):
    """The CRM ticket a decision asks for; ``priority`` None lets the plan derive it."""

    model_config = ConfigDict(frozen=True)

    queue: str = DEFAULT_QUEUE
    priority: int | None = Field(default=None, ge=1, le=5)
    tags: list[str] = Field(default_factory=list)
    assignee_group: str | None = None


class Decision(BaseModel):
    """Where one enriched event goes, and which rules said so (for dry-runs and audits)."""

    model_config = ConfigDict(frozen=True)

    routes: list[Route]
    ticket: TicketSpec | None = None
    matched: list[str] = Field(default_factory=list)
    dropped: bool = False
    review: bool = False


def _event_values(enriched: EnrichedEvent) -> dict[str, Any]:
    event, enr = enriched.event, enriched.enrichment
    return {
        "intent": enr.intent, "sentiment": enr.sentiment, "urgency": enr.urgency,
        "product_area": enr.product_area, "lang": enr.lang, "platform": event.platform,
        "kind": event.kind, "action": event.action, "author_tier": enr.author_tier,
        "author_is_brand": event.author.is_brand, "rating": event.rating,
        "duplicate": enr.dup_of is not None, "crisis": enr.crisis_signal,
        "actionable": enr.actionable, "feature_specific": enr.feature_specific,
        "needs_review": enr.needs_review, "has_pii": bool(enr.pii),
    }


class RuleSet(BaseModel):
    """Validated rules in file order; ``decide`` is pure, so it can run in agents and dry-runs."""

    model_config = ConfigDict(frozen=True)

    source: str = "<string>"
    rules: tuple[Rule, ...]

    def decide(self, enriched: EnrichedEvent) -> Decision:
        values = _event_values(enriched)
        brand = enriched.event.brand
        routes: set[Route] = set()
        matched: list[str] = []
        review = False
        settings: list[TicketSettings] = []
        for rule in self.rules:
            if not any(alt.matches(values, brand) for alt in rule.alternatives()):
                continue
            matched.append(rule.name)
            then = rule.then
            if then.drop:
                return Decision(routes=[Route.none], matched=matched, dropped=True)
            routes |= then.routes
            review = review or then.review
            settings += [s for s in (then.crm_ticket, then.ticket) if s is not None]
            if then.stops:
                break
        ticket = _merge_tickets(settings) if Route.crm_ticket in routes else None
        ordered = sorted(routes, key=lambda r: r.value) or [Route.none]
        return Decision(routes=ordered, ticket=ticket, matched=matched, review=review)


def _merge_tickets(settings: Sequence[TicketSettings]) -> TicketSpec:
    """First rule to set queue / assignee group wins; most urgent priority; tags pooled."""
    queue = next((s.queue for s in settings if s.queue), DEFAULT_QUEUE)
    group = next((s.assignee_group for s in settings if s.assignee_group), None)
    priorities = [s.priority for s in settings if s.priority is not None]
    tags = list(dict.fromkeys(t for s in settings for t in s.tags))
    return TicketSpec(queue=queue, priority=min(priorities) if priorities else None, tags=tags,
                      assignee_group=group)


# ----------------------------------------------------------------------- loading and errors


@dataclass(frozen=True)
class RuleProblem:
    """One mistake in a rule file: 1-based line, rule name when known, what is wrong."""

    line: int
    rule: str | None
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" + (f", rule {self.rule!r}" if self.rule else "")
        return f"{where}: {self.message}"


class RuleError(Exception):
    """A rule file that cannot be used; carries every problem found, not just the first."""

    def __init__(self, source: str, problems: Iterable[RuleProblem]) -> None:
        self.source = source
        self.problems = sorted(problems, key=lambda p: p.line)
        super().__init__(
            f"{source}: {len(self.problems)} problem(s)\n"
            + "\n".join(f"{source}:{p}" for p in self.problems)
        )


Path_ = tuple[str | int, ...]


class _Tree:
    """Plain data from a composed YAML tree, plus the line of every key and item."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.lines: dict[Path_, int] = {}
        self.problems: list[RuleProblem] = []
        self._scalars = yaml.constructor.SafeConstructor()

    def build(self, node: yaml.Node, path: Path_) -> Any:
        self.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = self.build(key_node, (*path, "<key>"))
                if not isinstance(key, str | int | bool):
                    self.problems.append(RuleProblem(key_node.start_mark.line + 1, None,
                                                     "keys must be plain names"))
                    continue
                key_name = _show(key) if isinstance(key, bool) else key
                if key_name in out:
                    self.problems.append(RuleProblem(
                        key_node.start_mark.line + 1, None,
                        f"duplicate key {key_name!r} (line "
                        f"{self.lines[(*path, key_name)]}): the earlier one would be ignored"))
                self.lines[(*path, key_name)] = key_node.start_mark.line + 1
                out[key_name] = self.build(value_node, (*path, key_name))
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        return self._scalars.construct_object(node, deep=True)

    def line_of(self, loc: Path_) -> int:
        for end in range(len(loc), -1, -1):
            if loc[:end] in self.lines:
                return self.lines[loc[:end]]
        return 1


def _rule_name(data: Any, loc: Path_) -> str | None:
    if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
        rules = data.get("rules") if isinstance(data, dict) else None
        if isinstance(rules, list) and loc[1] < len(rules) and isinstance(rules[loc[1]], dict):
            name = rules[loc[1]].get("name")
            return name if isinstance(name, str) else f"#{loc[1] + 1}"
    return None


def _context(loc: Path_) -> str:
    """Which part of the file a location is in, to phrase unknown-key messages."""
    if len(loc) <= 1:
        return "file"
    if len(loc) == 3:
        return "rule"
    parent = loc[-2]
    if parent in ("crm_ticket", "ticket"):
        return "ticket"
    if parent == "then":
        return "then"
    return "when"


def _message(error: Mapping[str, Any]) -> str:
    loc: Path_ = tuple(error["loc"])
    kind = error["type"]
    last = loc[-1] if loc else ""
    if kind == "extra_forbidden":
        known = {
            "file": "version, rules",
            "rule": ", ".join(_RULE_KEYS),
            "ticket": ", ".join(_TICKET_SETTINGS),
            "then": ", ".join(_ACTION_NAMES),
            "when": ", ".join((*CONDITION_FIELDS, "any")),
        }[_context(loc)]
        what = {"then": "action", "when": "condition field", "ticket": "ticket setting"}.get(
            _context(loc), "key")
        return f"unknown {what} {last!r}; allowed: {known}"
    if kind == "missing":
        return f"missing {last!r}"
    if not loc:
        return "a rule file is a mapping with a `rules:` list"
    field = ".".join(str(p) for p in loc[2:] if not isinstance(p, int)) or ".".join(map(str, loc))
    message = {
        "model_type": "expected a mapping (key: value)",
        "dict_type": "expected a mapping (key: value)",
        "list_type": "expected a list",
        "tuple_type": "expected a list",
        "too_short": "expected a non-empty list",
    }.get(kind, str(error["msg"]))
    if kind == "rule":
        return message
    return f"{field}: {message}"


def _unreachable(rules: Sequence[Rule], lines: Sequence[int]) -> list[RuleProblem]:
    """Rules that can never match, or that an earlier stop/drop rule always catches first."""
    problems: list[RuleProblem] = []
    for j, rule in enumerate(rules):
        alts = rule.alternatives()
        if not alts:
            empty = sorted({f for a in rule.when.alternatives() for f in a.empty_fields()})
            problems.append(RuleProblem(lines[j], rule.name,
                                        "can never match: its conditions on "
                                        f"{', '.join(empty)} allow no value"))
            continue
        catchers: list[int] = []
        for alt in alts:
            # Every alternative must be caught by some earlier stop/drop rule on its own.
            catcher = next((i for i in range(j) if rules[i].then.stops
                            and any(alt.is_subset(c) for c in rules[i].alternatives())), None)
            if catcher is None:
                break
            catchers.append(catcher)
        else:
            found = sorted(set(catchers))
            named = ", ".join(f"{rules[i].name!r} (line {lines[i]})" for i in found)
            how = "drop or stop" if len(found) > 1 else (
                "drops" if rules[found[0]].then.drop else "stops")
            problems.append(RuleProblem(
                lines[j], rule.name,
                f"unreachable: earlier {'rules' if len(found) > 1 else 'rule'} {named} "
                f"{'match' if len(found) > 1 else 'matches'} every event this rule matches and "
                f"{how} evaluation first"))
    return problems


def parse_rules(text: str, source: str = "<string>") -> RuleSet:
    """Validate a rule file's text; raise RuleError listing every problem with its line."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise RuleError(source, [RuleProblem(line, None, f"YAML syntax: {exc.problem}")]) from None
    except yaml.YAMLError as exc:
        raise RuleError(source, [RuleProblem(1, None, f"YAML: {exc}")]) from None
    if root is None:
        raise RuleError(source, [RuleProblem(1, None, "empty rule file: expected `rules:`")])
    tree = _Tree(source)
    data = tree.build(root, ())
    problems = list(tree.problems)

    def report(exc: ValidationError, prefix: Path_) -> None:
        for error in exc.errors():
            loc = (*prefix, *error["loc"])
            problems.append(RuleProblem(tree.line_of(loc), _rule_name(data, loc),
                                        _message({**error, "loc": loc})))

    try:
        parsed = _RuleFile.model_validate(data)
    except ValidationError as exc:
        report(exc, ())
        raise RuleError(source, problems) from None
    # Rules are validated one by one so that a broken rule does not hide the others' problems.
    rules: list[Rule] = []
    lines: list[int] = []
    for index, raw in enumerate(parsed.rules):
        try:
            rules.append(Rule.model_validate(raw))
        except ValidationError as exc:
            report(exc, ("rules", index))
            continue
        lines.append(tree.line_of(("rules", index)))
    seen: dict[str, int] = {}
    for index, raw in enumerate(parsed.rules):
        name = raw.get("name") if isinstance(raw, dict) else None
        if not isinstance(name, str):
            continue
        line = tree.line_of(("rules", index))
        if name in seen:
            problems.append(RuleProblem(line, name,
                                        f"duplicate rule name (first at line {seen[name]})"))
        seen.setdefault(name, line)
    problems += _unreachable(rules, lines)
    if problems:
        raise RuleError(source, problems)
    return RuleSet(source=source, rules=tuple(rules))


def load_rules(path: Path) -> RuleSet:
    """Read and validate a rule file; an unreadable file is reported like any other problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RuleError(str(path), [RuleProblem(1, None, f"cannot read: {exc}")]) from None
    return parse_rules(text, source=str(path))


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m pipeline.routing.rules FILE...`: check rule files, exit 1 on any problem."""
    parser = argparse.ArgumentParser(description="Check Porte-Voix routing rule files.")
    parser.add_argument("files", nargs="+", type=Path)
    args = parser.parse_args(argv)
    status = 0
    for path in args.files:
        try:
            rules = load_rules(path)
        except RuleError as exc:
            print(exc, file=sys.stderr)
            status = 1
        else:
            print(f"{path}: {len(rules.rules)} rules OK")
    return status


if __name__ == "__main__":
    raise SystemExit(main())

"""Credit policy as versioned YAML decision tables, validated on load, evaluated with a trace.

A policy file holds ``tables`` (each ``hit_policy: collect`` — every rule is evaluated — or ``first``
— the first matching rule wins) and ``limits`` for the credit line. A rule has an ``id``, a ``when``
condition on one input field (``eq`` a value, or a ``[min, max)`` range) and either an ``outcome``
(approve / refer / decline) or a line ``factor``, plus a reason in English and Chinese.

Validation turns every mistake into one ``InputError`` naming the file and the rule: unknown fields,
duplicate ids, rules on the same field whose conditions overlap (contradictory when their outcomes
differ), and gaps in a table marked ``complete`` over a field's domain. The policy's hash (sha256 of
the canonical JSON of the validated content) is the version every decision records.
"""

from __future__ import annotations

import hashlib
import json
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from chainlight.errors import InputError

Outcome = Literal["approve", "refer", "decline"]
SEVERITY: dict[str, int] = {"approve": 0, "refer": 1, "decline": 2}
DEFAULT_POLICY = "default.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Condition(_Strict):
    """``eq`` a value, or a range ``[min, max)`` (either bound may be open)."""

    field: str
    eq: bool | float | str | None = None
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Condition:
        if self.eq is not None and (self.min is not None or self.max is not None):
            raise ValueError("a condition is either eq or a min/max range, not both")
        if self.eq is None and self.min is None and self.max is None:
            raise ValueError("a condition needs eq, min or max")
        if self.min is not None and self.max is not None and self.min >= self.max:
            raise ValueError(f"empty range: min {self.min} is not below max {self.max}")
        return self

    def matches(self, value: Any) -> bool:
        if value is None:
            return False
        if self.eq is not None:
            return bool(value == self.eq)
        number = float(value)
        return (self.min is None or number >= self.min) and (self.max is None or number < self.max)

    def overlaps(self, other: Condition) -> bool:
        if self.eq is not None or other.eq is not None:
            if self.eq is not None and other.eq is not None:
                return self.eq == other.eq
            ranged, point = (other, self) if self.eq is not None else (self, other)
            return isinstance(point.eq, int | float) and not isinstance(point.eq, bool) and ranged.matches(point.eq)
        low = max(self.min if self.min is not None else float("-inf"), other.min if other.min is not None else float("-inf"))
        high = min(self.max if self.max is not None else float("inf"), other.max if other.max is not None else float("inf"))
        return low < high


class ReasonText(_Strict):
    code: str
    en: str
    zh: str


class Rule(_Strict):
    id: str = Field(min_length=1)
    when: Condition
    outcome: Outcome | None = None
    factor: float | None = Field(None, gt=0)
    reason: ReasonText
    description: str = ""

    @model_validator(mode="after")
    def _effect(self) -> Rule:
        if (self.outcome is None) == (self.factor is None):
            raise ValueError("a rule has exactly one of outcome or factor")
        return self


class Domain(_Strict):
    field: str
    min: float
    max: float


class Table(_Strict):
    id: str
    hit_policy: Literal["collect", "first"]
    complete: Domain | None = None
    rules: list[Rule] = Field(min_length=1)


class Limits(_Strict):
    base_turnover_share: float = Field(gt=0, le=1)
    pd_scale: float = Field(gt=0, le=1)
    min_line: float = Field(ge=0)
    max_line: float = Field(gt=0)
    max_turnover_share: float = Field(gt=0, le=1)


class PolicyFile(_Strict):
    policy: str
    version: str
    tables: list[Table] = Field(min_length=1)
    limits: Limits


class Fired(BaseModel):
    """One rule that fired: the trace entry (which rule, on which value, with what effect)."""

    table: str
    rule: str
    field: str
    value: Any
    outcome: str | None = None
    factor: float | None = None
    code: str


class Policy:
    """A validated policy: evaluate tables on an input mapping, each evaluation with its trace."""

    def __init__(self, spec: PolicyFile, source: str, text: str) -> None:
        self.spec, self.source, self.text = spec, source, text
        canonical = json.dumps(spec.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
        self.hash = hashlib.sha256(canonical.encode()).hexdigest()[:16]
        self.tables = {t.id: t for t in spec.tables}
        self.rules = {r.id: r for t in spec.tables for r in t.rules}

    @property
    def limits(self) -> Limits:
        return self.spec.limits

    @property
    def version(self) -> str:
        return f"{self.spec.policy}@{self.spec.version}#{self.hash}"

    def fields(self) -> set[str]:
        return {r.when.field for t in self.spec.tables for r in t.rules}

    def evaluate(self, table_id: str, values: dict[str, Any]) -> list[Fired]:
        table = self.tables.get(table_id)
        if table is None:
            raise InputError(f"policy has no table {table_id!r}", file=self.source)
        fired = []
        for rule in table.rules:
            value = values.get(rule.when.field)
            if rule.when.matches(value):
                fired.append(Fired(table=table.id, rule=rule.id, field=rule.when.field, value=value,
                                   outcome=rule.outcome, factor=rule.factor, code=rule.reason.code))
                if table.hit_policy == "first":
                    break
        return fired


def check_fields(policy: Policy, known: set[str]) -> None:
    """Every rule must test an input the engine provides (a typo would otherwise never fire)."""
    for table in policy.spec.tables:
        for rule in table.rules:
            if rule.when.field not in known:
                raise InputError(f"rule {rule.id} tests unknown field {rule.when.field!r}; fields are: "
                                 f"{', '.join(sorted(known))}", file=policy.source, field=rule.id)


def worst(fired: list[Fired], default: str = "approve") -> str:
    """The most severe outcome among fired rules (decline > refer > approve)."""
    outcomes = [f.outcome for f in fired if f.outcome]
    return max(outcomes, key=lambda o: SEVERITY[o]) if outcomes else default


def _check_table(table: Table, source: str) -> None:
    seen: set[str] = set()
    for i, rule in enumerate(table.rules):
        for other in table.rules[:i]:
            if other.when.field == rule.when.field and other.when.overlaps(rule.when):
                kind = "contradicts" if (other.outcome, other.factor) != (rule.outcome, rule.factor) else "overlaps"
                raise InputError(f"rule {rule.id} {kind} rule {other.id} on field {rule.when.field!r} "
                                 f"(table {table.id}); make the ranges disjoint", file=source, field=rule.id)
        if rule.id in seen:
            raise InputError(f"duplicate rule id {rule.id}", file=source, field=rule.id)
        seen.add(rule.id)
    domain = table.complete
    if domain is None:
        return
    ranges = []
    for rule in table.rules:
        if rule.when.field != domain.field or rule.when.eq is not None:
            raise InputError(f"table {table.id} is complete over {domain.field!r}, but rule {rule.id} tests "
                             f"{rule.when.field!r} with eq", file=source, field=rule.id)
        ranges.append((rule.when.min if rule.when.min is not None else float("-inf"),
                       rule.when.max if rule.when.max is not None else float("inf"), rule.id))
    covered = domain.min
    for low, high, rule_id in sorted(ranges):
        if low > covered:
            raise InputError(f"table {table.id} has a gap on {domain.field!r} from {covered} to {low} "
                             f"(before rule {rule_id})", file=source, field=rule_id)
        covered = max(covered, high)
    if covered < domain.max:
        raise InputError(f"table {table.id} has a gap on {domain.field!r} from {covered} to {domain.max}",
                         file=source, field=table.id)


def parse(text: str, source: str) -> Policy:
    """Validate policy YAML text; every problem is one InputError naming the file and the rule."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InputError(f"not valid YAML: {exc}".replace("\n", " "), file=source) from exc
    if not isinstance(data, dict):
        raise InputError("a policy file must be a YAML mapping", file=source)
    try:
        spec = PolicyFile.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InputError(f"{first['msg']} at {_where(data, first['loc'])}", file=source,
                         field=_rule_id(data, first["loc"])) from exc
    ids: set[str] = set()
    for table in spec.tables:
        _check_table(table, source)
        for rule in table.rules:
            if rule.id in ids:
                raise InputError(f"duplicate rule id {rule.id}", file=source, field=rule.id)
            ids.add(rule.id)
    return Policy(spec, source, text)


def _where(data: Any, loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc)


def _rule_id(data: Any, loc: tuple[Any, ...]) -> str | None:
    """The id of the rule an error location points into, when it is inside one."""
    if len(loc) >= 4 and loc[0] == "tables" and loc[2] == "rules":
        try:
            rule = data["tables"][loc[1]]["rules"][loc[3]]
            return str(rule.get("id")) if isinstance(rule, dict) and rule.get("id") else f"rule #{loc[3] + 1}"
        except (KeyError, IndexError, TypeError):
            return None
    return None


def load(path: Path | None = None) -> Policy:
    """The policy at ``path``, or the packaged default."""
    if path is None:
        text = (resources.files("chainlight.risk") / "policy" / DEFAULT_POLICY).read_text(encoding="utf-8")
        return parse(text, f"risk/policy/{DEFAULT_POLICY}")
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read policy: {exc.strerror}", file=str(path)) from exc
    return parse(text, str(path))

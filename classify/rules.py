"""Admin-editable rules, applied in order before and over the model.

A rule is plain data so the database can store it as JSON:
``RuleDefinition.from_dict(rule.to_dict())`` gives the same rule back. Validation happens when a
rule is built, so a bad regex is reported to the admin who typed it rather than failing later
inside a worker.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from intake.domain import Priority


class RuleError(ValueError):
    """A rule is malformed; the message says which part and why."""


class RuleField(str, Enum):
    CHANNEL = "channel"
    MAILBOX = "mailbox"
    SENDER = "sender"
    SENDER_DOMAIN = "sender_domain"
    SUBJECT = "subject"
    BODY = "body"
    TEXT = "text"  # subject and body together
    LANGUAGE = "language"
    CUSTOMER_TIER = "customer_tier"


class RuleOp(str, Enum):
    EQUALS = "equals"
    CONTAINS = "contains"
    REGEX = "regex"
    IN = "in"


@dataclass(frozen=True)
class RuleCondition:
    """``field op value``; comparisons ignore case. ``in`` takes a list of strings."""

    field: RuleField
    op: RuleOp
    value: str | tuple[str, ...]
    _pattern: re.Pattern[str] | None = dataclasses.field(
        default=None, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "field", RuleField(self.field))
        except ValueError:
            raise RuleError(
                f"unknown field {self.field!r}; expected one of "
                + ", ".join(f.value for f in RuleField)
            ) from None
        try:
            object.__setattr__(self, "op", RuleOp(self.op))
        except ValueError:
            raise RuleError(
                f"unknown operator {self.op!r}; expected one of "
                + ", ".join(o.value for o in RuleOp)
            ) from None
        if self.op is RuleOp.IN:
            if isinstance(self.value, str) or not all(isinstance(v, str) for v in self.value):
                raise RuleError(f"'in' needs a list of strings, got {self.value!r}")
            object.__setattr__(self, "value", tuple(self.value))
            return
        if not isinstance(self.value, str) or not self.value:
            raise RuleError(f"{self.op.value!r} needs a non-empty string, got {self.value!r}")
        if self.op is RuleOp.REGEX:
            try:
                pattern = re.compile(self.value, re.IGNORECASE)
            except re.error as exc:
                raise RuleError(f"invalid regular expression {self.value!r}: {exc}") from None
            object.__setattr__(self, "_pattern", pattern)

    def matches(self, subject: str) -> bool:
        if self.op is RuleOp.IN:
            folded = subject.casefold()
            return any(folded == v.casefold() for v in self.value)
        assert isinstance(self.value, str)
        if self.op is RuleOp.EQUALS:
            return subject.casefold() == self.value.casefold()
        if self.op is RuleOp.CONTAINS:
            return self.value.casefold() in subject.casefold()
        assert self._pattern is not None
        return self._pattern.search(subject) is not None

    def to_dict(self) -> dict[str, Any]:
        value = list(self.value) if isinstance(self.value, tuple) else self.value
        return {"field": self.field.value, "op": self.op.value, "value": value}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RuleCondition:
        _require_mapping(data, "condition")
        _reject_unknown_keys(data, {"field", "op", "value"}, "condition")
        try:
            value = data["value"]
            if isinstance(value, list):
                value = tuple(value)
            return cls(field=data["field"], op=data["op"], value=value)
        except KeyError as exc:
            raise RuleError(f"condition is missing {exc.args[0]!r}") from None


@dataclass(frozen=True)
class RuleAction:
    """What a matching rule sets; ``None`` leaves the value to later rules or the model."""

    set_category: str | None = None
    set_priority: Priority | None = None
    set_group: str | None = None
    add_tags: tuple[str, ...] = ()
    set_complaint: bool | None = None  # the complaint flag, beside the topic

    def __post_init__(self) -> None:
        if self.set_complaint is not None and not isinstance(self.set_complaint, bool):
            raise RuleError(f"set_complaint must be true or false, got {self.set_complaint!r}")
        if self.set_priority is not None:
            try:
                object.__setattr__(self, "set_priority", Priority(self.set_priority))
            except ValueError:
                raise RuleError(
                    f"unknown priority {self.set_priority!r}; expected one of "
                    + ", ".join(p.value for p in Priority)
                ) from None
        for name in ("set_category", "set_group"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise RuleError(f"{name} must be a non-empty string, got {value!r}")
        if isinstance(self.add_tags, str) or not all(
            isinstance(t, str) and t.strip() for t in self.add_tags
        ):
            raise RuleError(f"add_tags must be a list of non-empty strings, got {self.add_tags!r}")
        object.__setattr__(self, "add_tags", tuple(self.add_tags))

    @property
    def is_empty(self) -> bool:
        return (
            self.set_category is None
            and self.set_priority is None
            and self.set_group is None
            and not self.add_tags
            and self.set_complaint is None
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.set_category is not None:
            out["set_category"] = self.set_category
        if self.set_priority is not None:
            out["set_priority"] = self.set_priority.value
        if self.set_group is not None:
            out["set_group"] = self.set_group
        if self.add_tags:
            out["add_tags"] = list(self.add_tags)
        if self.set_complaint is not None:
            out["set_complaint"] = self.set_complaint
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RuleAction:
        _require_mapping(data, "actions")
        _reject_unknown_keys(
            data,
            {"set_category", "set_priority", "set_group", "add_tags", "set_complaint"},
            "actions",
        )
        tags = data.get("add_tags", ())
        return cls(
            set_category=data.get("set_category"),
            set_priority=data.get("set_priority"),
            set_group=data.get("set_group"),
            add_tags=tuple(tags) if isinstance(tags, list) else tags,
            set_complaint=data.get("set_complaint"),
        )


@dataclass(frozen=True)
class RuleDefinition:
    """All ``conditions`` must match; then ``actions`` apply; ``stop`` skips the later rules."""

    name: str
    conditions: tuple[RuleCondition, ...]
    actions: RuleAction
    stop: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise RuleError("a rule needs a name")
        if not self.conditions:
            raise RuleError(f"rule {self.name!r} has no conditions")
        object.__setattr__(self, "conditions", tuple(self.conditions))
        if self.actions.is_empty:
            raise RuleError(f"rule {self.name!r} has no actions")
        if not isinstance(self.stop, bool):
            raise RuleError(f"rule {self.name!r}: stop must be true or false")

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "conditions": [c.to_dict() for c in self.conditions],
            "actions": self.actions.to_dict(),
            "stop": self.stop,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RuleDefinition:
        _require_mapping(data, "rule")
        _reject_unknown_keys(data, {"name", "conditions", "actions", "stop"}, "rule")
        name = data.get("name")
        conditions = data.get("conditions")
        if not isinstance(conditions, list):
            raise RuleError(f"rule {name!r}: conditions must be a list")
        try:
            return cls(
                name=name,  # type: ignore[arg-type]  # checked in __post_init__
                conditions=tuple(RuleCondition.from_dict(c) for c in conditions),
                actions=RuleAction.from_dict(data.get("actions", {})),
                stop=data.get("stop", False),
            )
        except RuleError as exc:
            if name and not str(exc).startswith("rule "):
                raise RuleError(f"rule {name!r}: {exc}") from None
            raise


def validate_rule(data: Mapping[str, Any]) -> RuleDefinition:
    """Parse a rule from its JSON form, raising ``RuleError`` with a readable message if invalid."""
    return RuleDefinition.from_dict(data)


@dataclass(frozen=True)
class RuleFields:
    """The values rules can look at, gathered once per message."""

    channel: str
    mailbox: str
    sender: str
    sender_domain: str
    subject: str
    body: str
    language: str
    customer_tier: str

    def get(self, name: RuleField) -> str:
        if name is RuleField.TEXT:
            return f"{self.subject}\n{self.body}"
        return str(getattr(self, name.value))


@dataclass(frozen=True)
class RuleOutcome:
    """The combined effect of the matching rules; later rules override earlier ones."""

    category: str | None = None
    priority: Priority | None = None
    group: str | None = None
    tags: tuple[str, ...] = ()
    rule_names: tuple[str, ...] = ()
    complaint: bool | None = None


def apply_rules(rules: Sequence[RuleDefinition], fields: RuleFields) -> RuleOutcome:
    category: str | None = None
    priority: Priority | None = None
    group: str | None = None
    complaint: bool | None = None
    tags: list[str] = []
    names: list[str] = []
    for rule in rules:
        if not all(c.matches(fields.get(c.field)) for c in rule.conditions):
            continue
        names.append(rule.name)
        action = rule.actions
        category = action.set_category if action.set_category is not None else category
        priority = action.set_priority if action.set_priority is not None else priority
        group = action.set_group if action.set_group is not None else group
        complaint = action.set_complaint if action.set_complaint is not None else complaint
        tags.extend(t for t in action.add_tags if t not in tags)
        if rule.stop:
            break
    return RuleOutcome(category, priority, group, tuple(tags), tuple(names), complaint)


def _require_mapping(data: object, what: str) -> None:
    if not isinstance(data, Mapping):
        raise RuleError(f"{what} must be a JSON object, got {type(data).__name__}")


def _reject_unknown_keys(data: Mapping[str, Any], allowed: set[str], what: str) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise RuleError(f"{what} has unknown keys: {', '.join(map(str, unknown))}")

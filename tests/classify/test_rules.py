from __future__ import annotations

import json
from typing import Any

import pytest

from classify.rules import (
    RuleAction,
    RuleCondition,
    RuleDefinition,
    RuleError,
    RuleFields,
    apply_rules,
    validate_rule,
)
from intake.domain import Priority

VIP_RULE: dict[str, Any] = {
    "name": "Key accounts",
    "conditions": [{"field": "sender_domain", "op": "in", "value": ["bigcorp.com", "acme.cn"]}],
    "actions": {"set_priority": "high", "set_group": "key-accounts", "add_tags": ["key"]},
    "stop": False,
}


def fields(**overrides: str) -> RuleFields:
    values = {
        "channel": "email",
        "mailbox": "support@shop.example",
        "sender": "jane@bigcorp.com",
        "sender_domain": "bigcorp.com",
        "subject": "Invoice 2231",
        "body": "Please send the invoice again.",
        "language": "en",
        "customer_tier": "",
    }
    values.update(overrides)
    return RuleFields(**values)


def test_rule_round_trips_through_json() -> None:
    rule = validate_rule(VIP_RULE)
    again = RuleDefinition.from_dict(json.loads(json.dumps(rule.to_dict())))
    assert again == rule
    assert again.to_dict() == VIP_RULE


def test_invalid_regex_is_reported_when_the_rule_is_validated() -> None:
    bad = {
        "name": "broken",
        "conditions": [{"field": "subject", "op": "regex", "value": "refund(("}],
        "actions": {"set_category": "billing"},
    }
    with pytest.raises(RuleError, match=r"rule 'broken': invalid regular expression"):
        validate_rule(bad)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {
                "name": "x",
                "conditions": [{"field": "colour", "op": "equals", "value": "red"}],
                "actions": {"set_group": "a"},
            },
            "unknown field",
        ),
        (
            {
                "name": "x",
                "conditions": [{"field": "subject", "op": "like", "value": "a"}],
                "actions": {"set_group": "a"},
            },
            "unknown operator",
        ),
        (
            {
                "name": "x",
                "conditions": [{"field": "subject", "op": "in", "value": "a"}],
                "actions": {"set_group": "a"},
            },
            "list of strings",
        ),
        (
            {
                "name": "x",
                "conditions": [{"field": "subject", "op": "contains", "value": "a"}],
                "actions": {"set_priority": "asap"},
            },
            "unknown priority",
        ),
        ({"name": "x", "conditions": [], "actions": {"set_group": "a"}}, "no conditions"),
        (
            {
                "name": "x",
                "conditions": [{"field": "subject", "op": "contains", "value": "a"}],
                "actions": {},
            },
            "no actions",
        ),
        (
            {
                "name": "",
                "conditions": [{"field": "subject", "op": "contains", "value": "a"}],
                "actions": {"set_group": "a"},
            },
            "needs a name",
        ),
        (
            {
                "name": "x",
                "conditions": [{"field": "subject", "op": "contains"}],
                "actions": {"set_group": "a"},
            },
            "missing 'value'",
        ),
        ({"name": "x", "conditions": "subject", "actions": {"set_group": "a"}}, "must be a list"),
        ({"name": "x", "when": []}, "unknown keys: when"),
        (["not", "a", "dict"], "must be a JSON object"),
    ],
)
def test_malformed_rules_get_a_clear_error(data: Any, message: str) -> None:
    with pytest.raises(RuleError, match=message):
        validate_rule(data)


def test_conditions_ignore_case_and_all_must_match() -> None:
    rule = RuleDefinition(
        name="invoices from bigcorp",
        conditions=(
            RuleCondition("sender_domain", "equals", "BigCorp.com"),  # type: ignore[arg-type]
            RuleCondition("subject", "contains", "INVOICE"),  # type: ignore[arg-type]
        ),
        actions=RuleAction(set_category="billing"),
    )
    assert apply_rules([rule], fields()).category == "billing"
    assert apply_rules([rule], fields(subject="Hello")).category is None


def test_text_field_searches_subject_and_body_with_a_regex() -> None:
    rule = validate_rule(
        {
            "name": "order numbers",
            "conditions": [{"field": "text", "op": "regex", "value": r"\border\s*#?\d{5}\b"}],
            "actions": {"add_tags": ["has-order-number"]},
        }
    )
    assert apply_rules([rule], fields(body="About order #12345")).tags == ("has-order-number",)
    assert apply_rules([rule], fields(body="About my order")).tags == ()


def test_later_rules_override_earlier_ones_and_stop_ends_the_chain() -> None:
    first = validate_rule(
        {
            "name": "all mail",
            "conditions": [{"field": "channel", "op": "equals", "value": "email"}],
            "actions": {"set_group": "tier1", "set_priority": "low", "add_tags": ["mail"]},
        }
    )
    second = validate_rule({**VIP_RULE, "stop": True})
    third = validate_rule(
        {
            "name": "never reached",
            "conditions": [{"field": "language", "op": "equals", "value": "en"}],
            "actions": {"set_group": "english"},
        }
    )
    outcome = apply_rules([first, second, third], fields())
    assert outcome.group == "key-accounts"
    assert outcome.priority is Priority.HIGH
    assert outcome.tags == ("mail", "key")
    assert outcome.rule_names == ("all mail", "Key accounts")

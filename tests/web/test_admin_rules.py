from __future__ import annotations

import json
from typing import Any

import pytest
from flask.testing import FlaskClient
from markupsafe import escape
from sqlalchemy import select

from classify.rules import RuleError, RuleFields, apply_rules, validate_rule
from intake.core.db.admin_models import Rule as RuleRow
from intake.core.runtime import Runtime

SIMPLE_FORM = {
    "mode": "form",
    "name": "Refunds",
    "field": "subject",
    "op": "contains",
    "value": "refund",
    "set_category": "billing",
    "set_priority": "high",
    "set_group": "",
    "add_tags": "money, refund",
}


def rules(runtime: Runtime) -> list[tuple[str, bool, dict[str, Any]]]:
    with runtime.db.session() as session:
        rows = session.scalars(select(RuleRow).order_by(RuleRow.position, RuleRow.id))
        return [(r.name, r.enabled, r.definition) for r in rows]


def rule_id(runtime: Runtime, name: str) -> int:
    with runtime.db.session() as session:
        found = session.scalar(select(RuleRow.id).where(RuleRow.name == name))
        assert found is not None
        return found


def add_json(admin: FlaskClient, definition: dict[str, Any]) -> None:
    response = admin.post(
        "/admin/rules", data={"mode": "json", "definition": json.dumps(definition)}
    )
    assert response.status_code == 302, response.get_data(as_text=True)


def json_rule(name: str, value: str = "x") -> dict[str, Any]:
    return {
        "name": name,
        "conditions": [{"field": "sender_domain", "op": "equals", "value": value}],
        "actions": {"set_priority": "urgent"},
        "stop": False,
    }


def test_a_rule_added_with_the_simple_form_is_stored_as_its_json_form(
    runtime: Runtime, admin: FlaskClient
) -> None:
    assert admin.post("/admin/rules", data=SIMPLE_FORM).status_code == 302
    ((name, enabled, definition),) = rules(runtime)
    assert name == "Refunds" and enabled
    assert definition == {
        "name": "Refunds",
        "conditions": [{"field": "subject", "op": "contains", "value": "refund"}],
        "actions": {
            "set_category": "billing",
            "set_priority": "high",
            "add_tags": ["money", "refund"],
        },
        "stop": False,
    }
    assert validate_rule(definition).to_dict() == definition
    page = admin.get("/admin/rules").get_data(as_text=True)
    assert escape('subject contains "refund" → category billing, priority high') in page


def test_a_rule_can_mark_messages_as_complaints_beside_their_topic(
    runtime: Runtime, admin: FlaskClient
) -> None:
    form = {**SIMPLE_FORM, "name": "Chargebacks", "set_complaint": "yes"}
    assert admin.post("/admin/rules", data=form).status_code == 302
    ((_name, _enabled, definition),) = rules(runtime)
    assert definition["actions"]["set_complaint"] is True
    rule = validate_rule(definition)
    outcome = apply_rules(
        [rule], RuleFields("email", "", "a@b.example", "b.example", "Refund?", "", "en", "")
    )
    assert outcome.complaint is True and outcome.category == "billing"
    page = admin.get("/admin/rules").get_data(as_text=True)
    assert "complaint yes" in page


def test_an_in_condition_takes_a_comma_separated_list(runtime: Runtime, admin: FlaskClient) -> None:
    form = {**SIMPLE_FORM, "field": "language", "op": "in", "value": "de, fr,,it"}
    admin.post("/admin/rules", data=form)
    condition = rules(runtime)[0][2]["conditions"][0]
    assert condition == {"field": "language", "op": "in", "value": ["de", "fr", "it"]}


@pytest.mark.parametrize(
    "definition",
    [
        json_rule("Bad regex")
        | {"conditions": [{"field": "subject", "op": "regex", "value": "(["}]},
        json_rule("Bad field")
        | {"conditions": [{"field": "colour", "op": "equals", "value": "x"}]},
        json_rule("No actions") | {"actions": {}},
        {"name": "Extra", "conditions": [], "actions": {}, "when": 1},
    ],
)
def test_an_invalid_json_rule_shows_validate_rules_exact_error_and_keeps_the_input(
    runtime: Runtime, admin: FlaskClient, definition: dict[str, Any]
) -> None:
    with pytest.raises(RuleError) as expected:
        validate_rule(definition)
    text = json.dumps(definition)
    page = admin.post("/admin/rules", data={"mode": "json", "definition": text})
    assert page.status_code == 400
    body = page.get_data(as_text=True)
    assert f'<div class="flash error" id="rule-error">{escape(str(expected.value))}</div>' in body
    assert str(escape(text)) in body
    assert rules(runtime) == []


def test_text_that_is_not_json_is_explained_with_its_position(admin: FlaskClient) -> None:
    page = admin.post("/admin/rules", data={"mode": "json", "definition": '{"name": '})
    assert page.status_code == 400
    assert "not valid JSON: Expecting value (line 1, column 10)" in page.get_data(as_text=True)


def test_a_rule_cannot_set_a_retired_or_unknown_category(admin: FlaskClient) -> None:
    page = admin.post("/admin/rules", data={**SIMPLE_FORM, "set_category": "nonsense"})
    assert page.status_code == 400
    assert (
        "rule &#39;Refunds&#39;: set_category &#39;nonsense&#39; is not an active category key"
        in page.get_data(as_text=True)
    )


def test_rules_are_enabled_disabled_reordered_edited_and_deleted(
    runtime: Runtime, admin: FlaskClient
) -> None:
    for name in ("one", "two", "three"):
        add_json(admin, json_rule(name))
    assert [r[0] for r in rules(runtime)] == ["one", "two", "three"]

    admin.post(f"/admin/rules/{rule_id(runtime, 'three')}/move", data={"direction": "up"})
    assert [r[0] for r in rules(runtime)] == ["one", "three", "two"]
    admin.post(f"/admin/rules/{rule_id(runtime, 'one')}/move", data={"direction": "down"})
    assert [r[0] for r in rules(runtime)] == ["three", "one", "two"]

    admin.post(f"/admin/rules/{rule_id(runtime, 'one')}/enabled", data={"enabled": "0"})
    assert [r[1] for r in rules(runtime)] == [True, False, True]

    two = rule_id(runtime, "two")
    edit = admin.get(f"/admin/rules/{two}").get_data(as_text=True)
    assert "&#34;sender_domain&#34;" in edit
    renamed = json_rule("two, renamed", "vip.example")
    response = admin.post(f"/admin/rules/{two}", data={"definition": json.dumps(renamed)})
    assert response.status_code == 302
    assert rules(runtime)[2] == ("two, renamed", True, renamed)

    bad = admin.post(f"/admin/rules/{two}", data={"definition": "[]"})
    assert bad.status_code == 400
    assert "rule must be a JSON object, got list" in bad.get_data(as_text=True)
    assert rules(runtime)[2] == ("two, renamed", True, renamed)

    admin.post(f"/admin/rules/{rule_id(runtime, 'three')}/delete")
    assert [r[0] for r in rules(runtime)] == ["one", "two, renamed"]

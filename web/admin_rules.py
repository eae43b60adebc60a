"""Admin pages for classification rules: ordered, each enabled or not, stored as JSON.

A rule's ``definition`` column is ``classify.rules.RuleDefinition.to_dict()``; everything
saved here went through ``validate_rule`` first, so a worker never meets a rule it cannot
build. Errors are shown to the admin word for word, with their input kept in the form.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from classify.rules import RuleDefinition, RuleError, RuleField, RuleOp, validate_rule
from intake.core.db.admin_models import Category
from intake.core.db.admin_models import Rule as RuleRow
from intake.domain import Priority
from web.auth import admin_required
from web.context import db
from web.form_input import clean, form_text
from web.ordering import move

log = logging.getLogger(__name__)
bp = Blueprint("rules", __name__, url_prefix="/admin/rules")

EXAMPLE = {
    "name": "Refunds to billing",
    "conditions": [{"field": "subject", "op": "contains", "value": "refund"}],
    "actions": {"set_category": "billing", "set_priority": "high"},
    "stop": False,
}


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def definition_from_form(form: Mapping[str, str]) -> dict[str, Any]:
    """The simple form (one condition) as a rule's JSON form; validation comes after."""
    op = form.get("op", "")
    raw_value = form.get("value", "").strip()
    value: str | list[str] = _split(raw_value) if op == RuleOp.IN.value else raw_value
    actions: dict[str, Any] = {}
    for name in ("set_category", "set_priority", "set_group"):
        if form.get(name, "").strip():
            actions[name] = form[name].strip()
    tags = _split(form.get("add_tags", ""))
    if tags:
        actions["add_tags"] = tags
    complaint = form.get("set_complaint", "")
    if complaint in ("yes", "no"):
        actions["set_complaint"] = complaint == "yes"
    return {
        "name": form.get("name", "").strip(),
        "conditions": [{"field": form.get("field", ""), "op": op, "value": value}],
        "actions": actions,
        "stop": form.get("stop") == "1",
    }


def definition_from_json(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RuleError(
            f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    except RecursionError:
        raise RuleError("not valid JSON: nested too deeply") from None
    if not isinstance(data, dict):
        raise RuleError(f"rule must be a JSON object, got {type(data).__name__}")
    if "\\u0000" in json.dumps(data):
        raise RuleError("rule text must not contain NUL characters (\\u0000)")
    return data


def check_rule(data: Mapping[str, Any]) -> RuleDefinition:
    """``validate_rule`` plus what only the database knows: the category must be in use."""
    rule = validate_rule(data)
    category = rule.actions.set_category
    if category is not None:
        known = db().scalar(
            select(Category).where(Category.key == category, Category.retired.is_(False))
        )
        if known is None:
            raise RuleError(
                f"rule {rule.name!r}: set_category {category!r} is not an active category key"
            )
    return rule


def _rows() -> list[RuleRow]:
    return list(db().scalars(select(RuleRow).order_by(RuleRow.position, RuleRow.id)))


def _render_list(error: str | None = None, form: Mapping[str, str] | None = None) -> str:
    categories = db().scalars(
        select(Category.key).where(Category.retired.is_(False)).order_by(Category.position)
    )
    return render_template(
        "admin/rules.html",
        rules=_rows(),
        error=error,
        form=form or {},
        fields=[f.value for f in RuleField],
        ops=[o.value for o in RuleOp],
        priorities=[p.value for p in Priority],
        categories=list(categories),
        example=json.dumps(EXAMPLE, indent=2),
    )


def _word(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def describe(definition: Mapping[str, Any]) -> str:
    """One line for the list, e.g. ``subject contains "refund" → category billing``."""
    try:
        rule = RuleDefinition.from_dict(definition)
    except RuleError as exc:
        return f"(invalid: {exc})"
    conditions = " and ".join(
        f"{c.field.value} {c.op.value} "
        + (", ".join(c.value) if isinstance(c.value, tuple) else json.dumps(c.value))
        for c in rule.conditions
    )
    actions = ", ".join(
        f"{k.removeprefix('set_')} {_word(v)}" for k, v in rule.actions.to_dict().items()
    )
    return f"{conditions} → {actions}" + (" · stop" if rule.stop else "")


@bp.app_template_filter("describe_rule")
def describe_rule_filter(definition: Mapping[str, Any]) -> str:
    return describe(definition)


@bp.get("")
@admin_required
def rules() -> str:
    return _render_list()


@bp.post("")
@admin_required
def add_rule() -> Response | tuple[str, int]:
    form = {key: clean(value) for key, value in request.form.items()}
    try:
        if form.get("mode") == "json":
            rule = check_rule(definition_from_json(form.get("definition", "")))
        else:
            rule = check_rule(definition_from_form(form))
    except RuleError as exc:
        return _render_list(error=str(exc), form=form), 400
    position = db().scalar(select(func.max(RuleRow.position)))
    db().add(
        RuleRow(
            name=rule.name,
            definition=rule.to_dict(),
            enabled=True,
            position=0 if position is None else position + 1,
        )
    )
    db().commit()
    log.info("%s added rule %r", current_user.email, rule.name)
    flash(_("Rule %(name)s added.", name=repr(rule.name)), "ok")
    return redirect(url_for("rules.rules"))


def _rule_or_404(rule_id: int) -> RuleRow:
    row = db().get(RuleRow, rule_id)
    if row is None:
        abort(404)
    return row


@bp.get("/<int:rule_id>")
@admin_required
def edit_rule(rule_id: int) -> str:
    row = _rule_or_404(rule_id)
    return render_template(
        "admin/rules_edit.html",
        rule=row,
        text=json.dumps(row.definition, indent=2, ensure_ascii=False),
        error=None,
    )


@bp.post("/<int:rule_id>")
@admin_required
def save_rule(rule_id: int) -> Response | tuple[str, int]:
    row = _rule_or_404(rule_id)
    text = form_text("definition")
    try:
        rule = check_rule(definition_from_json(text))
    except RuleError as exc:
        page = render_template("admin/rules_edit.html", rule=row, text=text, error=str(exc))
        return page, 400
    row.name = rule.name
    row.definition = rule.to_dict()
    db().commit()
    log.info("%s changed rule %d (%r)", current_user.email, rule_id, rule.name)
    flash(_("Rule %(name)s saved.", name=repr(rule.name)), "ok")
    return redirect(url_for("rules.rules"))


@bp.post("/<int:rule_id>/enabled")
@admin_required
def toggle_rule(rule_id: int) -> Response:
    row = _rule_or_404(rule_id)
    row.enabled = request.form.get("enabled") == "1"
    db().commit()
    flash(
        _("Rule %(name)s enabled.", name=repr(row.name))
        if row.enabled
        else _("Rule %(name)s disabled.", name=repr(row.name)),
        "ok",
    )
    return redirect(url_for("rules.rules"))


@bp.post("/<int:rule_id>/move")
@admin_required
def move_rule(rule_id: int) -> Response:
    moved = move(_rows(), rule_id, request.form.get("direction", ""))
    if moved is None:
        abort(404)
    db().commit()
    return redirect(url_for("rules.rules"))


@bp.post("/<int:rule_id>/delete")
@admin_required
def delete_rule(rule_id: int) -> Response:
    row = _rule_or_404(rule_id)
    db().delete(row)
    db().commit()
    log.info("%s deleted rule %d (%r)", current_user.email, rule_id, row.name)
    flash(_("Rule %(name)s deleted.", name=repr(row.name)), "ok")
    return redirect(url_for("rules.rules"))

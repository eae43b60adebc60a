"""Admin pages for service levels: policies per priority and customer tier, business calendars.

Every saved change recomputes the due times of all unresolved tickets at once (moved ones get
an SLA entry in their activity log), so the queue never shows a deadline an old policy set.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from werkzeug.wrappers import Response

from intake.core.activity import Actor
from intake.core.business_hours import WEEKDAYS, parse_holidays, parse_spans
from intake.core.db.admin_models import BusinessCalendar, SlaPolicy
from intake.core.db.models import User
from intake.core.sla import (
    DEFAULT_FIRST_RESPONSE_MINUTES,
    DEFAULT_RESOLUTION_MINUTES,
    calendar_of,
    recompute_open_tickets,
)
from intake.domain import Priority
from intake.errors import RejectedError
from web.auth import admin_required
from web.context import db
from web.form_input import form_text
from web.i18n import error_text, word

log = logging.getLogger(__name__)
bp = Blueprint("sla", __name__, url_prefix="/admin/sla")

MAX_SLA_MINUTES = 366 * 24 * 60
MAX_TIER = 40


@dataclass(frozen=True)
class PolicyRow:
    priority: Priority
    first_response: int
    resolution: int | None
    calendar_id: int | None
    saved: bool


def _minutes(name: str, label: str, *, optional: bool = False) -> int | None:
    raw = form_text(name).strip()
    if optional and not raw:
        return None
    try:
        minutes = int(raw)
    except ValueError:
        raise RejectedError(
            "{label}: enter whole minutes, got {raw!r}.", label=label, raw=raw
        ) from None
    if not 1 <= minutes <= MAX_SLA_MINUTES:
        raise RejectedError(
            "{label}: minutes must be between 1 and {limit}.",
            label=label,
            limit=MAX_SLA_MINUTES,
        )
    return minutes


def _calendar_id(name: str) -> int | None:
    raw = form_text(name).strip()
    if not raw:
        return None
    if not raw.isdigit() or db().get(BusinessCalendar, int(raw)) is None:
        raise RejectedError("choose a calendar from the list")
    return int(raw)


def _recompute_and_tell(what: str, priorities: Collection[Priority]) -> None:
    """Commit, with the due times of the open tickets under the changed policies recomputed."""
    by = Actor.of(db().get(User, current_user.id))
    moved = recompute_open_tickets(db(), by, priorities) if priorities else 0
    db().commit()
    log.info("%s changed %s; %d open tickets' due times moved", current_user.email, what, moved)
    flash(_("%(what)s; due times of %(moved)s open ticket(s) moved.", what=what, moved=moved), "ok")


def _default_rows() -> list[PolicyRow]:
    saved = {p.priority: p for p in db().scalars(select(SlaPolicy).where(SlaPolicy.tier == ""))}
    rows = []
    for priority in Priority:
        policy = saved.get(priority)
        if policy is None:
            rows.append(
                PolicyRow(
                    priority,
                    DEFAULT_FIRST_RESPONSE_MINUTES[priority],
                    DEFAULT_RESOLUTION_MINUTES[priority],
                    None,
                    False,
                )
            )
        else:
            rows.append(
                PolicyRow(
                    priority,
                    policy.first_response_minutes,
                    policy.resolution_minutes,
                    policy.calendar_id,
                    True,
                )
            )
    return rows


def _priorities_using(calendar_id: int | None) -> set[Priority]:
    """The priorities with a policy (any tier) that counts in this calendar."""
    if calendar_id is None:
        return set()
    return set(db().scalars(select(SlaPolicy.priority).where(SlaPolicy.calendar_id == calendar_id)))


def _calendars() -> list[BusinessCalendar]:
    return list(db().scalars(select(BusinessCalendar).order_by(BusinessCalendar.name)))


@bp.get("")
@admin_required
def policies() -> str:
    tiers = db().scalars(
        select(SlaPolicy).where(SlaPolicy.tier != "").order_by(SlaPolicy.tier, SlaPolicy.priority)
    )
    return render_template(
        "admin/sla.html",
        rows=_default_rows(),
        tier_policies=list(tiers),
        calendars=_calendars(),
        priorities=list(Priority),
        max_minutes=MAX_SLA_MINUTES,
    )


@bp.post("")
@admin_required
def save_policies() -> Response:
    """The policies for every customer; fields left out of the form keep their value."""
    current = {row.priority: row for row in _default_rows()}
    values: dict[Priority, tuple[int, int | None, int | None]] = {}
    try:
        for priority in Priority:
            first = _minutes(priority, priority)
            assert first is not None
            row = current[priority]
            resolution = (
                _minutes(f"{priority}_resolution", f"{priority} resolution", optional=True)
                if f"{priority}_resolution" in request.form
                else row.resolution
            )
            calendar = (
                _calendar_id(f"{priority}_calendar")
                if f"{priority}_calendar" in request.form
                else row.calendar_id
            )
            values[priority] = (first, resolution, calendar)
    except RejectedError as exc:
        flash(error_text(exc), "error")
        return redirect(url_for("sla.policies"))
    saved = {p.priority: p for p in db().scalars(select(SlaPolicy).where(SlaPolicy.tier == ""))}
    changed = [
        priority
        for priority, value in values.items()
        if value
        != (
            current[priority].first_response,
            current[priority].resolution,
            current[priority].calendar_id,
        )
    ]
    for priority, (first, resolution, calendar) in values.items():
        policy = saved.get(priority) or SlaPolicy(priority=priority, tier="")
        policy.first_response_minutes = first
        policy.resolution_minutes = resolution
        policy.calendar_id = calendar
        db().add(policy)
    db().flush()
    _recompute_and_tell(_("SLA targets saved"), changed)
    return redirect(url_for("sla.policies"))


@bp.post("/tiers")
@admin_required
def save_tier_policy() -> Response:
    """Add or replace the policy of one priority for one customer tier (e.g. vip)."""
    try:
        tier = form_text("tier").strip().lower()
        if not tier or len(tier) > MAX_TIER:
            raise RejectedError("a tier is 1 to {limit} characters, e.g. vip", limit=MAX_TIER)
        try:
            priority = Priority(form_text("priority"))
        except ValueError:
            raise RejectedError("choose a priority from the list") from None
        first = _minutes("first_response", "first response")
        resolution = _minutes("resolution", "resolution", optional=True)
        calendar = _calendar_id("calendar")
    except RejectedError as exc:
        flash(error_text(exc), "error")
        return redirect(url_for("sla.policies"))
    policy = db().scalar(
        select(SlaPolicy).where(SlaPolicy.priority == priority, SlaPolicy.tier == tier)
    ) or SlaPolicy(priority=priority, tier=tier)
    assert first is not None
    policy.first_response_minutes = first
    policy.resolution_minutes = resolution
    policy.calendar_id = calendar
    db().add(policy)
    db().flush()
    _recompute_and_tell(
        _("SLA policy for %(tier)s %(priority)s saved", tier=tier.upper(), priority=word(priority)),
        [priority],
    )
    return redirect(url_for("sla.policies"))


@bp.post("/tiers/<int:policy_id>/delete")
@admin_required
def delete_tier_policy(policy_id: int) -> Response:
    policy = db().get(SlaPolicy, policy_id)
    if policy is None or not policy.tier:
        abort(404)
    what = _(
        "SLA policy for %(tier)s %(priority)s removed",
        tier=policy.tier.upper(),
        priority=word(policy.priority),
    )
    priority = policy.priority
    db().delete(policy)
    db().flush()
    _recompute_and_tell(what, [priority])
    return redirect(url_for("sla.policies"))


# --- calendars ---------------------------------------------------------------------------------


def _calendar_from_form(row: BusinessCalendar) -> None:
    """Fill ``row`` from the form, refusing anything the arithmetic could not use."""
    name = form_text("name").strip()
    if not name or len(name) > 100:
        raise RejectedError("a calendar needs a name of at most 100 characters")
    clash = db().scalar(select(BusinessCalendar).where(BusinessCalendar.name == name))
    if clash is not None and clash.id != row.id:
        raise RejectedError("calendar {name!r} already exists", name=name)
    hours = {}
    for index, day in enumerate(WEEKDAYS):
        try:
            spans = parse_spans(form_text(f"day{index}"))
        except RejectedError as exc:
            raise RejectedError("{day}: {exc}", day=day, exc=exc) from None
        hours[str(index)] = [str(span) for span in spans]
    holidays = sorted(day.isoformat() for day in parse_holidays(form_text("holidays")))
    row.name = name
    row.timezone = form_text("timezone").strip() or "UTC"
    row.hours = hours
    row.holidays = holidays
    calendar_of(row)  # the zone and "open at some time" are checked here


@bp.get("/calendars")
@admin_required
def calendars() -> str:
    return render_template("admin/sla_calendars.html", calendars=_calendars(), weekdays=WEEKDAYS)


@bp.post("/calendars")
@admin_required
def add_calendar() -> Response:
    return _save_calendar(BusinessCalendar(), _("Calendar %(name)s added"))


@bp.post("/calendars/<int:calendar_id>")
@admin_required
def save_calendar(calendar_id: int) -> Response:
    row = db().get(BusinessCalendar, calendar_id)
    if row is None:
        abort(404)
    return _save_calendar(row, _("Calendar %(name)s saved"))


def _save_calendar(row: BusinessCalendar, message: str) -> Response:
    try:
        _calendar_from_form(row)
    except RejectedError as exc:
        db().rollback()
        flash(error_text(exc), "error")
        return redirect(url_for("sla.calendars"))
    db().add(row)
    db().flush()
    _recompute_and_tell(message % {"name": repr(row.name)}, _priorities_using(row.id))
    return redirect(url_for("sla.calendars"))


@bp.post("/calendars/<int:calendar_id>/delete")
@admin_required
def delete_calendar(calendar_id: int) -> Response:
    row = db().get(BusinessCalendar, calendar_id)
    if row is None:
        abort(404)
    name = row.name
    priorities = _priorities_using(row.id)
    for policy in db().scalars(select(SlaPolicy).where(SlaPolicy.calendar_id == row.id)):
        policy.calendar_id = None  # its policies count around the clock from now on
    db().delete(row)
    db().flush()
    _recompute_and_tell(_("Calendar %(name)s deleted", name=repr(name)), priorities)
    return redirect(url_for("sla.calendars"))

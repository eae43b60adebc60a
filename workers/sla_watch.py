"""Near-breach and breach notices: once per ticket and target, by email and in the activity log.

The sweeper asks for one run per minute (``schedule_sla_watch``); a run looks only at tickets
whose ``sla_check_at`` has come (an indexed range), takes each with a conditional UPDATE so two
runs never notify twice, recomputes its clock as of now and sends what is due: a warning when
80 % of the target's business time has elapsed, a breach notice when it is past due (a ticket
found already past due gets the breach notice only). The notice goes to the assignee, else to
the members of the ticket's group, else to the admins, through the outbox
(``INTAKE_OUTBOUND_SMTP_URL``); without a relay or a sender address the notice is logged and
the activity log and the queue still show it.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from intake.core import metrics
from intake.core import runtime as runtime_module
from intake.core.activity import Actor, record_event
from intake.core.db.admin_models import Group, GroupMember
from intake.core.db.base import utcnow
from intake.core.db.models import Ticket, User
from intake.core.jobs import SLA_WATCH
from intake.core.outbox import queue_notification
from intake.core.runtime import Runtime
from intake.core.sla import recompute
from intake.core.sla_clock import Notice, notices_due
from intake.domain import EventKind, Role
from intake.errors import RejectedError

log = logging.getLogger(__name__)

BATCH = 500
TARGET_WORDS = {"first_response": "first response", "resolution": "resolution"}


def slot_of(now: datetime) -> str:
    return now.strftime("%Y%m%d%H%M")


def schedule_sla_watch(runtime: Runtime, now: datetime | None = None) -> bool:
    """Queue this minute's run (several sweepers, or several rounds, start it once a minute)."""
    return runtime.jobs.enqueue_once(SLA_WATCH, slot_of(now or utcnow()))


def recipients(session: Session, ticket: Ticket) -> list[str]:
    """Who hears about this ticket: its assignee, else its group's members, else the admins."""
    if ticket.assignee is not None and ticket.assignee.active:
        return [ticket.assignee.email]
    if ticket.group:
        members = list(
            session.scalars(
                select(User.email)
                .join(GroupMember, GroupMember.user_id == User.id)
                .join(Group, Group.id == GroupMember.group_id)
                .where(Group.name == ticket.group, User.active.is_(True))
                .order_by(User.email)
            )
        )
        if members:
            return members
    return list(
        session.scalars(
            select(User.email)
            .where(User.role == Role.ADMIN, User.active.is_(True))
            .order_by(User.email)
        )
    )


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "—"


def notice_text(runtime: Runtime, ticket: Ticket, notice: Notice) -> tuple[str, str]:
    clock = notice.clock
    target = TARGET_WORDS.get(clock.target, clock.target)
    state = "breached" if notice.breached else "near breach"
    subject = f"[#{ticket.id}] SLA {state}: {target} due {_when(clock.due_at)}"
    customer = ticket.customer
    who = (customer.name or customer.email or customer.phone or "") if customer else ""
    lines = [
        f"Ticket #{ticket.id}: {ticket.subject or '(no subject)'}",
        f"Customer: {who or 'unknown'}",
        f"Priority: {ticket.priority}",
        f"Group: {ticket.group or '—'}",
        f"Assignee: {ticket.assignee.email if ticket.assignee else 'nobody'}",
        "",
        f"The {target} was due {_when(clock.due_at)}."
        if notice.breached
        else f"80 % of the time to {target} has passed; it is due {_when(clock.due_at)}.",
    ]
    if runtime.settings.base_url:
        lines += ["", f"{runtime.settings.base_url.rstrip('/')}/tickets/{ticket.id}"]
    return subject, "\n".join(lines) + "\n"


def _claim(session: Session, ticket_id: int, seen: datetime) -> bool:
    """Take this ticket's check in ``session``'s transaction; False when another run took it.

    The conditional UPDATE holds the row (PostgreSQL) or the database (SQLite) until commit,
    so a second run waits and then finds the check gone; a failed run rolls the claim back.
    """
    result = session.execute(
        update(Ticket)
        .where(Ticket.id == ticket_id, Ticket.sla_check_at == seen)
        .values(sla_check_at=None)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


def _send(runtime: Runtime, session: Session, ticket: Ticket, notice: Notice) -> None:
    kind = "breached" if notice.breached else "warning"
    record_event(
        session,
        ticket,
        EventKind.SLA,
        Actor.SYSTEM,
        field=str(notice.clock.target),
        old=_when(notice.clock.due_at),
        new=kind,
    )
    if notice.breached:
        metrics.count_sla_breach(str(notice.clock.target), str(ticket.priority))
    to = recipients(session, ticket)
    if not to:
        log.warning("ticket %s: SLA %s, and nobody to tell", ticket.id, kind)
        return
    subject, text = notice_text(runtime, ticket, notice)
    try:
        queue_notification(runtime, session, to, subject, text, ticket=ticket)
    except RejectedError as exc:
        # No relay or no sender address: the timeline and the queue still show it.
        log.warning("ticket %s: SLA %s notice not sent: %s", ticket.id, kind, exc)
        return
    log.info("ticket %s: SLA %s (%s) sent to %s", ticket.id, kind, notice.clock.target, to)


def check_ticket(runtime: Runtime, ticket_id: int, seen: datetime, now: datetime) -> list[str]:
    """Send what is due for one ticket; the kinds of notice sent ("warning", "breach")."""
    with runtime.db.session() as session:
        if not _claim(session, ticket_id, seen):
            return []
        ticket = session.get(Ticket, ticket_id)
        if ticket is None:
            return []
        notified = list(ticket.sla_notified or [])
        notices = notices_due(notified, recompute(session, ticket, now), now)
        for notice in notices:
            notified += [m for m in notice.marks if m not in notified]
        ticket.sla_notified = notified
        recompute(session, ticket, now)  # the next check moves on past what is sent now
        for notice in notices:
            _send(runtime, session, ticket, notice)
    return ["breach" if n.breached else "warning" for n in notices]


def watch_sla() -> str:
    """The job: every ticket whose check has come, as of now (queue ``intake``)."""
    runtime = runtime_module.current()
    now = utcnow()
    with runtime.db.session() as session:
        due = list(
            session.execute(
                select(Ticket.id, Ticket.sla_check_at)
                .where(Ticket.sla_check_at <= now)
                .order_by(Ticket.sla_check_at)
                .limit(BATCH)
            )
        )
    sent = [
        kind
        for ticket_id, seen in due
        if seen is not None
        for kind in check_ticket(runtime, ticket_id, seen, now)
    ]
    return f"{len(due)} checked, {sent.count('warning')} warnings, {sent.count('breach')} breaches"

"""Queue analytics for admins and agents, as a page and as JSON (``GET /api/analytics``).

The overview (open tickets, SLA, first response, automatic mail) is computed here; the
dashboard's charts by ``web.analytics_dashboard`` from ``intake.core.analytics*``; every chart's
data downloads as CSV at ``/analytics/<chart>.csv`` with the page's own query string.

Every figure is one aggregate query (GROUP BY or COUNT), so the cost does not grow with the
number of rows shown. Days are UTC calendar days.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, abort, jsonify, render_template, request
from markupsafe import Markup
from sqlalchemy import String, cast, func, select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from intake.core.analytics import Filters, period_of, volume, when
from intake.core.analytics_speed import ALL, speed
from intake.core.analytics_topics import current_root_causes
from intake.core.db.base import utcnow
from intake.core.db.models import Message, Ticket, Transcript
from intake.domain import Channel, Direction, TicketStatus, TranscriptState
from web.analytics_dashboard import (
    Chart,
    build,
    choices,
    days_arg,
    filters_of,
    one_chart,
    root_cause_chart,
)
from web.auth import login_required, token_required
from web.context import db, get_runtime
from web.gc_pause import without_gc_pauses

log = logging.getLogger(__name__)
bp = Blueprint("analytics", __name__)

DEFAULT_DAYS = 30
MAX_DAYS = 366
OPEN_STATUSES = [s for s in TicketStatus if s != TicketStatus.RESOLVED]


@dataclass(frozen=True)
class DayCount:
    day: str  # YYYY-MM-DD, UTC
    email: int
    voicemail: int

    @property
    def total(self) -> int:
        return self.email + self.voicemail


@dataclass(frozen=True)
class Analytics:
    days: int
    since: datetime
    per_day: list[DayCount]
    open_total: int
    open_by_status: dict[str, int]
    open_by_priority: dict[str, int]
    open_by_category: dict[str, int]
    open_by_sentiment: dict[str, int]
    sla_breached: int
    first_response_count: int
    median_first_response_minutes: float | None
    auto_replies: int
    bounces: int
    transcripts_failed: int
    transcripts_pending: int

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["since"] = self.since.isoformat()
        data["per_day"] = [{**asdict(d), "total": d.total} for d in self.per_day]
        return data


def _by_count(counts: dict[str, int]) -> dict[str, int]:
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def compute_analytics(
    session: Session, days: int = DEFAULT_DAYS, now: datetime | None = None
) -> Analytics:
    now = now or utcnow()
    today = now.date()
    first_day = today - timedelta(days=days - 1)
    since = datetime.combine(first_day, datetime.min.time(), tzinfo=now.tzinfo)
    # The dashboard's volume query, unfiltered (one scan for both when the page has no filter).
    by_channel = volume(session, Filters(), period_of(days, now)).by_channel
    zeros = [0] * len(by_channel.days)
    per_day = [
        DayCount(
            day,
            by_channel.series.get(Channel.EMAIL.value, zeros)[index],
            by_channel.series.get(Channel.VOICEMAIL.value, zeros)[index],
        )
        for index, day in enumerate(by_channel.days)
    ]

    # Every breakdown of the open tickets, and the first-response SLA breaches among them
    # (breached while still waiting for the first answer), from one scan.
    late = Ticket.sla_due_at.is_not(None) & (Ticket.sla_due_at < now)
    unanswered = Ticket.first_response_at.is_(None)
    breakdown: dict[str, dict[str, int]] = {"status": {}, "priority": {}, "category": {}}
    breakdown["sentiment"] = {}
    sla_breached = 0
    for status, priority, category, sentiment, count, breached in session.execute(
        select(
            Ticket.status,
            Ticket.priority,
            Ticket.category,
            Ticket.sentiment,
            func.count(),
            func.sum(when(late & unanswered)),
        )
        # IN, not !=: a range per status in ix_tickets_open_analytics, which answers alone.
        .where(Ticket.status.in_(OPEN_STATUSES), Ticket.automatic.is_(False))
        .group_by(Ticket.status, Ticket.priority, Ticket.category, Ticket.sentiment)
    ):
        sla_breached += breached or 0
        values: tuple[object, ...] = (status, priority, category, sentiment)
        for name, value in zip(breakdown, values, strict=True):
            word = "none" if value is None else str(value)
            breakdown[name][word] = breakdown[name].get(word, 0) + count
    by_status = breakdown["status"]
    status_order = [s.value for s in TicketStatus if s.value in by_status]
    by_priority = breakdown["priority"]
    priority_order = [p for p in ("urgent", "high", "medium", "low") if p in by_priority]

    # The same first-response figures as the dashboard's (nearest rank), for every ticket.
    waits = speed(session, Filters(), period_of(days, now)).first_response.get(ALL)

    flags_text = cast(Message.flags, String)
    auto_replies, bounces = session.execute(
        select(
            # count(*), not count(id): PostgreSQL answers from its index alone (0019).
            func.count().filter(flags_text.like('%"auto_reply"%')),
            func.count().filter(flags_text.like('%"bounce"%')),
        ).where(Message.direction == Direction.INBOUND, Message.received_at >= since)
    ).one()
    transcripts = dict(
        session.execute(
            select(Transcript.state, func.count(Transcript.id))
            .where(
                Transcript.state.in_(
                    [
                        TranscriptState.FAILED,
                        TranscriptState.PENDING,
                        TranscriptState.RUNNING,
                    ]
                )
            )
            .group_by(Transcript.state)
        ).all()
    )
    return Analytics(
        days=days,
        since=since,
        per_day=per_day,
        open_total=sum(by_status.values()),
        open_by_status={s: by_status[s] for s in status_order},
        open_by_priority={p: by_priority[p] for p in priority_order},
        open_by_category=_by_count(breakdown["category"]),
        open_by_sentiment=_by_count(breakdown["sentiment"]),
        sla_breached=sla_breached,
        first_response_count=waits.count if waits else 0,
        median_first_response_minutes=waits.median_minutes if waits else None,
        auto_replies=auto_replies or 0,
        bounces=bounces or 0,
        transcripts_failed=transcripts.get(TranscriptState.FAILED, 0),
        transcripts_pending=transcripts.get(TranscriptState.PENDING, 0)
        + transcripts.get(TranscriptState.RUNNING, 0),
    )


def _days_arg() -> int:
    return min(max(days_arg(request.args), 1), MAX_DAYS)


@bp.get("/analytics")
@login_required
@without_gc_pauses
def analytics_page() -> str:
    session = db()
    settings = get_runtime().settings
    data = compute_analytics(session, _days_arg())
    peak = max((d.total for d in data.per_day), default=0)
    filters = filters_of(request.args)
    period = period_of(data.days)
    return render_template(
        "analytics.html",
        a=data,
        peak=peak,
        scale=max(peak, 1),
        filters=filters,
        args=filters.as_args(),
        choices=choices(session, period),
        sections=build(session, settings, filters, period),
        causes=current_root_causes(session, filters, period) if filters.topic else None,
    )


@bp.get("/analytics/<key>.csv")
@login_required
@without_gc_pauses
def chart_csv(key: str) -> Response:
    """The data behind one chart of the dashboard, for the same period and filter."""
    session = db()
    filters = filters_of(request.args)
    period = period_of(_days_arg())
    if key == "per_day":
        data = compute_analytics(session, _days_arg())
        rows = [[d.day, d.email, d.voicemail, d.total] for d in data.per_day]
        chart = Chart(key, "", Markup, ["day", "email", "voicemail", "total"], rows)
    else:
        found = one_chart(session, get_runtime().settings, key, filters, period)
        found = found or root_cause_chart(session, key, filters, period)
        if found is None:
            abort(404)
        chart = found
    name = f"{key}-{period.start.date()}-{period.days}d.csv"
    return Response(
        "\ufeff" + chart.csv(),  # the byte-order mark makes spreadsheets read UTF-8 (Chinese)
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@bp.get("/api/analytics")
@token_required
@without_gc_pauses
def analytics_json() -> Response:
    session = db()
    data = compute_analytics(session, _days_arg()).to_json()
    filters = filters_of(request.args)
    period = period_of(data["days"])
    data["filters"] = filters.as_args()
    data["charts"] = {
        chart.key: [dict(zip(chart.header, row, strict=True)) for row in chart.rows]
        for charts in build(session, get_runtime().settings, filters, period).values()
        for chart in charts
    }
    return jsonify(data)

"""The dashboard's charts: each one an SVG drawing plus the table behind it (its CSV download).

Sections are computed only when asked for, so a CSV download runs the queries of its own chart.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from flask_babel import gettext as _
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session

from intake.core.analytics import (
    DEFAULT_DAYS,
    Filters,
    Period,
    TimeSeries,
    backlog,
    period_of,
    volume,
)
from intake.core.analytics_customers import Ratings, customers, ratings
from intake.core.analytics_speed import Percentiles, speed
from intake.core.analytics_topics import Item, current_root_causes
from intake.core.db.admin_models import Category
from intake.core.db.models import Customer, Mailbox, Ticket
from intake.core.settings import Settings
from intake.domain import Channel
from web import svg_charts
from web.i18n import word

SECTIONS = ("volume", "speed", "work", "customers", "satisfaction")


@dataclass(frozen=True)
class Chart:
    """A chart's table and how to draw it: drawn only when shown (the API and CSV never are)."""

    key: str
    title: str
    draw: Callable[[], Markup]
    header: list[str]
    rows: list[list[Any]]

    @property
    def svg(self) -> Markup:
        return self.draw()

    def csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(self.header)
        writer.writerows(self.rows)
        return out.getvalue()


def _arg(args: Mapping[str, str], name: str, length: int) -> str | None:
    value = (args.get(name) or "").strip()
    return value[:length] or None


def days_arg(args: Mapping[str, str]) -> int:
    """The period's length; nonsense falls back to the default rather than failing the page."""
    try:
        return int(args.get("days", DEFAULT_DAYS))
    except ValueError:
        return DEFAULT_DAYS


def filters_of(args: Mapping[str, str]) -> Filters:
    channel = _arg(args, "channel", 20)
    mailbox = _arg(args, "mailbox", 10)
    return Filters(
        channel=channel if channel in {c.value for c in Channel} else None,
        mailbox_id=int(mailbox) if mailbox and mailbox.isdigit() else None,
        group=_arg(args, "group", 100),
        topic=_arg(args, "topic", 60),
        language=_arg(args, "language", 16),
        tier=_arg(args, "tier", 40),
    )


def period_arg(args: Mapping[str, str]) -> Period:
    return period_of(days_arg(args))


def _series_rows(ts: TimeSeries) -> tuple[list[str], list[list[Any]]]:
    names = list(ts.series)
    rows = [[day, *(ts.series[n][i] for n in names)] for i, day in enumerate(ts.days)]
    return ["day", *names], rows


def _time_chart(key: str, title: str, ts: TimeSeries, draw: Any) -> Chart:
    header, rows = _series_rows(ts)
    return Chart(key, title, partial(draw, title, ts.days, ts.series), header, rows)


def _percentile_chart(key: str, title: str, figures: dict[str, Percentiles]) -> Chart:
    rows = [[p, f.count, f.median_minutes, f.p90_minutes] for p, f in figures.items()]
    drawn: dict[str, float] = {}
    for p, f in figures.items():  # most pressing first, "all" last (as computed)
        drawn[f"{p} median"] = f.median_minutes or 0.0
        drawn[f"{p} p90"] = f.p90_minutes or 0.0
    return Chart(
        key,
        title,
        partial(svg_charts.hbars, title, drawn, " min"),
        ["priority", "tickets", "median_minutes", "p90_minutes"],
        rows,
    )


def _mix_chart(key: str, title: str, counts: dict[str, int], label: str) -> Chart:
    return Chart(
        key,
        title,
        partial(svg_charts.hbars, title, {k: float(v) for k, v in counts.items()}),
        [label, "tickets"],
        [[k, v] for k, v in counts.items()],
    )


def _rating_charts(result: Ratings) -> list[Chart]:
    charts = []
    for key, label, rows in (
        ("ratings_topic", "topic", result.by_topic),
        ("ratings_agent", "agent", result.by_agent),
        ("ratings_channel", "channel", result.by_channel),
    ):
        title = _("Satisfaction by %(what)s (good minus bad, share of ratings)", what=word(label))
        charts.append(
            Chart(
                key,
                title,
                partial(
                    svg_charts.hbars,
                    title,
                    {r.key: float(r.score or 0.0) * 100 for r in rows},
                    " %",
                ),
                [label, "good", "okay", "bad", "ratings", "net_score"],
                [[r.key, r.good, r.okay, r.bad, r.total, r.score] for r in rows],
            )
        )
    return charts


def _volume(session: Session, settings: Settings, f: Filters, p: Period) -> list[Chart]:
    v = volume(session, f, p)
    draw = svg_charts.stacked_bars
    return [
        _time_chart("volume_topic", _("Tickets per day by topic"), v.by_topic, draw),
        _time_chart("volume_channel", _("Tickets per day by channel"), v.by_channel, draw),
        _time_chart("volume_sentiment", _("Tickets per day by sentiment"), v.by_sentiment, draw),
        _time_chart("volume_complaint", _("Complaints per day"), v.by_complaint, draw),
    ]


def _speed(session: Session, settings: Settings, f: Filters, p: Period) -> list[Chart]:
    s = speed(session, f, p)
    sla_title = "SLA compliance per priority (share of tickets with no missed target)"
    sla = Chart(
        "sla",
        sla_title,
        partial(
            svg_charts.hbars,
            sla_title,
            {r.priority: (r.compliance or 0.0) * 100 for r in s.sla},
            " %",
        ),
        ["priority", "tickets", "breached", "compliance"],
        [[r.priority, r.tickets, r.breached, r.compliance] for r in s.sla],
    )
    return [
        _percentile_chart("first_response", _("First response (minutes)"), s.first_response),
        _percentile_chart("resolution", _("Resolution (minutes)"), s.resolution),
        sla,
    ]


def _work(session: Session, settings: Settings, f: Filters, p: Period) -> list[Chart]:
    return [
        _time_chart(
            "backlog", _("Backlog at the end of each day"), backlog(session, f, p), svg_charts.lines
        )
    ]


def _customers(session: Session, settings: Settings, f: Filters, p: Period) -> list[Chart]:
    c = customers(session, f, p, settings.loyal_min_tickets, settings.loyal_min_days)
    return [
        _time_chart(
            "repeats",
            _("Repeat contacts (same customer again within 7 days)"),
            c.repeats,
            svg_charts.lines,
        ),
        _mix_chart("customer_types", _("Customer type at contact"), c.types, "type"),
        _mix_chart("customer_tiers", _("Customer tier"), c.tiers, "tier"),
    ]


def _satisfaction(session: Session, settings: Settings, f: Filters, p: Period) -> list[Chart]:
    return _rating_charts(ratings(session, f, p))


BUILDERS: dict[str, Callable[[Session, Settings, Filters, Period], list[Chart]]] = {
    "volume": _volume,
    "speed": _speed,
    "work": _work,
    "customers": _customers,
    "satisfaction": _satisfaction,
}
CHART_SECTION = {
    **{
        k: "volume"
        for k in ("volume_topic", "volume_channel", "volume_sentiment", "volume_complaint")
    },
    **{k: "speed" for k in ("first_response", "resolution", "sla")},
    "backlog": "work",
    **{k: "customers" for k in ("repeats", "customer_types", "customer_tiers")},
    **{k: "satisfaction" for k in ("ratings_topic", "ratings_agent", "ratings_channel")},
}


def build(
    session: Session,
    settings: Settings,
    filters: Filters,
    period: Period,
    sections: Iterable[str] = SECTIONS,
) -> dict[str, list[Chart]]:
    return {name: BUILDERS[name](session, settings, filters, period) for name in sections}


def one_chart(
    session: Session, settings: Settings, key: str, filters: Filters, period: Period
) -> Chart | None:
    section = CHART_SECTION.get(key)
    if section is None:
        return None
    charts = BUILDERS[section](session, settings, filters, period)
    return next(c for c in charts if c.key == key)


def item_rows(items: list[Item]) -> list[list[Any]]:
    return [
        [
            i.kind,
            i.term or i.label,
            i.count,
            i.previous_count,
            i.trend,
            round(i.score, 2),
            " ".join(map(str, i.ticket_ids)),
        ]
        for i in items
    ]


ITEM_HEADER = ["kind", "term_or_label", "count", "previous_count", "trend", "score", "ticket_ids"]


def root_cause_chart(session: Session, key: str, filters: Filters, period: Period) -> Chart | None:
    if key not in ("terms", "emerging", "groups"):
        return None
    result = current_root_causes(session, filters, period)
    items: list[Item] = getattr(result, key)
    title = {
        "terms": _("Characteristic terms"),
        "emerging": _("Emerging"),
        "groups": _("Complaint groups"),
    }[key]
    values = {(i.term or i.label or "")[:24]: float(i.count) for i in items}
    return Chart(
        key, title, partial(svg_charts.hbars, title, values), ITEM_HEADER, item_rows(items)
    )


@dataclass(frozen=True)
class Choices:
    """What the filter's drop-downs offer."""

    channels: list[str]
    mailboxes: list[tuple[int, str]]
    groups: list[str]
    topics: list[str]
    languages: list[str]
    tiers: list[str]


def choices(session: Session, period: Period) -> Choices:
    in_period = (Ticket.created_at >= period.start, Ticket.created_at < period.end)
    return Choices(
        channels=[c.value for c in Channel],
        mailboxes=[(m.id, m.name) for m in session.scalars(select(Mailbox).order_by(Mailbox.name))],
        groups=[
            g
            for g in session.scalars(
                select(Ticket.group).where(*in_period).distinct().order_by(Ticket.group)
            )
            if g
        ],
        topics=list(
            session.scalars(select(Category.key).order_by(Category.position, Category.key))
        ),
        languages=[
            lang
            for lang in session.scalars(
                select(Ticket.language).where(*in_period).distinct().order_by(Ticket.language)
            )
            if lang
        ],
        tiers=[
            t
            for t in session.scalars(select(Customer.tier).distinct().order_by(Customer.tier))
            if t
        ],
    )

"""Root-cause material for analytics: each ticket's terms, and groups of similar complaints.

Runs on the ``classify`` queue, which already holds jieba and the sentence encoder, so the web
never loads either: it only aggregates the tables written here with SQL.

1. Every classified customer ticket not yet analysed gets its terms and phrases
   (``ticket_terms``, English words and jieba-segmented Chinese) and, for complaints, its
   sentence embedding; the daily background roll-up (``term_days``) of the touched days is
   recounted from ``ticket_terms``, so running twice changes nothing.
2. At most once an hour (or when asked), the complaints of the last ``GROUP_WINDOW_DAYS`` are
   grouped per topic by their embeddings (average-linkage clustering on cosine distance), each
   group labelled with its most characteristic terms against the rest of its topic.
3. Every topic's root causes for the standard periods are stored as snapshots the dashboard
   reads (``intake.core.analytics_topics.current_root_causes``).
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, time, timedelta

import numpy as np
from sklearn.cluster import AgglomerativeClustering
from sqlalchemy import delete, func, insert, literal, select
from sqlalchemy.orm import Session, selectinload

from classify.embeddings import get_encoder
from classify.term_scoring import Side, log_odds_z, prior_for
from classify.terms import extract_terms
from intake.core import runtime as runtime_module
from intake.core.analytics_jobs import GROUPS_SETTING
from intake.core.analytics_topics import refresh_snapshots
from intake.core.app_settings import app_setting, save_app_setting
from intake.core.db.admin_models import Category
from intake.core.db.analytics_models import (
    ComplaintGroup,
    ComplaintGroupMember,
    RootCauseSnapshot,
    TermDay,
    TermDayTotal,
    TicketAnalysis,
    TicketTerm,
)
from intake.core.db.base import utcnow
from intake.core.db.models import Message, Ticket
from intake.core.runtime import Runtime
from intake.domain import Channel, Direction, TranscriptState

log = logging.getLogger(__name__)

BATCH = 500  # tickets analysed per transaction
MAX_PER_RUN = 20_000  # the rest waits for the next run, so one job never runs for hours
GROUP_WINDOW_DAYS = 120  # covers a 60-day period and the one before it
GROUP_EVERY = timedelta(hours=1)
MAX_GROUPED = 3_000  # most recent complaints per topic (clustering is quadratic)
# Average cosine distance within a group: paraphrases of one problem in either language sit
# well under it, different problems of one topic above it (tuned on the shared triage set).
GROUP_DISTANCE = 0.6
MIN_GROUP_SIZE = 5
LABEL_TERMS = 3
# Unchanged data: snapshots are renewed this often, well before the web stops trusting them.
SNAPSHOT_RENEW = timedelta(minutes=10)


def _body(message: Message) -> str:
    if message.channel == Channel.VOICEMAIL:
        transcript = message.transcript
        if transcript is not None and transcript.state == TranscriptState.DONE:
            return transcript.text or ""
        return ""  # an unclear transcript's words are never analysed
    return message.new_text or message.text or ""


def ticket_texts(session: Session, ticket_ids: list[int]) -> dict[int, str]:
    """The subject and first customer message of each ticket (what the classifier read)."""
    texts: dict[int, str] = {}
    messages = session.scalars(
        select(Message)
        .where(Message.ticket_id.in_(ticket_ids), Message.direction == Direction.INBOUND)
        .order_by(Message.received_at, Message.id)
        .options(selectinload(Message.transcript))
    )
    for message in messages:
        if message.ticket_id is None or message.ticket_id in texts or message.is_automatic:
            continue
        texts[message.ticket_id] = f"{message.subject or ''}\n{_body(message)}"
    return texts


def _vector_bytes(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype=np.float32).tobytes()


def analyze_batch(session: Session, tickets: list[Ticket]) -> set[date]:
    """Terms (and complaint embeddings) of ``tickets``; returns the days whose roll-up changed."""
    texts = ticket_texts(session, [t.id for t in tickets])
    complaints = [t for t in tickets if t.complaint and texts.get(t.id, "").strip()]
    vectors = get_encoder().encode([texts[t.id] for t in complaints])
    embedding = {t.id: _vector_bytes(v) for t, v in zip(complaints, vectors, strict=True)}
    rows = [
        {"ticket_id": t.id, "term": term}
        for t in tickets
        for term in extract_terms(texts.get(t.id, ""))
    ]
    if rows:
        session.execute(insert(TicketTerm), rows)
    session.execute(
        insert(TicketAnalysis),
        [
            {"ticket_id": t.id, "analyzed_at": utcnow(), "embedding": embedding.get(t.id)}
            for t in tickets
        ],
    )
    return {t.created_at.astimezone(UTC).date() for t in tickets}


def recount_days(session: Session, days: set[date]) -> None:
    """Recount the background roll-up of ``days`` from ``ticket_terms`` (idempotent)."""
    for day in sorted(days):
        start = datetime.combine(day, time.min, tzinfo=UTC)
        in_day = (
            Ticket.created_at >= start,
            Ticket.created_at < start + timedelta(days=1),
            Ticket.automatic.is_(False),
        )
        session.execute(delete(TermDay).where(TermDay.day == day))
        session.execute(delete(TermDayTotal).where(TermDayTotal.day == day))
        session.execute(
            insert(TermDay).from_select(
                ["term", "day", "tickets"],
                select(TicketTerm.term, literal(day, TermDay.day.type), func.count())
                .join(Ticket, Ticket.id == TicketTerm.ticket_id)
                .where(*in_day)
                .group_by(TicketTerm.term),
            )
        )
        analysed = session.scalar(
            select(func.count()).select_from(TicketAnalysis).join(Ticket).where(*in_day)
        )
        terms = session.scalar(
            select(func.coalesce(func.sum(TermDay.tickets), 0)).where(TermDay.day == day)
        )
        session.add(TermDayTotal(day=day, tickets=analysed or 0, terms=terms or 0))


def analyze_new_tickets(runtime: Runtime, limit: int = MAX_PER_RUN) -> int:
    """Analyse classified customer tickets that have not been; returns how many."""
    done = 0
    while done < limit:
        with runtime.db.session() as session:
            tickets = list(
                session.scalars(
                    select(Ticket)
                    .outerjoin(TicketAnalysis, TicketAnalysis.ticket_id == Ticket.id)
                    .where(
                        TicketAnalysis.ticket_id.is_(None),
                        Ticket.automatic.is_(False),
                        Ticket.classified_at.is_not(None),
                    )
                    .order_by(Ticket.id)
                    .limit(min(BATCH, limit - done))
                )
            )
            if not tickets:
                break
            recount_days(session, analyze_batch(session, tickets))
        done += len(tickets)
    if done:
        log.info("root causes: %d tickets analysed", done)
    return done


def _label(members: list[int], others: list[int], terms: dict[int, list[str]]) -> list[str]:
    """The group's terms most characteristic against the rest of its topic's complaints."""
    inside = Counter(term for ticket in members for term in terms.get(ticket, ()))
    outside = Counter(term for ticket in others for term in terms.get(ticket, ()))
    total = len(members) + len(others)
    scored = []
    for term, count in inside.items():
        if count < 2:
            continue
        prior = prior_for(count + outside[term], total)
        z = log_odds_z(Side(count, len(members)), Side(outside[term], len(others)), prior)
        scored.append((z, count, term))
    scored.sort(key=lambda item: (-item[0], -item[1], item[2]))
    picked: list[str] = []
    for _, _, term in scored:
        # A phrase already says its words; a word inside a picked phrase adds nothing.
        if any(term in chosen or chosen in term for chosen in picked):
            continue
        picked.append(term)
        if len(picked) == LABEL_TERMS:
            break
    return picked


def _cluster(vectors: np.ndarray) -> list[list[int]]:
    if len(vectors) < MIN_GROUP_SIZE:
        return []
    labels = AgglomerativeClustering(
        n_clusters=None, distance_threshold=GROUP_DISTANCE, metric="cosine", linkage="average"
    ).fit_predict(vectors)
    groups: dict[int, list[int]] = defaultdict(list)
    for index, label in enumerate(labels):
        groups[int(label)].append(index)
    return [g for g in groups.values() if len(g) >= MIN_GROUP_SIZE]


def _embeddings(session: Session, ticket_ids: list[int]) -> dict[int, np.ndarray]:
    """Stored embeddings, computing (and storing) those of tickets marked complaints later."""
    stored = dict(
        session.execute(
            select(TicketAnalysis.ticket_id, TicketAnalysis.embedding).where(
                TicketAnalysis.ticket_id.in_(ticket_ids)
            )
        ).all()
    )
    missing = [t for t in ticket_ids if stored.get(t) is None]
    if missing:
        texts = ticket_texts(session, missing)
        vectors = get_encoder().encode([texts.get(t, "") for t in missing])
        for ticket_id, vector in zip(missing, vectors, strict=True):
            stored[ticket_id] = _vector_bytes(vector)
            analysis = session.get(TicketAnalysis, ticket_id)
            if analysis is not None:
                analysis.embedding = stored[ticket_id]
    return {t: np.frombuffer(v, dtype=np.float32) for t, v in stored.items() if v is not None}


def regroup(runtime: Runtime, now: datetime | None = None) -> int:
    """Replace the complaint groups with a fresh grouping; returns how many groups."""
    now = now or utcnow()
    since = now - timedelta(days=GROUP_WINDOW_DAYS)
    made = 0
    with runtime.db.session() as session:
        topics = session.scalars(
            select(Ticket.category)
            .join(TicketAnalysis, TicketAnalysis.ticket_id == Ticket.id)
            .where(
                Ticket.complaint.is_(True), Ticket.automatic.is_(False), Ticket.created_at >= since
            )
            .distinct()
        ).all()
        session.execute(delete(ComplaintGroupMember))
        session.execute(delete(ComplaintGroup))
        for topic in topics:
            ids = list(
                session.scalars(
                    select(Ticket.id)
                    .join(TicketAnalysis, TicketAnalysis.ticket_id == Ticket.id)
                    .where(
                        Ticket.category.is_(None) if topic is None else Ticket.category == topic,
                        Ticket.complaint.is_(True),
                        Ticket.automatic.is_(False),
                        Ticket.created_at >= since,
                    )
                    .order_by(Ticket.created_at.desc())
                    .limit(MAX_GROUPED)
                )
            )
            vectors = _embeddings(session, ids)
            ids = [t for t in ids if t in vectors]
            if len(ids) < MIN_GROUP_SIZE:
                continue
            terms: dict[int, list[str]] = defaultdict(list)
            for ticket_id, term in session.execute(
                select(TicketTerm.ticket_id, TicketTerm.term).where(TicketTerm.ticket_id.in_(ids))
            ):
                terms[ticket_id].append(term)
            for indexes in _cluster(np.vstack([vectors[t] for t in ids])):
                members = [ids[i] for i in indexes]
                member_set = set(members)
                label_terms = _label(members, [t for t in ids if t not in member_set], terms)
                group = ComplaintGroup(
                    category=topic,
                    label=" · ".join(label_terms) or f"{len(members)} similar complaints",
                    terms=label_terms,
                    size=len(members),
                    computed_at=now,
                )
                session.add(group)
                session.flush()
                session.execute(
                    insert(ComplaintGroupMember),
                    [{"group_id": group.id, "ticket_id": t} for t in members],
                )
                made += 1
        save_app_setting(session, GROUPS_SETTING, {"computed_at": now.isoformat(), "groups": made})
    log.info("root causes: %d complaint groups", made)
    return made


def groups_due(runtime: Runtime, now: datetime) -> bool:
    with runtime.db.session() as session:
        computed_at = app_setting(session, GROUPS_SETTING).get("computed_at")
        if computed_at is None:
            return True
        last = datetime.fromisoformat(computed_at)
    return now - last >= GROUP_EVERY


def snapshots_due(runtime: Runtime, now: datetime) -> bool:
    """True when today's snapshots are missing or older than ``SNAPSHOT_RENEW``."""
    with runtime.db.session() as session:
        newest = session.scalar(
            select(func.max(RootCauseSnapshot.computed_at)).where(
                RootCauseSnapshot.key.like(f"{now.astimezone(UTC).date() + timedelta(days=1)}|%")
            )
        )
    return newest is None or now - newest >= SNAPSHOT_RENEW


def refresh(runtime: Runtime, now: datetime) -> int:
    """Store every topic's root causes for the standard periods (what the dashboard asks)."""
    with runtime.db.session() as session:
        topics: list[str | None] = [None, *session.scalars(select(Category.key))]
        return refresh_snapshots(session, topics, now)


def update_root_causes() -> str:
    """The periodic job: analyse new tickets, regroup complaints when an hour has passed, and
    renew the dashboard's snapshots."""
    runtime = runtime_module.current()
    now = utcnow()
    analysed = analyze_new_tickets(runtime)
    groups = regroup(runtime, now) if groups_due(runtime, now) else None
    # Snapshots cost a few seconds: renewed when something changed, else before they go stale.
    changed = bool(analysed) or groups is not None or snapshots_due(runtime, now)
    snapshots = refresh(runtime, utcnow()) if changed else 0
    return f"{analysed} analysed, {snapshots} snapshots" + (
        "" if groups is None else f", {groups} groups"
    )

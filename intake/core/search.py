"""Full-text search over tickets: one search document per ticket, kept in step with its text.

A ticket's document is its subject, every sender's name and address, every message body and
voicemail transcript, as terms from ``intake.core.search_text`` (words, CJK bigrams). SQLite
keeps the documents in an FTS5 table (``ticket_fts``, rowid = ticket id) and ranks by bm25;
PostgreSQL keeps a ``tsvector`` per ticket (``ticket_search``, GIN-indexed) and ranks by
``ts_rank``. Both are written from terms built here, so both databases find the same tickets.
Neither table is a model: migration 0011 creates them and Alembic's comparison leaves them out.

The index is written by the transaction that writes the text: an ``after_flush`` listener
rebuilds the documents of the tickets whose text changed in that flush, so a rollback takes the
index change back with the text. ``intake search reindex`` rebuilds everything
(``intake.core.search_reindex``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    Float,
    Integer,
    MetaData,
    Table,
    Text,
    and_,
    any_,
    bindparam,
    delete,
    event,
    inspect,
    literal_column,
    or_,
    select,
    text,
    true,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.selectable import CTE

from intake.core.db.models import Message, Ticket, Transcript
from intake.core.search_text import MAX_POSITIONS, QueryPart, document_terms, query_parts

log = logging.getLogger(__name__)

# Table names, also read by the Alembic environment (these tables are not models).
SQLITE_TABLE = "ticket_fts"
POSTGRES_TABLE = "ticket_search"
SEARCH_TABLES = frozenset({SQLITE_TABLE, POSTGRES_TABLE})
POSTGRES_INDEX = f"ix_{POSTGRES_TABLE}_document"
POSTGRES_INDEX_DDL = f"CREATE INDEX {POSTGRES_INDEX} ON {POSTGRES_TABLE} USING gin (document)"
# Text past this length in one ticket is neither indexed nor kept for snippets: long bodies
# are quoted history or pasted logs, and PostgreSQL limits a tsvector to 1 MB.
MAX_DOCUMENT_CHARS = 50_000
_POSTGRES_MAX_POSITION = 16_383
_POSTGRES_MAX_PLACES = 256  # positions kept per term (PostgreSQL's limit)

# Columns whose change alters a ticket's document.
_MESSAGE_TEXT = ("subject", "text", "from_name", "from_addr", "caller_name", "caller_number")

# Core views of the search tables, for queries (no model: see the module docstring).
_meta = MetaData()
postgres_search = Table(
    POSTGRES_TABLE,
    _meta,
    Column("ticket_id", Integer, primary_key=True),
    Column("content", Text),
    Column("document", Text),
)


def is_postgres(session_or_connection: Session | Connection) -> bool:
    bind = (
        session_or_connection.get_bind()
        if isinstance(session_or_connection, Session)
        else session_or_connection
    )
    return bind.dialect.name == "postgresql"


# --- documents ---------------------------------------------------------------------------------


def ticket_documents(connection: Connection, ticket_ids: Sequence[int]) -> dict[int, str]:
    """Each existing ticket's searchable text: subject, senders, bodies, transcripts."""
    parts: dict[int, list[str]] = {
        ticket_id: [subject or ""]
        for ticket_id, subject in connection.execute(
            select(Ticket.id, Ticket.subject).where(Ticket.id.in_(ticket_ids))
        )
    }
    rows = connection.execute(
        select(
            Message.ticket_id,
            Message.subject,
            Message.from_name,
            Message.from_addr,
            Message.caller_name,
            Message.caller_number,
            Message.text,
            Transcript.text,
        )
        .outerjoin(Transcript, Transcript.message_id == Message.id)
        .where(Message.ticket_id.in_(ticket_ids))
        .order_by(Message.ticket_id, Message.received_at, Message.id)
    )
    for ticket_id, *values in rows:
        seen = parts.get(ticket_id or 0)
        if seen is None:
            continue
        for value in values:
            if value and value not in seen:
                seen.append(value)
    return {ticket_id: "\n".join(p)[:MAX_DOCUMENT_CHARS] for ticket_id, p in parts.items()}


def _tsvector_literal(terms: Sequence[str]) -> str:
    """A ``tsvector`` in its text form: exact terms with positions, no parser involved.

    Positions count from 1 and grow, so each term's list is already sorted and distinct, save
    past PostgreSQL's last position, where every later occurrence shares that one.
    """
    positions: dict[str, list[int]] = {}
    for index, term in enumerate(terms, 1):
        place = index if index < _POSTGRES_MAX_POSITION else _POSTGRES_MAX_POSITION
        places = positions.get(term)
        if places is None:
            positions[term] = [place]
        elif len(places) < _POSTGRES_MAX_PLACES and places[-1] != place:
            places.append(place)
    return " ".join(
        "'"
        + (term.replace("\\", "\\\\").replace("'", "''") if "'" in term or "\\" in term else term)
        + "':"
        + ",".join(map(str, places))
        for term, places in positions.items()
    )


def postgres_rows(documents: dict[int, str]) -> list[tuple[int, str, str]]:
    """(ticket_id, content, document as a tsvector literal) for ``ticket_search``."""
    return [(i, doc, _tsvector_literal(document_terms(doc))) for i, doc in documents.items()]


def index_tickets(connection: Connection, ticket_ids: Iterable[int]) -> int:
    """Rebuild the documents of these tickets (dropping those of tickets that are gone)."""
    ids = sorted(set(ticket_ids))
    if not ids:
        return 0
    documents = ticket_documents(connection, ids)
    if connection.dialect.name == "postgresql":
        connection.execute(delete(postgres_search).where(postgres_search.c.ticket_id.in_(ids)))
        rows = [
            {"id": i, "content": content, "document": document}
            for i, content, document in postgres_rows(documents)
        ]
        if rows:
            connection.execute(
                text(
                    f"INSERT INTO {POSTGRES_TABLE} (ticket_id, content, document)"
                    " VALUES (:id, :content, CAST(:document AS tsvector))"
                ),
                rows,
            )
    else:
        connection.execute(
            text(f"DELETE FROM {SQLITE_TABLE} WHERE rowid IN :ids").bindparams(
                bindparam("ids", expanding=True)
            ),
            {"ids": ids},
        )
        rows = [
            {"id": i, "content": doc, "terms": " ".join(document_terms(doc)[: MAX_POSITIONS * 2])}
            for i, doc in documents.items()
        ]
        if rows:
            connection.execute(
                text(
                    f"INSERT INTO {SQLITE_TABLE} (rowid, terms, content)"
                    " VALUES (:id, :terms, :content)"
                ),
                rows,
            )
    return len(documents)


def stored_contents(session: Session, ticket_ids: Sequence[int]) -> dict[int, str]:
    """The indexed text of these tickets, for snippets."""
    if not ticket_ids:
        return {}
    table = POSTGRES_TABLE if is_postgres(session) else SQLITE_TABLE
    key = "ticket_id" if is_postgres(session) else "rowid"
    rows = session.execute(
        text(f"SELECT {key}, content FROM {table} WHERE {key} IN :ids").bindparams(
            bindparam("ids", expanding=True)
        ),
        {"ids": list(ticket_ids)},
    )
    return {int(ticket_id): str(content or "") for ticket_id, content in rows}


# --- keeping the index in step -----------------------------------------------------------------


def _changed(row: Any, names: Iterable[str]) -> bool:
    state = inspect(row)
    return any(state.attrs[name].history.has_changes() for name in names)


def _tickets_to_reindex(session: Session) -> tuple[set[int], set[int], set[int]]:
    """(tickets to rebuild, ticket ids removed, messages whose transcript changed)."""
    tickets: set[int] = set()
    removed: set[int] = set()
    transcripts: set[int] = set()
    for row in session.new:
        if isinstance(row, Ticket):
            tickets.add(row.id)
        elif isinstance(row, Message) and row.ticket_id is not None:
            tickets.add(row.ticket_id)
        elif isinstance(row, Transcript) and row.text:
            transcripts.add(row.message_id)
    for row in session.dirty:
        if isinstance(row, Ticket) and _changed(row, ("subject",)):
            tickets.add(row.id)
        elif isinstance(row, Message) and _changed(row, (*_MESSAGE_TEXT, "ticket_id", "ticket")):
            state = inspect(row)
            if row.ticket_id is not None:
                tickets.add(row.ticket_id)
            # The ticket a message left (a merge, a re-thread) loses its text.
            tickets.update(i for i in state.attrs.ticket_id.history.deleted if i is not None)
            tickets.update(t.id for t in state.attrs.ticket.history.deleted if t is not None)
        elif isinstance(row, Transcript) and _changed(row, ("text",)):
            transcripts.add(row.message_id)
    for row in session.deleted:
        if isinstance(row, Ticket):
            removed.add(row.id)
        elif isinstance(row, Message) and row.ticket_id is not None:
            tickets.add(row.ticket_id)
        elif isinstance(row, Transcript):
            transcripts.add(row.message_id)
    return tickets - removed, removed, transcripts


@event.listens_for(Session, "after_flush")
def keeps_index_in_step(session: Session, _context: Any) -> None:
    """Rebuild, in the flushing transaction, the documents of the tickets whose text changed.

    Registered on import; ``intake.core.tickets`` imports it, so every process that writes
    tickets or messages has it.
    """
    tickets, removed, transcripts = _tickets_to_reindex(session)
    if not (tickets or removed or transcripts):
        return
    connection = session.connection()
    if transcripts:
        tickets.update(
            i
            for i in connection.scalars(
                select(Message.ticket_id).where(Message.id.in_(transcripts))
            )
            if i is not None
        )
    # Removed tickets have no text left: rebuilding finds nothing and drops their documents.
    index_tickets(connection, tickets | removed)


# --- matching ----------------------------------------------------------------------------------


def _fts5_query(parts: Sequence[QueryPart]) -> str:
    return " AND ".join('"' + " ".join(p.terms) + '"' + ("*" if p.prefix else "") for p in parts)


def _tsquery(parts: Sequence[QueryPart]) -> str:
    def term(value: str, prefix: bool) -> str:
        quoted = "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"
        return quoted + (":*" if prefix else "")

    return " & ".join(
        "("
        + " <-> ".join(term(t, p.prefix and i == len(p.terms) - 1) for i, t in enumerate(p.terms))
        + ")"
        for p in parts
    )


@dataclass(frozen=True)
class SearchHits:
    """The tickets matching a query, as a subquery of (ticket_id, score): lower scores first.

    ``among_hits`` is a condition on ``Ticket`` to add to a query joining ``hits``: on
    PostgreSQL, ``tickets.id = ANY(ARRAY(SELECT ticket_id FROM search_hits))``, so the tickets
    are read by primary key for the hits alone. Without it the planner, costing index probes as
    disk reads, prefers to read every ticket matching the other filters (or all of them) and
    merge or hash them with the hits: tens of thousands of rows for a few hundred hits.
    """

    hits: CTE
    among_hits: ColumnElement[bool]

    @property
    def ticket_id(self) -> Any:
        return self.hits.c.ticket_id

    @property
    def score(self) -> Any:
        return self.hits.c.score


def search_hits(session: Session, query: str, *, ranked: bool = True) -> SearchHits | None:
    """The matches of ``query``, ranked; None when the query has no searchable term.

    Unranked (score 0 for all, for counting), the database skips scoring every match; on
    PostgreSQL the hits are then a plain join (no ``among_hits``), so a count that stops at its
    cap reads the hits only until it has that many tickets, not all of them first (13,693 hits
    of "refund" at 1,000,000 tickets: 350 -> 110 ms).
    """
    parts = query_parts(query)
    if not parts:
        return None
    postgres = is_postgres(session)
    if postgres:
        # ts_rank is a float4: as a double it survives the cursor's JSON round trip exactly
        # (its float4 text, read back as a double, differs, and the next page repeated rows).
        score = (
            "-CAST(ts_rank(document, CAST(:tsq AS tsquery)) AS double precision)"
            if ranked
            else "0.0"
        )
        query_sql = text(
            f"SELECT ticket_id, {score} AS score"
            f" FROM {POSTGRES_TABLE} WHERE document @@ CAST(:tsq AS tsquery)"
        ).bindparams(tsq=_tsquery(parts))
    else:
        score = f"bm25({SQLITE_TABLE})" if ranked else "0.0"
        query_sql = text(
            f"SELECT rowid AS ticket_id, {score} AS score"
            f" FROM {SQLITE_TABLE} WHERE {SQLITE_TABLE} MATCH :fts"
        ).bindparams(fts=_fts5_query(parts))
    hits = query_sql.columns(Column("ticket_id", Integer), Column("score", Float)).cte(
        "search_hits"
    )
    if postgres and not ranked:
        return SearchHits(hits, true())
    hits = hits.prefix_with("MATERIALIZED")
    return SearchHits(hits, _among(hits) if postgres else true())


def _among(hits: CTE) -> ColumnElement[bool]:
    return Ticket.id == any_(literal_column(f"ARRAY(SELECT ticket_id FROM {hits.name})"))


def best_hits(
    session: Session, hits: SearchHits, after: tuple[float, int] | None, count: int
) -> SearchHits:
    """The first ``count`` of ``hits`` after ``after`` in rank order (score, then ticket id).

    A page of results joins these instead of every hit: the ranking still scores every match,
    but only these few tickets are then read and filtered (all 13,693 hits of "refund" at
    1,000,000 tickets cost 13,693 ticket reads). When the filters leave fewer than a page of
    them, the caller reads from all the hits.
    """
    query = select(hits.ticket_id, hits.score)
    if after is not None:
        score, ticket_id = after
        query = query.where(
            or_(hits.score > score, and_(hits.score == score, hits.ticket_id > ticket_id))
        )
    best = (
        query.order_by(hits.score, hits.ticket_id)
        .limit(count)
        .cte("best_hits")
        .prefix_with("MATERIALIZED")
    )
    return SearchHits(best, _among(best) if is_postgres(session) else true())

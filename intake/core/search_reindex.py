"""Rebuilding the whole search index (``intake search reindex``, migration 0011, bench seeding).

Apart from ``intake.core.search`` so that only the processes that rebuild import psycopg's COPY
support: every process that writes ticket text imports the search module.
"""

from __future__ import annotations

from collections.abc import Sequence

import psycopg
from sqlalchemy import Connection, select, text

from intake.core.db.models import Ticket
from intake.core.search import (
    POSTGRES_INDEX,
    POSTGRES_INDEX_DDL,
    POSTGRES_TABLE,
    SQLITE_TABLE,
    index_tickets,
    postgres_rows,
    ticket_documents,
)


def _copy_postgres(connection: Connection, ticket_ids: Sequence[int]) -> int:
    """Write these tickets' documents into the (emptied) PostgreSQL table with one COPY: many
    times faster than row-by-row INSERTs when the whole index is rebuilt."""
    rows = postgres_rows(ticket_documents(connection, ticket_ids))
    raw = connection.connection.driver_connection
    assert isinstance(raw, psycopg.Connection)
    with raw.cursor().copy(
        f"COPY {POSTGRES_TABLE} (ticket_id, content, document) FROM STDIN"
    ) as copy:
        for row in rows:
            copy.write_row(row)
    return len(rows)


def reindex_all(connection: Connection, batch: int = 2000) -> int:
    """Rebuild every ticket's document, in batches; returns how many tickets were indexed."""
    postgres = connection.dialect.name == "postgresql"
    if postgres:
        connection.execute(text(f"TRUNCATE {POSTGRES_TABLE}"))
        # One GIN build at the end is many times faster than growing the index row by row.
        connection.execute(text(f"DROP INDEX IF EXISTS {POSTGRES_INDEX}"))
    else:
        connection.execute(text(f"DELETE FROM {SQLITE_TABLE}"))
    done = 0
    last = 0
    while True:
        ids = list(
            connection.scalars(
                select(Ticket.id).where(Ticket.id > last).order_by(Ticket.id).limit(batch)
            )
        )
        if not ids:
            break
        done += _copy_postgres(connection, ids) if postgres else index_tickets(connection, ids)
        last = ids[-1]
    if postgres:
        connection.execute(text("SET LOCAL maintenance_work_mem = '256MB'"))
        connection.execute(text(POSTGRES_INDEX_DDL))
    else:
        connection.execute(text(f"INSERT INTO {SQLITE_TABLE}({SQLITE_TABLE}) VALUES ('optimize')"))
    return done

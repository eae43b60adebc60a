"""Keep the query planner's statistics current, so new indexes are used the way they should be.

PostgreSQL's autovacuum analyzes tables as they grow; SQLite never does by itself. Without
statistics SQLite guesses, and once guessed an index for the open-ticket analytics that made the
queue's status filter sort every open ticket (0.3 ms became 237 ms). So: ``ANALYZE`` after each
upgrade (on both databases: an upgrade may add indexes), and on SQLite ``PRAGMA optimize``
hourly from the sweeper, which re-analyzes only the tables that changed enough to matter.
``analysis_limit`` samples instead of reading whole indexes, so a million-ticket file takes
milliseconds, not minutes.
"""

from __future__ import annotations

import logging

from sqlalchemy import Engine, text

log = logging.getLogger(__name__)

ANALYSIS_LIMIT = 1000  # rows SQLite samples per index (``PRAGMA analysis_limit``)
OPTIMIZE_EVERY_SECONDS = 3600.0


def analyze(engine: Engine) -> None:
    """Gather statistics for every table (after a schema change)."""
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(text(f"PRAGMA analysis_limit={ANALYSIS_LIMIT}"))
        conn.execute(text("ANALYZE"))
    log.info("planner statistics gathered (%s)", engine.dialect.name)


def optimize(engine: Engine) -> None:
    """SQLite: refresh the statistics that went stale; PostgreSQL's autovacuum does this."""
    if engine.dialect.name != "sqlite":
        return
    with engine.begin() as conn:
        conn.execute(text(f"PRAGMA analysis_limit={ANALYSIS_LIMIT}"))
        conn.execute(text("PRAGMA optimize"))

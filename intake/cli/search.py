"""``intake search reindex``: rebuild the full-text search index from the stored tickets.

The index is kept in step by every write (``intake.core.search``); this is for an index lost or
made by an older version, and after bulk loads that bypass the application.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from intake.cli.accounts import open_database
from intake.core.search_reindex import reindex_all
from intake.core.settings import Settings


def register(commands: Any) -> None:
    search = commands.add_parser("search", help="full-text search index").add_subparsers(
        dest="search_command", required=True, metavar="ACTION"
    )
    reindex = search.add_parser("reindex", help="rebuild the search index of every ticket")
    reindex.set_defaults(handler=run_reindex)


def run_reindex(_args: argparse.Namespace, settings: Settings) -> int:
    database = open_database(settings)
    started = time.monotonic()
    try:
        with database.engine.begin() as connection:
            count = reindex_all(connection)
    finally:
        database.dispose()
    print(f"indexed {count} tickets in {time.monotonic() - started:.1f} s")
    return 0

"""``intake migrate``: bring the database schema up to date (Alembic)."""

from __future__ import annotations

import argparse
from typing import Any

from intake.core.db.migrate import upgrade
from intake.core.settings import Settings


def register(commands: Any) -> None:
    migrate = commands.add_parser("migrate", help="apply database migrations")
    migrate.set_defaults(handler=run_migrate)


def run_migrate(args: argparse.Namespace, settings: Settings) -> int:
    upgrade(settings.database_url)
    print("database is up to date")
    return 0

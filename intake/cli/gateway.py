"""``intake up`` (every service on this machine, supervised) and ``intake migrate``."""

from __future__ import annotations

import argparse
from typing import Any

from intake.cli.supervisor import Supervisor
from intake.core.db.migrate import upgrade
from intake.core.settings import Settings


def register(commands: Any) -> None:
    up = commands.add_parser("up", help="run every service on this machine (Ctrl-C stops all)")
    up.set_defaults(handler=run_up)
    migrate = commands.add_parser("migrate", help="apply database migrations")
    migrate.set_defaults(handler=run_migrate)


def run_up(args: argparse.Namespace, settings: Settings) -> int:
    return Supervisor(settings).run()


def run_migrate(args: argparse.Namespace, settings: Settings) -> int:
    upgrade(settings.database_url)
    print("database is up to date")
    return 0

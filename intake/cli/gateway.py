"""``intake up``: every service on this machine, supervised."""

from __future__ import annotations

import argparse
from typing import Any

from intake.cli.supervisor import Supervisor
from intake.core.settings import Settings


def register(commands: Any) -> None:
    up = commands.add_parser("up", help="run every service on this machine (Ctrl-C stops all)")
    up.set_defaults(handler=run_up)


def run_up(args: argparse.Namespace, settings: Settings) -> int:
    return Supervisor(settings).run()

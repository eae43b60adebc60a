"""``intake sweeper``: re-enqueue stored items whose jobs were lost."""

from __future__ import annotations

import argparse
from typing import Any

from intake.cli.process import start_heartbeat, start_runtime, wait_for_stop_signal
from intake.core.settings import Settings
from intake.domain import ProcessRole
from workers.sweeper import run_sweeper


def register(commands: Any) -> None:
    sweeper = commands.add_parser("sweeper", help="re-enqueue stored items that are not queued")
    sweeper.set_defaults(handler=run_sweeper_command)


def run_sweeper_command(args: argparse.Namespace, settings: Settings) -> int:
    runtime = start_runtime(settings)
    heartbeat = start_heartbeat(runtime, ProcessRole.SWEEPER)
    try:
        run_sweeper(runtime, wait_for_stop_signal())
    finally:
        heartbeat.stop()
        runtime.close()
    return 0

"""``intake worker --queues ...``: an RQ worker for some of the gateway's queues."""

from __future__ import annotations

import argparse
from typing import Any

from intake.cli.process import start_runtime
from intake.core.settings import Settings
from workers.run import run_worker


def register(commands: Any) -> None:
    worker = commands.add_parser("worker", help="run an RQ worker")
    worker.add_argument(
        "--queues", default="intake,outbound,classify,analytics", help="comma-separated queue names"
    )
    worker.add_argument("--burst", action="store_true", help="exit when the queues are empty")
    worker.set_defaults(handler=run_worker_command)


def run_worker_command(args: argparse.Namespace, settings: Settings) -> int:
    runtime = start_runtime(settings)
    try:
        names = [name.strip() for name in args.queues.split(",") if name.strip()]
        run_worker(runtime, names, args.burst)
    finally:
        runtime.close()
    return 0

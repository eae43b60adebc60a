"""``intake voicemail-spool``: ingest audio files dropped in ``INTAKE_VOICEMAIL_SPOOL``."""

from __future__ import annotations

import argparse
from typing import Any

from intake.cli.process import start_heartbeat, start_runtime, wait_for_stop_signal
from intake.collectors.spool import run_spool_watcher
from intake.core.settings import Settings
from intake.domain import ProcessRole
from intake.errors import ConfigError


def register(commands: Any) -> None:
    spool = commands.add_parser(
        "voicemail-spool", help="ingest audio files dropped in INTAKE_VOICEMAIL_SPOOL"
    )
    spool.set_defaults(handler=run_voicemail_spool)


def run_voicemail_spool(args: argparse.Namespace, settings: Settings) -> int:
    if settings.voicemail_spool is None:
        raise ConfigError("INTAKE_VOICEMAIL_SPOOL is not set")
    runtime = start_runtime(settings)
    heartbeat = start_heartbeat(runtime, ProcessRole.SPOOL)
    try:
        run_spool_watcher(runtime, settings.voicemail_spool, wait_for_stop_signal())
    finally:
        heartbeat.stop()
        runtime.close()
    return 0

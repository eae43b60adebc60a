"""``intake imap``: the IMAP collector, one connection thread per enabled mailbox."""

from __future__ import annotations

import argparse
import logging
from typing import Any

from intake.cli.process import start_heartbeat, start_runtime, wait_for_stop_signal
from intake.collectors.imap.manager import ImapManager
from intake.core.settings import Settings
from intake.domain import ProcessRole

log = logging.getLogger(__name__)


def register(commands: Any) -> None:
    imap = commands.add_parser("imap", help="run the IMAP collector for every enabled mailbox")
    imap.set_defaults(handler=run_imap)


def run_imap(args: argparse.Namespace, settings: Settings) -> int:
    runtime = start_runtime(settings)
    stop = wait_for_stop_signal()
    log.info("IMAP collector starting")
    # Each mailbox reports its own connection state on the admin page; the beat says the
    # collector itself runs.
    heartbeat = start_heartbeat(runtime, ProcessRole.IMAP)
    try:
        ImapManager(runtime, lease_ttl=settings.imap_lease_seconds).run(stop)
    finally:
        heartbeat.stop()
        runtime.close()
    return 0

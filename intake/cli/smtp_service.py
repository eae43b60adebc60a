"""``intake smtp``: the SMTP collector."""

from __future__ import annotations

import argparse
import logging
from typing import Any

from intake.cli.process import start_runtime, wait_for_stop_signal
from intake.collectors.smtp import make_controller
from intake.core.settings import Settings

log = logging.getLogger(__name__)


def register(commands: Any) -> None:
    smtp = commands.add_parser("smtp", help="run the SMTP collector")
    smtp.set_defaults(handler=run_smtp)


def run_smtp(args: argparse.Namespace, settings: Settings) -> int:
    runtime = start_runtime(settings)
    stop = wait_for_stop_signal()
    controller = make_controller(runtime, settings.smtp_host, settings.smtp_port)
    controller.start()
    log.info("SMTP listening on %s:%s", settings.smtp_host, settings.smtp_port)
    try:
        stop.wait()
    finally:
        controller.stop()
        runtime.close()
    return 0

"""``intake smtp``: the SMTP collector."""

from __future__ import annotations

import argparse
import asyncio
import logging
from typing import Any

from aiosmtpd.controller import Controller

from intake.cli.process import start_heartbeat, start_runtime, wait_for_stop_signal
from intake.collectors.smtp import make_controller
from intake.core.settings import Settings
from intake.domain import ProcessRole

log = logging.getLogger(__name__)

# The listener's event loop must run a no-op within this long for the process to beat.
LOOP_ANSWER_S = 2.0


def register(commands: Any) -> None:
    smtp = commands.add_parser("smtp", help="run the SMTP collector")
    smtp.set_defaults(handler=run_smtp)


def loop_answers(controller: Controller) -> bool:
    """Whether the SMTP event loop is serving: a wedged loop accepts no connection."""
    future = asyncio.run_coroutine_threadsafe(asyncio.sleep(0), controller.loop)
    try:
        future.result(timeout=LOOP_ANSWER_S)
    except TimeoutError:
        future.cancel()
        return False
    return True


def run_smtp(args: argparse.Namespace, settings: Settings) -> int:
    runtime = start_runtime(settings)
    stop = wait_for_stop_signal()
    controller = make_controller(runtime, settings.smtp_host, settings.smtp_port)
    controller.start()
    log.info("SMTP listening on %s:%s", settings.smtp_host, settings.smtp_port)
    heartbeat = start_heartbeat(runtime, ProcessRole.SMTP, check=lambda: loop_answers(controller))
    try:
        stop.wait()
    finally:
        heartbeat.stop()
        controller.stop()
        runtime.close()
    return 0

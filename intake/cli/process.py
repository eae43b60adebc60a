"""What every long-running command needs: its process's runtime and a way to be told to stop."""

from __future__ import annotations

import signal
import threading

from intake.core.runtime import Runtime, set_current
from intake.core.settings import Settings


def start_runtime(settings: Settings) -> Runtime:
    """The process's runtime, also found by jobs through ``intake.core.runtime.current``."""
    runtime = Runtime.from_settings(settings)
    set_current(runtime)
    return runtime


def wait_for_stop_signal() -> threading.Event:
    """An event set by SIGTERM or Ctrl-C."""
    stop = threading.Event()

    def handle(_signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    return stop

"""What every long-running command needs: its process's runtime, a heartbeat and a way to be
told to stop."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable

from intake.core.db.schema_version import require_current_schema
from intake.core.heartbeat import Heartbeat
from intake.core.runtime import Runtime, set_current
from intake.core.settings import Settings
from intake.domain import ProcessRole


def start_runtime(settings: Settings) -> Runtime:
    """The process's runtime, also found by jobs through ``intake.core.runtime.current``."""
    runtime = Runtime.from_settings(settings)
    require_current_schema(runtime.db)
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


def start_heartbeat(
    runtime: Runtime, role: ProcessRole, check: Callable[[], bool] | None = None
) -> Heartbeat:
    """Beat in Redis while this process runs, so /readyz sees it (``intake.core.heartbeat``)."""
    return Heartbeat(
        runtime.jobs.connection,
        role,
        interval_s=runtime.settings.recovery.heartbeat_seconds,
        check=check,
    ).start()

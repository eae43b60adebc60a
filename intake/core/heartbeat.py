"""Process heartbeats in Redis: a claim names its process, and a dead process loses its claims.

Every worker process beats (``Heartbeat``) every few seconds under its name; a claim on a
message or transcript stores that name (``intake.core.states``). The sweeper hands back claims
whose process has stopped beating, so a worker killed mid-job delays its item by about a minute,
not by the job's whole timeout.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Iterable

from redis import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

INTERVAL_S = 5.0
TTL_S = 20  # a process missing four beats is dead
KEY = "intake:alive:{}"


def process_name() -> str:
    """This process, as its claims and heartbeat name it."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Heartbeat:
    """A daemon thread that keeps this process's key alive in Redis until stopped."""

    def __init__(self, connection: Redis, name: str | None = None) -> None:
        self.connection = connection
        self.name = name or process_name()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)

    def start(self) -> Heartbeat:
        self.beat()
        self._thread.start()
        return self

    def beat(self) -> None:
        try:
            self.connection.set(KEY.format(self.name), "1", ex=TTL_S)
        except RedisError as exc:
            log.warning("heartbeat not written (Redis unavailable): %s", exc)

    def _run(self) -> None:
        while not self._stop.wait(INTERVAL_S):
            self.beat()

    def stop(self) -> None:
        self._stop.set()
        try:
            self.connection.delete(KEY.format(self.name))
        except RedisError:
            pass  # the key expires by itself


def living(connection: Redis, names: Iterable[str]) -> set[str]:
    """The names among ``names`` whose process beat recently. Raises RedisError."""
    names = list(dict.fromkeys(names))
    if not names:
        return set()
    pipeline = connection.pipeline(transaction=False)
    for name in names:
        pipeline.exists(KEY.format(name))
    return {name for name, found in zip(names, pipeline.execute(), strict=True) if found}

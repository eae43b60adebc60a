"""Process heartbeats in Redis: who is alive, what it does, and whose claims are orphaned.

Every long-running process (SMTP, IMAP, voicemail spool, workers, sweeper) beats
(``Heartbeat``) every few seconds under its name, ``host:pid``. A beat is a key that expires
after four missed beats, holding what the process does (its role, and a worker's queues), plus
the process's name in one registry set, so ``/readyz`` can list every live process of the
gateway on every host without scanning Redis.

A claim on a message or transcript stores the claimant's name (``intake.core.states``): the
sweeper hands back claims whose process stopped beating, so a worker killed mid-job delays its
item by about a minute, not by the job's whole timeout.

A process beats only while it can do its work: the SMTP service beats only while its event loop
answers (``check``), so a wedged listener drops out of ``/readyz`` like a dead one.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from redis import Redis
from redis.exceptions import RedisError

from intake.domain import ProcessRole

log = logging.getLogger(__name__)

DEFAULT_INTERVAL_S = 5.0
MISSED_BEATS = 4  # a process silent for this many intervals is dead
KEY = "intake:alive:{}"
REGISTRY = "intake:processes"


def process_name() -> str:
    """This process, as its claims and heartbeat name it."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True)
class ProcessBeat:
    """One live process, as its last beat described it."""

    name: str
    role: ProcessRole
    queues: tuple[str, ...]  # a worker's queues; empty for the others
    up_seconds: float  # since the process started beating
    beat_seconds: float  # since its last beat


class Heartbeat:
    """A daemon thread that keeps this process's key alive in Redis until stopped.

    ``check``, when given, is asked before each beat; while it answers False the process does
    not beat, and its key expires as if it were dead.
    """

    def __init__(
        self,
        connection: Redis,
        role: ProcessRole,
        *,
        interval_s: float = DEFAULT_INTERVAL_S,
        queues: Sequence[str] = (),
        check: Callable[[], bool] | None = None,
        name: str | None = None,
    ) -> None:
        self.connection = connection
        self.role = role
        self.interval_s = interval_s
        self.ttl_ms = int(MISSED_BEATS * interval_s * 1000)
        self.queues = tuple(queues)
        self.check = check
        self.name = name or process_name()
        self.started_at = time.time()
        self._failing = False  # log an outage once, not at every beat
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)

    def start(self) -> Heartbeat:
        self.beat()
        self._thread.start()
        return self

    def _describe(self) -> str:
        return json.dumps(
            {
                "role": self.role.value,
                "queues": list(self.queues),
                "started_at": self.started_at,
                "ttl_ms": self.ttl_ms,
            }
        )

    def beat(self) -> bool:
        """One beat; False when it was skipped (the check failed) or Redis is unreachable."""
        if self.check is not None and not self._passes_check():
            return self._note_failure("this process cannot do its work now")
        try:
            pipeline = self.connection.pipeline(transaction=False)
            pipeline.set(KEY.format(self.name), self._describe(), px=self.ttl_ms)
            pipeline.sadd(REGISTRY, self.name)
            pipeline.execute()
        except RedisError as exc:
            return self._note_failure(f"Redis unavailable: {exc}")
        if self._failing:
            log.info("heartbeat of %s %s is back", self.role, self.name)
            self._failing = False
        return True

    def _passes_check(self) -> bool:
        assert self.check is not None
        try:
            return self.check()
        except Exception:
            log.exception("heartbeat check of %s failed", self.role)
            return False

    def _note_failure(self, why: str) -> bool:
        if not self._failing:
            log.warning("heartbeat of %s %s not written (%s)", self.role, self.name, why)
            self._failing = True
        return False

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.beat()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.interval_s + 5)
        try:
            pipeline = self.connection.pipeline(transaction=False)
            pipeline.delete(KEY.format(self.name))
            pipeline.srem(REGISTRY, self.name)
            pipeline.execute()
        except RedisError:
            pass  # the key expires by itself; readers prune the registry


def living(connection: Redis, names: Iterable[str]) -> set[str]:
    """The names among ``names`` whose process beat recently. Raises RedisError."""
    names = list(dict.fromkeys(names))
    if not names:
        return set()
    pipeline = connection.pipeline(transaction=False)
    for name in names:
        pipeline.exists(KEY.format(name))
    return {name for name, found in zip(names, pipeline.execute(), strict=True) if found}


def live_processes(connection: Redis) -> list[ProcessBeat]:
    """Every process that beat recently, on any host, sorted by role and name.

    Names of processes that stopped beating are pruned from the registry on the way. Raises
    RedisError.
    """
    names = sorted(
        name.decode() if isinstance(name, bytes) else str(name)
        for name in connection.smembers(REGISTRY)
    )
    if not names:
        return []
    pipeline = connection.pipeline(transaction=False)
    for name in names:
        pipeline.get(KEY.format(name))
        pipeline.pttl(KEY.format(name))
    answers = pipeline.execute()
    now = time.time()
    found: list[ProcessBeat] = []
    dead: list[str] = []
    for name, raw, ttl_left_ms in zip(names, answers[::2], answers[1::2], strict=True):
        beat = _parse(name, raw, ttl_left_ms, now)
        if beat is None:
            dead.append(name)
        else:
            found.append(beat)
    if dead:
        connection.srem(REGISTRY, *dead)
    return sorted(found, key=lambda beat: (beat.role, beat.name))


def _parse(name: str, raw: bytes | None, ttl_left_ms: int, now: float) -> ProcessBeat | None:
    if raw is None or ttl_left_ms < 0:
        return None
    try:
        described = json.loads(raw)
        role = ProcessRole(described["role"])
        ttl_ms = int(described["ttl_ms"])
        started_at = float(described["started_at"])
        queues = tuple(str(queue) for queue in described.get("queues", ()))
    except (ValueError, KeyError, TypeError):
        log.warning("heartbeat of %s is unreadable: %r", name, raw[:200])
        return None
    return ProcessBeat(
        name=name,
        role=role,
        queues=queues,
        up_seconds=round(max(0.0, now - started_at), 1),
        beat_seconds=round(max(0, ttl_ms - ttl_left_ms) / 1000, 1),
    )

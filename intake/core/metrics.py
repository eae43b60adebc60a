"""Counters and histograms that every process records and the web process serves at /metrics.

Why Redis rather than prometheus_client's multiprocess mode: that mode shares files in one
directory, so it sees the processes of one host only, while the gateway's services run on
several hosts that share nothing but PostgreSQL and Redis. A process adds to an in-memory
buffer (the accept path never waits on Redis) and a daemon thread flushes it every second as
one pipeline of ``HINCRBYFLOAT``. The web process reads the hashes when scraped
(:class:`RedisMetrics`, a prometheus_client collector). A process killed outright loses at most
its last second of counts; while Redis is unreachable the buffer keeps adding up (one number
per metric and label set, so it stays small) and is written when Redis is back.

Other code records through the small functions at the end (``count_accepted``,
``count_sla_breach``, ...), never through Redis directly.
"""

from __future__ import annotations

import atexit
import json
import logging
import math
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from redis import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

KEY = "intake:metrics:{}"
FLUSH_SECONDS = 1.0


@dataclass(frozen=True)
class MetricSpec:
    name: str  # a counter's name without ``_total``
    kind: Literal["counter", "histogram"]
    help: str
    labels: tuple[str, ...] = ()
    buckets: tuple[float, ...] = ()

    @property
    def key(self) -> str:
        return KEY.format(self.name)


SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)

ACCEPTED = MetricSpec(
    "intake_messages_accepted",
    "counter",
    "Messages stored and acknowledged, per collector (smtp, imap, api, twilio, spool)",
    ("collector",),
)
REJECTED = MetricSpec(
    "intake_messages_rejected",
    "counter",
    "Messages or recipients refused, per collector and reason",
    ("collector", "reason"),
)
JOB_SECONDS = MetricSpec(
    "intake_job_duration_seconds",
    "histogram",
    "Time a worker spent on one job, per queue",
    ("queue",),
    SECONDS,
)
JOB_FAILURES = MetricSpec(
    "intake_job_failures",
    "counter",
    "Job runs that raised, per queue (each try counts; retried jobs may succeed later)",
    ("queue",),
)
TRANSCRIPTION_RTF = MetricSpec(
    "intake_transcription_seconds_per_audio_second",
    "histogram",
    "Speech-to-text time per second of audio, per voicemail (real-time factor)",
    (),
    (0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 5.0),
)
TRANSCRIPTION_SECONDS = MetricSpec(
    "intake_transcription_seconds", "counter", "Seconds spent transcribing voicemail"
)
AUDIO_SECONDS = MetricSpec(
    "intake_transcribed_audio_seconds", "counter", "Seconds of voicemail audio transcribed"
)
CLASSIFICATION_SECONDS = MetricSpec(
    "intake_classification_seconds",
    "histogram",
    "Time the classifier took for one ticket (topic, complaint, sentiment, priority)",
    (),
    SECONDS,
)
RECEIVED_TO_CLASSIFIED = MetricSpec(
    "intake_received_to_classified_seconds",
    "histogram",
    "From a message's acknowledgement to its ticket classified",
    (),
    SECONDS,
)
IMAP_ERRORS = MetricSpec(
    "intake_imap_errors",
    "counter",
    "IMAP connection or sync failures, per mailbox and kind",
    ("mailbox", "kind"),
)
SLA_BREACHES = MetricSpec(
    "intake_sla_breaches",
    "counter",
    "Service-level targets missed, per target and priority",
    ("target", "priority"),
)

METRICS: tuple[MetricSpec, ...] = (
    ACCEPTED,
    REJECTED,
    JOB_SECONDS,
    JOB_FAILURES,
    TRANSCRIPTION_RTF,
    TRANSCRIPTION_SECONDS,
    AUDIO_SECONDS,
    CLASSIFICATION_SECONDS,
    RECEIVED_TO_CLASSIFIED,
    IMAP_ERRORS,
    SLA_BREACHES,
)


def _field(*parts: str) -> str:
    return json.dumps(parts, separators=(",", ":"))


def _bucket_label(bound: float) -> str:
    return "+Inf" if math.isinf(bound) else repr(float(bound))


class Recorder:
    """This process's unflushed increments and the thread that writes them to Redis."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[tuple[str, str], float] = {}
        self._connection: Redis | None = None
        self._thread: threading.Thread | None = None
        self._failing = False

    def add(self, spec: MetricSpec, field: str, amount: float) -> None:
        with self._lock:
            key = (spec.key, field)
            self._pending[key] = self._pending.get(key, 0.0) + amount

    def attach(self, redis_url: str) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
            self._connection = Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=5)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="metrics", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            time.sleep(FLUSH_SECONDS)
            self.flush()

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
            connection = self._connection
        if not pending or connection is None:
            self._restore(pending)
            return
        try:
            pipeline = connection.pipeline(transaction=False)
            for (key, field), amount in pending.items():
                pipeline.hincrbyfloat(key, field, amount)
            pipeline.execute()
            self._failing = False
        except RedisError as exc:
            if not self._failing:  # once per outage, not once a second
                log.warning("metrics not written (kept until Redis answers): %s", exc)
                self._failing = True
            self._restore(pending)

    def _restore(self, pending: dict[tuple[str, str], float]) -> None:
        with self._lock:
            for key, amount in pending.items():
                self._pending[key] = self._pending.get(key, 0.0) + amount


_recorder = Recorder()
atexit.register(_recorder.flush)


def attach(redis_url: str) -> None:
    """Write this process's metrics to the Redis at ``redis_url`` (once per process is enough)."""
    _recorder.attach(redis_url)


def flush() -> None:
    """Write what is buffered now (at exit and when a runtime closes)."""
    _recorder.flush()


def increment(spec: MetricSpec, *labels: str, amount: float = 1.0) -> None:
    assert spec.kind == "counter" and len(labels) == len(spec.labels), spec.name
    _recorder.add(spec, _field(*labels), amount)


def observe(spec: MetricSpec, value: float, *labels: str) -> None:
    assert spec.kind == "histogram" and len(labels) == len(spec.labels), spec.name
    bound = next((b for b in spec.buckets if value <= b), math.inf)
    _recorder.add(spec, _field(*labels, "le", _bucket_label(bound)), 1.0)
    _recorder.add(spec, _field(*labels, "sum"), value)


# What collectors, workers and the SLA code call.


def count_accepted(collector: str) -> None:
    increment(ACCEPTED, collector)


def count_rejected(collector: str, reason: str) -> None:
    increment(REJECTED, collector, reason)


def observe_job(queue: str, seconds: float, failed: bool) -> None:
    observe(JOB_SECONDS, seconds, queue)
    if failed:
        increment(JOB_FAILURES, queue)


def observe_transcription(seconds: float, audio_seconds: float) -> None:
    increment(TRANSCRIPTION_SECONDS, amount=seconds)
    increment(AUDIO_SECONDS, amount=audio_seconds)
    if audio_seconds > 0:
        observe(TRANSCRIPTION_RTF, seconds / audio_seconds)


def observe_classification(seconds: float, since_received: float | None) -> None:
    observe(CLASSIFICATION_SECONDS, seconds)
    if since_received is not None:
        observe(RECEIVED_TO_CLASSIFIED, max(0.0, since_received))


def count_imap_error(mailbox: str, kind: str) -> None:
    increment(IMAP_ERRORS, mailbox, kind)


def count_sla_breach(target: str, priority: str = "") -> None:
    """One missed service-level target (``first_response``, ``resolution``...)."""
    increment(SLA_BREACHES, target, priority)


class RedisMetrics:
    """A prometheus_client collector: the totals of every process, read from Redis per scrape."""

    def __init__(self, connection: Redis) -> None:
        self.connection = connection

    def collect(self) -> Iterator[Metric]:
        pipeline = self.connection.pipeline(transaction=False)
        for spec in METRICS:
            pipeline.hgetall(spec.key)
        for spec, stored in zip(METRICS, pipeline.execute(), strict=True):
            values = {tuple(json.loads(field)): float(amount) for field, amount in stored.items()}
            if spec.kind == "counter":
                yield _counter(spec, values)
            else:
                yield _histogram(spec, values)


def _counter(spec: MetricSpec, values: dict[tuple[str, ...], float]) -> Metric:
    family = CounterMetricFamily(spec.name, spec.help, labels=spec.labels)
    for labels, amount in sorted(values.items()):
        family.add_metric(list(labels), amount)
    return family


def _histogram(spec: MetricSpec, values: dict[tuple[str, ...], float]) -> Metric:
    family = HistogramMetricFamily(spec.name, spec.help, labels=spec.labels)
    width = len(spec.labels)
    series = sorted({labels[:width] for labels in values})
    for labels in series:
        cumulative = 0.0
        buckets = []
        for bound in (*spec.buckets, math.inf):
            cumulative += values.get((*labels, "le", _bucket_label(bound)), 0.0)
            buckets.append((_bucket_label(bound), cumulative))
        family.add_metric(list(labels), buckets, values.get((*labels, "sum"), 0.0))
    return family

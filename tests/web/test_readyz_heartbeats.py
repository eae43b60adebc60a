"""/readyz judges each process by its heartbeat, and what waits by how long it has waited."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from redis import Redis
from sqlalchemy import update

from intake.cli.smtp_service import loop_answers
from intake.collectors.smtp import make_controller
from intake.core.accept import accept_email
from intake.core.db.base import utcnow
from intake.core.db.models import Message
from intake.core.heartbeat import REGISTRY, Heartbeat, live_processes
from intake.core.jobs import JobQueue
from intake.core.runtime import Runtime, set_current
from intake.core.settings import RecoverySettings, load_recovery
from intake.domain import ProcessRole, Source
from intake.errors import ConfigError
from tests.conftest import REPO, free_port, json_of, make_app, make_runtime
from tests.mailfactory import make_mail


def readyz(app: Flask) -> tuple[int, dict[str, Any]]:
    response = app.test_client().get("/readyz")
    return response.status_code, json_of(response)


def start_gateway_beats(
    runtime: Runtime, skip: tuple[ProcessRole, ...] = (), interval_s: float = 5.0
) -> list[Heartbeat]:
    """Heartbeats of a whole gateway but the roles in ``skip``; workers serve every queue."""
    roles = [
        (ProcessRole.SMTP, ()),
        (ProcessRole.IMAP, ()),
        (ProcessRole.SWEEPER, ()),
        (ProcessRole.WORKER, tuple(q.value for q in JobQueue)),
    ]
    return [
        Heartbeat(
            runtime.jobs.connection, role, queues=queues, interval_s=interval_s, name=f"t:{n}"
        ).start()
        for n, (role, queues) in enumerate(roles)
        if role not in skip
    ]


@pytest.fixture
def quick_runtime(tmp_path: Path, sqlite_url: str, redis_url: str) -> Iterator[Runtime]:
    runtime = make_runtime(tmp_path, sqlite_url, redis_url, INTAKE_READY_MAX_WAIT_SECONDS="60")
    set_current(runtime)
    yield runtime
    set_current(None)
    runtime.close()


def test_not_ready_without_a_live_smtp_imap_or_sweeper(quick_runtime: Runtime) -> None:
    beats = start_gateway_beats(quick_runtime, skip=(ProcessRole.SMTP, ProcessRole.SWEEPER))
    try:
        status, body = readyz(make_app(quick_runtime))
    finally:
        for heartbeat in beats:
            heartbeat.stop()
    assert status == 503
    assert body["checks"]["processes"] == {"ok": False, "missing": ["smtp", "sweeper"]}
    assert body["checks"]["workers"]["ok"] is True


def test_the_required_processes_are_a_setting(
    tmp_path: Path, sqlite_url: str, redis_url: str
) -> None:
    runtime = make_runtime(tmp_path, sqlite_url, redis_url, INTAKE_READY_PROCESSES="sweeper")
    beats = start_gateway_beats(runtime, skip=(ProcessRole.SMTP, ProcessRole.IMAP))
    try:
        status, body = readyz(make_app(runtime))
    finally:
        for heartbeat in beats:
            heartbeat.stop()
        runtime.close()
    assert status == 200, body
    assert body["checks"]["processes"] == {"ok": True, "missing": []}


def test_ready_processes_setting_is_checked_and_follows_the_spool() -> None:
    assert load_recovery({}, voicemail_spool=False) == RecoverySettings()
    assert load_recovery({}, voicemail_spool=True).ready_processes[-1] == ProcessRole.SPOOL
    custom = load_recovery(
        {"INTAKE_READY_PROCESSES": "smtp, voicemail-spool", "INTAKE_HEARTBEAT_SECONDS": "2"},
        voicemail_spool=False,
    )
    assert custom.ready_processes == (ProcessRole.SMTP, ProcessRole.SPOOL)
    assert custom.heartbeat_seconds == 2
    with pytest.raises(ConfigError, match="INTAKE_READY_PROCESSES"):
        load_recovery({"INTAKE_READY_PROCESSES": "smtp,pop3"}, voicemail_spool=False)
    with pytest.raises(ConfigError, match="INTAKE_LOST_AFTER_SECONDS"):
        load_recovery({"INTAKE_LOST_AFTER_SECONDS": "0"}, voicemail_spool=False)


BEATING_PROCESS = """
import sys, time
from redis import Redis
from intake.core.heartbeat import Heartbeat
from intake.domain import ProcessRole
Heartbeat(Redis.from_url(sys.argv[1]), ProcessRole.SMTP, interval_s=0.25).start()
print("beating", flush=True)
time.sleep(60)
"""


@pytest.mark.slow  # starts a process
def test_a_killed_process_drops_out_within_four_beats(quick_runtime: Runtime) -> None:
    beats = start_gateway_beats(quick_runtime, skip=(ProcessRole.SMTP,))
    process = subprocess.Popen(
        [sys.executable, "-c", BEATING_PROCESS, str(quick_runtime.settings.redis_url)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None and process.stdout.readline() == "beating\n"
        app = make_app(quick_runtime)
        status, body = readyz(app)
        assert status == 200, body
        smtp = [p for p in body["processes"] if p["role"] == "smtp"]
        assert [p["name"] for p in smtp] == [f"{os.uname().nodename}:{process.pid}"]
        os.kill(process.pid, signal.SIGKILL)  # no goodbye: its key has to expire
        process.wait()
        killed_at = time.monotonic()
        while readyz(app)[0] == 200:
            assert time.monotonic() - killed_at < 5, "a dead process still counted as alive"
            time.sleep(0.1)
        print(f"dead SMTP noticed after {time.monotonic() - killed_at:.2f} s")
        status, body = readyz(app)
        assert body["checks"]["processes"] == {"ok": False, "missing": ["smtp"]}
        # The dead process's name is pruned from the registry on the way.
        names = quick_runtime.jobs.connection.smembers(REGISTRY)
        assert f"{os.uname().nodename}:{process.pid}".encode() not in names
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
        for heartbeat in beats:
            heartbeat.stop()


def test_a_wedged_smtp_event_loop_stops_beating_and_beats_again_when_it_recovers(
    quick_runtime: Runtime,
) -> None:
    controller = make_controller(quick_runtime, "127.0.0.1", free_port())
    controller.start()
    heartbeat = Heartbeat(
        quick_runtime.jobs.connection,
        ProcessRole.SMTP,
        interval_s=0.25,
        check=lambda: loop_answers(controller),
    )
    try:
        assert heartbeat.beat() is True
        released = threading.Event()
        controller.loop.call_soon_threadsafe(released.wait, 10)  # blocks the loop's only thread
        assert heartbeat.beat() is False  # within LOOP_ANSWER_S
        released.set()
        assert heartbeat.beat() is True
    finally:
        controller.stop()


def test_not_ready_when_an_untried_message_waits_too_long(quick_runtime: Runtime) -> None:
    beats = start_gateway_beats(quick_runtime)
    accepted = accept_email(
        quick_runtime,
        make_mail(),
        source=Source.SMTP,
        envelope_from=None,
        recipients=["support@example.com"],
    )
    app = make_app(quick_runtime)
    try:
        assert readyz(app)[0] == 200  # just stored: waiting is normal
        with quick_runtime.db.session() as session:
            session.execute(update(Message).values(received_at=utcnow() - timedelta(seconds=61)))
        # Its job is lost (as with a worker killed after taking it): the row still says so.
        quick_runtime.jobs.connection.delete(quick_runtime.jobs.queue(JobQueue.INTAKE).key)
        status, body = readyz(app)
        assert status == 503
        assert body["checks"]["waiting"]["ok"] is False
        assert list(body["checks"]["waiting"]["over_limit"]) == ["untried messages"]
        assert body["checks"]["waiting"]["over_limit"]["untried messages"] >= 61
        # Waiting out a retry's backoff after a failed attempt is not an outage: the admin page
        # shows it.
        with quick_runtime.db.session() as session:
            session.execute(
                update(Message).where(Message.id == accepted.message_id).values(attempts=1)
            )
        assert readyz(app)[0] == 200
    finally:
        for heartbeat in beats:
            heartbeat.stop()


def test_not_ready_when_the_first_job_in_a_queue_waits_too_long(quick_runtime: Runtime) -> None:
    beats = start_gateway_beats(quick_runtime)
    accept_email(
        quick_runtime,
        make_mail(),
        source=Source.SMTP,
        envelope_from=None,
        recipients=["support@example.com"],
    )
    job_id = quick_runtime.jobs.queue(JobQueue.INTAKE).get_job_ids()[0]
    connection: Redis = quick_runtime.jobs.connection
    long_ago = (utcnow() - timedelta(seconds=90)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    connection.hset(f"rq:job:{job_id}", "enqueued_at", long_ago)
    try:
        status, body = readyz(make_app(quick_runtime))
    finally:
        for heartbeat in beats:
            heartbeat.stop()
    assert status == 503
    assert list(body["checks"]["waiting"]["over_limit"]) == ["queue intake"]


def test_live_processes_reads_every_host_and_skips_unreadable_beats(runtime: Runtime) -> None:
    connection = runtime.jobs.connection
    heartbeat = Heartbeat(
        connection, ProcessRole.WORKER, queues=["intake"], name="other-host:42"
    ).start()
    connection.sadd(REGISTRY, "garbled:1")
    connection.set("intake:alive:garbled:1", b"not json", ex=20)
    try:
        beats = live_processes(connection)
    finally:
        heartbeat.stop()
    assert [(b.name, b.role, b.queues) for b in beats] == [
        ("other-host:42", ProcessRole.WORKER, ("intake",))
    ]
    assert live_processes(connection) == []
    assert connection.smembers(REGISTRY) == set()

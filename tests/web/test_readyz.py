"""/readyz: database and storage writable, Redis up, every process beating, every queue served,
queue depths and the oldest waiting item."""

from __future__ import annotations

import shutil
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from intake.core.accept import accept_email
from intake.core.heartbeat import Heartbeat
from intake.core.jobs import JobQueue
from intake.core.runtime import Runtime
from intake.domain import ProcessRole, Source
from tests.conftest import json_of, make_app, make_runtime
from tests.mailfactory import make_mail


def beat(runtime: Runtime, role: ProcessRole, name: str, queues: tuple[str, ...] = ()) -> Heartbeat:
    return Heartbeat(runtime.jobs.connection, role, queues=queues, name=name).start()


@pytest.fixture
def workers(runtime: Runtime) -> Iterator[list[Heartbeat]]:
    """The heartbeats of every process `intake up` runs: SMTP, IMAP, sweeper and two workers
    that between them serve every queue."""
    transcribe = (JobQueue.TRANSCRIBE.value,)
    others = tuple(q.value for q in JobQueue if q != JobQueue.TRANSCRIBE)
    started = [
        beat(runtime, ProcessRole.WORKER, "test:1", others),
        beat(runtime, ProcessRole.WORKER, "test:2", transcribe),
        beat(runtime, ProcessRole.SMTP, "test:3"),
        beat(runtime, ProcessRole.IMAP, "test:4"),
        beat(runtime, ProcessRole.SWEEPER, "test:5"),
    ]
    yield started
    for heartbeat in started:
        heartbeat.stop()


def readyz(app: Flask) -> tuple[int, dict[str, Any]]:
    response = app.test_client().get("/readyz")
    return response.status_code, json_of(response)


def test_ready_when_everything_works(runtime: Runtime, workers: list[Heartbeat]) -> None:
    status, body = readyz(make_app(runtime))
    assert status == 200
    assert body["ready"] is True
    assert {name: check["ok"] for name, check in body["checks"].items()} == {
        "database": True,
        "storage": True,
        "redis": True,
        "processes": True,
        "workers": True,
        "waiting": True,
    }
    assert {name: queue["workers"] for name, queue in body["queues"].items()} == {
        queue.value: 1 for queue in JobQueue
    }
    assert [(p["name"], p["role"]) for p in body["processes"]] == [
        ("test:4", "imap"),
        ("test:3", "smtp"),
        ("test:5", "sweeper"),
        ("test:1", "worker"),
        ("test:2", "worker"),
    ]
    assert body["processes"][-1]["queues"] == ["transcribe"]
    assert all(0 <= p["beat_seconds"] < 5 for p in body["processes"])
    assert body["waiting"]["messages"] == {"count": 0, "oldest_seconds": None}
    # The storage probe leaves nothing behind.
    assert not list(runtime.blobs.root.glob(".readyz-*"))


def test_not_ready_when_a_queue_has_no_worker(runtime: Runtime, workers: list[Heartbeat]) -> None:
    workers[1].stop()  # the transcribe worker is gone
    status, body = readyz(make_app(runtime))
    assert status == 503
    assert body["checks"]["workers"] == {"ok": False, "unserved_queues": ["transcribe"]}
    assert body["checks"]["processes"]["ok"] is True


def test_reports_what_waits_and_for_how_long(runtime: Runtime, workers: list[Heartbeat]) -> None:
    accept_email(
        runtime,
        make_mail(),
        source=Source.SMTP,
        envelope_from=None,
        recipients=["support@example.com"],
    )
    time.sleep(0.2)
    status, body = readyz(make_app(runtime))
    assert status == 200
    assert body["waiting"]["messages"]["count"] == 1
    assert body["waiting"]["messages"]["oldest_seconds"] >= 0.1
    assert body["queues"]["intake"]["depth"] == 1
    assert body["queues"]["intake"]["oldest_seconds"] >= 0.1
    assert body["queues"]["classify"] == {"depth": 0, "oldest_seconds": None, "workers": 1}
    assert body["checks"]["waiting"] == {"ok": True, "limit_seconds": 900, "over_limit": {}}


def test_not_ready_when_blob_storage_cannot_be_written(
    runtime: Runtime, workers: list[Heartbeat]
) -> None:
    # A file where the blob folder should be: no write can succeed (a chmod would not stop root).
    shutil.rmtree(runtime.blobs.root, ignore_errors=True)
    runtime.blobs.root.write_bytes(b"not a folder")
    status, body = readyz(make_app(runtime))
    assert status == 503
    assert body["ready"] is False
    assert body["checks"]["storage"]["ok"] is False
    assert body["checks"]["database"]["ok"] is True


@pytest.fixture
def write_locked(runtime: Runtime) -> Iterator[None]:
    """Another process holds SQLite's write lock (as a stuck writer would)."""
    path = runtime.settings.database_url.removeprefix("sqlite:///")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    yield
    holder.execute("ROLLBACK")
    holder.close()


def test_not_ready_when_the_database_is_write_locked(runtime: Runtime, write_locked: None) -> None:
    started = time.monotonic()
    status, body = readyz(make_app(runtime))
    assert time.monotonic() - started < 10  # not the engine's 30 s lock wait
    assert status == 503
    assert body["checks"]["database"]["ok"] is False
    assert "locked" in body["checks"]["database"]["error"]
    # Reads still work under a write lock, so what waits is still reported.
    assert body["waiting"]["messages"]["count"] == 0


def test_the_database_probe_leaves_the_pool_with_its_normal_lock_wait(runtime: Runtime) -> None:
    readyz(make_app(runtime))
    with runtime.db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000


def test_not_ready_when_redis_is_down(tmp_path: Path, sqlite_url: str, redis_url: str) -> None:
    runtime = make_runtime(tmp_path, sqlite_url, f"unix://{tmp_path}/no-such-redis.sock")
    try:
        status, body = readyz(make_app(runtime))
    finally:
        runtime.close()
    assert status == 503
    assert body["checks"]["redis"]["ok"] is False
    assert body["checks"]["processes"] == {"ok": False, "error": "Redis is unreachable"}
    assert body["queues"] is None and body["processes"] is None
    assert body["checks"]["database"]["ok"] is True


def test_healthz_stays_liveness_when_storage_fails(runtime: Runtime) -> None:
    shutil.rmtree(runtime.blobs.root, ignore_errors=True)
    runtime.blobs.root.write_bytes(b"not a folder")
    assert make_app(runtime).test_client().get("/healthz").status_code == 200


def test_the_database_probe_works_on_each_backend(both_backends: Runtime) -> None:
    _status, body = readyz(make_app(both_backends))
    assert body["checks"]["database"] == {"ok": True}
    assert body["waiting"]["transcripts"] == {"count": 0, "oldest_seconds": None}

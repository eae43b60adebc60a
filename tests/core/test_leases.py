"""Leases with fencing tokens, and IMAP pollers that share mailboxes through them."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis import Redis

from intake.core import mailbox_fence
from intake.core.db.models import Mailbox
from intake.core.leases import FENCE_KEY, HeldLease, Leases
from intake.core.runtime import Runtime
from intake.imap.sync import SyncState
from tests.imap.conftest import (
    add_imap_mailbox,
    dovecot,  # noqa: F401 (the fixture)
    mailbox_row,
    stored_count,
    wait_for,
)
from tests.imap.dovecot import Dovecot
from tests.mailfactory import make_mail


@pytest.fixture
def redis(redis_url: str) -> Iterator[Redis]:
    connection = Redis.from_url(redis_url)
    yield connection
    connection.close()


def test_one_holder_at_a_time_and_every_grant_a_higher_token(redis: Redis) -> None:
    leases = Leases(redis, ttl_s=5)
    first = leases.acquire("box", "host-a:1")
    assert first is not None
    assert leases.acquire("box", "host-b:2") is None
    assert leases.holder("box") == f"host-a:1#{first.token}"
    assert leases.renew(first)
    leases.release(first)
    second = leases.acquire("box", "host-b:2")
    assert second is not None and second.token > first.token
    assert not leases.renew(first)  # the old grant is gone even for the same owner
    leases.release(first)  # releasing someone else's lease does nothing
    assert leases.holder("box") == f"host-b:2#{second.token}"


def test_a_lease_nobody_renews_expires_and_passes_on(redis: Redis) -> None:
    leases = Leases(redis, ttl_s=0.3)
    dead = leases.acquire("box", "a")
    assert dead is not None
    time.sleep(0.4)
    alive = leases.acquire("box", "b")
    assert alive is not None and alive.token > dead.token
    assert not leases.renew(dead)


def test_a_held_lease_is_renewed_past_its_ttl_and_notices_when_taken(redis: Redis) -> None:
    leases = Leases(redis, ttl_s=0.6)
    lease = leases.acquire("box", "a")
    assert lease is not None
    held = HeldLease(leases, lease)
    try:
        time.sleep(1.5)
        assert held.valid()
        assert leases.acquire("box", "b") is None
        redis.delete("intake:lease:box")  # as if it expired while this host was frozen
        assert leases.acquire("box", "b") is not None
        wait_for(lambda: not held.valid(), timeout=3, what="the loss noticed")
    finally:
        held.release()
    assert leases.holder("box") not in (None, lease.value)


def test_without_redis_a_held_lease_ends_at_its_deadline(redis: Redis) -> None:
    leases = Leases(redis, ttl_s=0.6)
    lease = leases.acquire("box", "a")
    assert lease is not None
    unreachable = Leases(Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.1), ttl_s=0.6)
    held = HeldLease(unreachable, lease)
    try:
        assert held.valid()
        time.sleep(0.8)
        assert not held.valid()
    finally:
        held.release()


def test_a_poller_that_lost_its_lease_cannot_write_the_mailbox_state(
    runtime: Runtime, redis: Redis
) -> None:
    with runtime.db.session() as session:
        row = Mailbox(name="box", addresses=["box@example.com"], imap_host="imap.example")
        session.add(row)
        session.flush()
        mailbox_id = row.id
    assert mailbox_fence.claim(runtime.db, mailbox_id, 3) is None
    assert mailbox_fence.save_sync_state(runtime.db, mailbox_id, 3, SyncState(7, 10))
    assert mailbox_fence.claim(runtime.db, mailbox_id, 4) is None  # a new holder
    assert not mailbox_fence.save_sync_state(runtime.db, mailbox_id, 3, SyncState(7, 99))
    assert not mailbox_fence.holds(runtime.db, mailbox_id, 3)
    assert mailbox_row(runtime, mailbox_id).last_uid == 10
    # A token below the stored one (Redis lost its counter) is refused and says how high to go.
    assert mailbox_fence.claim(runtime.db, mailbox_id, 2) == 4
    leases = Leases(redis)
    leases.raise_fence(mailbox_fence.lease_name(mailbox_id), 4)
    assert redis.get(FENCE_KEY.format(mailbox_fence.lease_name(mailbox_id))) == b"4"
    lease = leases.acquire(mailbox_fence.lease_name(mailbox_id), "c")
    assert lease is not None and lease.token == 5
    assert mailbox_fence.claim(runtime.db, mailbox_id, lease.token) is None


UID_LINE = re.compile(r"mailbox (\S+): UID (\d+) -> message (\d+)")
# The holder may die after storing a message and before flagging it: its successor finishes
# that one without fetching it again.
FINISHED_LINE = re.compile(r"mailbox (\S+): UID (\d+) was stored before the last connection")


def start_imap(runtime: Runtime, log: Path, lease_seconds: int) -> subprocess.Popen[bytes]:
    settings = runtime.settings
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTAKE_")}
    env.update(
        INTAKE_DATA_DIR=str(settings.data_dir),
        INTAKE_DATABASE_URL=settings.database_url,
        INTAKE_REDIS_URL=settings.redis_url or "",
        INTAKE_SECRET_KEY=settings.secret_key or "",
        INTAKE_IMAP_LEASE_SECONDS=str(lease_seconds),
    )
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "intake", "imap"], env=env, stdout=out, stderr=out
        )


def holder_pid(leases: Leases, mailbox_id: int) -> int | None:
    holder = leases.holder(mailbox_fence.lease_name(mailbox_id))
    return int(holder.split("#")[0].rsplit(":", 1)[1]) if holder else None


def test_two_imap_processes_share_a_mailbox_and_the_survivor_takes_over_within_seconds(
    sqlite_runtime: Runtime,
    dovecot: Dovecot,  # noqa: F811
    tmp_path: Path,
    redis: Redis,
) -> None:
    runtime = sqlite_runtime
    mailbox_id = add_imap_mailbox(runtime, dovecot, poll_seconds=3600)
    leases = Leases(redis)
    logs = [tmp_path / "imap-a.log", tmp_path / "imap-b.log"]
    first = start_imap(runtime, logs[0], lease_seconds=2)
    second: subprocess.Popen[bytes] | None = None
    try:
        wait_for(lambda: holder_pid(leases, mailbox_id) == first.pid, timeout=30, what="lease")
        wait_for(lambda: mailbox_row(runtime, mailbox_id).state == "idle", timeout=30)
        second = start_imap(runtime, logs[1], lease_seconds=2)
        wait_for(lambda: "standing by" in logs[1].read_text(), timeout=30, what="standby")
        for n in range(5):
            dovecot.append(make_mail(message_id=f"<before-{n}@x>"))
        wait_for(lambda: stored_count(runtime, mailbox_id) == 5, timeout=30)
        assert holder_pid(leases, mailbox_id) == first.pid

        first.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        wait_for(lambda: holder_pid(leases, mailbox_id) == second.pid, timeout=15, what="takeover")
        took_over = time.monotonic() - killed_at
        print(f"lease taken over {took_over:.1f} s after SIGKILL (ttl 2 s)")
        assert took_over < 2 + 2, logs[1].read_text()
        for n in range(5):
            dovecot.append(make_mail(message_id=f"<after-{n}@x>"))
        wait_for(lambda: stored_count(runtime, mailbox_id) == 10, timeout=30)
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(30)
    text = "".join(log.read_text() for log in logs)
    fetched = [int(m.group(2)) for m in UID_LINE.finditer(text)]
    finished = [int(m.group(2)) for m in FINISHED_LINE.finditer(text)]
    assert len(fetched) == len(set(fetched))  # no UID fetched twice
    assert set(fetched) | set(finished) == set(range(1, 11))
    row = mailbox_row(runtime, mailbox_id)
    assert row.last_uid == 10 and row.lease_token is not None

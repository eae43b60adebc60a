"""Failed logins lock the account and the client address with back-off; timing hides accounts."""

from __future__ import annotations

import statistics
import time

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from intake.core.runtime import Runtime
from tests.conftest import make_app, make_runtime
from tests.web.conftest import AGENT, people_app

# Small numbers so the back-off is seen in a fraction of a second.
FAST_LOCKS = {"LOGIN_ACCOUNT_LIMIT": 3, "LOGIN_ADDRESS_LIMIT": 6, "LOGIN_LOCK_BASE_SECONDS": 0.5}


def attempt(
    client: FlaskClient, email: str, password: str, address: str = "192.0.2.1"
) -> TestResponse:
    return client.post(
        "/login",
        data={"email": email, "password": password},
        environ_base={"REMOTE_ADDR": address},
    )


def fast_app(runtime: Runtime) -> Flask:
    app = people_app(runtime)
    app.config.update(FAST_LOCKS)
    return app


def lock_ttls_ms(runtime: Runtime) -> list[int]:
    connection = runtime.jobs.connection
    return sorted(int(connection.pttl(key)) for key in connection.keys("intake:login:lock:*"))


def test_repeated_failures_lock_the_account_even_for_the_right_password(
    runtime: Runtime,
) -> None:
    client = fast_app(runtime).test_client()
    for _ in range(3):
        assert attempt(client, AGENT, "wrong-password").status_code == 200
    locked = attempt(client, AGENT, f"{AGENT}-pw")
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) >= 1
    assert b"Too many failed logins" in locked.data
    # The lock is per account: from another address this account is still locked...
    assert attempt(client, AGENT, f"{AGENT}-pw", address="198.51.100.7").status_code == 429
    time.sleep(0.55)
    # ...and once it expires the right password works and clears the count.
    assert attempt(client, AGENT, f"{AGENT}-pw").status_code == 302
    assert attempt(client, AGENT, "wrong-password").status_code == 200
    assert attempt(client, AGENT, f"{AGENT}-pw").status_code == 302


def test_each_failure_past_the_limit_doubles_the_lock(runtime: Runtime) -> None:
    client = fast_app(runtime).test_client()
    for _ in range(3):
        attempt(client, AGENT, "wrong-password")
    # Each bound leaves half a lock of slack for a slow, loaded test machine.
    first = max(lock_ttls_ms(runtime))
    assert 0 < first <= 500
    time.sleep(0.55)
    attempt(client, AGENT, "wrong-password")  # the 4th failure in the window
    second = max(lock_ttls_ms(runtime))
    assert 500 < second <= 1000
    assert attempt(client, AGENT, f"{AGENT}-pw").status_code == 429
    time.sleep(1.05)
    attempt(client, AGENT, "wrong-password")
    assert 1000 < max(lock_ttls_ms(runtime)) <= 2000


def test_one_address_guessing_many_accounts_is_locked(runtime: Runtime) -> None:
    client = fast_app(runtime).test_client()
    for n in range(6):  # one failure each: no account reaches its limit
        assert attempt(client, f"guess{n}@example.com", "wrong-password").status_code == 200
    assert attempt(client, AGENT, f"{AGENT}-pw").status_code == 429
    # Another address is not affected.
    assert attempt(client, AGENT, f"{AGENT}-pw", address="198.51.100.7").status_code == 302


def test_the_lock_is_shared_by_every_web_process(runtime: Runtime) -> None:
    first = fast_app(runtime).test_client()
    # A second app with its own runtime and Redis connection stands for another web process.
    other_runtime = make_runtime(
        runtime.settings.data_dir.parent / "other",
        runtime.settings.database_url,
        runtime.jobs.redis_url,
    )
    try:
        second = make_app(other_runtime, WTF_CSRF_ENABLED=False, **FAST_LOCKS).test_client()
        for client in (first, second, first):
            attempt(client, AGENT, "wrong-password")
        assert attempt(second, AGENT, f"{AGENT}-pw").status_code == 429
    finally:
        other_runtime.close()


def test_unknown_accounts_are_counted_like_real_ones(runtime: Runtime) -> None:
    # Otherwise a lock (or its absence) would tell which emails have an account.
    client = fast_app(runtime).test_client()
    for _ in range(3):
        attempt(client, "nobody@example.com", "wrong-password")
    assert attempt(client, "nobody@example.com", "any-password").status_code == 429


def test_logins_work_while_redis_is_down(runtime: Runtime) -> None:
    people_app(runtime)  # the accounts
    down = make_runtime(
        runtime.settings.data_dir.parent / "down",
        runtime.settings.database_url,
        f"unix://{runtime.settings.data_dir}/no-such-redis.sock",
    )
    try:
        assert not down.jobs.ping()
        client = make_app(down, WTF_CSRF_ENABLED=False).test_client()
        assert attempt(client, AGENT, "wrong-password").status_code == 200
        assert attempt(client, AGENT, f"{AGENT}-pw").status_code == 302
    finally:
        down.close()


def timed_failure(client: FlaskClient, email: str) -> float:
    started = time.perf_counter()
    response = attempt(client, email, "wrong-password")
    elapsed = time.perf_counter() - started
    assert response.status_code == 200  # a failed login, never a lock
    return elapsed


@pytest.mark.slow
def test_a_failed_login_takes_as_long_for_an_unknown_account_as_for_a_real_one(
    runtime: Runtime,
) -> None:
    app = people_app(runtime)
    app.config.update(LOGIN_ACCOUNT_LIMIT=1000, LOGIN_ADDRESS_LIMIT=1000)
    client = app.test_client()
    attempt(client, AGENT, "warm-up")
    known: list[float] = []
    unknown: list[float] = []
    # Interleaved, so a burst of load from other tests hits both alike; medians drop outliers.
    for n in range(7):
        known.append(timed_failure(client, AGENT))
        unknown.append(timed_failure(client, f"nobody{n}@example.com"))
    ratio = statistics.median(unknown) / statistics.median(known)
    # Before the fix an unknown account cost a hash *and* a check: about 2x.
    assert 0.67 < ratio < 1.5, (statistics.median(known), statistics.median(unknown))

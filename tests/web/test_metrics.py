"""``/metrics``: every process's counts, gathered through Redis, in Prometheus text format."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from redis import Redis

from intake.core import metrics
from intake.core.jobs import INGEST_MESSAGE
from intake.core.runtime import Runtime
from intake.domain import Role
from tests.conftest import add_person, free_port, make_app, make_runtime


@pytest.fixture(autouse=True)
def no_earlier_counts(redis_url: str) -> Iterator[None]:
    """Counts buffered by earlier tests in this process must not land in this test's Redis."""
    metrics.flush()
    connection = Redis.from_url(redis_url)
    for key in connection.scan_iter("intake:metrics:*"):
        connection.delete(key)
    connection.close()
    yield


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def scrape(runtime: Runtime, token: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    metrics.flush()
    response = (
        make_app(runtime)
        .test_client()
        .get("/metrics", headers={"Authorization": f"Bearer {token}"})
    )
    assert response.status_code == 200, response.data
    assert response.content_type.startswith("text/plain; version=")
    return samples(response.get_data(as_text=True))


@pytest.mark.slow  # starts a process
def test_counts_from_another_process_are_served_with_this_ones(
    sqlite_runtime: Runtime, tmp_path: Path
) -> None:
    admin = add_person(sqlite_runtime, "admin@example.com", Role.ADMIN)
    metrics.count_accepted("smtp")
    metrics.count_rejected("smtp", "unknown_recipient")
    # Another process (another host, as far as Redis can tell) records through its own runtime.
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTAKE_")}
    env.update(
        INTAKE_DATA_DIR=str(tmp_path / "other"),
        INTAKE_REDIS_URL=sqlite_runtime.settings.redis_url or "",
        INTAKE_DATABASE_URL=sqlite_runtime.settings.database_url,
    )
    code = (
        "from intake.core import metrics\n"
        "from intake.core.runtime import Runtime\n"
        "from intake.core.settings import load_settings\n"
        "runtime = Runtime.from_settings(load_settings())\n"
        "for _ in range(3): metrics.count_accepted('smtp')\n"
        "metrics.count_accepted('imap')\n"
        "metrics.count_imap_error('support', 'auth')\n"
        "metrics.count_sla_breach('first_response', 'high')\n"
        "runtime.close()\n"
    )
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=60)
    found = scrape(sqlite_runtime, admin)
    assert found[("intake_messages_accepted_total", (("collector", "smtp"),))] == 4
    assert found[("intake_messages_accepted_total", (("collector", "imap"),))] == 1
    rejected = (("collector", "smtp"), ("reason", "unknown_recipient"))
    assert found[("intake_messages_rejected_total", rejected)] == 1
    assert found[("intake_imap_errors_total", (("kind", "auth"), ("mailbox", "support")))] == 1
    breach = (("priority", "high"), ("target", "first_response"))
    assert found[("intake_sla_breaches_total", breach)] == 1


def test_histograms_are_cumulative_per_queue(sqlite_runtime: Runtime) -> None:
    admin = add_person(sqlite_runtime, "admin@example.com", Role.ADMIN)
    for seconds in (0.003, 0.2, 0.2, 700.0):
        metrics.observe_job("intake", seconds, failed=seconds > 100)
    metrics.observe_transcription(seconds=3.0, audio_seconds=30.0)
    metrics.observe_classification(0.02, since_received=0.4)
    found = scrape(sqlite_runtime, admin)

    def bucket(name: str, le: str, **labels: str) -> float:
        return found[(f"{name}_bucket", tuple(sorted({**labels, "le": le}.items())))]

    assert bucket("intake_job_duration_seconds", "0.005", queue="intake") == 1
    assert bucket("intake_job_duration_seconds", "0.25", queue="intake") == 3
    assert bucket("intake_job_duration_seconds", "300.0", queue="intake") == 3
    assert bucket("intake_job_duration_seconds", "+Inf", queue="intake") == 4
    assert found[("intake_job_duration_seconds_count", (("queue", "intake"),))] == 4
    assert found[("intake_job_duration_seconds_sum", (("queue", "intake"),))] == 700.403
    assert found[("intake_job_failures_total", (("queue", "intake"),))] == 1
    assert bucket("intake_transcription_seconds_per_audio_second", "0.1") == 1
    assert bucket("intake_transcription_seconds_per_audio_second", "0.05") == 0
    assert found[("intake_transcribed_audio_seconds_total", ())] == 30
    assert found[("intake_transcription_seconds_total", ())] == 3
    assert bucket("intake_classification_seconds", "0.025") == 1
    assert bucket("intake_received_to_classified_seconds", "0.5") == 1


def test_queue_depths_and_waiting_rows_are_read_live(sqlite_runtime: Runtime) -> None:
    admin = add_person(sqlite_runtime, "admin@example.com", Role.ADMIN)
    sqlite_runtime.jobs.enqueue(INGEST_MESSAGE, 41)
    sqlite_runtime.jobs.enqueue(INGEST_MESSAGE, 42)
    found = scrape(sqlite_runtime, admin)
    assert found[("intake_queue_depth", (("queue", "intake"),))] == 2
    assert found[("intake_queue_depth", (("queue", "transcribe"),))] == 0
    assert found[("intake_queue_workers", (("queue", "intake"),))] == 0
    assert found[("intake_jobs_failed", (("queue", "intake"),))] == 0
    assert found[("intake_waiting_items", (("kind", "messages"),))] == 0
    assert found[("intake_redis_up", ())] == 1


def test_only_an_admin_token_or_an_allowed_address_may_read(
    sqlite_runtime: Runtime, tmp_path: Path
) -> None:
    agent = add_person(sqlite_runtime, "agent@example.com", Role.AGENT)
    client = make_app(sqlite_runtime).test_client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": f"Bearer {agent}"}).status_code == 401

    settings = sqlite_runtime.settings
    allowed = make_runtime(
        tmp_path / "allowed",
        settings.database_url,
        settings.redis_url or "",
        INTAKE_METRICS_ALLOW="10.0.0.0/8",
    )
    try:
        client = make_app(allowed).test_client()
        assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 200
        assert client.get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"}).status_code == 401
    finally:
        allowed.close()


@pytest.mark.slow  # starts intake web
def test_behind_a_trusted_proxy_the_allow_list_sees_the_forwarded_client(
    sqlite_runtime: Runtime, tmp_path: Path
) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTAKE_")}
    env.update(
        INTAKE_DATA_DIR=str(tmp_path / "web"),
        INTAKE_DATABASE_URL=sqlite_runtime.settings.database_url,
        INTAKE_REDIS_URL=sqlite_runtime.settings.redis_url or "",
        INTAKE_WEB_PORT=str(port),
        INTAKE_WEB_TRUSTED_PROXY="127.0.0.1",
        INTAKE_METRICS_ALLOW="203.0.113.0/24",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "intake", "web"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def status(headers: dict[str, str]) -> int:
        request = urllib.request.Request(f"http://127.0.0.1:{port}/metrics", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return int(response.status)
        except urllib.error.HTTPError as error:
            return int(error.code)

    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                first = status({"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"})
                break
            except OSError:
                assert time.monotonic() < deadline, "intake web did not start"
                time.sleep(0.2)
        assert first == 200
        assert status({}) == 401  # the proxy itself is not on the list
        assert status({"X-Forwarded-For": "198.51.100.1"}) == 401
    finally:
        process.terminate()
        process.wait(20)

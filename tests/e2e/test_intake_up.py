"""`intake up` as a user runs it: one command, embedded Redis, SQLite, SMTP in, API out."""

from __future__ import annotations

import json
import os
import signal
import smtplib
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.mailfactory import make_mail


def child_pids(pid: int) -> set[int]:
    """All descendants of ``pid`` (Linux /proc)."""
    found: set[int] = set()
    pending = [pid]
    while pending:
        current = pending.pop()
        for task in Path(f"/proc/{current}/task").glob("*"):
            children = (task / "children").read_text().split()
            for child in map(int, children):
                if child not in found:
                    found.add(child)
                    pending.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in status


def run_cli(env: dict[str, str], *args: str, stdin: str = "") -> str:
    result = subprocess.run(
        [sys.executable, "-m", "intake", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return result.stdout


def wait_for(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {timeout} s")


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], dict[str, str]]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTAKE_")}
    # Short path: the embedded Redis listens on a unix socket inside the data dir.
    data_dir = Path(f"/tmp/intake-e2e-{os.getpid()}-{free_port()}")
    env.update(
        INTAKE_DATA_DIR=str(data_dir),
        INTAKE_SMTP_PORT=str(free_port()),
        INTAKE_WEB_PORT=str(free_port()),
        INTAKE_ACCEPT_DOMAINS="example.com",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "intake", "up"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield process, env
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
        subprocess.run(["rm", "-rf", str(data_dir)], check=False)


@pytest.mark.slow
def test_intake_up_takes_mail_over_smtp_into_the_api_and_stops_cleanly(
    gateway: tuple[subprocess.Popen[str], dict[str, str]],
) -> None:
    process, env = gateway
    web = f"http://127.0.0.1:{env['INTAKE_WEB_PORT']}"
    wait_for(f"{web}/healthz")
    run_cli(
        env,
        "user",
        "add",
        "agent@example.com",
        "--role",
        "agent",
        "--password-stdin",
        stdin="a-long-password\n",
    )
    token = run_cli(env, "token", "create", "agent@example.com").strip()

    sent_at = time.monotonic()
    with smtplib.SMTP("127.0.0.1", int(env["INTAKE_SMTP_PORT"]), timeout=10) as smtp:
        smtp.sendmail(
            "alice@customer.org", ["help@example.com"], make_mail(subject="Printer on fire")
        )
    tickets: list[dict[str, object]] = []
    request = urllib.request.Request(
        f"{web}/api/tickets", headers={"Authorization": f"Bearer {token}"}
    )
    while time.monotonic() - sent_at < 30 and not tickets:
        with urllib.request.urlopen(request, timeout=5) as response:
            tickets = json.load(response)["tickets"]
        time.sleep(0.1)
    assert [t["subject"] for t in tickets] == ["Printer on fire"]
    print(f"mail visible in the API after {time.monotonic() - sent_at:.2f} s")

    descendants = child_pids(process.pid)
    assert len(descendants) >= 5  # redis, smtp, two workers, sweeper, web (and rq schedulers)
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output
    assert "Intake Gateway is running" in output
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in descendants) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in descendants if alive(pid)]


def redis_pid(supervisor: int) -> int:
    for pid in child_pids(supervisor):
        try:
            if b"redis-server" in Path(f"/proc/{pid}/cmdline").read_bytes():
                return pid
        except FileNotFoundError:
            continue
    raise AssertionError("no embedded redis-server among the gateway's processes")


@pytest.mark.slow
def test_the_embedded_redis_dying_loses_nothing_and_comes_back(
    gateway: tuple[subprocess.Popen[str], dict[str, str]],
) -> None:
    process, env = gateway
    web = f"http://127.0.0.1:{env['INTAKE_WEB_PORT']}"
    wait_for(f"{web}/healthz")
    run_cli(env, "user", "add", "agent@example.com", "--password-stdin", stdin="a-long-password\n")
    token = run_cli(env, "token", "create", "agent@example.com").strip()
    killed = redis_pid(process.pid)
    os.kill(killed, signal.SIGKILL)
    # SMTP still answers 250 while Redis is down: the row is stored, the job waits for Redis.
    with smtplib.SMTP("127.0.0.1", int(env["INTAKE_SMTP_PORT"]), timeout=10) as smtp:
        smtp.sendmail("bo@customer.org", ["help@example.com"], make_mail(subject="During outage"))
    request = urllib.request.Request(
        f"{web}/api/tickets", headers={"Authorization": f"Bearer {token}"}
    )
    tickets: list[dict[str, object]] = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and not tickets:
        time.sleep(0.5)
        with urllib.request.urlopen(request, timeout=5) as response:
            tickets = json.load(response)["tickets"]
    assert [t["subject"] for t in tickets] == ["During outage"]
    assert redis_pid(process.pid) != killed  # restarted by the supervisor
    assert process.poll() is None

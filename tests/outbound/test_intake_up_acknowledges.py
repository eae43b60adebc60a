"""`intake up` acknowledges a mail within seconds: its workers serve the outbound queue."""

from __future__ import annotations

import os
import signal
import smtplib
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from datetime import datetime
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.e2e.test_intake_up import wait_for
from tests.mailfactory import make_mail
from tests.outbound.conftest import Relay


@pytest.fixture
def gateway(relay: Relay, tmp_path: Path) -> Iterator[dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTAKE_")}
    data_dir = Path(f"/tmp/intake-ack-{os.getpid()}-{free_port()}")  # short: a unix socket
    env.update(
        INTAKE_DATA_DIR=str(data_dir),
        INTAKE_SMTP_PORT=str(free_port()),
        INTAKE_WEB_PORT=str(free_port()),
        INTAKE_ACCEPT_DOMAINS="example.com",
        INTAKE_OUTBOUND_SMTP_URL=f"smtp://127.0.0.1:{relay.port}",
    )
    with (tmp_path / "intake-up.log").open("w") as log:  # every service's log, for a failure
        process = subprocess.Popen(
            [sys.executable, "-m", "intake", "up"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            yield env
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            subprocess.run(["rm", "-rf", str(data_dir)], check=False)


def timestamps(data_dir: Path) -> tuple[datetime, datetime]:
    """When the ticket was opened (its first message processed) and when the relay took the
    acknowledgement, from the gateway's own database (the job records it just after the 250)."""
    deadline = time.monotonic() + 10
    while True:
        with closing(sqlite3.connect(data_dir / "intake.sqlite3")) as db:
            row = db.execute(
                "SELECT m.processed_at, d.sent_at FROM messages m, deliveries d WHERE m.id = 1"
            ).fetchone()
        if row is not None and row[0] and row[1]:
            return datetime.fromisoformat(str(row[0])), datetime.fromisoformat(str(row[1]))
        assert time.monotonic() < deadline, f"not recorded: {row}"
        time.sleep(0.05)


@pytest.mark.slow
def test_a_customers_mail_is_acknowledged_within_seconds(
    gateway: dict[str, str], relay: Relay
) -> None:
    wait_for(f"http://127.0.0.1:{gateway['INTAKE_WEB_PORT']}/readyz", timeout=120)
    sent_at = time.monotonic()
    with smtplib.SMTP("127.0.0.1", int(gateway["INTAKE_SMTP_PORT"]), timeout=10) as smtp:
        smtp.sendmail("alice@customer.org", ["help@example.com"], make_mail())
    # Generous: right after start the intake worker may still run other jobs (nightly ones).
    while not relay.received and time.monotonic() - sent_at < 60:
        time.sleep(0.05)
    elapsed = time.monotonic() - sent_at
    assert len(relay.received) == 1, "no acknowledgement within 60 s"
    ack = relay.received[0]
    assert ack.recipients == ["alice@customer.org"]
    assert ack.header("From") == "help@example.com"
    assert ack.header("Subject") == "We received your message: Order 1234 has not arrived [#1]"
    opened, sent = timestamps(Path(gateway["INTAKE_DATA_DIR"]))
    print(
        f"acknowledged {elapsed:.2f} s after the customer's SMTP session, "
        f"{(sent - opened).total_seconds():.2f} s after the ticket was opened"
    )
    # The outbound worker of its own sends at once, whatever the intake worker is busy with.
    assert (sent - opened).total_seconds() < 5

"""Done means: a mailbox added while ``intake up`` runs gets IMAP mail into the queue in seconds."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request

import pytest

from tests.e2e.test_intake_up import gateway, run_cli, wait_for  # noqa: F401 - fixture
from tests.imap.conftest import USERS
from tests.imap.dovecot import Dovecot
from tests.mailfactory import make_mail


@pytest.mark.slow
def test_mailbox_added_to_a_running_gateway_brings_imap_mail_into_the_api(
    gateway: tuple[subprocess.Popen[str], dict[str, str]],  # noqa: F811 - pytest fixture
    dovecot: Dovecot,
) -> None:
    process, env = gateway
    web = f"http://127.0.0.1:{env['INTAKE_WEB_PORT']}"
    wait_for(f"{web}/healthz")
    run_cli(env, "user", "add", "agent@example.com", "--password-stdin", stdin="a-long-password\n")
    token = run_cli(env, "token", "create", "agent@example.com").strip()
    run_cli(
        env,
        "mailbox",
        "add",
        "support",
        "--address",
        "support@example.com",
        "--imap-host",
        "127.0.0.1",
        "--imap-port",
        str(dovecot.port),
        "--imap-user",
        "alice",
        "--imap-tls",
        "none",
        "--password-stdin",
        stdin=USERS["alice"] + "\n",
    )
    # No restart: the running collector picks the new mailbox up, then IDLE pushes the mail.
    dovecot.append(make_mail(subject="Invoice 88 is wrong", message_id="<up-1@customer.org>"))
    appended = time.monotonic()
    request = urllib.request.Request(
        f"{web}/api/tickets", headers={"Authorization": f"Bearer {token}"}
    )
    tickets: list[dict[str, object]] = []
    while time.monotonic() - appended < 30 and not tickets:
        with urllib.request.urlopen(request, timeout=5) as response:
            tickets = json.load(response)["tickets"]
        time.sleep(0.2)
    assert [t["subject"] for t in tickets] == ["Invoice 88 is wrong"]
    listing = run_cli(env, "mailbox", "list")
    assert "support" in listing and USERS["alice"] not in listing
    process.terminate()
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output

"""``intake mailbox add|list|test|remove`` in-process, against a real Dovecot."""

from __future__ import annotations

import io
import json

import pytest

from intake.cli import main
from intake.core.db.models import Mailbox
from intake.core.runtime import Runtime
from tests.imap.conftest import USERS
from tests.imap.dovecot import Dovecot


@pytest.fixture
def cli_env(sqlite_runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> Runtime:
    settings = sqlite_runtime.settings
    monkeypatch.setenv("INTAKE_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("INTAKE_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("INTAKE_SECRET_KEY", settings.secret_key or "")
    return sqlite_runtime


def intake(monkeypatch: pytest.MonkeyPatch, *args: str, stdin: str = "") -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return main(list(args))


def test_mailbox_add_list_test_and_remove_from_the_command_line(
    cli_env: Runtime,
    dovecot: Dovecot,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    password = USERS["alice"]
    assert (
        intake(
            monkeypatch,
            "mailbox",
            "add",
            "support",
            "--address",
            "Support@Example.com",
            "--imap-host",
            "127.0.0.1",
            "--imap-port",
            str(dovecot.port),
            "--imap-user",
            "alice",
            "--imap-tls",
            "none",
            "--password-stdin",
            "--folder",
            "INBOX",
            "--after",
            "move:Done",
            "--poll-seconds",
            "30",
            stdin=password + "\n",
        )
        == 0
    )
    assert "mailbox support added" in capsys.readouterr().out

    assert intake(monkeypatch, "mailbox", "list") == 0
    listing = capsys.readouterr().out
    assert "support@example.com" in listing and "after=move:Done" in listing
    assert password not in listing

    assert intake(monkeypatch, "mailbox", "list", "--json") == 0
    (entry,) = json.loads(capsys.readouterr().out)
    assert entry["imap"] == f"alice@127.0.0.1:{dovecot.port} (none, password)"
    assert password not in json.dumps(entry)

    with cli_env.db.session() as session:
        row = session.query(Mailbox).one()
        assert row.secret_encrypted and password.encode() not in row.secret_encrypted

    assert intake(monkeypatch, "mailbox", "test", "support") == 0
    assert capsys.readouterr().out.startswith("ok: connected; INBOX holds 0 messages; push (IDLE)")

    assert intake(monkeypatch, "mailbox", "remove", "support") == 0
    assert intake(monkeypatch, "mailbox", "list") == 0
    assert "no mailboxes" in capsys.readouterr().out


def test_mailbox_test_prints_the_servers_refusal(
    cli_env: Runtime,
    dovecot: Dovecot,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    intake(
        monkeypatch,
        "mailbox",
        "add",
        "wrong",
        "--imap-host",
        "127.0.0.1",
        "--imap-port",
        str(dovecot.port),
        "--imap-user",
        "alice",
        "--imap-tls",
        "none",
        "--password-stdin",
        stdin="not-the-password\n",
    )
    assert intake(monkeypatch, "mailbox", "test", "wrong") == 1
    out = capsys.readouterr().out
    assert "failed: login refused: [AUTHENTICATIONFAILED] Authentication failed." in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--after", "archive"], "after-action must be seen, delete or move:FOLDER"),
        (["--poll-seconds", "0"], "poll interval must be"),
        (["--address", "not-an-address"], "is not an email address"),
    ],
)
def test_mailbox_add_refuses_bad_settings_with_a_clear_message(
    cli_env: Runtime,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    code = intake(
        monkeypatch,
        "mailbox",
        "add",
        "bad",
        "--imap-host",
        "imap.example.com",
        "--imap-user",
        "u",
        "--password-stdin",
        *args,
        stdin="pw\n",
    )
    assert code == 2
    assert message in capsys.readouterr().err


def test_mailbox_add_stores_an_oauth2_grant_read_from_stdin(
    cli_env: Runtime, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code = intake(
        monkeypatch,
        "mailbox",
        "add",
        "m365",
        "--imap-host",
        "outlook.office365.com",
        "--imap-user",
        "support@example.com",
        "--oauth2-token-url",
        "https://login.microsoftonline.com/t/oauth2/v2.0/token",
        "--oauth2-client-id",
        "cid",
        "--oauth2-stdin",
        stdin="refresh-token-value\nclient-secret-value\n",
    )
    assert code == 0
    assert intake(monkeypatch, "mailbox", "list") == 0
    out = capsys.readouterr().out
    assert "xoauth2" in out and "refresh-token-value" not in out and "client-secret" not in out

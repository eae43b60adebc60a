"""Every real message of the shared corpus is accepted over SMTP and shows up as a ticket."""

from __future__ import annotations

import csv
import re
import smtplib
from pathlib import Path

import pytest
from sqlalchemy import func, select

from intake.collectors.smtp import make_controller
from intake.core.db.models import Message, Ticket
from intake.core.runtime import Runtime
from intake.domain import MessageState
from tests.conftest import add_person, free_port, json_of, login, make_app, run_jobs

_LINE_END = re.compile(rb"\r\n|\r|\n")


def corpus_files(shared_data: Path) -> list[Path]:
    root = shared_data / "email"
    with (root / "INDEX.tsv").open(encoding="utf-8") as index:
        return [
            root / row["path"]
            for row in csv.DictReader(index, delimiter="\t")
            if row["kind"] == "message"
        ]


def as_smtp_data(raw: bytes) -> bytes:
    # A sending MTA puts CRLF on the wire whatever the file used (sisimai has mac/ and dos/ copies).
    data = _LINE_END.sub(b"\r\n", raw)
    return data if data.endswith(b"\r\n") else data + b"\r\n"


# The corpus is sent in four shards so parallel test processes share the minute it takes.
SHARDS = 4


@pytest.mark.parametrize("shard", range(SHARDS))
def test_every_corpus_message_is_accepted_over_smtp_and_shown(
    sqlite_runtime: Runtime, shared_data: Path, shard: int
) -> None:
    runtime = sqlite_runtime
    agent_headers = {"Authorization": f"Bearer {add_person(runtime, 'agent@example.com')}"}
    client_for = make_app(runtime, WTF_CSRF_ENABLED=False).test_client()
    login(client_for, "agent@example.com")
    every_file = corpus_files(shared_data)
    assert len(every_file) > 1000
    files = every_file[shard::SHARDS]
    port = free_port()
    controller = make_controller(runtime, "127.0.0.1", port)
    controller.start()
    refused: list[str] = []
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
            for path in files:
                try:
                    smtp.sendmail(
                        "sender@corpus.test",
                        ["support@example.com"],
                        as_smtp_data(path.read_bytes()),
                    )
                except smtplib.SMTPException as exc:
                    refused.append(f"{path}: {exc}")
                    smtp.rset()
    finally:
        controller.stop()
    assert refused == []
    run_jobs(runtime, "intake")
    with runtime.db.session() as session:
        states = dict(
            session.execute(select(Message.state, func.count()).group_by(Message.state)).all()
        )
        assert set(states) == {MessageState.PROCESSED}, states
        assert session.scalar(select(func.count()).where(Message.ticket_id.is_(None))) == 0
        ticket_ids = list(session.scalars(select(Ticket.id)))
    listed = json_of(client_for.get("/api/tickets?automatic=1&limit=1000", headers=agent_headers))[
        "tickets"
    ]
    assert len(listed) == min(1000, len(ticket_ids))
    for ticket_id in ticket_ids[::25]:
        detail = client_for.get(f"/api/tickets/{ticket_id}", headers=agent_headers)
        assert detail.status_code == 200 and json_of(detail)["messages"]
        page = client_for.get(f"/tickets/{ticket_id}")
        assert page.status_code == 200

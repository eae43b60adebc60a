from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select

from intake.cli.supervisor import plan_children
from intake.collectors.spool import Outcome, parse_sidecar, scan_once
from intake.core.db.models import Message, Ticket
from intake.core.jobs import JobQueue
from intake.core.runtime import Runtime
from intake.core.settings import load_settings
from tests.conftest import run_jobs
from tests.voicemail.conftest import CORRUPT_AUDIO
from transcribe import Transcriber


@pytest.fixture
def spool(tmp_path: Path) -> Path:
    folder = tmp_path / "spool"
    folder.mkdir()
    return folder


def test_spooled_audio_with_sidecar_is_ingested_transcribed_and_moved_to_done(
    sqlite_runtime: Runtime, spool: Path, speech_wav: bytes, speech_model: Transcriber
) -> None:
    (spool / "vm-001.wav").write_bytes(speech_wav)
    (spool / "vm-001.json").write_text(
        json.dumps(
            {
                "from": "+15552010123",
                "to": "+15550009999",
                "caller_name": "Jane Doe",
                "received_at": "2026-11-20T08:00:00Z",
            }
        )
    )
    [result] = scan_once(sqlite_runtime, spool, settle_s=0)
    assert result.outcome is Outcome.DONE and result.message_id is not None
    assert sorted(p.name for p in (spool / "done").iterdir()) == ["vm-001.json", "vm-001.wav"]
    assert not (spool / "vm-001.wav").exists()
    # The collector stored and enqueued; the intake job opens the ticket, then it is transcribed.
    run_jobs(sqlite_runtime, JobQueue.INTAKE, JobQueue.TRANSCRIBE)
    with sqlite_runtime.db.session() as session:
        message = session.scalars(select(Message)).one()
        assert message.source == "spool" and message.ticket_id is not None
        assert message.caller_number == "+15552010123" and message.caller_name == "Jane Doe"
        assert message.received_at.isoformat() == "2026-11-20T08:00:00+00:00"
        assert message.transcript is not None and message.transcript.state == "done"
        assert message.transcript.audio_filename == "vm-001.wav"


def test_undecodable_spooled_audio_is_ingested_anyway_and_moved_to_failed_with_a_note(
    sqlite_runtime: Runtime, spool: Path, speech_model: Transcriber
) -> None:
    (spool / "broken.wav").write_bytes(CORRUPT_AUDIO)
    [result] = scan_once(sqlite_runtime, spool, settle_s=0)
    assert result.outcome is Outcome.FAILED and result.message_id is not None
    note = (spool / "failed" / "broken.wav.error.txt").read_text()
    assert f"ingested as message {result.message_id}" in note
    run_jobs(sqlite_runtime, JobQueue.INTAKE, JobQueue.TRANSCRIBE)
    with sqlite_runtime.db.session() as session:
        message = session.scalars(select(Message)).one()
        assert message.transcript is not None and message.transcript.state == "failed"
        assert sqlite_runtime.blobs.get(message.raw_sha256) == CORRUPT_AUDIO


def test_spool_files_that_are_not_audio_or_have_a_broken_sidecar_go_to_failed_uningested(
    sqlite_runtime: Runtime, spool: Path, speech_wav: bytes
) -> None:
    (spool / "notes.txt").write_text("not a voicemail")
    (spool / "vm-002.wav").write_bytes(speech_wav)
    (spool / "vm-002.json").write_text("{not json")
    results = {r.name: r for r in scan_once(sqlite_runtime, spool, settle_s=0)}
    assert results["notes.txt"].outcome is Outcome.FAILED
    assert "not an audio file" in (spool / "failed" / "notes.txt.error.txt").read_text()
    assert results["vm-002.wav"].outcome is Outcome.FAILED
    assert "not valid JSON" in (spool / "failed" / "vm-002.wav.error.txt").read_text()
    assert (spool / "failed" / "vm-002.json").exists()
    with sqlite_runtime.db.session() as session:
        assert session.scalar(select(func.count(Message.id))) == 0


def test_spooled_audio_over_the_size_limit_goes_to_failed_with_the_reason(
    make_voicemail_runtime: Callable[..., Runtime], spool: Path, speech_wav: bytes
) -> None:
    runtime = make_voicemail_runtime(INTAKE_MAX_AUDIO_BYTES="4096")
    (spool / "big.wav").write_bytes(speech_wav)
    [result] = scan_once(runtime, spool, settle_s=0)
    assert result.outcome is Outcome.FAILED and result.message_id is None
    assert "INTAKE_MAX_AUDIO_BYTES" in (spool / "failed" / "big.wav.error.txt").read_text()


def test_files_still_being_written_are_left_alone(
    sqlite_runtime: Runtime, spool: Path, speech_wav: bytes
) -> None:
    (spool / "fresh.wav").write_bytes(speech_wav)
    (spool / ".incoming.wav").write_bytes(speech_wav)
    (spool / "copying.wav.part").write_bytes(speech_wav)
    assert scan_once(sqlite_runtime, spool, settle_s=60) == []
    assert scan_once(sqlite_runtime, spool, settle_s=0)[0].name == "fresh.wav"
    assert sorted(p.name for p in spool.iterdir() if p.is_file()) == [
        ".incoming.wav",
        "copying.wav.part",
    ]


def test_a_file_ingested_but_not_moved_is_not_ingested_twice(
    sqlite_runtime: Runtime, spool: Path, speech_wav: bytes
) -> None:
    (spool / "vm-003.wav").write_bytes(speech_wav)
    [first] = scan_once(sqlite_runtime, spool, settle_s=0)
    # A crash between ingesting and moving: the file is back in the spool, unchanged.
    (spool / "done" / "vm-003.wav").rename(spool / "vm-003.wav")
    [again] = scan_once(sqlite_runtime, spool, settle_s=0)
    assert again.message_id == first.message_id
    run_jobs(sqlite_runtime, JobQueue.INTAKE)
    with sqlite_runtime.db.session() as session:
        assert session.scalar(select(func.count(Ticket.id))) == 1


def test_sidecar_fields_and_times_are_read_strictly() -> None:
    sidecar = parse_sidecar(b'{"caller": 5552010123, "received_at": "2026-11-20T08:00:00"}')
    assert sidecar.caller == "5552010123"
    assert sidecar.received_at is not None and sidecar.received_at.tzinfo is not None
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_sidecar(b'{"received_at": "last tuesday"}')
    with pytest.raises(ValueError, match="object"):
        parse_sidecar(b"[1, 2]")
    with pytest.raises(ValueError, match="string"):
        parse_sidecar(b'{"from": {"nested": true}}')


def test_intake_up_runs_the_spool_watcher_only_when_a_spool_is_configured(tmp_path: Path) -> None:
    plain = load_settings({"INTAKE_DATA_DIR": str(tmp_path)})
    spooled = load_settings(
        {"INTAKE_DATA_DIR": str(tmp_path), "INTAKE_VOICEMAIL_SPOOL": str(tmp_path / "spool")}
    )
    assert "voicemail-spool" not in {c.name for c in plan_children(plain, {})}
    child = {c.name: c for c in plan_children(spooled, {})}["voicemail-spool"]
    assert child.argv[-1] == "voicemail-spool"


def test_spool_command_refuses_to_start_without_a_configured_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from intake.cli import main

    monkeypatch.delenv("INTAKE_VOICEMAIL_SPOOL", raising=False)
    monkeypatch.setenv("INTAKE_DATA_DIR", str(tmp_path))
    assert main(["voicemail-spool"]) == 2
    assert "INTAKE_VOICEMAIL_SPOOL is not set" in capsys.readouterr().err

"""The voicemail spool folder (``INTAKE_VOICEMAIL_SPOOL``): drop audio files, get tickets.

A PBX or script drops ``name.wav`` (any audio format) into the folder, optionally with a JSON
sidecar ``name.json`` (or ``name.wav.json``)::

    {"from": "+15551234567", "to": "+15550001111", "caller_name": "Jane", "received_at": "..."}

Each file is ingested and then moved, with its sidecar, to ``done/``. A file that is not audio
by its name, too large, or has a broken sidecar goes to ``failed/`` with a ``.error.txt`` note
and is not ingested. Audio that cannot be decoded is still ingested (the ticket shows the
failure and keeps the audio) and also lands in ``failed/`` with a note. Writers should write to a
dot-file or ``.part`` name and rename when done; files younger than a few seconds are left alone
so that a file still being copied is never read half-way.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from intake.core.accept import Accepted
from intake.core.jobs import INGEST_MESSAGE
from intake.core.runtime import Runtime
from intake.core.voicemail_accept import parse_timestamp, store_voicemail
from intake.domain import Source
from intake.errors import IntakeError, RejectedError, StorageError
from intake.mail.pbx import AUDIO_EXTENSIONS
from transcribe.audio import probe_audio
from transcribe.errors import TranscriptionError

log = logging.getLogger(__name__)

DONE = "done"
FAILED = "failed"
SETTLE_S = 3.0
POLL_S = 2.0
IGNORED_SUFFIXES = (".json", ".part", ".tmp", ".error.txt")


class Outcome(StrEnum):
    DONE = "done"
    FAILED = "failed"  # moved to failed/; ``message_id`` says whether it was ingested anyway
    RETRY = "retry"  # left in place: the store is unavailable, the next scan tries again


@dataclass(frozen=True)
class SpoolResult:
    name: str
    outcome: Outcome
    message_id: int | None = None
    error: str | None = None


@dataclass(frozen=True)
class Sidecar:
    caller: str | None = None
    called: str | None = None
    caller_name: str | None = None
    received_at: datetime | None = None


def parse_sidecar(data: bytes) -> Sidecar:
    """Read a sidecar's JSON; ValueError with a readable reason when it is malformed."""
    try:
        value: Any = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"sidecar is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise ValueError("sidecar must be a JSON object")

    def text(*names: str) -> str | None:
        for name in names:
            item = value.get(name)
            if item is not None and not isinstance(item, str | int):
                raise ValueError(f"sidecar field {name!r} must be a string")
            if item not in (None, ""):
                return str(item).strip() or None
        return None

    received = text("received_at", "date")
    return Sidecar(
        caller=text("from", "caller"),
        called=text("to", "called"),
        caller_name=text("caller_name", "name"),
        received_at=parse_timestamp(received) if received else None,
    )


def sidecar_for(path: Path) -> Path | None:
    for candidate in (path.with_suffix(".json"), path.with_name(path.name + ".json")):
        if candidate.is_file():
            return candidate
    return None


def pending_files(spool: Path, settle_s: float = SETTLE_S) -> list[Path]:
    """Files ready to ingest: top level, not hidden, not sidecars or partial writes, settled."""
    now = time.time()
    ready = []
    for entry in sorted(spool.iterdir()):
        name = entry.name
        if name.startswith(".") or name.lower().endswith(IGNORED_SUFFIXES):
            continue
        try:
            if not entry.is_file() or now - entry.stat().st_mtime < settle_s:
                continue
        except OSError:
            continue
        ready.append(entry)
    return ready


def _move(path: Path, folder: Path) -> Path:
    folder.mkdir(exist_ok=True)
    target = folder / path.name
    if target.exists():
        target = folder / f"{path.stem}-{time.time_ns()}{path.suffix}"
    os.replace(path, target)
    return target


def _finish(path: Path, sidecar: Path | None, folder: Path, error: str | None) -> None:
    moved = _move(path, folder)
    if sidecar is not None and sidecar.exists():
        _move(sidecar, folder)
    if error is not None:
        moved.with_name(moved.name + ".error.txt").write_text(error + "\n", encoding="utf-8")


def ingest_file(runtime: Runtime, path: Path) -> SpoolResult:
    """Ingest one spool file and move it to done/ or failed/."""
    spool = path.parent
    sidecar_path = sidecar_for(path)
    if path.suffix.lower() not in AUDIO_EXTENSIONS:
        return _failed(path, sidecar_path, spool, f"{path.name}: not an audio file name")
    try:
        stat = path.stat()
        sidecar = parse_sidecar(sidecar_path.read_bytes()) if sidecar_path else Sidecar()
    except ValueError as exc:
        return _failed(path, sidecar_path, spool, f"{path.name}: {exc}")
    except OSError as exc:
        return SpoolResult(path.name, Outcome.RETRY, error=str(exc))
    if stat.st_size > runtime.settings.max_audio_bytes:
        return _failed(
            path,
            sidecar_path,
            spool,
            f"{path.name}: {stat.st_size} bytes is larger than the limit of "
            f"{runtime.settings.max_audio_bytes} bytes (INTAKE_MAX_AUDIO_BYTES)",
        )
    audio_problem: str | None = None
    try:
        probe_audio(path)
    except TranscriptionError as exc:
        audio_problem = str(exc)
    try:
        with path.open("rb") as handle:
            accepted: Accepted = store_voicemail(
                runtime,
                handle,
                filename=path.name,
                content_type=None,
                caller=sidecar.caller,
                called=sidecar.called,
                caller_name=sidecar.caller_name,
                received_at=sidecar.received_at or datetime.fromtimestamp(stat.st_mtime, UTC),
                source=Source.SPOOL,
                dedup_key=f"{path.name}|{stat.st_size}|{stat.st_mtime_ns}",
                extra={"spool": str(spool)},
            )
    except RejectedError as exc:
        return _failed(path, sidecar_path, spool, f"{path.name}: {exc}")
    except (StorageError, OSError) as exc:
        log.error("spool file %s not ingested, will retry: %s", path.name, exc)
        return SpoolResult(path.name, Outcome.RETRY, error=str(exc))
    if audio_problem is not None:
        note = f"{path.name}: ingested as message {accepted.message_id}, but {audio_problem}"
        _finish(path, sidecar_path, spool / FAILED, note)
        log.warning("spool: %s", note)
        outcome = Outcome.FAILED
    else:
        _finish(path, sidecar_path, spool / DONE, None)
        outcome = Outcome.DONE
    if not accepted.duplicate:
        runtime.jobs.enqueue(INGEST_MESSAGE, accepted.message_id)
    log.info("spool file %s is message %s", path.name, accepted.message_id)
    return SpoolResult(path.name, outcome, accepted.message_id, error=audio_problem)


def _failed(path: Path, sidecar: Path | None, spool: Path, error: str) -> SpoolResult:
    log.warning("spool: %s", error)
    _finish(path, sidecar, spool / FAILED, error)
    return SpoolResult(path.name, Outcome.FAILED, error=error)


def scan_once(runtime: Runtime, spool: Path, settle_s: float = SETTLE_S) -> list[SpoolResult]:
    spool.mkdir(parents=True, exist_ok=True)
    results = []
    for path in pending_files(spool, settle_s):
        try:
            results.append(ingest_file(runtime, path))
        except (IntakeError, OSError) as exc:
            # One bad file must not stop the others; it stays and is tried again.
            log.error("spool file %s: %s", path.name, exc)
            results.append(SpoolResult(path.name, Outcome.RETRY, error=str(exc)))
    return results


def run_spool_watcher(
    runtime: Runtime, spool: Path, stop: threading.Event, poll_s: float = POLL_S
) -> None:
    log.info("watching voicemail spool %s", spool)
    while not stop.is_set():
        try:
            scan_once(runtime, spool)
        except Exception:
            # A missing folder or a database outage must not end the watcher: try again.
            log.exception("spool scan failed")
        stop.wait(poll_s)

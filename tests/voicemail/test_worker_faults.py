"""A transcription worker killed mid-job: its claim is handed back within a minute, not hours."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from intake.core.db.models import Transcript
from intake.core.runtime import Runtime
from intake.core.voicemail_accept import store_voicemail, voicemail_ticket_now
from intake.domain import Source, TranscriptState
from tests.conftest import TEST_MODELS_DIR, make_runtime, run_jobs
from tests.voicemail.conftest import SHARED_AUDIO, pcm_wav
from transcribe import Transcriber
from workers.sweeper import sweep_once

PROMPTS = SHARED_AUDIO / "asterisk-core-sounds-en-8k"


def long_voicemail() -> bytes:
    """About 70 s of 8 kHz speech: seconds of decoding, long enough to be killed midway."""
    import wave

    frames = b""
    for name in ("basic-pbx-ivr-main.wav", "demo-congrats.wav", "vm-options.wav"):
        with wave.open(str(PROMPTS / name)) as clip:
            frames += clip.readframes(clip.getnframes())
    return pcm_wav(frames)


def transcript_state(runtime: Runtime) -> tuple[TranscriptState, str | None]:
    with runtime.db.session() as session:
        transcript = session.scalars(select(Transcript)).one()
        return transcript.state, transcript.claimed_by


@pytest.mark.slow
def test_a_worker_killed_mid_transcription_loses_its_claim_within_a_minute(
    tmp_path: Path,
    sqlite_url: str,
    redis_url: str,
    speech_model: Transcriber,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if not PROMPTS.is_dir():
        pytest.skip(f"shared audio not found at {PROMPTS}")
    # Seconds instead of 45 s for the test; the claimant's heartbeat still has to expire.
    runtime = make_runtime(tmp_path, sqlite_url, redis_url, INTAKE_ABANDONED_AFTER_SECONDS="2")
    monkeypatch.setattr("intake.core.runtime._current", runtime)
    stored = store_voicemail(
        runtime,
        io.BytesIO(long_voicemail()),
        filename="long.wav",
        content_type="audio/wav",
        caller="+15552010123",
        called=None,
        source=Source.API,
    )
    voicemail_ticket_now(runtime, stored.message_id)  # opens the ticket, enqueues transcription
    env = {
        **os.environ,
        "INTAKE_DATA_DIR": str(runtime.settings.data_dir),
        "INTAKE_DATABASE_URL": sqlite_url,
        "INTAKE_REDIS_URL": redis_url,
        "INTAKE_MODELS_DIR": str(TEST_MODELS_DIR),
        "INTAKE_WHISPER_CPU_THREADS": "1",
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "intake", "worker", "--queues", "transcribe"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 90
        while transcript_state(runtime)[0] is not TranscriptState.RUNNING:
            assert time.monotonic() < deadline, "the worker never started the transcription"
            assert worker.poll() is None, "the worker exited"
            time.sleep(0.2)
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    state, claimed_by = transcript_state(runtime)
    assert state is TranscriptState.RUNNING and claimed_by == f"{os.uname().nodename}:{worker.pid}"
    killed_at = time.monotonic()
    while transcript_state(runtime)[0] is not TranscriptState.PENDING:
        assert time.monotonic() - killed_at < 60, "the dead worker's claim was never handed back"
        sweep_once(runtime)
        time.sleep(1)
    run_jobs(runtime, "transcribe")
    assert transcript_state(runtime) == (TranscriptState.DONE, None)
    runtime.close()

"""End-to-end cost of one voicemail: accept, transcription job, ticket update.

    .venv/bin/python tests/bench/bench_voicemail_job.py                # 10-minute voicemail
    .venv/bin/python tests/bench/bench_voicemail_job.py --minutes 1 --threads 2

Builds a telephone-quality (8 kHz) recording of the given length from the shared Asterisk
prompts with pauses between them, accepts it as an API upload into a throwaway SQLite store
(Redis: INTAKE_REDIS_URL or 127.0.0.1:6379 database 11), runs ``transcribe_message`` in this
process with the default model, and reports wall time, real-time factor and peak memory.
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import sys
import tempfile
import time
import wave
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from rq.job import Job  # noqa: E402

from intake.core.db.migrate import upgrade  # noqa: E402
from intake.core.db.models import Message  # noqa: E402
from intake.core.runtime import Runtime, set_current  # noqa: E402
from intake.core.settings import load_settings  # noqa: E402
from intake.core.voicemail_accept import store_voicemail, voicemail_ticket_now  # noqa: E402
from intake.domain import Source  # noqa: E402

CLIPS = REPO.parent / "shared" / "data" / "audio" / "asterisk-core-sounds-en-8k"


def long_recording(minutes: float) -> bytes:
    frames: list[bytes] = []
    for path in sorted(CLIPS.glob("*.wav")):
        with wave.open(str(path)) as clip:
            frames.append(clip.readframes(clip.getnframes()))
    pause = b"\x00\x00" * 8000 * 2
    wanted = int(minutes * 60 * 8000 * 2)
    out = bytearray()
    while len(out) < wanted:
        for chunk in frames:
            out += chunk + pause
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as target:
        target.setnchannels(1)
        target.setsampwidth(2)
        target.setframerate(8000)
        target.writeframes(bytes(out[:wanted]))
    return buffer.getvalue()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=0, help="INTAKE_WHISPER_CPU_THREADS")
    args = parser.parse_args()
    from workers.transcription import get_transcriber, transcribe_message

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.sqlite3"
        upgrade(url)
        settings = load_settings(
            {
                "INTAKE_DATA_DIR": tmp,
                "INTAKE_DATABASE_URL": url,
                "INTAKE_REDIS_URL": os.environ.get("INTAKE_REDIS_URL", "redis://127.0.0.1:6379/11"),
                "INTAKE_WHISPER_CPU_THREADS": str(args.threads),
            }
        )
        runtime = Runtime.from_settings(settings)
        set_current(runtime)
        started = time.perf_counter()
        get_transcriber(settings)
        load_s = time.perf_counter() - started
        audio = long_recording(args.minutes)
        accepted = store_voicemail(
            runtime,
            audio,
            filename="bench.wav",
            content_type="audio/wav",
            caller="+15552010123",
            called=None,
            source=Source.API,
        )
        voicemail_ticket_now(runtime, accepted.message_id)
        started = time.perf_counter()
        outcome = transcribe_message(accepted.message_id)
        job_s = time.perf_counter() - started
        with runtime.db.session() as session:
            message = session.get(Message, accepted.message_id)
            assert message is not None and message.transcript is not None
            duration = message.transcript.duration or args.minutes * 60
            words = len((message.transcript.text or "").split())
        # Leave no job behind for a real worker that may share this Redis.
        Job.fetch(f"transcribe-message-{accepted.message_id}", runtime.jobs.connection).delete()
        runtime.close()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"model load        {load_s:.2f} s")
    print(f"audio             {duration:.1f} s ({len(audio) / 1e6:.1f} MB WAV, 8 kHz)")
    print(f"job               {job_s:.2f} s -> {outcome} ({words} words)")
    print(f"real-time factor  {job_s / duration:.3f}")
    print(f"peak RSS          {peak_mb:.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

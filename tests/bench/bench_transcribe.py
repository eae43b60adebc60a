"""Word error rate, real-time factor and memory of ``transcribe`` on the shared English clips.

    .venv/bin/python tests/bench/bench_transcribe.py                 # the library defaults
    .venv/bin/python tests/bench/bench_transcribe.py --stock         # plain faster-whisper settings
    .venv/bin/python tests/bench/bench_transcribe.py --beam 1 --min-window 10 --repeat 3

Reads ``<repo>/../shared/data/audio/manifest.tsv``. Times each ``Transcriber.transcribe(path)``
call (decoding the file included) after one warm-up call, and reports per clip and overall WER
(corpus level: all edits / all reference words) and RTF (processing seconds / audio seconds).

Measured 2026-11-22 on the 2-core dev box (shared with other jobs, load average 2-5, so RTF varies
by about +-30 % between runs), 15 English clips, 145.8 s, 371 words, ``--repeat 3``:

    settings                               WER     RTF          RTF <5 s     model RSS
    --stock (plain faster-whisper, VAD)    2.70 %  0.072-0.117  0.16-0.26    +178 MB
    defaults                               3.50 %  0.037-0.052  0.041-0.053  +158 MB
    11.2 min voicemail, --stock            2.70 %  0.056        -            peak RSS 920 MB
    11.2 min voicemail, defaults           3.98 %  0.050        -            peak RSS 521 MB
    11.2 min, 4 hotwords, --stock          41.9 %  0.061        -            peak RSS 922 MB
    11.2 min, 4 hotwords, defaults         3.44 %  0.030        -            peak RSS 491 MB
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import os
import re
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from transcribe import Transcriber, WhisperConfig  # noqa: E402
from transcribe.audio import SAMPLE_RATE, load_audio  # noqa: E402

AUDIO = REPO / ".." / "shared" / "data" / "audio"
TARGET_RTF, TARGET_RTF_SHORT, TARGET_WER, TARGET_MODEL_MB = 0.08, 0.15, 0.05, 400

_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
).split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_ABBREVIATIONS = {"mr": "mister", "mrs": "missus", "dr": "doctor", "st": "saint", "ok": "okay"}


def _number_words(number: int) -> str:
    if number < 20:
        return _ONES[number]
    if number < 100:
        tens, ones = divmod(number, 10)
        return _TENS[tens] + ("" if ones == 0 else " " + _ONES[ones])
    return " ".join(_ONES[int(digit)] for digit in str(number))


def normalize(text: str) -> list[str]:
    """Lower case, digits spelled out, hyphens split, punctuation and a few abbreviations undone.

    Applied to the reference and the hypothesis alike, like Whisper's English normaliser, only
    much smaller.
    """
    text = text.lower().replace("-", " ")
    text = re.sub(r"\d+", lambda m: " " + _number_words(int(m.group())) + " ", text)
    text = re.sub(r"[^\w\s']", " ", text)
    words = []
    for word in text.split():
        word = word.strip("'")
        if word:
            words.append(_ABBREVIATIONS.get(word, word))
    return words


def edit_distance(ref: list[str], hyp: list[str]) -> int:
    previous = list(range(len(hyp) + 1))
    for i, ref_word in enumerate(ref, 1):
        current = [i]
        for j, hyp_word in enumerate(hyp, 1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref_word != hyp_word))
            )
        previous = current
    return previous[-1]


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def english_clips(limit_s: float | None) -> list[tuple[Path, float, str]]:
    manifest = AUDIO / "manifest.tsv"
    if not manifest.is_file():
        sys.exit(f"no audio manifest at {manifest}")
    clips = []
    with manifest.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            duration = float(row["duration_s"])
            if row["language"] == "en" and (limit_s is None or duration <= limit_s):
                clips.append((AUDIO / row["file"], duration, row["transcript"]))
    return clips


def build_config(args: argparse.Namespace) -> WhisperConfig:
    if args.stock:
        # What faster-whisper does out of the box (with VAD on): the baseline.
        config = WhisperConfig(
            min_encoder_window_s=30.0,
            encoder_tail_s=0.0,
            beam_size=5,
            without_timestamps=False,
            condition_on_previous_text=True,
            temperatures=(0.0, 0.2, 0.4, 0.6, 0.8, 1.0),
            vad_min_silence_ms=2000,
            vad_speech_pad_ms=400,
            vad_max_speech_s=0.0,
            piece_s=1e9,
        )
    else:
        config = WhisperConfig()
    changes: dict[str, object] = {"cpu_threads": args.threads}
    for flag, field in (
        ("model", "model"),
        ("compute_type", "compute_type"),
        ("beam", "beam_size"),
        ("min_window", "min_encoder_window_s"),
        ("tail", "encoder_tail_s"),
        ("vad_min_silence", "vad_min_silence_ms"),
        ("vad_pad", "vad_speech_pad_ms"),
        ("vad_threshold", "vad_threshold"),
        ("vad_max_speech", "vad_max_speech_s"),
        ("piece", "piece_s"),
        ("without_timestamps", "without_timestamps"),
        ("condition", "condition_on_previous_text"),
        ("vad", "vad"),
    ):
        value = getattr(args, flag)
        if value is not None:
            changes[field] = value
    if args.vocabulary is not None:
        changes["vocabulary"] = tuple(term for term in args.vocabulary.split(",") if term)
    if args.temperatures is not None:
        changes["temperatures"] = tuple(float(t) for t in args.temperatures.split(","))
    return dataclasses.replace(config, **changes)  # type: ignore[arg-type]


def long_voicemail(clips: list[tuple[Path, float, str]], minutes: float) -> tuple[Path, str, float]:
    """Concatenate the clips with 1.5 s gaps into a WAV of ``minutes``.

    Returns its path, its reference text and its length in seconds.
    """
    import av
    import numpy as np

    parts, words = [], []
    gap = np.zeros(int(1.5 * SAMPLE_RATE), dtype=np.float32)
    total = 0
    while total < minutes * 60 * SAMPLE_RATE:
        for path, _duration, text in clips:
            samples = load_audio(path)
            parts.extend([samples, gap])
            words.append(text)
            total += samples.shape[0] + gap.shape[0]
    audio = np.concatenate(parts)
    pcm = (np.clip(audio, -1, 1) * 32767).astype(np.int16)
    handle = tempfile.NamedTemporaryFile(suffix=".wav", delete=False)
    handle.close()
    with av.open(handle.name, "w", format="wav") as out:
        stream = out.add_stream("pcm_s16le", rate=SAMPLE_RATE, layout="mono")
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return Path(handle.name), " ".join(words), audio.shape[0] / SAMPLE_RATE


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stock", action="store_true", help="start from faster-whisper's defaults")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--model")
    parser.add_argument("--compute-type")
    parser.add_argument("--beam", type=int)
    parser.add_argument("--min-window", type=float, help="min_encoder_window_s (30 = stock)")
    parser.add_argument("--tail", type=float, help="encoder_tail_s")
    parser.add_argument("--vad-min-silence", type=int)
    parser.add_argument("--vad-pad", type=int)
    parser.add_argument("--vad-threshold", type=float)
    parser.add_argument("--vad-max-speech", type=float, help="vad_max_speech_s (0: off)")
    parser.add_argument("--piece", type=float, help="piece_s: long audio is cut into these")
    parser.add_argument("--vocabulary", help="comma separated terms passed as hotwords")
    parser.add_argument("--temperatures", help="comma separated, e.g. 0.0 for no fallback")
    parser.add_argument("--without-timestamps", action=argparse.BooleanOptionalAction)
    parser.add_argument("--condition", action=argparse.BooleanOptionalAction)
    parser.add_argument("--vad", action=argparse.BooleanOptionalAction)
    parser.add_argument("--repeat", type=int, default=1, help="timed runs per clip (median)")
    parser.add_argument("--max-clip-s", type=float, help="only clips up to this long")
    parser.add_argument("--long", type=float, help="also a voicemail of this many minutes")
    parser.add_argument("--quiet", action="store_true", help="overall figures only")
    args = parser.parse_args()

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    config = build_config(args)
    clips = english_clips(args.max_clip_s)
    before = rss_mb()
    started = time.perf_counter()
    transcriber = Transcriber(config)
    load_s = time.perf_counter() - started
    model_mb = rss_mb() - before
    print(f"config: {config}")
    print(f"model load {load_s:.2f} s, RSS +{model_mb:.0f} MB (process {rss_mb():.0f} MB)")
    transcriber.transcribe(clips[0][0])  # warm-up: first-call allocations are paid once per worker

    total_edits = total_words = 0
    total_time = total_audio = short_time = short_audio = 0.0
    for path, duration, reference in clips:
        timings = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            transcript = transcriber.transcribe(path)
            timings.append(time.perf_counter() - started)
        elapsed = statistics.median(timings)
        ref, hyp = normalize(reference), normalize(transcript.text)
        edits = edit_distance(ref, hyp)
        total_edits += edits
        total_words += len(ref)
        total_time += elapsed
        total_audio += duration
        if duration < 5:
            short_time += elapsed
            short_audio += duration
        if not args.quiet:
            logprob = min((s.avg_logprob for s in transcript.segments), default=0.0)
            no_speech = max((s.no_speech_prob for s in transcript.segments), default=0.0)
            print(
                f"{path.name[:44]:44} {duration:6.2f}s WER {edits / len(ref):6.1%} "
                f"RTF {elapsed / duration:.3f} lp {logprob:5.2f} nsp {no_speech:.2f} "
                f"{'LOW ' if transcript.low_confidence else ''}| {transcript.text}"
            )
    wer = total_edits / total_words
    rtf = total_time / total_audio
    rtf_short = short_time / short_audio if short_audio else float("nan")
    print(
        f"OVERALL  clips {len(clips)}  audio {total_audio:.1f} s  WER {wer:.2%} "
        f"({total_edits}/{total_words})  RTF {rtf:.3f}  RTF<5s {rtf_short:.3f}  "
        f"model RSS {model_mb:.0f} MB  peak RSS {peak_rss_mb():.0f} MB"
    )
    print(
        "targets: "
        f"RTF<={TARGET_RTF} {'met' if rtf <= TARGET_RTF else 'MISSED'}, "
        f"RTF<5s<={TARGET_RTF_SHORT} {'met' if rtf_short <= TARGET_RTF_SHORT else 'MISSED'}, "
        f"WER<={TARGET_WER:.0%} {'met' if wer <= TARGET_WER else 'MISSED'}, "
        f"model<={TARGET_MODEL_MB} MB {'met' if model_mb <= TARGET_MODEL_MB else 'MISSED'}"
    )
    if args.long:
        path, reference, seconds = long_voicemail(clips, args.long)
        try:
            started = time.perf_counter()
            transcript = transcriber.transcribe(path)
            elapsed = time.perf_counter() - started
        finally:
            path.unlink()
        ref = normalize(reference)
        edits = edit_distance(ref, normalize(transcript.text))
        print(
            f"LONG  {seconds / 60:.1f} min  WER {edits / len(ref):.2%}  "
            f"RTF {elapsed / seconds:.3f}  "
            f"segments {len(transcript.segments)}  peak RSS {peak_rss_mb():.0f} MB"
        )


if __name__ == "__main__":
    main()

"""Audio that holds no words a transcript could honestly contain, made here rather than shipped.

Silence, telephone-line hiss, loud noise, call-progress tones and synthetic music, plus speech
in languages no model is configured for (French, Japanese), spoken by espeak-ng.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import numpy.typing as npt

from transcribe.audio import SAMPLE_RATE, load_audio

Audio = npt.NDArray[np.float32]

FRENCH = "Bonjour, je vous appelle au sujet de ma commande qui n'est toujours pas arrivée."
# Kana, not kanji: espeak-ng's Japanese voice spells kanji out as "Chinese letter" in English.
JAPANESE = "もしもし、わたしのなまえはたなかです。ちゅうもんしたしょうひんがまだとどいていません。"


def _seconds(seconds: float) -> npt.NDArray[np.float64]:
    return np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE


def silence(seconds: float = 6.0) -> Audio:
    return np.zeros(int(seconds * SAMPLE_RATE), dtype=np.float32)


def hiss(seconds: float = 8.0, level: float = 0.01, seed: int = 3) -> Audio:
    rng = np.random.default_rng(seed)
    return rng.normal(0.0, level, int(seconds * SAMPLE_RATE)).astype(np.float32)


def brown_noise(seconds: float = 8.0, seed: int = 5) -> Audio:
    """Rumble (integrated white noise), like wind or a car on a mobile line."""
    steps = np.random.default_rng(seed).normal(0.0, 1.0, int(seconds * SAMPLE_RATE))
    walk = np.cumsum(steps)
    walk -= np.convolve(walk, np.ones(400) / 400, mode="same")  # keep it centred
    peak = float(np.abs(walk).max())
    return np.asarray(0.3 * walk / peak, dtype=np.float32)


def tones(seconds: float = 8.0) -> Audio:
    """A ring-back tone (440 + 480 Hz, 2 s on, 4 s off) and DTMF digits, as a PBX plays them."""
    t = _seconds(seconds)
    ring = 0.2 * (np.sin(2 * np.pi * 440 * t) + np.sin(2 * np.pi * 480 * t))
    ring *= (t % 6.0) < 2.0
    dtmf = np.zeros_like(t)
    for i, (low, high) in enumerate([(697, 1209), (770, 1336), (852, 1477), (941, 1336)]):
        on = (t >= 2.5 + 0.4 * i) & (t < 2.7 + 0.4 * i)
        dtmf += on * 0.3 * (np.sin(2 * np.pi * low * t) + np.sin(2 * np.pi * high * t))
    return (ring + dtmf).astype(np.float32)


def music(seconds: float = 10.0, seed: int = 11) -> Audio:
    """Hold music: a chord progression with harmonics, a melody and a soft beat."""
    t = _seconds(seconds)
    rng = np.random.default_rng(seed)
    out = np.zeros_like(t)
    chords = [
        (261.6, 329.6, 392.0),
        (220.0, 261.6, 329.6),
        (174.6, 220.0, 261.6),
        (196.0, 246.9, 293.7),
    ]
    for index, chord in enumerate(chords * int(np.ceil(seconds / 8))):
        on = (t >= 2.0 * index) & (t < 2.0 * index + 2.0)
        for freq in chord:
            for harmonic, gain in ((1, 0.12), (2, 0.05), (3, 0.02)):
                out += on * gain * np.sin(2 * np.pi * freq * harmonic * t)
    notes = rng.choice([523.3, 587.3, 659.3, 784.0, 880.0], size=int(seconds * 4))
    for index, freq in enumerate(notes):
        start = index * 0.25
        on = (t >= start) & (t < start + 0.25)
        envelope = np.exp(-6 * np.clip(t - start, 0, None))
        out += on * 0.15 * envelope * np.sin(2 * np.pi * freq * t)
    beat = (t % 0.5) < 0.03
    out += beat * rng.normal(0, 0.1, t.shape)
    peak = float(np.abs(out).max())
    return np.asarray(0.8 * out / peak, dtype=np.float32)


def non_speech() -> list[tuple[str, Audio]]:
    return [
        ("silence", silence()),
        ("line hiss", hiss()),
        ("loud white noise", hiss(level=0.2, seed=9)),
        ("brown noise", brown_noise()),
        ("ring-back and DTMF", tones()),
        ("hold music", music()),
    ]


def espeak(text: str, voice: str, directory: Path) -> Audio | None:
    """``text`` spoken by espeak-ng, or None when espeak-ng is not installed."""
    program = shutil.which("espeak-ng")
    if program is None:
        return None
    path = directory / f"{voice}.wav"
    subprocess.run([program, "-v", voice, "-w", str(path), text], check=True)
    return load_audio(path)


def unsupported_speech() -> list[tuple[str, Audio]]:
    """French and Japanese speech (empty when espeak-ng is missing)."""
    with tempfile.TemporaryDirectory() as directory:
        spoken = [
            (f"{voice} speech", espeak(text, voice, Path(directory)))
            for voice, text in (("fr", FRENCH), ("ja", JAPANESE))
        ]
    return [(name, audio) for name, audio in spoken if audio is not None]

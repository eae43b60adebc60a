"""Cutting long audio into pieces at quiet moments.

faster-whisper computes the log-mel features of everything it is given in one go (about 0.9 MB
of working memory per second of audio), so a long voicemail is fed to it piece by piece.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from transcribe.audio import SAMPLE_RATE

# Loudness is compared over 50 ms frames, short enough to find the gap between two words.
_FRAME = SAMPLE_RATE // 20


def cut_points(
    audio: npt.NDArray[np.float32], piece_s: float, search_s: float
) -> list[tuple[int, int]]:
    """Split ``audio`` into ``(start, end)`` sample ranges of at most ``piece_s`` seconds.

    Each cut is put at the quietest 50 ms frame in the last ``search_s`` seconds before the
    limit, so that a word is rarely split in two.
    """
    total = audio.shape[0]
    piece = int(piece_s * SAMPLE_RATE)
    if piece <= 0 or total <= piece:
        return [(0, total)]
    search = max(_FRAME, min(int(search_s * SAMPLE_RATE), piece // 2))
    ranges = []
    start = 0
    while total - start > piece:
        window_start = start + piece - search
        window = audio[window_start : start + piece]
        frames = window[: (window.shape[0] // _FRAME) * _FRAME].reshape(-1, _FRAME)
        energy = np.square(frames, dtype=np.float32).mean(axis=1)
        # Ties (digital silence) go to the latest frame: the longest piece.
        quietest = int(energy.shape[0] - 1 - np.argmin(energy[::-1]))
        end = window_start + quietest * _FRAME + _FRAME // 2
        ranges.append((start, end))
        start = end
    ranges.append((start, total))
    return ranges

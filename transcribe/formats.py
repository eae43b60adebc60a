"""Which audio format a file is, from its first bytes: no decoder, numpy or model needed.

Kept apart from ``transcribe.audio`` so the collectors and the web, which only label stored
audio, never load PyAV or numpy.
"""

from __future__ import annotations

import os
from pathlib import Path

StrPath = str | os.PathLike[str]

_MAGIC: tuple[tuple[int, bytes, str], ...] = (
    (0, b"fLaC", "audio/flac"),
    (0, b"OggS", "audio/ogg"),
    (0, b"ID3", "audio/mpeg"),
    (0, b"#!AMR", "audio/amr"),
    (0, b".snd", "audio/basic"),
    (0, b"\x1a\x45\xdf\xa3", "audio/webm"),
    (0, b"caff", "audio/x-caf"),
)

_EXTENSIONS = {
    ".wav": "audio/wav",
    ".mp3": "audio/mpeg",
    ".ogg": "audio/ogg",
    ".oga": "audio/ogg",
    ".opus": "audio/ogg",
    ".flac": "audio/flac",
    ".m4a": "audio/mp4",
    ".mp4": "audio/mp4",
    ".aac": "audio/aac",
    ".gsm": "audio/x-gsm",
    ".amr": "audio/amr",
    ".au": "audio/basic",
    ".webm": "audio/webm",
    ".aif": "audio/aiff",
    ".aiff": "audio/aiff",
}

OCTET_STREAM = "application/octet-stream"


def guess_audio_content_type(path_or_bytes: StrPath | bytes) -> str:
    """The MIME type to serve stored audio with, from its leading bytes (name as a fallback)."""
    if isinstance(path_or_bytes, bytes):
        head, suffix = path_or_bytes[:64], ""
    else:
        suffix = Path(path_or_bytes).suffix.lower()
        try:
            with open(path_or_bytes, "rb") as handle:
                head = handle.read(64)
        except OSError:
            head = b""
    return _content_type_from_head(head) or _EXTENSIONS.get(suffix, OCTET_STREAM)


def _content_type_from_head(head: bytes) -> str | None:
    if len(head) >= 12 and head[:4] in (b"RIFF", b"RIFX", b"RF64") and head[8:12] == b"WAVE":
        return "audio/wav"
    if len(head) >= 12 and head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "audio/aiff"
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return "audio/mp4"
    for offset, magic, content_type in _MAGIC:
        if head[offset : offset + len(magic)] == magic:
            return content_type
    if len(head) >= 2 and head[0] == 0xFF:
        if head[1] & 0xF6 == 0xF0:
            # MPEG-4/2 ADTS: sync word with layer bits 00.
            return "audio/aac"
        if head[1] & 0xE0 == 0xE0 and head[1] & 0x06 != 0:
            return "audio/mpeg"
    return None

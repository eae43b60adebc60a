"""Every word of the helpdesk's domain, as enums: the one place each value is spelled.

Dependency-free on purpose: the pure libraries (``classify``, ``transcribe``, ``intake.mail``),
the core, the collectors, the workers and the web all import these. The ORM stores each value
as its plain string (``intake.core.db.models.EnumText``), so the stored data never changes
when a member is renamed in Python, and the type checker sees the enum on every column.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    AGENT = "agent"


class Channel(StrEnum):
    EMAIL = "email"
    VOICEMAIL = "voicemail"


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"
    NOTE = "note"


class Source(StrEnum):
    """Which collector stored an inbound item."""

    SMTP = "smtp"
    IMAP = "imap"
    API = "api"
    WEBHOOK = "webhook"
    SPOOL = "spool"


class MessageFlag(StrEnum):
    """What the mail parser noticed about a message (stored in ``Message.flags``)."""

    AUTO_REPLY = "auto_reply"
    BOUNCE = "bounce"
    UNPARSEABLE = "unparseable"
    LIST = "list"
    HTML_ONLY = "html_only"
    DEFECTS = "defects"


class MessageState(StrEnum):
    """Where an inbound message is in the pipeline (transitions: ``intake.core.states``)."""

    RECEIVED = "received"  # durably stored, not yet processed (the sweeper enqueues it again)
    PROCESSING = "processing"  # claimed by a worker
    PROCESSED = "processed"
    FAILED = "failed"  # gave up after the last retry; an admin can retry


class TicketStatus(StrEnum):
    NEW = "new"
    OPEN = "open"
    PENDING = "pending"
    RESOLVED = "resolved"


class TranscriptState(StrEnum):
    """A voicemail transcript's state; the last four are what speech-to-text can return."""

    PENDING = "pending"
    RUNNING = "running"
    FAILED = "failed"  # the audio could not be decoded, or the job gave up
    DONE = "done"
    NO_SPEECH = "no_speech"
    UNCLEAR = "unclear"  # a guard doubted the words: listen to the audio; text not used
    UNSUPPORTED_LANGUAGE = "unsupported_language"  # spoken in a language no model handles


class SetBy(StrEnum):
    """Who decided a ticket's category or priority: agents' choices are never overwritten."""

    MODEL = "model"
    RULE = "rule"
    AGENT = "agent"


class Priority(StrEnum):
    URGENT = "urgent"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def rank(self) -> int:
        """0 for urgent .. 3 for low, so queues can sort most pressing first."""
        return list(Priority).index(self)


class Sentiment(StrEnum):
    NEGATIVE = "negative"
    NEUTRAL = "neutral"
    POSITIVE = "positive"


class CustomerType(StrEnum):
    POTENTIAL = "potential"  # first contact
    EXISTING = "existing"
    LOYAL = "loyal"


class ModelTask(StrEnum):
    """What a trained text model predicts (``ModelVersion.task``)."""

    CATEGORY = "category"  # the topic
    SENTIMENT = "sentiment"
    COMPLAINT = "complaint"  # yes / no
    PRIORITY = "priority"  # urgent / high / medium / low

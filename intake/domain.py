"""Every word of the helpdesk's domain, as enums: the one place each value is spelled.

Dependency-free on purpose: the pure libraries (``classify``, ``transcribe``, ``intake.mail``),
the core, the collectors, the workers and the web all import these. The ORM stores each value
as its plain string (``intake.core.db.base.EnumText``), so the stored data never changes
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
    GATEWAY = "gateway"  # written here: agents' replies and notes, acknowledgements, notices


class OutboundKind(StrEnum):
    """Why the gateway sends a mail (``Delivery.kind``)."""

    REPLY = "reply"  # an agent's answer to the customer
    ACKNOWLEDGEMENT = "acknowledgement"  # automatic "we received your message" (RFC 3834)
    NOTIFICATION = "notification"  # a notice to our own people (e.g. an SLA breach)
    RESOLUTION = "resolution"  # "your request is resolved", with the one-click rating links


class DeliveryState(StrEnum):
    """Where an outbound mail is on its way to the relay (transitions: ``intake.core.outbox``)."""

    QUEUED = "queued"  # stored, waiting for (another) attempt
    SENDING = "sending"  # claimed by a worker
    SENT = "sent"  # the relay accepted it
    FAILED = "failed"  # refused for good, or gave up after the last retry; a person can retry


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


class EventKind(StrEnum):
    """What an entry of a ticket's activity log records."""

    CHANGE = "change"  # a field changed: status, priority, category, assignee, group, tags…
    REPLY = "reply"  # a reply was sent to the customer
    NOTE = "note"  # an internal note was added
    ACKNOWLEDGEMENT = "acknowledgement"  # the automatic acknowledgement was sent
    CALLBACK = "callback"  # an agent called a voicemail's caller back
    MERGE = "merge"  # another ticket was merged into this one, or this one into another
    SLA = "sla"  # a service-level target was near breach, breached, or recomputed
    ASSIGNMENT = "assignment"  # assigned by a group's automatic assignment
    RESOLUTION_EMAIL = "resolution_email"  # the resolution email (rating links) was queued


class SlaTarget(StrEnum):
    """Which service-level target a ticket's ``sla_due_at`` is the deadline of."""

    FIRST_RESPONSE = "first_response"  # the first reply sent, or a logged call-back
    RESOLUTION = "resolution"  # the ticket resolved


class SlaState(StrEnum):
    """How a ticket stands against its current target, as shown in the queue."""

    OK = "ok"
    WARNING = "warning"  # 80 % of the target's business time has elapsed
    BREACHED = "breached"  # past due
    PAUSED = "paused"  # pending (waiting on the customer) or resolved: the clock stands still
    MET = "met"  # no target left to meet


class AssignmentStrategy(StrEnum):
    """How a group hands its new tickets to its members."""

    MANUAL = "manual"  # nobody is picked; agents take tickets themselves
    ROUND_ROBIN = "round_robin"  # members in turn
    LEAST_OPEN = "least_open"  # the member with the fewest open tickets, under a per-agent cap


class CallbackOutcome(StrEnum):
    """What came of calling a voicemail's caller back."""

    REACHED = "reached"
    NO_ANSWER = "no_answer"
    LEFT_MESSAGE = "left_message"


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


class ProcessRole(StrEnum):
    """What a long-running process does, as its heartbeat names it (``intake.core.heartbeat``)."""

    SMTP = "smtp"
    IMAP = "imap"
    SPOOL = "voicemail-spool"
    WORKER = "worker"
    SWEEPER = "sweeper"

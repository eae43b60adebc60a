"""The gateway's exception hierarchy, caught at the edges (SMTP handler, HTTP views, jobs, CLI)."""


class IntakeError(Exception):
    """Base of every error the gateway raises on purpose."""


class ConfigError(IntakeError):
    """A setting is missing or malformed."""


class StorageError(IntakeError):
    """The database or blob store could not durably keep an item (senders should retry later)."""


class RejectedError(IntakeError):
    """Input refused on purpose (unknown recipient, too large, bad credentials)."""


class NotFoundError(IntakeError):
    """A referenced row does not exist."""

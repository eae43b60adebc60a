"""The gateway's exception hierarchy, caught at the edges (SMTP handler, HTTP views, jobs, CLI).

A message people see (a refused form, a bad link) is written as a template with ``{name}``
fields and the values as keywords: ``RejectedError("group {name!r} has no members", name=n)``.
``str(exc)`` is the English text; the web UI shows the template translated into the reader's
language (``web.i18n.error_text``). ``./dev translations`` extracts these templates from the
calls of the classes in ``TRANSLATED_ERRORS``.
"""

from __future__ import annotations


class IntakeError(Exception):
    """Base of every error the gateway raises on purpose."""

    def __init__(self, message: str = "", /, **params: object) -> None:
        super().__init__(message.format(**params) if params else message)
        self.template = message
        self.params = params


class ConfigError(IntakeError):
    """A setting is missing or malformed."""


class StorageError(IntakeError):
    """The database or blob store could not durably keep an item (senders should retry later)."""


class RejectedError(IntakeError):
    """Input refused on purpose (unknown recipient, too large, bad credentials)."""


class NotFoundError(IntakeError):
    """A referenced row does not exist."""


# The errors whose messages reach people in the UI; their templates are in the catalogs.
TRANSLATED_ERRORS = ("RejectedError", "NotFoundError", "BusinessHoursError", "RatingLinkError")

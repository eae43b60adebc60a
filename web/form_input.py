"""Text from forms and query strings, made safe to store: no NUL or other control characters.

PostgreSQL refuses NUL in text, so an unfiltered ``\\x00`` in a field would be a server error
instead of a clear answer. Tabs and newlines stay (the rule JSON textarea needs them).
"""

from __future__ import annotations

import re

from flask import request

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean(value: str) -> str:
    return _CONTROL.sub("", value)


def form_text(name: str, default: str = "") -> str:
    return clean(request.form.get(name, default))


def arg_text(name: str, default: str = "") -> str:
    return clean(request.args.get(name, default))

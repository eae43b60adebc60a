"""The UI in English and Simplified Chinese (Flask-Babel), and times in each agent's time zone.

A person's language is the one they chose on their preferences page, else the best match of
their browser's Accept-Language, else English. Catalogs live in web/translations; `./dev
translations` extracts new strings, merges them into the catalogs and compiles them.
"""

from __future__ import annotations

import logging
from datetime import datetime
from enum import StrEnum
from zoneinfo import available_timezones

from flask import Flask, request
from flask_babel import Babel, format_datetime, get_locale, gettext
from flask_login import current_user
from markupsafe import Markup

from intake.errors import IntakeError

log = logging.getLogger(__name__)

LANGUAGES = {"en": "English", "zh": "中文"}
DEFAULT_LANGUAGE = "en"
DEFAULT_TIMEZONE = "UTC"

babel = Babel()


def N_(text: str) -> str:  # noqa: N802 - the name pybabel extracts by default
    """Marks a word for the catalog; it is translated when shown (``word``)."""
    return text


# The stored words of the domain (intake.domain) and the shipped topics, as shown to people.
# Stored values stay English; only their display changes with the language.
WORDS = {
    "new": N_("new"),
    "open": N_("open"),
    "pending": N_("pending"),
    "resolved": N_("resolved"),
    "urgent": N_("urgent"),
    "high": N_("high"),
    "medium": N_("medium"),
    "low": N_("low"),
    "email": N_("email"),
    "voicemail": N_("voicemail"),
    "negative": N_("negative"),
    "neutral": N_("neutral"),
    "positive": N_("positive"),
    "potential": N_("potential"),
    "existing": N_("existing"),
    "loyal": N_("loyal"),
    "inquiry": N_("Inquiry"),
    "product_issue": N_("Product issue"),
    "service_issue": N_("Service issue"),
    "billing": N_("Billing"),
    "complaint": N_("Complaint"),
    "suggestion": N_("Suggestion"),
    "other": N_("Other"),
    "first_response": N_("First response"),
    "resolution": N_("Resolution"),
    "warning": N_("due soon"),
    "breached": N_("breached"),
    "paused": N_("paused"),
    "met": N_("met"),
    "ok": N_("on time"),
    "admin": N_("admin"),
    "agent": N_("agent"),
    "model": N_("model"),
    "rule": N_("rule"),
    "manual": N_("manual"),
    "round_robin": N_("round-robin"),
    "least_open": N_("fewest open tickets"),
    "reached": N_("reached"),
    "no_answer": N_("no answer"),
    "left_message": N_("left a message"),
    "queued": N_("queued"),
    "sending": N_("sending"),
    "sent": N_("sent"),
    "failed": N_("failed"),
    "received": N_("received"),
    "processing": N_("processing"),
    "processed": N_("processed"),
    "change": N_("change"),
    "reply": N_("reply"),
    "note": N_("note"),
    "acknowledgement": N_("acknowledgement"),
    "notification": N_("notification"),
    "resolution_email": N_("resolution email"),
    "yes": N_("yes"),
    "no": N_("no"),
    "due_soon": N_("due soon"),
    "missed": N_("missed"),
    "good": N_("good"),
    "okay": N_("okay"),
    "bad": N_("bad"),
    "callback": N_("call-back"),
    "merge": N_("merge"),
    "sla": N_("SLA"),
    "assignment": N_("assignment"),
    "status": N_("status"),
    "priority": N_("priority"),
    "category": N_("topic"),
    "assignee": N_("assignee"),
    "group": N_("group"),
    "tags": N_("tags"),
    "auto_reply": N_("auto-reply"),
    "bounce": N_("bounce"),
    "list": N_("mailing list"),
    "smtp": N_("SMTP"),
    "imap": N_("IMAP"),
    "api": N_("API"),
    "webhook": N_("webhook"),
    "spool": N_("spool"),
}


def word(value: object) -> str:
    """A stored domain word (status, priority, channel…) in the viewer's language."""
    text = "" if value is None else str(value)
    return str(gettext(WORDS[text])) if text in WORDS else text


def _shown(value: object) -> object:
    if isinstance(value, StrEnum):
        return word(value)
    if isinstance(value, IntakeError):  # "Monday: <why>": the inner error translated too
        return error_text(value)
    return value


def error_text(exc: BaseException) -> str:
    """An error's message in the viewer's language: its template translated, then filled in
    (domain words among the values translated too); any other exception as it reads."""
    if not isinstance(exc, IntakeError) or not exc.template:
        return str(exc)
    translated = str(gettext(exc.template))
    if not exc.params:
        return translated  # a message without values is shown as written, braces and all
    params = {name: _shown(value) for name, value in exc.params.items()}
    try:
        return translated.format(**params)
    except (KeyError, IndexError, ValueError):
        # A translation that names a value the message lacks must not break the page.
        log.warning("translation of %r does not fit its values; shown in English", exc.template)
        return str(exc)


def language_of(accept_language: str | None, chosen: str | None) -> str:
    """The language to show: the person's choice, else the browser's best match, else English."""
    if chosen in LANGUAGES:
        return chosen
    if accept_language:
        for part in sorted(_weighted(accept_language), key=lambda item: -item[1]):
            primary = part[0].split("-")[0].lower()
            if primary in LANGUAGES:
                return primary
    return DEFAULT_LANGUAGE


def _weighted(header: str) -> list[tuple[str, float]]:
    languages = []
    for item in header.split(","):
        tag, _, params = item.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                weight = 0.0
        if tag:
            languages.append((tag, weight))
    return languages


def select_locale() -> str:
    chosen = getattr(current_user, "language", None) if current_user else None
    return language_of(request.headers.get("Accept-Language"), chosen)


def select_timezone() -> str:
    chosen = getattr(current_user, "timezone", None) if current_user else None
    return chosen if chosen in TIMEZONES else DEFAULT_TIMEZONE


TIMEZONES = frozenset(available_timezones()) | {DEFAULT_TIMEZONE}


def local_time(moment: datetime | str | None, pattern: str = "yyyy-MM-dd HH:mm") -> str:
    """A UTC moment (or its ISO 8601 text) in the viewer's time zone, as ``pattern`` (CLDR)."""
    if moment is None or moment == "":
        return ""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return str(format_datetime(moment, pattern))


def code(text: str) -> Markup:
    """Literal text (a column name, an example line) kept out of a translated sentence."""
    return Markup("<code>{}</code>").format(text)


def link(href: str, text: str) -> Markup:
    """A link inside a translated sentence, its words translated on their own."""
    return Markup('<a href="{}">{}</a>').format(href, text)


def init_i18n(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LANGUAGE)
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
    app.jinja_env.filters["local_time"] = local_time
    app.jinja_env.filters["word"] = word
    app.jinja_env.globals["LANGUAGES"] = LANGUAGES
    app.jinja_env.globals["code"] = code
    app.jinja_env.globals["link"] = link
    app.jinja_env.globals["get_locale"] = get_locale

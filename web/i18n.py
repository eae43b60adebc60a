"""The UI in English and Simplified Chinese (Flask-Babel), and times in each agent's time zone.

A person's language is the one they chose on their preferences page, else the best match of
their browser's Accept-Language, else English. Catalogs live in web/translations; `./dev
translations` extracts new strings, merges them into the catalogs and compiles them.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import available_timezones

from flask import Flask, request
from flask_babel import Babel, format_datetime, get_locale
from flask_login import current_user
from markupsafe import Markup

LANGUAGES = {"en": "English", "zh": "中文"}
DEFAULT_LANGUAGE = "en"
DEFAULT_TIMEZONE = "UTC"

babel = Babel()


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


def init_i18n(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LANGUAGE)
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
    app.jinja_env.filters["local_time"] = local_time
    app.jinja_env.globals["LANGUAGES"] = LANGUAGES
    app.jinja_env.globals["code"] = code
    app.jinja_env.globals["get_locale"] = get_locale

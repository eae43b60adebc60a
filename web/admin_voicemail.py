"""Admin pages for voicemail: transcripts to retry, the speech vocabulary, voicemail senders."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from werkzeug.wrappers import Response

from intake.core.app_settings import save_app_setting
from intake.core.db.models import Transcript
from intake.core.speech_settings import (
    LANGUAGES_KEY,
    VOCABULARY_KEY,
    line_languages,
    parse_line_languages,
    speech_vocabulary,
)
from intake.core.states import live_claimants, retry_transcript
from intake.core.voicemail_tickets import VOICEMAIL_SENDERS_KEY, voicemail_senders
from intake.domain import TranscriptState
from intake.errors import RejectedError
from web.auth import admin_required, local_target
from web.context import db, get_runtime

bp = Blueprint("admin_voicemail", __name__, url_prefix="/admin")

MAX_TERMS = 200


def _lines(field: str) -> list[str]:
    seen: dict[str, str] = {}
    for line in request.form.get(field, "").splitlines():
        term = " ".join(line.split())
        if term and term.casefold() not in seen:
            seen[term.casefold()] = term
    return list(seen.values())[:MAX_TERMS]


def _save(key: str, value: dict[str, Any]) -> None:
    save_app_setting(db(), key, value)
    db().commit()


@bp.get("/voicemail")
@admin_required
def voicemail() -> str:
    problems = list(
        db().scalars(
            select(Transcript)
            .where(Transcript.state != TranscriptState.DONE)
            .order_by(Transcript.updated_at.desc())
            .limit(500)
            .options(selectinload(Transcript.message))
        )
    )
    return render_template(
        "admin/voicemail.html",
        transcripts=problems,
        # A running transcript can be retried once no live worker holds it (a stuck one).
        working=live_claimants(get_runtime(), [t.claimed_by for t in problems]),
        vocabulary="\n".join(speech_vocabulary(db())),
        senders="\n".join(sorted(voicemail_senders(db()))),
        languages=request.args.get("languages")
        or "\n".join(f"{line} = {code}" for line, code in sorted(line_languages(db()).items())),
    )


@bp.post("/voicemail/languages")
@admin_required
def save_languages() -> Response:
    text = request.form.get("languages", "")
    try:
        lines = parse_line_languages(text)
    except RejectedError as exc:
        flash(_("Languages not saved: %(exc)s", exc=exc), "error")
        return redirect(url_for("admin_voicemail.voicemail", languages=text))
    _save(LANGUAGES_KEY, {"lines": lines})
    flash(
        _("%(count)s line language(s) saved; they apply to new transcriptions.", count=len(lines)),
        "ok",
    )
    return redirect(url_for("admin_voicemail.voicemail"))


@bp.post("/voicemail/vocabulary")
@admin_required
def save_vocabulary() -> Response:
    terms = _lines("terms")
    _save(VOCABULARY_KEY, {"terms": terms})
    flash(
        _(
            "Speech vocabulary saved (%(count)s terms); it applies to new transcriptions.",
            count=len(terms),
        ),
        "ok",
    )
    return redirect(url_for("admin_voicemail.voicemail"))


@bp.post("/voicemail/senders")
@admin_required
def save_senders() -> Response:
    senders = [s.lower() for s in _lines("senders")]
    _save(VOICEMAIL_SENDERS_KEY, {"senders": senders})
    flash(_("%(count)s voicemail sender(s) saved.", count=len(senders)), "ok")
    return redirect(url_for("admin_voicemail.voicemail"))


@bp.post("/transcripts/<int:message_id>/retry")
@admin_required
def retry(message_id: int) -> Response:
    if retry_transcript(get_runtime(), message_id):
        flash(
            _("Transcription of message %(message_id)s queued again.", message_id=message_id), "ok"
        )
    else:
        flash(_("That transcript is running or does not exist."), "error")
    return redirect(local_target(request.form.get("next"), url_for("admin_voicemail.voicemail")))

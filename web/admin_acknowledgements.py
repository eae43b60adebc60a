"""Admin page for automatic acknowledgements and resolution emails: each on or off per mailbox
and for mail accepted by domain, and their English and Chinese texts."""

from __future__ import annotations

import logging

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from werkzeug.wrappers import Response

from intake.core import resolutions
from intake.core.acknowledgements import (
    PLACEHOLDERS,
    AckSettings,
    load_ack_settings,
    save_ack_settings,
)
from intake.core.automatic_mail import LANGUAGES, MailTemplate
from intake.core.db.models import Mailbox
from intake.core.ratings import RATING_LINK_DAYS
from intake.errors import RejectedError
from web.auth import admin_required
from web.context import db, get_runtime
from web.form_input import form_text
from web.i18n import error_text

log = logging.getLogger(__name__)
bp = Blueprint("acknowledgements", __name__, url_prefix="/admin")


def _mailboxes() -> list[Mailbox]:
    return list(db().scalars(select(Mailbox).order_by(Mailbox.name)))


@bp.get("/acknowledgements")
@admin_required
def index() -> str:
    settings = get_runtime().settings
    return render_template(
        "admin/canned_acknowledgements.html",
        ack=load_ack_settings(db()),
        mailboxes=_mailboxes(),
        languages=LANGUAGES,
        placeholders=PLACEHOLDERS,
        relay_configured=bool(settings.outbound_smtp_url),
        per_day=settings.ack_per_address_per_day,
        resolution=resolutions.load_resolution_settings(db()),
        resolution_placeholders=resolutions.PLACEHOLDERS,
        link_days=RATING_LINK_DAYS,
        base_url=settings.base_url,
    )


@bp.post("/acknowledgements")
@admin_required
def save() -> Response:
    templates = {
        language: MailTemplate(form_text(f"{language}_subject"), form_text(f"{language}_body"))
        for language in LANGUAGES
    }
    try:
        save_ack_settings(
            db(),
            AckSettings(domain_mail=request.form.get("domain_mail") == "1", templates=templates),
        )
        for mailbox in _mailboxes():
            mailbox.acknowledge = request.form.get(f"mailbox_{mailbox.id}") == "1"
        db().commit()
    except RejectedError as exc:
        db().rollback()
        flash(_("Not saved: %(exc)s.", exc=error_text(exc)), "error")
        return redirect(url_for("acknowledgements.index"))
    log.info("%s saved the acknowledgement settings", current_user.email)
    flash(_("Acknowledgement settings saved; they apply to the next new ticket."), "ok")
    return redirect(url_for("acknowledgements.index"))


@bp.post("/resolution-emails")
@admin_required
def save_resolution() -> Response:
    templates = {
        language: MailTemplate(
            form_text(f"resolution_{language}_subject"), form_text(f"resolution_{language}_body")
        )
        for language in LANGUAGES
    }
    off = frozenset(
        mailbox.id
        for mailbox in _mailboxes()
        if request.form.get(f"resolution_mailbox_{mailbox.id}") != "1"
    )
    try:
        resolutions.save_resolution_settings(
            db(),
            resolutions.ResolutionSettings(
                domain_mail=request.form.get("resolution_domain_mail") == "1",
                mailboxes_off=off,
                templates=templates,
            ),
        )
        db().commit()
    except RejectedError as exc:
        db().rollback()
        flash(_("Not saved: %(exc)s.", exc=error_text(exc)), "error")
        return redirect(url_for("acknowledgements.index", _anchor="resolution-emails"))
    log.info("%s saved the resolution email settings", current_user.email)
    flash(_("Resolution email settings saved; they apply to the next resolved ticket."), "ok")
    return redirect(url_for("acknowledgements.index", _anchor="resolution-emails"))

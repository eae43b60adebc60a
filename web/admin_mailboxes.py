"""Admin pages for mailboxes: list with live state, add, edit, enable/disable, delete, test.

Passwords and OAuth2 secrets go in through the form and are never rendered back: the edit form
leaves them blank, and a blank field keeps what is stored.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from intake.core.jobs import CHECK_MAILBOX
from intake.core.mailboxes import (
    MailboxSpec,
    MailboxView,
    add_mailbox,
    failing_mailboxes,
    get_mailbox,
    list_mailboxes,
    remove_mailbox,
    request_check,
    set_enabled,
    update_mailbox,
    view_of,
)
from intake.errors import NotFoundError, RejectedError
from intake.imap.config import (
    AfterKind,
    AuthKind,
    Credentials,
    OAuth2Credentials,
    TlsMode,
    parse_after_action,
)
from web.auth import admin_required
from web.context import db, get_runtime
from web.i18n import error_text

bp = Blueprint("admin_mailboxes", __name__, url_prefix="/admin/mailboxes")


@bp.app_context_processor
def mailbox_alerts() -> dict[str, Any]:
    """Failing mailboxes for the banner on every page an admin sees."""
    if not getattr(current_user, "is_authenticated", False) or not current_user.is_admin:
        return {"mailbox_alerts": []}
    return {"mailbox_alerts": failing_mailboxes(db())}


@bp.get("")
@admin_required
def index() -> str:
    return render_template("admin/mailboxes.html", mailboxes=list_mailboxes(db()))


def _int(form: MultiDict[str, str], key: str, default: int | None) -> int | None:
    value = form.get(key, "").strip()
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise RejectedError("{field} must be a whole number", field=key.replace("_", " ")) from None


def spec_from_form(form: MultiDict[str, str]) -> MailboxSpec:
    after = form.get("after", AfterKind.SEEN.value)
    if after == AfterKind.MOVE.value:
        after = f"move:{form.get('move_folder', '').strip()}"
    try:
        tls = TlsMode(form.get("imap_tls", TlsMode.IMPLICIT.value))
    except ValueError:
        raise RejectedError("unknown TLS mode") from None
    addresses = form.get("addresses", "").replace(",", " ").split()
    return MailboxSpec(
        name=form.get("name", "").strip(),
        addresses=addresses,
        imap_host=form.get("imap_host", "").strip() or None,
        imap_port=_int(form, "imap_port", None),
        imap_tls=tls,
        imap_user=form.get("imap_user", "").strip() or None,
        folder=form.get("folder", "").strip() or "INBOX",
        after=after,
        poll_seconds=_int(form, "poll_seconds", 60) or 60,
        backfill_days=_int(form, "backfill_days", 0) or 0,
        enabled=form.get("enabled") == "on",
        default_group=form.get("default_group", "").strip() or None,
        default_category=form.get("default_category", "").strip() or None,
    )


def credentials_from_form(form: MultiDict[str, str]) -> Credentials | None:
    """None when the admin left every secret field blank (keep the stored one)."""
    if form.get("auth_kind") == AuthKind.XOAUTH2.value:
        refresh_token = form.get("oauth2_refresh_token", "").strip()
        if not refresh_token:
            return None
        token_url = form.get("oauth2_token_url", "").strip()
        client_id = form.get("oauth2_client_id", "").strip()
        if not token_url or not client_id:
            raise RejectedError("XOAUTH2 needs a token URL and a client id")
        return Credentials(
            oauth2=OAuth2Credentials(
                token_url=token_url,
                client_id=client_id,
                refresh_token=refresh_token,
                client_secret=form.get("oauth2_client_secret", "").strip(),
                scope=form.get("oauth2_scope", "").strip(),
            )
        )
    password = form.get("password", "")
    return Credentials(password=password) if password else None


def _form_page(view: MailboxView | None, values: MultiDict[str, str] | None = None) -> str:
    after = parse_after_action(view.after_action) if view else None
    return render_template(
        "admin/mailboxes_form.html",
        mailbox=view,
        values=values,
        after_kind=after.kind.value if after else AfterKind.SEEN.value,
        move_folder=after.folder if after and after.folder else "",
        tls_modes=[m.value for m in TlsMode],
    )


@bp.route("/new", methods=["GET", "POST"])
@admin_required
def new() -> str | Response:
    if request.method == "POST":
        try:
            view = add_mailbox(
                db(),
                get_runtime().settings,
                spec_from_form(request.form),
                credentials_from_form(request.form),
            )
            db().commit()
            flash(
                _("Mailbox %(name)s added; it connects within a few seconds.", name=view.name), "ok"
            )
            return redirect(url_for("admin_mailboxes.index"))
        except RejectedError as exc:
            db().rollback()
            flash(error_text(exc), "error")
            return _form_page(None, request.form)
    return _form_page(None)


@bp.route("/<int:mailbox_id>/edit", methods=["GET", "POST"])
@admin_required
def edit(mailbox_id: int) -> str | Response:
    view = _view_or_404(mailbox_id)
    if request.method == "POST":
        try:
            view = update_mailbox(
                db(),
                get_runtime().settings,
                mailbox_id,
                spec_from_form(request.form),
                credentials_from_form(request.form),
            )
            db().commit()
            flash(_("Mailbox %(name)s saved.", name=view.name), "ok")
            return redirect(url_for("admin_mailboxes.index"))
        except RejectedError as exc:
            db().rollback()
            flash(error_text(exc), "error")
            return _form_page(view, request.form)
    return _form_page(view)


@bp.post("/<int:mailbox_id>/enable")
@admin_required
def enable(mailbox_id: int) -> Response:
    return _toggle(mailbox_id, True)


@bp.post("/<int:mailbox_id>/disable")
@admin_required
def disable(mailbox_id: int) -> Response:
    return _toggle(mailbox_id, False)


def _toggle(mailbox_id: int, enabled: bool) -> Response:
    try:
        view = set_enabled(db(), mailbox_id, enabled)
    except NotFoundError:
        abort(404)
    db().commit()
    flash(
        _("Mailbox %(name)s enabled.", name=view.name)
        if enabled
        else _("Mailbox %(name)s disabled.", name=view.name),
        "ok",
    )
    return redirect(url_for("admin_mailboxes.index"))


@bp.post("/<int:mailbox_id>/delete")
@admin_required
def delete(mailbox_id: int) -> Response:
    view = _view_or_404(mailbox_id)
    remove_mailbox(db(), mailbox_id)
    db().commit()
    flash(_("Mailbox %(name)s deleted; its stored mail stays.", name=view.name), "ok")
    return redirect(url_for("admin_mailboxes.index"))


@bp.post("/<int:mailbox_id>/test")
@admin_required
def test(mailbox_id: int) -> Response:
    """Ask the ``check_mailbox`` job to log in; the list shows its answer when it comes."""
    view = _view_or_404(mailbox_id)
    try:
        request_check(db(), mailbox_id)
    except RejectedError as exc:
        flash(_("Test of %(name)s: %(exc)s", name=view.name, exc=exc), "error")
        return redirect(url_for("admin_mailboxes.index"))
    db().commit()
    if get_runtime().jobs.enqueue(CHECK_MAILBOX, mailbox_id):
        flash(
            _("Testing %(name)s: the answer appears below in a few seconds.", name=view.name), "ok"
        )
    else:
        flash(
            _("Test of %(name)s: the job queue is unavailable; try again later.", name=view.name),
            "error",
        )
    return redirect(url_for("admin_mailboxes.index"))


def _view_or_404(mailbox_id: int) -> MailboxView:
    try:
        return view_of(get_mailbox(db(), mailbox_id))
    except NotFoundError:
        abort(404)

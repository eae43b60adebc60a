"""``intake mailbox add|list|remove|enable|disable|test`` and the ``intake imap`` collector."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Any

from intake.cli.accounts import open_database
from intake.core.mailboxes import (
    MailboxSpec,
    MailboxView,
    add_mailbox,
    connection_config,
    list_mailboxes,
    remove_mailbox,
    set_enabled,
)
from intake.core.settings import Settings
from intake.errors import RejectedError
from intake.imap.config import Credentials, OAuth2Credentials, TlsMode
from intake.imap.connection import check_connection

log = logging.getLogger(__name__)


def register(commands: Any) -> None:
    mailbox = commands.add_parser("mailbox", help="manage mailboxes").add_subparsers(
        dest="mailbox_command", required=True, metavar="ACTION"
    )
    add = mailbox.add_parser("add", help="add a mailbox (IMAP account and/or inbound address)")
    add.add_argument("name")
    add.add_argument("--address", action="append", default=[], help="inbound address (repeat)")
    add.add_argument("--imap-host")
    add.add_argument("--imap-port", type=int)
    add.add_argument("--imap-user")
    add.add_argument(
        "--imap-tls", choices=[m.value for m in TlsMode], default=TlsMode.IMPLICIT.value
    )
    add.add_argument(
        "--password-stdin", action="store_true", help="read the IMAP password from standard input"
    )
    add.add_argument("--oauth2-token-url", help="use XOAUTH2 with this token endpoint")
    add.add_argument("--oauth2-client-id")
    add.add_argument("--oauth2-scope", default="")
    add.add_argument(
        "--oauth2-stdin",
        action="store_true",
        help="read the refresh token, then (optional, second line) the client secret, from stdin",
    )
    add.add_argument("--folder", default="INBOX")
    add.add_argument("--after", default="seen", help="seen | move:FOLDER | delete")
    add.add_argument("--poll-seconds", type=int, default=60, help="used when the server lacks IDLE")
    add.add_argument("--backfill-days", type=int, default=0, help="0: first sync takes unseen only")
    add.add_argument("--group", help="default group")
    add.add_argument("--category", help="default category")
    add.add_argument("--disabled", action="store_true", help="add it switched off")
    add.set_defaults(handler=run_add)
    listing = mailbox.add_parser("list", help="list mailboxes and their state (no secrets)")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=run_list)
    for action, text, handler in (
        ("remove", "delete a mailbox (stored mail stays)", run_remove),
        ("enable", "switch a mailbox on", run_enable),
        ("disable", "switch a mailbox off", run_disable),
        ("test", "connect and log in once; print the server's answer", run_test),
    ):
        sub = mailbox.add_parser(action, help=text)
        sub.add_argument("name")
        sub.set_defaults(handler=handler)


def read_credentials(args: argparse.Namespace) -> Credentials | None:
    if args.password_stdin and args.oauth2_token_url:
        raise RejectedError("use either --password-stdin or --oauth2-token-url, not both")
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise RejectedError("no password on standard input")
        return Credentials(password=password)
    if args.oauth2_token_url:
        if not args.oauth2_client_id or not args.oauth2_stdin:
            raise RejectedError("XOAUTH2 needs --oauth2-client-id and --oauth2-stdin")
        refresh_token = sys.stdin.readline().strip()
        client_secret = sys.stdin.readline().strip()
        if not refresh_token:
            raise RejectedError("no refresh token on standard input")
        return Credentials(
            oauth2=OAuth2Credentials(
                token_url=args.oauth2_token_url,
                client_id=args.oauth2_client_id,
                refresh_token=refresh_token,
                client_secret=client_secret,
                scope=args.oauth2_scope,
            )
        )
    return None


def run_add(args: argparse.Namespace, settings: Settings) -> int:
    credentials = read_credentials(args)
    spec = MailboxSpec(
        name=args.name,
        addresses=args.address,
        imap_host=args.imap_host,
        imap_port=args.imap_port,
        imap_tls=TlsMode(args.imap_tls),
        imap_user=args.imap_user,
        folder=args.folder,
        after=args.after,
        poll_seconds=args.poll_seconds,
        backfill_days=args.backfill_days,
        enabled=not args.disabled,
        default_group=args.group,
        default_category=args.category,
    )
    database = open_database(settings)
    try:
        with database.session() as session:
            view = add_mailbox(session, settings, spec, credentials)
    finally:
        database.dispose()
    print(f"mailbox {view.name} added")
    return 0


def describe(view: MailboxView) -> dict[str, Any]:
    return {
        "name": view.name,
        "addresses": view.addresses,
        "enabled": view.enabled,
        "imap": (
            f"{view.imap_user}@{view.imap_host}:{view.imap_port}"
            f" ({view.imap_tls}, {view.auth_kind})"
            if view.is_imap
            else None
        ),
        "folder": view.folder,
        "after": view.after_action,
        "poll_seconds": view.poll_seconds,
        "state": view.state,
        "last_success_at": view.last_success_at.isoformat() if view.last_success_at else None,
        "last_error": view.last_error,
        "last_error_at": view.last_error_at.isoformat() if view.last_error_at else None,
        "consecutive_failures": view.consecutive_failures,
    }


def run_list(args: argparse.Namespace, settings: Settings) -> int:
    database = open_database(settings)
    try:
        with database.session() as session:
            views = list_mailboxes(session)
    finally:
        database.dispose()
    if args.json:
        print(json.dumps([describe(v) for v in views], indent=2))
        return 0
    if not views:
        print("no mailboxes")
    for view in views:
        info = describe(view)
        print(
            f"{view.name}\t{', '.join(view.addresses) or '-'}\t{info['imap'] or 'SMTP only'}"
            f"\t{view.folder}\tafter={view.after_action}\t{view.state}"
        )
        if view.last_error:
            print(f"\tlast error ({info['last_error_at']}): {view.last_error}")
    return 0


def _with_session(settings: Settings, action: Any) -> Any:
    database = open_database(settings)
    try:
        with database.session() as session:
            return action(session)
    finally:
        database.dispose()


def run_remove(args: argparse.Namespace, settings: Settings) -> int:
    _with_session(settings, lambda s: remove_mailbox(s, args.name))
    print(f"mailbox {args.name} removed")
    return 0


def run_enable(args: argparse.Namespace, settings: Settings) -> int:
    _with_session(settings, lambda s: set_enabled(s, args.name, True))
    print(f"mailbox {args.name} enabled")
    return 0


def run_disable(args: argparse.Namespace, settings: Settings) -> int:
    _with_session(settings, lambda s: set_enabled(s, args.name, False))
    print(f"mailbox {args.name} disabled")
    return 0


def run_test(args: argparse.Namespace, settings: Settings) -> int:
    config, credentials = _with_session(
        settings, lambda s: connection_config(s, settings, args.name)
    )
    report = check_connection(config, credentials)
    print(("ok: " if report.ok else "failed: ") + report.message)
    return 0 if report.ok else 1

"""People and credentials: ``intake user add`` and ``intake token create``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from intake.core.db.engine import Database
from intake.core.db.migrate import upgrade
from intake.core.settings import Settings
from intake.core.users import add_user, create_token
from intake.domain import Role


def register(commands: Any) -> None:
    user = commands.add_parser("user", help="manage users").add_subparsers(
        dest="user_command", required=True, metavar="ACTION"
    )
    add = user.add_parser("add", help="add a user, or reset an existing user's password and role")
    add.add_argument("email")
    add.add_argument("--role", choices=[r.value for r in Role], default=Role.AGENT)
    add.add_argument("--name", default="")
    add.add_argument(
        "--password-stdin",
        action="store_true",
        required=True,
        help="read the password from standard input (keeps it out of shell history)",
    )
    add.set_defaults(handler=run_user_add)
    token = commands.add_parser("token", help="manage API tokens").add_subparsers(
        dest="token_command", required=True, metavar="ACTION"
    )
    create = token.add_parser("create", help="print a new API token for a user")
    create.add_argument("email")
    create.add_argument("--name", default="cli")
    create.set_defaults(handler=run_token_create)


def open_database(settings: Settings) -> Database:
    """Admin commands may run before the first ``intake up``: bring the schema up first."""
    upgrade(settings.database_url)
    return Database(settings.database_url)


def run_user_add(args: argparse.Namespace, settings: Settings) -> int:
    password = sys.stdin.readline().rstrip("\r\n")
    database = open_database(settings)
    with database.session() as session:
        user = add_user(session, args.email, Role(args.role), password, args.name)
        print(f"user {user.email} ({user.role}) saved")
    database.dispose()
    return 0


def run_token_create(args: argparse.Namespace, settings: Settings) -> int:
    database = open_database(settings)
    with database.session() as session:
        print(create_token(session, args.email, args.name))
    database.dispose()
    return 0

"""Customer data: ``intake customers import FILE.csv`` (columns email or phone, name, tier)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from intake.cli.accounts import open_database
from intake.core.customer_import import import_customers, parse_csv
from intake.core.settings import Settings
from intake.errors import RejectedError


def register(commands: Any) -> None:
    customers = commands.add_parser("customers", help="manage customers").add_subparsers(
        dest="customers_command", required=True, metavar="ACTION"
    )
    load = customers.add_parser(
        "import",
        help="create or update customers from a CSV file (columns: email or phone, name, tier)",
    )
    load.add_argument("file", type=Path, help="CSV file with a header line; '-' for stdin")
    load.add_argument(
        "--region", default="US", help="region for phone numbers without +country code"
    )
    load.add_argument(
        "--dry-run", action="store_true", help="check the file and report, change nothing"
    )
    load.set_defaults(handler=run_customers_import)


def run_customers_import(args: argparse.Namespace, settings: Settings) -> int:
    path: Path = args.file
    try:
        data = sys.stdin.buffer.read() if str(path) == "-" else path.read_bytes()
    except OSError as exc:
        raise RejectedError(
            "cannot read {path}: {strerror}", path=path, strerror=exc.strerror
        ) from None
    rows = parse_csv(data)
    database = open_database(settings)
    try:
        with database.sessionmaker() as session:
            result = import_customers(session, rows, default_region=args.region or None)
            if args.dry_run:
                session.rollback()
            else:
                session.commit()
    finally:
        database.dispose()
    for error in result.errors:
        print(f"{path}:{error.line}: {error.message}", file=sys.stderr)
    print(("dry run: " if args.dry_run else "") + result.summary)
    return 1 if result.errors else 0

"""The ``intake`` command line: the composition root, which nothing else imports.

Each command lives in a module with ``register(commands)``; only the module of the command being
run is imported, so ``intake smtp`` never loads the web app and ``intake web`` never loads the
speech or text models (see ``tests/bench/bench_memory.py``).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from intake.core.settings import load_settings
from intake.errors import IntakeError

log = logging.getLogger(__name__)

# command -> (module that registers it, one-line help for ``intake --help``)
COMMANDS: dict[str, tuple[str, str]] = {
    "up": ("intake.cli.gateway", "run every service on this machine (Ctrl-C stops all)"),
    "migrate": ("intake.cli.database", "apply database migrations"),
    "smtp": ("intake.cli.smtp_service", "run the SMTP collector"),
    "imap": ("intake.cli.imap_service", "run the IMAP collector for every enabled mailbox"),
    "voicemail-spool": ("intake.cli.spool_service", "ingest audio files dropped in the spool"),
    "worker": ("intake.cli.worker_service", "run an RQ worker (--queues intake,classify,...)"),
    "sweeper": ("intake.cli.sweeper_service", "re-enqueue stored items that are not queued"),
    "web": ("intake.cli.web_service", "run the web UI and JSON API"),
    "user": ("intake.cli.accounts", "manage users"),
    "token": ("intake.cli.accounts", "manage API tokens"),
    "mailbox": ("intake.cli.mailbox", "manage mailboxes"),
    "customers": ("intake.cli.customers", "manage customers"),
    "classify": ("intake.cli.classify", "train, evaluate and roll back classifier models"),
    "search": ("intake.cli.search", "rebuild the full-text search index"),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser for one command (its module imported), or for the list of all commands."""
    parser = argparse.ArgumentParser(
        prog="intake", description="Intake Gateway: email and voicemail intake for service teams"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    if command in COMMANDS:
        importlib.import_module(COMMANDS[command][0]).register(commands)
    else:
        for name, (_module, summary) in COMMANDS.items():
            commands.add_parser(name, help=summary)
    return parser


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s [%(processName)s %(process)d] %(name)s: %(message)s",
        stream=sys.stderr,
    )


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in arguments if not a.startswith("-")), None)
    args = build_parser(command).parse_args(arguments)
    try:
        settings = load_settings()
        configure_logging(settings.log_level)
        result: int = args.handler(args, settings)
        return result
    except IntakeError as exc:
        print(f"intake: {exc}", file=sys.stderr)
        return 2

"""The ``intake`` command line. Each command group lives in its own module with ``register()``."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from intake.cli import accounts, classify, customers, mailbox, services
from intake.errors import IntakeError

log = logging.getLogger(__name__)

COMMAND_GROUPS = (services, accounts, classify, customers, mailbox)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="intake", description="Intake Gateway: email and voicemail intake for service teams"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in COMMAND_GROUPS:
        group.register(commands)
    return parser


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s [%(processName)s %(process)d] %(name)s: %(message)s",
        stream=sys.stderr,
    )


def main(argv: Sequence[str] | None = None) -> int:
    from intake.settings import load_settings

    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
        configure_logging(settings.log_level)
        result: int = args.handler(args, settings)
        return result
    except IntakeError as exc:
        print(f"intake: {exc}", file=sys.stderr)
        return 2

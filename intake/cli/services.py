"""Long-running services: up (all in one), smtp, worker, web, sweeper, migrate."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from typing import Any

from intake.db.migrate import upgrade
from intake.runtime import Runtime, set_current
from intake.settings import Settings

log = logging.getLogger(__name__)


def register(commands: Any) -> None:
    up = commands.add_parser("up", help="run every service on this machine (Ctrl-C stops all)")
    up.set_defaults(handler=run_up)
    smtp = commands.add_parser("smtp", help="run the SMTP collector")
    smtp.set_defaults(handler=run_smtp)
    worker = commands.add_parser("worker", help="run an RQ worker")
    worker.add_argument("--queues", default="intake,classify", help="comma-separated queue names")
    worker.add_argument("--burst", action="store_true", help="exit when the queues are empty")
    worker.set_defaults(handler=run_worker)
    web = commands.add_parser("web", help="run the web UI and JSON API")
    web.add_argument("--threads", type=int, default=8)
    web.set_defaults(handler=run_web)
    sweeper = commands.add_parser("sweeper", help="re-enqueue stored items that are not queued")
    sweeper.set_defaults(handler=run_sweeper_command)
    spool = commands.add_parser(
        "voicemail-spool", help="ingest audio files dropped in INTAKE_VOICEMAIL_SPOOL"
    )
    spool.set_defaults(handler=run_voicemail_spool)
    migrate = commands.add_parser("migrate", help="apply database migrations")
    migrate.set_defaults(handler=run_migrate)


def _runtime(settings: Settings) -> Runtime:
    runtime = Runtime.from_settings(settings)
    set_current(runtime)
    return runtime


def wait_for_stop_signal() -> threading.Event:
    stop = threading.Event()

    def handle(_signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    return stop


def run_up(args: argparse.Namespace, settings: Settings) -> int:
    from intake.supervisor import Supervisor

    return Supervisor(settings).run()


def run_migrate(args: argparse.Namespace, settings: Settings) -> int:
    upgrade(settings.database_url)
    print("database is up to date")
    return 0


def run_smtp(args: argparse.Namespace, settings: Settings) -> int:
    from intake.smtp import make_controller

    runtime = _runtime(settings)
    stop = wait_for_stop_signal()
    controller = make_controller(runtime, settings.smtp_host, settings.smtp_port)
    controller.start()
    log.info("SMTP listening on %s:%s", settings.smtp_host, settings.smtp_port)
    try:
        stop.wait()
    finally:
        controller.stop()
        runtime.close()
    return 0


def run_worker(args: argparse.Namespace, settings: Settings) -> int:
    from workers.run import run_worker as work

    runtime = _runtime(settings)
    try:
        work(runtime, [name.strip() for name in args.queues.split(",") if name.strip()], args.burst)
    finally:
        runtime.close()
    return 0


def run_web(args: argparse.Namespace, settings: Settings) -> int:
    from waitress import serve

    from web import create_app

    runtime = _runtime(settings)
    log.info("web UI on http://%s:%s/", settings.web_host, settings.web_port)
    serve(create_app(runtime), host=settings.web_host, port=settings.web_port, threads=args.threads)
    return 0


def run_sweeper_command(args: argparse.Namespace, settings: Settings) -> int:
    from intake.sweeper import run_sweeper

    runtime = _runtime(settings)
    stop = wait_for_stop_signal()
    run_sweeper(runtime, stop)
    runtime.close()
    return 0


def run_voicemail_spool(args: argparse.Namespace, settings: Settings) -> int:
    from intake.errors import ConfigError
    from intake.voicemail.spool import run_spool_watcher

    if settings.voicemail_spool is None:
        raise ConfigError("INTAKE_VOICEMAIL_SPOOL is not set")
    runtime = _runtime(settings)
    stop = wait_for_stop_signal()
    run_spool_watcher(runtime, settings.voicemail_spool, stop)
    runtime.close()
    return 0

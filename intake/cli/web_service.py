"""``intake web``: the web UI and JSON API, served by waitress."""

from __future__ import annotations

import argparse
import gc
import logging
from typing import Any

from waitress import serve

from intake.cli.process import start_runtime
from intake.core.settings import Settings
from web import create_app

log = logging.getLogger(__name__)


def register(commands: Any) -> None:
    web = commands.add_parser("web", help="run the web UI and JSON API")
    web.add_argument("--threads", type=int, default=8)
    web.set_defaults(handler=run_web)


def run_web(args: argparse.Namespace, settings: Settings) -> int:
    runtime = start_runtime(settings)
    log.info("web UI on http://%s:%s/", settings.web_host, settings.web_port)
    proxy: dict[str, Any] = {}
    if settings.web_trusted_proxy:
        # Client address and scheme from the proxy's headers (login throttling per address,
        # /metrics allow-list, https URLs); the same headers from anyone else are dropped.
        proxy = {
            "trusted_proxy": settings.web_trusted_proxy,
            "trusted_proxy_count": 1,
            "trusted_proxy_headers": {"x-forwarded-for", "x-forwarded-proto"},
            "clear_untrusted_proxy_headers": True,
        }
    app = create_app(runtime)
    # What is loaded by now (modules, models, the app) lives as long as the process: frozen out
    # of the cyclic collector, a full collection walks a request's new objects only, not ~160,000
    # (100-250 ms on a loaded machine, landing on some request: the queue's p95). Queue page:
    # 3.4 -> 0.5 ms of collection a request on average, the longest 235 -> ~1 ms.
    gc.freeze()
    serve(
        app,
        host=settings.web_host,
        port=settings.web_port,
        threads=args.threads,
        **proxy,
    )
    return 0

"""``GET /metrics``: the whole gateway's metrics in Prometheus text format.

Counters and histograms come from Redis, where every process on every host records them
(``intake.core.metrics``); queue depths, live workers, failed jobs and the rows waiting are read
live at scrape time. Any web process answers for the whole gateway.

Access: a Bearer API token of an admin (Prometheus ``authorization: credentials_file``), or a
client address inside ``INTAKE_METRICS_ALLOW`` (empty by default). The allow-list sees the
address of the connection, so behind a reverse proxy it sees the proxy: there, use the token
or keep ``/metrics`` off the proxy.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterator

from flask import Blueprint, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from redis.exceptions import RedisError
from rq.registry import FailedJobRegistry
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.wrappers import Response

from intake.core.jobs import JobQueue
from intake.core.metrics import RedisMetrics
from intake.core.users import user_for_token
from intake.domain import Role
from web.context import db, get_runtime
from web.health import queue_depths, waiting_items

log = logging.getLogger(__name__)
bp = Blueprint("metrics", __name__)


def _address_allowed(address: str | None, networks: tuple[str, ...]) -> bool:
    if not address or not networks:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(network) for network in networks)


def _admin_token() -> bool:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return False
    user = user_for_token(db(), token.strip())
    db().commit()  # last_used_at
    return user is not None and user.role == Role.ADMIN


class LiveGauges:
    """What is true now: queues, workers, failed jobs (Redis) and waiting rows (database)."""

    def collect(self) -> Iterator[Metric]:
        redis_up = GaugeMetricFamily("intake_redis_up", "1 when Redis answered this scrape")
        try:
            yield from self._queues()
            redis_up.add_metric([], 1)
        except RedisError as exc:
            log.warning("metrics: queue gauges unavailable: %s", exc)
            redis_up.add_metric([], 0)
        yield redis_up
        try:
            yield from self._waiting()
        except SQLAlchemyError as exc:
            log.warning("metrics: waiting rows unavailable: %s", exc)

    def _queues(self) -> Iterator[Metric]:
        jobs = get_runtime().jobs
        depth = GaugeMetricFamily("intake_queue_depth", "Jobs waiting, per queue", labels=["queue"])
        oldest = GaugeMetricFamily(
            "intake_queue_oldest_seconds", "Wait of the first job in line", labels=["queue"]
        )
        workers = GaugeMetricFamily(
            "intake_queue_workers", "Live RQ workers serving the queue", labels=["queue"]
        )
        failed = GaugeMetricFamily(
            "intake_jobs_failed",
            "Jobs that failed their last try and wait for an admin (RQ failed registry)",
            labels=["queue"],
        )
        for name, queue in queue_depths().items():
            depth.add_metric([name], queue["depth"])
            oldest.add_metric([name], queue["oldest_seconds"] or 0.0)
            workers.add_metric([name], queue["workers"])
        for name in JobQueue:
            registry = FailedJobRegistry(name.value, connection=jobs.connection)
            failed.add_metric([name.value], registry.count)
        yield from (depth, oldest, workers, failed)

    def _waiting(self) -> Iterator[Metric]:
        count = GaugeMetricFamily(
            "intake_waiting_items", "Rows stored but not yet processed", labels=["kind"]
        )
        oldest = GaugeMetricFamily(
            "intake_waiting_oldest_seconds", "Age of the oldest waiting row", labels=["kind"]
        )
        for kind, waiting in waiting_items().items():
            count.add_metric([kind], waiting["count"])
            oldest.add_metric([kind], waiting["oldest_seconds"] or 0.0)
        yield from (count, oldest)


class StoredMetrics:
    """The Redis totals; a Redis outage leaves them out of this scrape."""

    def collect(self) -> Iterator[Metric]:
        try:
            yield from list(RedisMetrics(get_runtime().jobs.connection).collect())
        except RedisError as exc:
            log.warning("metrics: recorded totals unavailable: %s", exc)


@bp.get("/metrics")
def metrics() -> Response:
    allowed = get_runtime().settings.metrics_allow
    if not (_address_allowed(request.remote_addr, allowed) or _admin_token()):
        return Response(
            "send an admin's API token (Authorization: Bearer) "
            "or scrape from an address in INTAKE_METRICS_ALLOW\n",
            status=401,
            mimetype="text/plain",
            headers={"WWW-Authenticate": 'Bearer realm="intake"'},
        )
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoredMetrics())
    registry.register(LiveGauges())
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)

"""Taking queued jobs of the same kind into the running one, so a backlog is worked in batches.

Under load the per-job costs (RQ's bookkeeping in Redis, a database transaction with its fsync,
the ORM flush hooks, one model call) dominate what one message needs. A job that runs can take
the jobs of the same kind still waiting behind it on its queue, and do their work in the same
transaction and model call.

Taking is atomic (a Lua script): each job is removed from its queue and its record deleted in one
step, so exactly one worker gets it, RQ never starts it, and a later enqueue for the same item
creates a new job (a record left saying "queued" would make :meth:`Jobs.enqueue` skip it). The
taker reads its rows after the take, so it sees everything committed before the taken job was
enqueued. Rows stay the truth: only items whose row the sweeper would find again are taken
(waiting messages, never-classified tickets), so a taker that dies loses nothing; an item it
could not finish is enqueued again.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

from redis.exceptions import RedisError
from rq.job import Job

from intake.core.jobs import JobSpec
from intake.core.runtime import Runtime

log = logging.getLogger(__name__)

# KEYS[1]: the queue list; ARGV: job ids, then the job key prefix. Returns the ids removed.
_TAKE = """
local taken = {}
local prefix = ARGV[#ARGV]
for i = 1, #ARGV - 1 do
    if redis.call('LREM', KEYS[1], 1, ARGV[i]) > 0 then
        redis.call('DEL', prefix .. ARGV[i])
        taken[#taken + 1] = ARGV[i]
    end
end
return taken
"""


def _key_pattern(spec: JobSpec) -> re.Pattern[str]:
    prefix, _, suffix = spec.id_pattern.partition("{}")
    return re.compile(re.escape(prefix) + r"(\d+)" + re.escape(suffix))


def take_queued(
    runtime: Runtime,
    spec: JobSpec,
    limit: int,
    exclude: int,
    only: Callable[[list[int]], set[int]] | None = None,
) -> list[int]:
    """Remove up to ``limit`` queued jobs of ``spec`` from the head of its queue; their keys.

    Only plain ``spec`` jobs (``<pattern>`` with an integer key, not ``-again`` copies) are taken,
    and never the one for ``exclude`` (the running job's own item). ``only`` narrows the keys to
    those whose row the sweeper would find again if this process died before finishing them.
    Redis trouble takes nothing.
    """
    if limit <= 0:
        return []
    pattern = _key_pattern(spec)
    connection = runtime.jobs.connection
    queue = runtime.jobs.queue(spec.queue)
    try:
        # A window a little wider than the batch: other kinds of jobs share some queues.
        head = [
            job_id.decode()
            for job_id in connection.lrange(queue.key, 0, 2 * limit - 1)
            if isinstance(job_id, bytes)
        ]
        candidates: dict[str, int] = {}
        for job_id in head:
            match = pattern.fullmatch(job_id)
            if match is not None and int(match.group(1)) != exclude:
                candidates[job_id] = int(match.group(1))
            if len(candidates) == limit:
                break
        if candidates and only is not None:
            allowed = only(list(candidates.values()))
            candidates = {job_id: key for job_id, key in candidates.items() if key in allowed}
        wanted = list(candidates)
        if not wanted:
            return []
        prefix = Job.key_for("")
        taken = connection.eval(_TAKE, 1, queue.key, *wanted, prefix)
    except RedisError as exc:
        log.warning("cannot take queued %s jobs: %s", spec.queue, exc)
        return []
    keys = []
    for job_id in taken:
        match = pattern.fullmatch(job_id.decode() if isinstance(job_id, bytes) else str(job_id))
        if match is not None:
            keys.append(int(match.group(1)))
    return keys


def give_back(runtime: Runtime, spec: JobSpec, keys: list[int]) -> None:
    """Enqueue again the items a batch took but did not finish (each in a job of its own)."""
    for key in keys:
        runtime.jobs.enqueue(spec, key)

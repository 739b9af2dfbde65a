"""Fixtures of the live tests: a real redis-server of the test's own (for the shared Gateway state)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """A redis-server on 127.0.0.1 (no persistence), started for one test and stopped after it."""

    def __init__(self, directory) -> None:
        self.port = _free_port()
        self.pidfile = os.path.join(directory, f"redis-{self.port}.pid")
        subprocess.run(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
                        "no", "--daemonize", "yes", "--pidfile", self.pidfile, "--dir", str(directory),
                        "--logfile", os.path.join(directory, f"redis-{self.port}.log")], check=True, timeout=30)
        import redis

        client = redis.Redis(port=self.port, socket_timeout=1)
        deadline = time.monotonic() + 20
        while True:
            try:
                client.ping()
                break
            except redis.exceptions.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
        client.close()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def pid(self) -> int | None:
        try:
            return int(open(self.pidfile).read().strip())
        except (OSError, ValueError):
            return None

    def kill(self) -> None:
        """SIGKILL: Redis goes away as a crashed server does."""
        pid = self.pid()
        if pid is not None:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.fixture
def redis_server(tmp_path):
    """A fresh redis-server for this test; skipped (with the reason) where redis-server or redis-py is missing."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (apt-get install -y redis-server; .ci/run installs it)")
    try:
        import redis  # noqa: F401
    except ImportError:
        pytest.skip('the redis package is not installed: pip install "routerlab[redis]" (the test extra brings it)')
    server = RedisServer(tmp_path)
    yield server
    server.kill()

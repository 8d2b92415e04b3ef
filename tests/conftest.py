"""Shared fixtures: a fresh StubBroker with the gateway, a worker, and a real redis-server.

Servers are started here, on free loopback ports, and stopped afterwards. A test
that needs a server skips when the server binary is missing, except with
``CI=true``, where it fails: CI must never pass by skipping.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import Any

import dramatiq
import pytest
from dramatiq import Worker
from dramatiq.brokers.stub import StubBroker
from rabbitmq_server import RABBITMQ_SERVER, RabbitmqServer, listening_port

from actorschema import PayloadGateway

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def need(binary: str) -> str:
    """Return the path of ``binary`` (a name on PATH, or an absolute path: ``shutil.which``
    checks that one directly); skip the test without it, or fail in CI."""
    path = shutil.which(binary)
    if path is None:
        message = f"{binary} is not installed (the README's test command installs it)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return path


def wait_until(predicate: Callable[[], bool], what: str, timeout: float, interval: float = 0.02) -> None:
    """Poll ``predicate`` until it holds; fail, saying what was awaited, after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for: {what}")
        time.sleep(interval)


def run_worker(broker: StubBroker, *, fail_fast: bool) -> None:
    """Run what is queued on "default" with a real two-thread Worker, then stop it.

    Parameters:
      broker: The broker whose "default" queue to drain.
      fail_fast: Raise the first failed message's exception from the join.
    """
    worker = Worker(broker, worker_timeout=20, worker_threads=2)
    worker.start()
    try:
        broker.join("default", fail_fast=fail_fast)
        worker.join()
    finally:
        worker.stop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def gateway() -> PayloadGateway:
    return PayloadGateway()


@pytest.fixture
def stub_broker(gateway: PayloadGateway) -> Iterator[StubBroker]:
    """A StubBroker with the default gateway, installed as Dramatiq's global broker."""
    broker = StubBroker()
    broker.emit_after("process_boot")
    broker.add_middleware(gateway)
    dramatiq.set_broker(broker)
    yield broker
    broker.flush_all()
    broker.close()


@pytest.fixture
def stub_worker(stub_broker: StubBroker) -> Iterator[Worker]:
    worker = Worker(stub_broker, worker_timeout=50, worker_threads=2)
    worker.start()
    yield worker
    worker.stop()


class RedisServer:
    """A private redis-server on a free loopback port.

    Parameters:
      binary: The redis-server to run.
      persistent: Keep the data in an append-only file fsynced on every write, so that
        :meth:`restart` (even after a SIGKILL) finds every write the server acknowledged.
    """

    def __init__(self, binary: str, *, persistent: bool = False) -> None:
        self.dir = tempfile.mkdtemp(prefix="actorschema-redis-")
        self.log = open(os.path.join(self.dir, "redis.log"), "wb")  # noqa: SIM115
        self.persistence = ["--appendonly", "yes", "--appendfsync", "always"] if persistent else []
        for _attempt in range(5):
            # A server that is restarted needs a port no reconnecting client can take (see listening_port).
            self.port = listening_port() if persistent else free_port()
            self.command = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
            self.command += self.persistence or ["--appendonly", "no"]
            self.command += ["--dir", self.dir]
            self.process = self._launch()
            if self._wait_ready():
                return
            self.process.kill()
            self.process.wait()
        raise RuntimeError(f"redis-server did not start; see {self.log.name}")

    def _launch(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            self.command, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )

    def restart(self, *, kill: bool = True, down_seconds: float = 0.0) -> None:
        """Stop the server (SIGKILL by default: a crash) and start it again on the same port and data.

        Parameters:
          kill: SIGKILL (True) or SIGTERM (False, a clean shutdown).
          down_seconds: How long to stay down before starting again.
        """
        if kill:
            self.process.kill()
        else:
            self.process.terminate()
        self.process.wait(10)
        time.sleep(down_seconds)
        self.process = self._launch()
        if not self._wait_ready():
            raise RuntimeError(f"redis-server did not restart; see {self.log.name}")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _wait_ready(self) -> bool:
        import redis

        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False  # e.g. the port was taken meanwhile
            try:
                if redis.Redis(port=self.port, socket_timeout=0.5).ping():
                    return True
            except redis.RedisError:
                time.sleep(0.02)
        return False

    def client(self, **kwargs: Any) -> Any:
        import redis

        return redis.Redis(port=self.port, **kwargs)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One real redis-server for the session; tests flush it with ``redis_client.flushall()``."""
    server = RedisServer(need("redis-server"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def rabbitmq_server() -> Iterator[RabbitmqServer]:
    """One real rabbitmq-server for the session (10-20 s to boot); tests use unique queue names."""
    need(RABBITMQ_SERVER)
    server = RabbitmqServer()
    yield server
    server.stop()


@pytest.fixture
def redis_client(redis_server: RedisServer) -> Iterator[Any]:
    client = redis_server.client()
    client.flushall()
    yield client
    client.close()

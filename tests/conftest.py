"""Shared fixtures: a fresh StubBroker with the gateway, a worker, a real redis-server and rabbitmq-server.

Servers are started by ``tests/servers.py``, on free loopback ports, and stopped afterwards.
A test that needs a server skips when the server binary is missing, except with
``CI=true``, where it fails: CI must never pass by skipping. The markers ``redis`` and
``rabbitmq`` are given here to every test that uses those fixtures.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import dramatiq
import pytest
import servers
from dramatiq import Worker
from dramatiq.brokers.stub import StubBroker
from servers import RABBITMQ_SERVER, RabbitmqServer, RedisServer, need

import actorschema.consume.envelope as envelope
from actorschema import PayloadGateway

#: The marker each server fixture gives the tests that use it, directly or through another fixture.
FIXTURE_MARKERS = {"redis_server": "redis", "rabbitmq_server": "rabbitmq"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses a server fixture (``-m "not rabbitmq"`` leaves it out).

    The markers follow the fixtures, so they cannot drift; ``node`` and the servers a test
    starts itself are checked when it runs instead (see ``servers.need``).
    """
    for item in items:
        for fixture in set(getattr(item, "fixturenames", ())) & FIXTURE_MARKERS.keys():
            item.add_marker(FIXTURE_MARKERS[fixture])


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    # Before the fixtures are set up: a fixture that calls need() is checked against this test.
    servers.current_markers = {marker.name for marker in item.iter_markers()}


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    servers.current_markers = None


def wait_until(predicate: Callable[[], bool], what: str, timeout: float, interval: float = 0.02) -> None:
    """Poll ``predicate`` until it holds; fail, saying what was awaited, after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for: {what}")
        time.sleep(interval)


@pytest.fixture
def forget_left_types() -> Iterator[None]:
    """After the test, forget the argument types its guards left for the decoder (a process-wide table)."""
    before = dict(envelope._readers)
    yield
    envelope._readers.clear()
    envelope._readers.update(before)


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

"""Stand-in for Dramatiq's ``tests/conftest.py``, which its sdist does not ship.

``tests/meta/test_dramatiq_suite.py`` copies this file to ``conftest.py`` next to the test
files it extracts from the sdist. It defines the fixtures those files use, the way
Dramatiq's own conftest does, but only the StubBroker and stub-backend variants: the
``result_backend`` and ``rate_limiter_backend`` fixtures, parametrised upstream over
memcached, redis and stub, have the single param ``"stub"`` here, so their test ids keep
the ``[stub]`` suffix. Fixtures for server-backed brokers and backends are not defined;
tests that need them are deselected by ``NEEDS_SERVER`` in ``test_dramatiq_suite.py``.

Nothing here knows about the gateway: ``gateway_plugin`` adds it, or not.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator

import dramatiq
import pytest
from dramatiq import Worker
from dramatiq.brokers.stub import StubBroker
from dramatiq.rate_limits import backends as rl_backends
from dramatiq.results import backends as res_backends

logging.basicConfig(
    level=logging.INFO, format="[%(asctime)s] [%(threadName)s] [%(name)s] [%(levelname)s] %(message)s"
)

random.seed(1337)


@pytest.fixture
def stub_broker() -> Iterator[StubBroker]:
    broker = StubBroker()
    broker.emit_after("process_boot")
    dramatiq.set_broker(broker)
    yield broker
    broker.flush_all()
    broker.close()


@pytest.fixture
def stub_worker(stub_broker: StubBroker) -> Iterator[Worker]:
    worker = Worker(stub_broker, worker_timeout=100, worker_threads=32)
    worker.start()
    yield worker
    worker.stop()


@pytest.fixture
def stub_rate_limiter_backend() -> rl_backends.StubBackend:
    return rl_backends.StubBackend()


@pytest.fixture(params=["stub"])
def rate_limiter_backend(request: pytest.FixtureRequest) -> rl_backends.StubBackend:
    return rl_backends.StubBackend()


@pytest.fixture
def stub_result_backend() -> res_backends.StubBackend:
    return res_backends.StubBackend()


@pytest.fixture(params=["stub"])
def result_backend(request: pytest.FixtureRequest) -> res_backends.StubBackend:
    return res_backends.StubBackend()

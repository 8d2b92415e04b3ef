"""The markers cannot drift: the quick loop (``-m "not slow and not rabbitmq and not node"``) relies on them.

``redis`` and ``rabbitmq`` are given by ``tests/conftest.py`` to every test that uses the
server fixtures, directly or through another fixture; ``node`` is given by hand, and
``servers.need`` fails a test that runs Node.js without it.
"""

from __future__ import annotations

from typing import Any

import pytest
import servers
from servers import RABBITMQ_SERVER, need


def test_running_node_without_the_marker_fails() -> None:
    with pytest.raises(pytest.fail.Exception, match="uses node but is not marked 'node'"):
        need("node")


def test_starting_rabbitmq_without_the_marker_fails() -> None:
    with pytest.raises(pytest.fail.Exception, match="is not marked 'rabbitmq'"):
        need(RABBITMQ_SERVER)


@pytest.mark.node
def test_the_marker_lets_a_test_run_node() -> None:
    assert servers.current_markers is not None and "node" in servers.current_markers
    assert need("node").endswith("node")


def fixture_that_needs_redis_indirectly(redis_client: Any) -> Any:
    return redis_client


indirect = pytest.fixture(fixture_that_needs_redis_indirectly)


def test_a_test_using_a_server_fixture_through_another_is_marked(
    indirect: Any, request: pytest.FixtureRequest
) -> None:
    assert request.node.get_closest_marker("redis") is not None
    assert indirect.ping()


def test_a_test_without_servers_is_not_marked(request: pytest.FixtureRequest) -> None:
    assert {marker.name for marker in request.node.iter_markers()} & {"redis", "rabbitmq", "node"} == set()

"""Properties of the whole send path, through a real Dramatiq worker.

* Every strict JSON value under the limit reaches the worker unchanged, with
  its exact types (1 stays int, 1.0 stays float, True stays bool).
* Every value with one non-JSON node anywhere is rejected with that node's
  path, and nothing is enqueued.
"""

from __future__ import annotations

import collections
import datetime
import decimal
import enum
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import dramatiq
import pytest
from dramatiq import Worker
from dramatiq.brokers.stub import StubBroker
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actorschema import NonJSONPayload, PayloadGateway
from actorschema.paths import render_path

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)  # hypothesis never generates lone surrogates here
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=30,
)


class Colour(str, enum.Enum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 1


bad_values = st.sampled_from(
    [
        datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC),
        datetime.date(2024, 1, 1),
        uuid.UUID(int=7),
        decimal.Decimal("1.10"),
        b"bytes",
        {1, 2},
        (1, 2),
        float("nan"),
        float("-inf"),
        Colour.RED,
        Level.HIGH,
        collections.OrderedDict(a=1),
        "lone \ud800 surrogate",
        {1: "int key"},
    ]
)


def same(a: Any, b: Any) -> bool:
    """Equality that also compares exact types, all the way down."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(map(same, a, b))
    return bool(a == b)


@pytest.fixture(scope="module")
def echo_setup() -> Iterator[tuple[StubBroker, Any, dict[str, Any]]]:
    broker = StubBroker()
    broker.emit_after("process_boot")
    broker.add_middleware(PayloadGateway(max_message_bytes=64 * 1024))
    received: dict[str, Any] = {}
    lock = threading.Lock()

    @dramatiq.actor(broker=broker, max_retries=0)
    def echo(token: str, value: Any = None) -> None:
        with lock:
            received[token] = value

    worker = Worker(broker, worker_timeout=20, worker_threads=2)
    worker.start()
    yield broker, echo, received
    worker.stop()


@pytest.mark.slow
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=json_values)
def test_strict_json_reaches_the_worker_unchanged(echo_setup: Any, value: Any) -> None:
    broker, echo, received = echo_setup
    token = str(uuid.uuid4())
    echo.send(token, value)
    broker.join("default")
    assert same(received.pop(token), value)


def plant(value: Any, bad: Any, choices: list[int]) -> tuple[Any, tuple[str | int, ...]]:
    """Put ``bad`` somewhere inside ``value``; return the new value and the bad node's path."""
    path: list[str | int] = []
    root: Any = {"wrapped": value}
    node: Any = root
    key: str | int = "wrapped"
    for choice in choices:
        child = node[key]
        if isinstance(child, dict) and child:
            keys = sorted(child)
            node, key = child, keys[choice % len(keys)]
        elif isinstance(child, list) and child:
            node, key = child, choice % len(child)
        else:
            break
        path.append(key)
    node[key] = bad  # a bad key ({1: ...}) is reported at its dict's own path, like any other node
    return root["wrapped"], tuple(path)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=json_values, bad=bad_values, choices=st.lists(st.integers(0, 10), max_size=6))
def test_one_non_json_node_is_rejected_with_its_path(
    echo_setup: Any, value: Any, bad: Any, choices: list[int]
) -> None:
    broker, echo, _ = echo_setup
    planted, path = plant(value, bad, choices)
    with pytest.raises(NonJSONPayload) as caught:
        echo.send("token", planted)
    expected = render_path(("kwargs", "value", *path))
    assert expected in caught.value.paths
    assert all(q.qsize() == 0 for q in broker.queues.values())

"""The metrics on a real RabbitMQ: the guarded consumer and the guard each report what they dead-letter.

Redis and the StubBroker are covered in ``test_metrics_worker.py`` and ``test_metrics.py``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import prometheus_client
import pytest
from conftest import wait_until
from malformed import valid_body
from test_consume_rabbitmq import WAIT_SECONDS, RabbitRig, make_rig  # noqa: F401  (make_rig: a fixture)

from actorschema import observe
from actorschema.metrics import PrometheusMetrics


@pytest.fixture
def registry() -> Iterator[Any]:
    registry = prometheus_client.CollectorRegistry()
    observer = PrometheusMetrics(registry=registry)
    observe.add_observer(observer)
    yield registry
    observe.remove_observer(observer)


def test_rabbitmq_dead_letters_are_counted_by_reason(
    make_rig: Callable[..., RabbitRig],  # noqa: F811
    registry: Any,
) -> None:
    rig = make_rig()
    rig.publish(b"[1, 2, 3]")  # not a message: the consumer dead-letters it
    bad = valid_body(rig.queue)
    bad["kwargs"]["n"] = "seven"  # a message whose value breaks the contract: the guard does
    rig.publish(json.dumps(bad).encode())
    rig.publish_good(1)
    rig.start(threads=2)
    wait_until(lambda: rig.counts() == (0, 0, 2), "two dead letters, nothing queued", WAIT_SECONDS, 0.05)
    wait_until(lambda: len(rig.received) == 1, "the good message to run", WAIT_SECONDS, 0.05)

    def count(name: str, **labels: str) -> float:
        value = registry.get_sample_value(name, {"queue_name": rig.queue, **labels})
        return 0.0 if value is None else float(value)

    dead = "actorschema_dead_letters_total"
    assert count(dead, actor_name="?", reason="MessageMalformed") == 1
    assert count(dead, actor_name="typed", reason="PayloadInvalid") == 1
    rejected = "actorschema_rejected_messages_total"
    assert count(rejected, side="worker", actor_name="?", reason="MessageMalformed") == 1
    assert count(rejected, side="worker", actor_name="typed", reason="PayloadInvalid") == 1
    # The guarded consumer measured both messages it decoded; the array never became one.
    assert count("actorschema_message_size_bytes_count", side="worker", actor_name="typed") == 2

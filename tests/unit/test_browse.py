"""Reading a RabbitMQ queue without taking it: every message seen once, then all back in place."""

from __future__ import annotations

import json
import uuid
from typing import Any

from actorschema.browse import rabbitmq_deliveries
from actorschema.consume.deadletters import REASON_HEADER, dead_letter_reasons


def _take_all(channel: Any, queue: str) -> list[tuple[bytes, dict[str, Any] | None, bool]]:
    found = []
    while True:
        method, properties, body = channel.basic_get(queue, auto_ack=True)
        if method is None:
            return found
        found.append((body, properties.headers, method.redelivered))


def test_dead_letter_reasons_read_a_long_dead_letter_queue_in_one_pass_and_put_it_back(
    rabbitmq_server: Any,
) -> None:
    import pika

    from actorschema.brokers import RabbitmqBroker

    queue = f"browse_{uuid.uuid4().hex[:8]}"
    broker = RabbitmqBroker(url=rabbitmq_server.url)
    broker.declare_queue(queue, ensure=True)
    connection = rabbitmq_server.connection()
    channel = connection.channel()
    channel.confirm_delivery()
    published = []
    for n in range(600):
        record = {"message_id": f"m{n}", "reason": f"reason {n}"}
        if n % 7 == 0:
            headers = None  # dead-lettered by Dramatiq itself (retries exhausted): no reason of ours
        elif n % 11 == 0:
            headers = {REASON_HEADER: json.dumps({"reason": "undecodable"})}  # no message id
        else:
            headers = {REASON_HEADER: json.dumps(record)}
        body = json.dumps({"n": n}).encode()
        channel.basic_publish("", f"{queue}.XQ", body, pika.BasicProperties(headers=headers, delivery_mode=2))
        published.append((body, headers))

    reasons = dead_letter_reasons(broker, queue)

    with_id = [n for n in range(600) if n % 7 and n % 11]
    undecodable = [n for n in range(600) if n % 7 and not n % 11]
    assert {key: reasons[key] for key in reasons if key.startswith("m")} == {
        f"m{n}": {"message_id": f"m{n}", "reason": f"reason {n}"} for n in with_id
    }
    # Keyed by position in the queue (from 1), since there is no id to key them by.
    assert sorted(key for key in reasons if key.startswith("delivery:")) == sorted(
        f"delivery:{n + 1}" for n in undecodable
    )
    # A second read sees the same messages in the same order.
    assert [body for _, _, body in rabbitmq_deliveries(broker.parameters, f"{queue}.XQ")] == [
        body for body, _ in published
    ]
    taken = _take_all(channel, f"{queue}.XQ")
    assert [(body, headers) for body, headers, _ in taken] == published
    assert all(redelivered for _, _, redelivered in taken)
    connection.close()
    broker.close()


def test_a_queue_that_was_never_declared_or_is_empty_holds_nothing(rabbitmq_server: Any) -> None:
    from actorschema.brokers import RabbitmqBroker

    queue = f"browse_{uuid.uuid4().hex[:8]}"
    broker = RabbitmqBroker(url=rabbitmq_server.url)
    assert list(rabbitmq_deliveries(broker.parameters, queue)) == []
    broker.declare_queue(queue, ensure=True)
    assert list(rabbitmq_deliveries(broker.parameters, f"{queue}.XQ")) == []
    assert dead_letter_reasons(broker, queue) == {}
    broker.close()

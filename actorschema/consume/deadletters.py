"""Why a message is in the dead-letter queue: one reason record per rejected message, kept beside it.

Dramatiq moves a failed message to ``<queue>.XQ`` as it was stored, without
saying why. The gateway keeps the reason where whoever inspects the
dead-letter queue finds it:

* **Redis**: in the hash ``<namespace>:<queue>.XQ.reasons``, under the same id
  as the message in ``<namespace>:<queue>.XQ.msgs`` (its ``redis_message_id``);
  the hash expires with the broker's ``dead_message_ttl`` after its last write,
  as dead messages do.
* **RabbitMQ** (``actorschema.brokers.RabbitmqBroker``): in the AMQP header
  ``x-actorschema-reason`` of the dead-lettered copy, whose body is unchanged.
* **StubBroker**: on the dead-lettered message itself.

A record is a JSON object: ``actor``, ``message_id``, ``queue``, ``reason``
(the rejection's title), ``violations`` (``path``, ``problem``, ``hint`` each),
``error`` (the full text a send would have raised) and ``dead_lettered_at``
(ms since the epoch). Read them with :func:`dead_letter_reasons`.
"""

from __future__ import annotations

import json
import time
from typing import Any

from dramatiq.common import xq_name

from ..errors import PayloadRejected

__all__ = ["REASON_HEADER", "dead_letter_reasons", "reason_record", "reasons_key"]

#: The AMQP header that carries the reason on RabbitMQ.
REASON_HEADER = "x-actorschema-reason"
#: The attribute of a rejected MessageProxy that holds its rejection (Dramatiq clears ``_exception``).
REJECTION_ATTRIBUTE = "_actorschema_rejection"


def reason_record(rejection: PayloadRejected, *, message_id: str | None, queue_name: str) -> dict[str, Any]:
    """The JSON record of why a message was dead-lettered."""
    return {
        "actor": rejection.actor_name,
        "message_id": message_id,
        "queue": queue_name,
        "reason": rejection.title,
        "violations": [v.as_dict() for v in rejection.violations],
        "error": str(rejection),
        "dead_lettered_at": int(time.time() * 1000),
    }


def reason_text(rejection: PayloadRejected, *, message_id: str | None, queue_name: str) -> str:
    return json.dumps(reason_record(rejection, message_id=message_id, queue_name=queue_name))


def reasons_key(namespace: str, queue_name: str) -> str:
    """The Redis hash of reasons for ``queue_name``'s dead-letter queue."""
    return f"{namespace}:{xq_name(queue_name)}.reasons"


def store_redis_reason(broker: Any, queue_name: str, redis_message_id: str, text: str) -> None:
    """Keep ``text`` in the reasons hash beside ``<queue>.XQ`` (RedisBroker)."""
    key = reasons_key(broker.namespace, queue_name)
    with broker.client.pipeline(transaction=True) as pipe:
        pipe.hset(key, redis_message_id, text)
        pipe.pexpire(key, broker.dead_message_ttl)
        pipe.execute()


def dead_letter_reasons(broker: Any, queue_name: str) -> dict[str, dict[str, Any]]:
    """The reasons of the messages the gateway dead-lettered from ``queue_name``, by message id.

    The id is the one the dead-letter queue lists the message under: its
    ``redis_message_id`` on Redis (a member of ``<queue>.XQ``), its
    ``message_id`` on StubBroker, and on RabbitMQ its ``message_id`` (or, for
    an undecodable body, ``"delivery:<n>"``). On RabbitMQ the dead-letter
    queue is read without consuming it.
    """
    if hasattr(broker, "dead_letters_by_queue"):
        return _stub_reasons(broker, queue_name)
    if hasattr(broker, "client") and hasattr(broker, "namespace"):
        raw = broker.client.hgetall(reasons_key(broker.namespace, queue_name))
        return {text_of(key): json.loads(value) for key, value in raw.items()}
    if hasattr(broker, "parameters"):
        return _rabbitmq_reasons(broker, queue_name)
    raise TypeError(f"cannot read dead-letter reasons from a {type(broker).__name__}")


def _stub_reasons(broker: Any, queue_name: str) -> dict[str, dict[str, Any]]:
    found = {}
    for index, message in enumerate(broker.dead_letters_by_queue.get(queue_name, ())):
        rejection = getattr(message, REJECTION_ATTRIBUTE, None)
        if rejection is not None:
            message_id = getattr(message, "message_id", None)
            key = message_id if isinstance(message_id, str) else f"undecodable:{index}"
            found[key] = reason_record(rejection, message_id=message_id, queue_name=queue_name)
    return found


def _rabbitmq_reasons(broker: Any, queue_name: str) -> dict[str, dict[str, Any]]:
    import pika  # type: ignore[import-untyped, unused-ignore]

    found: dict[str, dict[str, Any]] = {}
    connection = pika.BlockingConnection(parameters=broker.parameters)
    try:
        channel = connection.channel()
        while True:
            method, properties, _body = channel.basic_get(xq_name(queue_name), auto_ack=False)
            if method is None:
                break
            text = (properties.headers or {}).get(REASON_HEADER)
            if text is not None:
                record = json.loads(text)
                found[record.get("message_id") or f"delivery:{method.delivery_tag}"] = record
    finally:
        # Closing without acking puts every message back, in order.
        connection.close()
    return found


def text_of(value: Any) -> str:
    """A Redis reply as text, whether the client decodes responses or not."""
    return value.decode() if isinstance(value, bytes) else str(value)

"""The catalogue of malformed messages a worker meets, shared by the Stub, Redis and RabbitMQ tests.

Each case turns a valid message body (a dict, as Dramatiq encodes it) for the
actor ``typed(n: int, when: datetime, item: Item)`` on queue ``QUEUE`` into
the bytes a careless producer would store, and names the path the
dead-letter reason must point at. Build cases from ``valid_body``'s default
``n=1``: the NaN case rewrites ``"n": 1`` and would leave any other n valid.
"""

from __future__ import annotations

import datetime
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel


class Item(BaseModel):
    sku: str
    quantity: int


def typed_actor_fn(received: list[Any]) -> Callable[..., None]:
    """The function of the ``typed`` actor: records what it receives."""

    def typed(n: int, when: datetime.datetime, item: Item) -> None:
        received.append((n, when, item))

    return typed


def valid_body(queue_name: str, *, n: int = 1, redis_message_id: str | None = None) -> dict[str, Any]:
    """A canonical message for ``typed`` as a producer in another language would write it."""
    options: dict[str, Any] = {}
    if redis_message_id is not None:
        options["redis_message_id"] = redis_message_id
    return {
        "queue_name": queue_name,
        "actor_name": "typed",
        "args": [],
        "kwargs": {"n": n, "when": "2024-05-01T12:00:00+02:00", "item": {"sku": "a-1", "quantity": 2}},
        "options": options,
        "message_id": str(uuid.uuid4()),
        "message_timestamp": 1_700_000_000_000,
    }


def _encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()


def _with(path: tuple[Any, ...], value: Any) -> Callable[[dict[str, Any]], bytes]:
    def build(body: dict[str, Any]) -> bytes:
        node = body
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
        return _encode(body)

    return build


def _without(field: str) -> Callable[[dict[str, Any]], bytes]:
    def build(body: dict[str, Any]) -> bytes:
        del body[field]
        return _encode(body)

    return build


@dataclass(frozen=True)
class Malformed:
    """One malformed-message class.

    Parameters:
      label: What is wrong, for test ids.
      build: Turns a valid body into the malformed bytes.
      path: The path the reason names.
      at_consumer: Only a guarded consumer (``actorschema.brokers``) can catch it:
        with Dramatiq's own consumer it crashes a thread before any middleware.
    """

    label: str
    build: Callable[[dict[str, Any]], bytes]
    path: str
    at_consumer: bool = False


CASES = [
    # Undecodable: the consumer cannot even build a Message.
    Malformed("invalid JSON", lambda body: b'{"queue_name": ', "$", True),
    Malformed("invalid UTF-8", lambda body: _encode(body).replace(b'"a-1"', b'"a-\xff"'), "$", True),
    Malformed("NaN token", lambda body: _encode(body).replace(b'"n": 1', b'"n": NaN'), "$", True),
    Malformed("a JSON array", lambda body: b"[1, 2, 3]", "$", True),
    Malformed("missing field", _without("kwargs"), "kwargs", True),
    Malformed("unknown top-level field", lambda body: _encode({**body, "priority": 1}), "priority", True),
    Malformed("args not an array", _with(("args",), "ab"), "args", True),
    Malformed("kwargs not an object", _with(("kwargs",), [1]), "kwargs", True),
    Malformed("options not an object", _with(("options",), "eta"), "options", True),
    Malformed("actor_name not a string", _with(("actor_name",), ["typed"]), "actor_name", True),
    Malformed("queue_name names another queue", _with(("queue_name",), "elsewhere"), "queue_name", True),
    # A broken envelope a decoded Message can still carry: caught by the gateway on any broker.
    Malformed("options.throws as text", _with(("options", "throws"), "ValueError"), "options.throws"),
    Malformed("options.retries as text", _with(("options", "retries"), "3"), "options.retries"),
    Malformed("options.time_limit as text", _with(("options", "time_limit"), "soon"), "options.time_limit"),
    Malformed("message_timestamp as text", _with(("message_timestamp",), "now"), "message_timestamp"),
    Malformed("message_id not a UUID", _with(("message_id",), "order-7"), "message_id"),
    # Arguments that break the contract, judged with JSON semantics.
    Malformed("int as a string", _with(("kwargs", "n"), "5"), "kwargs.n"),
    Malformed("int as a boolean", _with(("kwargs", "n"), True), "kwargs.n"),
    Malformed("date-time month 13", _with(("kwargs", "when"), "2024-13-01T00:00:00Z"), "kwargs.when"),
    Malformed("naive date-time", _with(("kwargs", "when"), "2024-05-01T12:00:00"), "kwargs.when"),
    Malformed(
        "date-time with a space for T", _with(("kwargs", "when"), "2024-05-01 12:00:00Z"), "kwargs.when"
    ),
    Malformed(
        "model field of the wrong type", _with(("kwargs", "item", "quantity"), "two"), "kwargs.item.quantity"
    ),
    Malformed("model field missing", _with(("kwargs", "item"), {"sku": "a-1"}), "kwargs.item.quantity"),
    Malformed("unknown keyword argument", _with(("kwargs", "colour"), "red"), "kwargs.colour"),
    Malformed("missing argument", lambda body: (body["kwargs"].pop("n"), _encode(body))[1], "kwargs.n"),
    Malformed("too many positional arguments", _with(("args",), [1, 2, 3, 4]), "args[3]"),
]


def _other_redis_message_id(body: dict[str, Any]) -> bytes:
    body["options"]["redis_message_id"] = str(uuid.uuid4())
    return _encode(body)


def _no_redis_message_id(body: dict[str, Any]) -> bytes:
    body["options"].pop("redis_message_id", None)
    return _encode(body)


#: Redis only: the body and the id it is stored under disagree. Build them from
#: ``valid_body(queue, redis_message_id=<the id it is stored under>)``.
REDIS_CASES = [
    Malformed("redis_message_id missing", _no_redis_message_id, "options.redis_message_id", True),
    Malformed(
        "redis_message_id not the id it is stored under",
        _other_redis_message_id,
        "options.redis_message_id",
        True,
    ),
]

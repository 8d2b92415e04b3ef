"""Drop-in Dramatiq brokers whose consumers never crash on a malformed message.

A middleware sees a message only after the broker's consumer decoded it, so
it cannot protect the consumer itself. With Dramatiq's own brokers:

* an undecodable body (invalid JSON or UTF-8, an array, an unknown field)
  raises in the Redis consumer, which restarts and strands the body and the
  good messages fetched with it;
* a body whose ``queue_name`` names another queue kills the worker thread
  that finishes it (it acks through ``consumers[message.queue_name]``);
* envelope fields of the wrong type crash the consumer thread (it computes
  with ``options.eta`` and looks the actor up by name) before any middleware;
* on Redis, a body without the ``redis_message_id`` it is stored under runs,
  cannot be acked, and runs again after every restart.

These subclasses decode each body strictly and check its envelope (see
:mod:`actorschema.consume.envelope`) in the consumer, before Dramatiq touches it. A
body that fails goes to the dead-letter queue (``<queue>.XQ``) with its reason
(see :mod:`actorschema.consume.deadletters`) and a log record, and the consumer goes
on with the next one. Use them exactly like Dramatiq's::

    from actorschema.brokers import RedisBroker

    broker = RedisBroker(url="redis://localhost:6379/0")
    broker.add_middleware(PayloadGateway())

Each lives in its own module, importable only with its client library
installed (``dramatiq[redis]``, ``dramatiq[rabbitmq]``), as in Dramatiq.
"""

from __future__ import annotations

from typing import Any

__all__ = ["RabbitmqBroker", "RedisBroker", "StubBroker", "UndecodableMessage"]

_HOMES = {
    "RabbitmqBroker": ".rabbitmq",
    "RedisBroker": ".redis",
    "StubBroker": ".stub",
    "UndecodableMessage": ".stub",
}


def __getattr__(name: str) -> Any:
    # Lazy, so that importing one broker does not need the other's client library.
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(home, __name__), name)

"""Every place actorschema leans on what Dramatiq does not offer as API, in one module.

Dramatiq's private classes and methods (``_RedisConsumer``,
``MessageProxy._message``...) are not a subclassing API: they may change in
any release. actorschema needs a few of them (its brokers replace how a
consumer decodes a body; the gateway must tell Dramatiq's own ``send`` from
a user's ``message()``), so it reaches them only through this module, and
``pyproject.toml`` pins Dramatiq to the range the tests run against
(``scripts/versions.sh``: the lowest and the newest release allowed). Each
name here says what it relies on; a new Dramatiq release is vetted by reading
this module against it.

The broker-specific classes are imported on first use: their modules need
``redis`` or ``pika``, which a process need not have.
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any

from dramatiq import Actor, Message
from dramatiq.broker import MessageProxy

if TYPE_CHECKING:
    from dramatiq.brokers.rabbitmq import _RabbitmqConsumer as RabbitmqConsumer
    from dramatiq.brokers.rabbitmq import _RabbitmqMessage as RabbitmqMessage
    from dramatiq.brokers.redis import _RedisConsumer as RedisConsumer
    from dramatiq.brokers.stub import _StubConsumer as StubConsumer
    from dramatiq.brokers.stub import _StubMessageProxy as StubMessageProxy

__all__ = [
    "RabbitmqConsumer",
    "RabbitmqMessage",
    "RedisConsumer",
    "StubConsumer",
    "StubMessageProxy",
    "built_by_send",
    "message_from",
    "rabbitmq_tag",
    "redis_acks_key",
    "redis_fetch_arguments",
    "redis_fetch_maintenance",
    "redis_max_unpack_size",
    "redis_should_do_maintenance",
    "sent_by_dramatiq",
    "unwrap",
]

#: The private consumer and message classes the guarded brokers extend, by the name used here.
#:
#: * ``RedisConsumer`` (``dramatiq.brokers.redis._RedisConsumer``): its ``__next__`` is
#:   rewritten; relies on its attributes ``message_cache``, ``misses``, ``prefetch``,
#:   ``timeout``, ``outstanding_message_count``, ``queued_message_ids`` and ``queue_name``,
#:   and on ack/nack by ``options.redis_message_id``.
#: * ``RabbitmqConsumer`` (``_RabbitmqConsumer``): ``__next__`` and ``nack`` are rewritten;
#:   relies on ``iterator``, ``known_tags``, ``connection``, ``channel``, ``queue_name``.
#: * ``RabbitmqMessage`` (``_RabbitmqMessage``): built as ``(redelivered, tag, message)``.
#: * ``StubConsumer`` (``_StubConsumer``): built as ``(queue, dead_letters, prefetch,
#:   timeout)``; relies on ``queue``, ``dead_letters``, ``prefetch_semaphore``, ``timeout``.
#: * ``StubMessageProxy`` (``_StubMessageProxy``): built from a Message.
_PRIVATE_CLASSES = {
    "RedisConsumer": ("dramatiq.brokers.redis", "_RedisConsumer"),
    "RabbitmqConsumer": ("dramatiq.brokers.rabbitmq", "_RabbitmqConsumer"),
    "RabbitmqMessage": ("dramatiq.brokers.rabbitmq", "_RabbitmqMessage"),
    "StubConsumer": ("dramatiq.brokers.stub", "_StubConsumer"),
    "StubMessageProxy": ("dramatiq.brokers.stub", "_StubMessageProxy"),
}


def __getattr__(name: str) -> Any:
    found = _PRIVATE_CLASSES.get(name)
    if found is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, attribute = found
    value = globals()[name] = getattr(importlib.import_module(module), attribute)
    return value


def _stores_fields_as_given() -> bool:
    """Does ``Message(**fields)`` only store its fields (``args`` made a tuple), as :func:`message_from` does?"""
    fields: dict[str, Any] = {
        "queue_name": "q",
        "actor_name": "a",
        "args": [1],
        "kwargs": {},
        "options": {},
        "message_id": "i",
        "message_timestamp": 0,
    }
    try:
        built: Message[Any] = Message(**fields)
        stored: Message[Any] = object.__new__(Message)
        stored.__dict__.update(fields, args=(1,))
    except Exception:  # e.g. a Message with __slots__: no __dict__ to fill
        return False
    return vars(built) == vars(stored) and built == stored and type(built.args) is tuple


#: Checked once, at import: with another Dramatiq, message_from falls back to the constructor.
_FIELDS_AS_GIVEN = _stores_fields_as_given()


def message_from(fields: dict[str, Any], marks: dict[str, Any]) -> Message[Any]:
    """The Message ``Message(**fields)`` builds, without running its dataclass ``__init__``.

    For the guarded consumers, once the envelope holds (exactly the seven
    fields): the frozen dataclass's ``__init__`` sets each field through
    ``object.__setattr__`` and its ``__post_init__`` makes ``args`` a tuple:
    ~4.6 µs of a small message's ~70 µs consume path here, as much as the
    whole envelope check. Filling the instance's ``__dict__`` gives the same
    object in well under one. Relies on
    ``Message`` being a dataclass without ``__slots__`` whose ``__init__``
    only stores its fields and whose ``__post_init__`` only makes ``args`` a
    tuple (Dramatiq 2.2, ``dramatiq/message.py``); checked once at import on
    a sample, and the constructor is used when that does not hold.

    Parameters:
      fields: The message's seven fields (taken over: ``args`` becomes a tuple in it).
      marks: Further attributes to set on the message (actorschema's own, e.g. how it was decoded).
    """
    if not _FIELDS_AS_GIVEN:
        message: Message[Any] = Message(**fields)
        for name, value in marks.items():
            object.__setattr__(message, name, value)
        return message
    fields["args"] = tuple(fields["args"])
    message = object.__new__(Message)
    stored = message.__dict__
    stored.update(fields)
    stored.update(marks)
    return message


def unwrap(message: Any) -> Message[Any]:
    """The Message a middleware hook was handed, out of its ``MessageProxy`` if it is in one.

    Relies on ``MessageProxy._message``: the proxy forwards attribute reads but
    not ``object.__setattr__`` (how the gateway rewrites ``args``/``kwargs``) nor
    ``vars()`` (how it attaches the measured bytes).
    """
    target: Message[Any] = message._message if isinstance(message, MessageProxy) else message
    return target


#: The code of Dramatiq's ``Actor.send_with_options``, to recognise messages it builds.
_SEND_WITH_OPTIONS = Actor.send_with_options.__code__


def built_by_send() -> bool:
    """Is the caller's caller Dramatiq's own ``Actor.send_with_options``?

    For the gateway's wrapper of ``actor.message_with_options``: a message that
    ``send_with_options`` builds is enqueued (and checked) at once. Relies on
    ``send_with_options`` calling ``self.message_with_options(...)`` directly
    (``sys._getframe``: CPython, and PyPy, keep frames).
    """
    return sys._getframe(2).f_code is _SEND_WITH_OPTIONS


#: Modules whose frames only carry a send along (the gateway's own, Dramatiq's send and enqueue).
_CARRIERS = ("actorschema.", "dramatiq.actor", "dramatiq.broker", "dramatiq.composition", "functools")


def sent_by_dramatiq() -> bool:
    """Does the send being checked come from Dramatiq's own re-enqueueing code?

    For the gateway's hooks on a worker thread, outside any actor call: Dramatiq
    acks a message before its middleware re-enqueues it (Retries, Pipelines,
    Callbacks, GroupCallbacks) and before the worker moves it out of the delay
    queue, so those sends must never be rejected; a send from a user's middleware
    hook on the same thread is checked like any other.

    Walks out from the caller (``sys._getframe``) past the frames that only carry
    a send (Dramatiq's ``send``, ``enqueue`` and ``emit_before``, brokers and actors
    the app subclassed, pipelines and groups, actorschema's own); the first other
    frame decides. Relies on Dramatiq's middleware living in ``dramatiq.middleware``
    and on the worker's delay-queue move being ``handle_delayed_messages`` in
    ``dramatiq.worker``.
    """
    from dramatiq import group, pipeline
    from dramatiq.broker import Broker

    carrier_types = (Broker, Actor, pipeline, group)
    frame: Any = sys._getframe(1)
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if module.startswith("dramatiq.middleware."):
            return True
        if module == "dramatiq.worker":
            return bool(frame.f_code.co_name == "handle_delayed_messages")
        if not module.startswith(_CARRIERS) and not isinstance(frame.f_locals.get("self"), carrier_types):
            return False
        frame = frame.f_back
    return False


def redis_fetch_arguments(broker: Any, queue_name: str, count: int) -> list[Any]:
    """The arguments of the ``fetch`` command of Dramatiq's Redis Lua script, as its consumer passes them.

    Relies on ``RedisBroker._max_unpack_size()``, ``_should_do_maintenance(command)``
    and the script's argument order (``dispatch.lua``: command, timestamp, queue,
    worker id, heartbeat timeout, dead message ttl, do maintenance, max unpack
    size, then the count).

    Parameters:
      broker: The Redis broker.
      queue_name: The queue to fetch from.
      count: How many messages to fetch (at most :func:`redis_max_unpack_size`).
    """
    from dramatiq.common import current_millis

    return [
        "fetch",
        current_millis(),
        queue_name,
        broker.broker_id,
        broker.heartbeat_timeout,
        broker.dead_message_ttl,
        broker._should_do_maintenance("fetch"),
        broker._max_unpack_size(),
        count,
    ]


def redis_acks_key(broker: Any, queue_name: str) -> str:
    """The Redis set of the ids this broker's consumers fetched from ``queue_name`` and have not
    acked, nacked or requeued.

    Relies on ``dispatch.lua``'s key layout: ``<namespace>:__acks__.<worker id>.<queue>``,
    the worker id being ``RedisBroker.broker_id``.
    """
    return f"{broker.namespace}:__acks__.{broker.broker_id}.{queue_name}"


def redis_fetch_maintenance(arguments: list[Any]) -> tuple[int, bool]:
    """The time a ``fetch`` runs with, and whether it does Dramatiq's maintenance (from its arguments).

    Relies on the script's argument order (see :func:`redis_fetch_arguments`).

    Parameters:
      arguments: What :func:`redis_fetch_arguments` returned.
    """
    return int(arguments[1]), bool(arguments[6])


def redis_should_do_maintenance(broker: Any) -> bool:
    """Draw, at the broker's ``maintenance_chance``, whether to do maintenance now (``_should_do_maintenance``).

    Relies on ``RedisBroker._should_do_maintenance(command)``; asked for a ``fetch``,
    a command Dramatiq does its maintenance on.
    """
    return bool(broker._should_do_maintenance("fetch"))


def redis_max_unpack_size(broker: Any) -> int:
    """How many messages one ``fetch`` of Dramatiq's Redis script may return (``_max_unpack_size()``)."""
    size: int = broker._max_unpack_size()
    return size


def rabbitmq_tag(message: Any) -> int:
    """The delivery tag of a RabbitMQ message proxy (``_RabbitmqMessage._tag``)."""
    tag: int = message._tag
    return tag

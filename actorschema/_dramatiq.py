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
    "rabbitmq_tag",
    "redis_fetch_arguments",
    "redis_max_unpack_size",
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


def redis_max_unpack_size(broker: Any) -> int:
    """How many messages one ``fetch`` of Dramatiq's Redis script may return (``_max_unpack_size()``)."""
    size: int = broker._max_unpack_size()
    return size


def rabbitmq_tag(message: Any) -> int:
    """The delivery tag of a RabbitMQ message proxy (``_RabbitmqMessage._tag``)."""
    tag: int = message._tag
    return tag

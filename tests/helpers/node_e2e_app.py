"""The example app (``examples/shop.py``) on a real broker, with actors that record their calls.

The Node.js producer tests enqueue into Redis or RabbitMQ and a real Dramatiq
``Worker`` runs these actors. Each one is ``examples.shop``'s own function,
re-declared under the same name, queue, priority and options, behind a gateway
with the same limits, so this app's contract is the one ``schemas/`` publishes
(``test_node_producer`` checks that the generated schemas are byte-identical).

The worker runs on ``actorschema.brokers``' RedisBroker and RabbitmqBroker, which
dead-letter malformed bodies with their reasons.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import dramatiq
from dramatiq.middleware import CurrentMessage

from actorschema import PayloadGateway
from actorschema.contract import actor_function
from examples import shop

#: The gateway checks consumed messages and hands actors typed arguments (``actorschema.consume.arguments``).

#: The queues of the example app.
QUEUES = sorted({actor.queue_name for actor in shop.broker.actors.values()})


def shop_gateway() -> PayloadGateway:
    """The gateway of ``examples.shop``, whose limits the re-declared app copies."""
    return next(m for m in shop.broker.middleware if isinstance(m, PayloadGateway))


def redis_broker(url: str, **options: Any) -> dramatiq.Broker:
    from actorschema.brokers import RedisBroker

    return RedisBroker(url=url, **options)


def rabbitmq_broker(url: str, **options: Any) -> dramatiq.Broker:
    from actorschema.brokers import RabbitmqBroker

    return RabbitmqBroker(url=url, **options)


@dataclass(frozen=True)
class Call:
    """One actor call as the worker made it."""

    actor: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    message_id: str
    queue_name: str
    at_ms: int


class Recorder:
    """The calls the actors received, in order; thread-safe."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._changed = threading.Condition()

    def record(self, call: Call) -> None:
        with self._changed:
            self.calls.append(call)
            self._changed.notify_all()

    def wait_for(self, count: int, timeout: float = 15.0) -> list[Call]:
        """Wait until at least ``count`` calls were made; return them all (fewer on timeout)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.calls) < count and (left := deadline - time.monotonic()) > 0:
                self._changed.wait(left)
            return list(self.calls)

    def by_message_id(self) -> dict[str, Call]:
        with self._changed:
            return {call.message_id: call for call in self.calls}


def _recording(fn: Callable[..., Any], name: str, recorder: Recorder) -> Callable[..., Any]:
    @functools.wraps(fn)  # keeps the signature and type hints: the contract is shop's
    def record(*args: Any, **kwargs: Any) -> Any:
        message = CurrentMessage.get_current_message()
        assert message is not None
        now = int(time.time() * 1000)
        recorder.record(Call(name, args, kwargs, message.message_id, message.queue_name, now))
        return fn(*args, **kwargs)

    return record


def build_app(broker: dramatiq.Broker) -> Recorder:
    """Add the shop's gateway and actors to ``broker``; return what records their calls."""
    shop_limits = shop_gateway()
    broker.add_middleware(CurrentMessage())
    broker.add_middleware(
        PayloadGateway(max_message_bytes=shop_limits.max_message_bytes, queue_limits=shop_limits.queue_limits)
    )
    recorder = Recorder()
    for name in sorted(shop.broker.actors):
        original = shop.broker.actors[name]
        dramatiq.actor(
            _recording(actor_function(original), name, recorder),
            broker=broker,
            actor_name=original.actor_name,
            queue_name=original.queue_name,
            priority=original.priority,
            **original.options,
        )
    return recorder

"""``RedisBroker``: Dramatiq's RedisBroker, with a consumer that dead-letters malformed bodies.

Dramatiq's Redis fetch returns bodies without their ids, and acks and nacks
by the id a body names (``options.redis_message_id``): a body that names no
id, or another message's, cannot be acked, runs again after a restart, or
acks the wrong message. This consumer fetches the ids with the bodies (the
same Lua ``fetch``, in one transaction with an ``LRANGE`` of the ids it is
about to pop), decodes each body strictly, checks its envelope, and requires
it to name the id it was fetched under. A body that fails goes to
``<queue>.XQ`` under that id, with its reason.
"""

from __future__ import annotations

import time
from typing import Any

import redis
from dramatiq import Message
from dramatiq.broker import MessageProxy
from dramatiq.brokers.redis import RedisBroker as _RedisBroker
from dramatiq.common import compute_backoff
from dramatiq.errors import ConnectionClosed

from .._dramatiq import RedisConsumer, redis_fetch_arguments, redis_max_unpack_size
from ..consume.deadletters import reason_text, store_redis_reason, text_of
from ..consume.envelope import decode_message
from ..errors import MessageMalformed, Violation
from ..log import log_rejection, logger
from ..message import REDIS_MESSAGE_ID
from ._common import DEAD_LETTERED, message_id_of

__all__ = ["RedisBroker"]


_ID_HINT = "a fresh id per enqueue: the field under which the body is stored in <queue>.msgs"


class RedisBroker(_RedisBroker):
    """Dramatiq's RedisBroker, with a consumer that dead-letters malformed bodies; same parameters."""

    @property
    def consumer_class(self) -> Any:
        return _GuardedRedisConsumer


class _GuardedRedisConsumer(RedisConsumer):
    # Dramatiq's __next__ with one change: bodies are admitted (decoded and checked) per
    # fetched batch, and the cache holds the admitted Messages instead of raw bodies.
    def __next__(self) -> Any:
        try:
            while True:
                if self.message_cache:
                    message = self.message_cache.pop(0)
                    self.misses = 0
                    self.queued_message_ids.add(message.message_id)
                    return MessageProxy(message)
                fetched: list[tuple[str, bytes | None]] = []
                if self.outstanding_message_count < self.prefetch:
                    fetched = self._fetch(self.prefetch - self.outstanding_message_count)
                if not fetched:
                    self.misses, backoff_ms = compute_backoff(self.misses, max_backoff=self.timeout)
                    time.sleep(backoff_ms / 1000)
                    return None
                self.message_cache = self._admit(fetched)
        except redis.ConnectionError as error:
            raise ConnectionClosed(error) from None  # type: ignore[no-untyped-call]

    def _fetch(self, count: int) -> list[tuple[str, bytes | None]]:
        """Dramatiq's Lua ``fetch`` (heartbeat and maintenance included), with the ids it pops.

        Inside one MULTI, ``LRANGE`` reads the ids ``fetch`` then pops, in the same order.
        """
        broker = self.broker
        count = min(count, redis_max_unpack_size(broker))
        namespace = broker.namespace
        arguments = redis_fetch_arguments(broker, self.queue_name, count)
        with broker.client.pipeline(transaction=True) as pipe:
            pipe.lrange(f"{namespace}:{self.queue_name}", 0, count - 1)
            broker.scripts["dispatch"](keys=[namespace], args=arguments, client=pipe)
            ids, bodies = pipe.execute()
        return list(zip(map(text_of, ids), bodies, strict=False))

    def _admit(self, fetched: list[tuple[str, bytes | None]]) -> list[Message[Any]]:
        """The fetched messages fit to run; dead-letter the rest under the ids they were fetched by."""
        admitted: list[Message[Any]] = []
        for rid, body in fetched:
            if body is None:
                # Listed but never stored (RPUSH without HSET): nothing to run or keep.
                logger.warning("dropped id %r from queue %r: it has no message body", rid, self.queue_name)
                self.broker.do_nack(self.queue_name, rid)
                continue
            try:
                message = decode_message(body, self.queue_name)
                named = message.options.get(REDIS_MESSAGE_ID)
                if named != rid:
                    raise MessageMalformed(message.actor_name, [_id_violation(named, rid)])
            except MessageMalformed as rejection:
                self._dead_letter(rid, body, rejection)
                continue
            admitted.append(message)
        return admitted

    def _dead_letter(self, rid: str, body: bytes, rejection: MessageMalformed) -> None:
        message_id = message_id_of(body)
        log_rejection(rejection, message_id, self.queue_name, DEAD_LETTERED, error=True)
        text = reason_text(rejection, message_id=message_id, queue_name=self.queue_name)
        store_redis_reason(self.broker, self.queue_name, rid, text)
        self.broker.do_nack(self.queue_name, rid)


def _id_violation(named: Any, rid: str) -> Violation:
    if named is None:
        problem = "is missing: without it the message cannot be acked, and runs again after a restart"
    else:
        problem = (
            f"is {named!r}, but the message is stored under {rid!r}: it would ack another message or none"
        )
    return Violation("options.redis_message_id", problem, _ID_HINT)

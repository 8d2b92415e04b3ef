"""``RedisBroker``: Dramatiq's RedisBroker, with a consumer that dead-letters malformed bodies.

Dramatiq's Redis fetch returns bodies without their ids, and a nack needs
the id (``options.redis_message_id``). Every fetched body is decoded strictly
and its envelope checked, and the ids the good ones name are confirmed, in
one round trip per batch, to be the ids this consumer holds. A body that fails
is found by its bytes among the ids this consumer holds (only then, so the
common case costs one ``SMISMEMBER`` per fetch), and moved to ``<queue>.XQ``
with its reason.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from typing import Any

import redis
from dramatiq import Message
from dramatiq.broker import MessageProxy
from dramatiq.brokers.redis import RedisBroker as _RedisBroker
from dramatiq.brokers.redis import _RedisConsumer
from dramatiq.common import compute_backoff
from dramatiq.errors import ConnectionClosed

from ..deadletters import reason_text, store_redis_reason
from ..envelope import decode_message
from ..errors import MessageMalformed, Violation
from ..gateway import log_rejection
from ._common import DEAD_LETTERED, message_id_of

__all__ = ["RedisBroker"]

logger = logging.getLogger("actorschema")

_ID_HINT = "a fresh id per enqueue: the field under which the body is stored in <queue>.msgs"


class RedisBroker(_RedisBroker):
    """Dramatiq's RedisBroker, with a consumer that dead-letters malformed bodies; same parameters."""

    @property
    def consumer_class(self) -> Any:
        return _GuardedRedisConsumer


class _GuardedRedisConsumer(_RedisConsumer):
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
                bodies = []
                if self.outstanding_message_count < self.prefetch:
                    bodies = self.broker.do_fetch(
                        self.queue_name, self.prefetch - self.outstanding_message_count
                    )
                if not bodies:
                    self.misses, backoff_ms = compute_backoff(self.misses, max_backoff=self.timeout)
                    time.sleep(backoff_ms / 1000)
                    return None
                self.message_cache = self._admit(bodies)
        except redis.ConnectionError as error:
            raise ConnectionClosed(error) from None  # type: ignore[no-untyped-call]

    @property
    def _acks_key(self) -> str:
        return f"{self.broker.namespace}:__acks__.{self.broker.broker_id}.{self.queue_name}"

    def _admit(self, bodies: list[bytes | None]) -> list[Message[Any]]:
        """The fetched messages fit to run; dead-letter the rest."""
        decoded: list[tuple[bytes, Message[Any]]] = []
        rejected: list[tuple[bytes, MessageMalformed]] = []
        for body in bodies:
            if body is None:
                continue  # an id listed without a body: dropped by _dead_letter below
            try:
                decoded.append((body, decode_message(body, self.queue_name)))
            except MessageMalformed as error:
                rejected.append((body, error))
        admitted: list[Message[Any]] = []
        claimed: set[str] = set()
        ids = [message.options.get("redis_message_id") for _, message in decoded]
        named = [rid for rid in ids if isinstance(rid, str)]
        held_ids = (
            dict(zip(named, self.broker.client.smismember(self._acks_key, named), strict=True))
            if named
            else {}
        )
        held = [bool(held_ids.get(rid)) if isinstance(rid, str) else False for rid in ids]
        for (body, message), rid, is_held in zip(decoded, ids, held, strict=True):
            if isinstance(rid, str) and is_held and rid not in claimed:
                claimed.add(rid)
                admitted.append(message)
                continue
            if rid is None:
                problem = "is missing: without it the message cannot be acked, and runs again after a restart"
            elif not is_held:
                problem = f"is {rid!r}, which is not the id this message is stored under"
            else:
                problem = f"is {rid!r}, which another message fetched with it names too"
            violation = Violation("options.redis_message_id", problem, _ID_HINT)
            rejected.append((body, MessageMalformed(message.actor_name, [violation])))
        if rejected or None in bodies:
            self._dead_letter(rejected, claimed)
        return admitted

    def _dead_letter(self, rejected: list[tuple[bytes, MessageMalformed]], claimed: set[str]) -> None:
        """Find the ids of rejected bodies among those this consumer holds, and dead-letter them."""
        client = self.broker.client
        candidates = [_text(rid) for rid in client.smembers(self._acks_key)]
        candidates = [rid for rid in candidates if rid not in claimed]
        stored = (
            client.hmget(f"{self.broker.namespace}:{self.queue_name}.msgs", candidates) if candidates else []
        )
        by_body: defaultdict[bytes, list[str]] = defaultdict(list)
        for rid, body in zip(candidates, stored, strict=True):
            if body is None:
                # Listed but never stored (RPUSH without HSET), or acked meanwhile (a no-op then).
                logger.warning("dropped id %r from queue %r: it has no message body", rid, self.queue_name)
                self.broker.do_nack(self.queue_name, rid)
            else:
                by_body[body].append(rid)
        for body, rejection in rejected:
            matches = by_body.get(body)
            message_id = message_id_of(body)
            if not matches:
                log_rejection(
                    rejection, message_id, self.queue_name, "left in place: not among this consumer's ids"
                )
                continue
            rid = matches.pop()
            log_rejection(rejection, message_id, self.queue_name, DEAD_LETTERED, error=True)
            text = reason_text(rejection, message_id=message_id, queue_name=self.queue_name)
            store_redis_reason(self.broker, self.queue_name, rid, text)
            self.broker.do_nack(self.queue_name, rid)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)

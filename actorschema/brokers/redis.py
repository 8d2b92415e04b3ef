"""``RedisBroker``: Dramatiq's RedisBroker, with a consumer that dead-letters malformed bodies.

Dramatiq's Redis fetch returns bodies without their ids, and acks and nacks
by the id a body names (``options.redis_message_id``): a body that names no
id, or another message's, cannot be acked, runs again after a restart, or
acks the wrong message. This consumer fetches the ids with the bodies (the
same Lua ``fetch``, in one transaction with an ``LRANGE`` of the ids it is
about to pop), decodes each body strictly, checks its envelope, and requires
it to name the id it was fetched under. A body that fails goes to
``<queue>.XQ`` under that id, with its reason.

It also never strands a message it fetched. Dramatiq's consumer is replaced
after a connection error, and whatever the old one had fetched but not handed
to a worker thread (the rest of a batch, or a whole batch whose reply the
dropped connection lost) stays in this worker's ``__acks__`` set: the
broker's maintenance gives such ids back only once the worker's heartbeat is
stale, so a worker that keeps running never runs them; nor the delayed
messages waiting for their eta, which Dramatiq's consumer thread drops from
memory on a connection error. This broker keeps, per queue, the ids its
consumers fetched and have not finished (acked, nacked, requeued); each new
consumer first requeues every id in its acks set that is not among them (on
a delay queue: every id).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import defaultdict
from typing import Any

import redis
from dramatiq import Message
from dramatiq.broker import MessageProxy
from dramatiq.brokers.redis import RedisBroker as _RedisBroker
from dramatiq.common import compute_backoff
from dramatiq.errors import ConnectionClosed

from .. import observe
from .._dramatiq import (
    RedisConsumer,
    redis_acks_key,
    redis_fetch_arguments,
    redis_fetch_maintenance,
    redis_max_unpack_size,
)
from ..consume.deadletters import prune_redis_reasons, reason_text, store_redis_reason, text_of
from ..consume.envelope import decode_message
from ..errors import MessageMalformed, Violation
from ..log import log_rejection, logger
from ..message import REDIS_MESSAGE_ID
from ._common import DEAD_LETTERED, message_id_of

__all__ = ["RedisBroker"]


_ID_HINT = "a fresh id per enqueue: the field under which the body is stored in <queue>.msgs"


class RedisBroker(_RedisBroker):
    """Dramatiq's RedisBroker, with a consumer that dead-letters malformed bodies; same parameters.

    Its consumer also prunes the dead-letter reasons in the very transaction in
    which Dramatiq's maintenance removes expired dead letters.
    """

    #: The consumer prunes dead-letter reasons with Dramatiq's maintenance (the gateway need not).
    prunes_reasons = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[no-untyped-call]
        #: Per queue, the ids this broker's consumers fetched and have not acked, nacked or requeued.
        self.held: defaultdict[str, set[str]] = defaultdict(set)
        # Guards ``held`` only, never network I/O: worker threads finish messages while the
        # consumer thread fetches. (Two consumers of one queue on one broker, which Dramatiq's
        # Worker never makes, could requeue each other's batch in flight: it would run twice.)
        self.held_lock = threading.Lock()

    @property
    def consumer_class(self) -> Any:
        return _GuardedRedisConsumer


class _GuardedRedisConsumer(RedisConsumer):
    broker: Any

    def __init__(self, broker: RedisBroker, queue_name: str, prefetch: int, timeout: int) -> None:
        super().__init__(broker, queue_name, prefetch, timeout)  # type: ignore[no-untyped-call]
        #: Ids this consumer fetched and has not handed out or dead-lettered, in fetched order.
        self.undelivered: dict[str, None] = {}
        self.recovered = False

    # Dramatiq's __next__ with three changes: bodies are admitted (decoded and checked) per
    # fetched batch, the cache holds the admitted Messages instead of raw bodies, and a new
    # consumer first requeues what its predecessors stranded.
    def __next__(self) -> Any:
        try:
            if not self.recovered:
                self._requeue_stranded()
                self.recovered = True
            while True:
                if self.message_cache:
                    message = self.message_cache.pop(0)
                    self.misses = 0
                    self.queued_message_ids.add(message.message_id)
                    self.undelivered.pop(message.options[REDIS_MESSAGE_ID], None)
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

    def _requeue_stranded(self) -> None:
        """Put back what this worker fetched from the queue and no consumer of it holds any more."""
        broker = self.broker
        listed = {text_of(rid) for rid in broker.client.smembers(redis_acks_key(broker, self.queue_name))}
        with broker.held_lock:
            if self.queue_name.endswith(".DQ"):
                # A delay queue's messages wait for their eta in the consumer thread, which
                # requeues or (after a connection error) drops them before it makes a new
                # consumer: none is held any more.
                broker.held[self.queue_name].clear()
            stranded = listed - broker.held[self.queue_name]
        if stranded:
            broker.do_requeue(self.queue_name, *stranded)
            logger.warning(
                "requeued %d message(s) of queue %r that this worker had fetched before a connection error",
                len(stranded),
                self.queue_name,
            )

    def ack(self, message: Any) -> None:
        super().ack(message)  # type: ignore[no-untyped-call]
        self._finished(message.options.get(REDIS_MESSAGE_ID))

    def nack(self, message: Any) -> None:
        super().nack(message)  # type: ignore[no-untyped-call]
        self._finished(message.options.get(REDIS_MESSAGE_ID))

    def requeue(self, messages: Any) -> None:
        messages = list(messages)
        try:
            super().requeue(messages)  # type: ignore[no-untyped-call]
        except redis.ConnectionError as error:
            # Dramatiq's consumer thread requeues its delayed messages after an unexpected
            # error and catches only ConnectionClosed there: anything else kills the thread,
            # and the queue is consumed no more. Given back or not, nobody holds them now:
            # the next consumer requeues what is still in the acks set.
            raise ConnectionClosed(error) from None  # type: ignore[no-untyped-call]
        finally:
            for message in messages:
                self._finished(message.options.get(REDIS_MESSAGE_ID))

    def close(self) -> None:
        # What this consumer fetched and never handed out: give it back now if the server
        # answers, else leave it to the next consumer's _requeue_stranded.
        super().close()
        undelivered, self.undelivered = list(self.undelivered), {}
        self.message_cache = []
        if not undelivered:
            return
        with self.broker.held_lock:
            self.broker.held[self.queue_name].difference_update(undelivered)
        # Never raise: Dramatiq's consumer thread calls close() outside its error handling.
        with contextlib.suppress(redis.RedisError):
            self.broker.do_requeue(self.queue_name, *undelivered)

    def _finished(self, rid: Any) -> None:
        self.undelivered.pop(rid, None)
        with self.broker.held_lock:
            self.broker.held[self.queue_name].discard(rid)

    def _fetch(self, count: int) -> list[tuple[str, bytes | None]]:
        """Dramatiq's Lua ``fetch`` (heartbeat and maintenance included), with the ids it pops.

        Inside one MULTI, ``LRANGE`` reads the ids ``fetch`` then pops, in the same order.
        """
        broker = self.broker
        count = min(count, redis_max_unpack_size(broker))
        namespace = broker.namespace
        arguments = redis_fetch_arguments(broker, self.queue_name, count)
        now, maintenance = redis_fetch_maintenance(arguments)
        with broker.client.pipeline(transaction=True) as pipe:
            pipe.lrange(f"{namespace}:{self.queue_name}", 0, count - 1)
            if maintenance:
                # Just before Dramatiq's maintenance, at its time: the reasons of the very dead
                # letters it removes go with them.
                prune_redis_reasons(broker, self.queue_name, client=pipe, now=now)
            broker.scripts["dispatch"](keys=[namespace], args=arguments, client=pipe)
            replies = pipe.execute()
        ids, bodies = replies[0], replies[-1]
        fetched = list(zip(map(text_of, ids), bodies, strict=False))
        rids = [rid for rid, _ in fetched]
        with broker.held_lock:
            broker.held[self.queue_name].update(rids)
        self.undelivered.update(dict.fromkeys(rids))
        return fetched

    def _admit(self, fetched: list[tuple[str, bytes | None]]) -> list[Message[Any]]:
        """The fetched messages fit to run; dead-letter the rest under the ids they were fetched by."""
        admitted: list[Message[Any]] = []
        for rid, body in fetched:
            if body is None:
                # Listed but never stored (RPUSH without HSET): nothing to run or keep.
                logger.warning("dropped id %r from queue %r: it has no message body", rid, self.queue_name)
                self.broker.do_nack(self.queue_name, rid)
                self._finished(rid)
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
        observe.worker_refused(rejection.actor_name, self.queue_name, type(rejection).__name__)
        text = reason_text(rejection, message_id=message_id, queue_name=self.queue_name)
        store_redis_reason(self.broker, self.queue_name, rid, text)
        self.broker.do_nack(self.queue_name, rid)
        self._finished(rid)


def _id_violation(named: Any, rid: str) -> Violation:
    if named is None:
        problem = "is missing: without it the message cannot be acked, and runs again after a restart"
    else:
        problem = (
            f"is {named!r}, but the message is stored under {rid!r}: it would ack another message or none"
        )
    return Violation("options.redis_message_id", problem, _ID_HINT)

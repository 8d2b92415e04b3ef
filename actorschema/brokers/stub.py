"""``StubBroker``: Dramatiq's in-memory broker, with a consumer that dead-letters malformed bodies."""

from __future__ import annotations

from queue import Empty
from typing import Any

from dramatiq.brokers.stub import StubBroker as _StubBroker
from dramatiq.errors import QueueNotFound

from .._dramatiq import StubConsumer, StubMessageProxy
from ..consume.deadletters import REJECTION_ATTRIBUTE
from ..consume.envelope import decode_message
from ..errors import DeadLettered, MessageMalformed, PayloadRejected
from ..log import log_rejection
from ._common import DEAD_LETTERED, message_id_of

__all__ = ["StubBroker", "UndecodableMessage"]


class UndecodableMessage:
    """A StubBroker dead letter for a body that is not a message: the bytes and why.

    Parameters:
      body: The bytes as they were in the queue.
      queue_name: The queue they were consumed from.
      rejection: Why they are not a message.
    """

    failed = True

    def __init__(self, body: bytes, queue_name: str, rejection: PayloadRejected) -> None:
        self.body = body
        self.message_id = message_id_of(body)
        self.queue_name = queue_name
        # StubBroker.join(fail_fast=True) raises a dead letter's _exception.
        self._exception: BaseException | None = DeadLettered(rejection)
        setattr(self, REJECTION_ATTRIBUTE, rejection)


class StubBroker(_StubBroker):
    """Dramatiq's in-memory broker, with a consumer that dead-letters malformed bodies.

    Malformed bodies land in ``dead_letters_by_queue`` as :class:`UndecodableMessage`.
    """

    def consume(self, queue_name: str, prefetch: int = 1, timeout: int = 100) -> Any:
        try:
            queue, dead_letters = self.queues[queue_name], self.dead_letters_by_queue[queue_name]
        except KeyError:
            raise QueueNotFound(queue_name) from None  # type: ignore[no-untyped-call]
        return _StubConsumer(queue, dead_letters, prefetch, timeout, queue_name)


class _StubConsumer(StubConsumer):
    def __init__(
        self, queue: Any, dead_letters: list[Any], prefetch: int, timeout: int, queue_name: str
    ) -> None:
        super().__init__(queue, dead_letters, prefetch, timeout)  # type: ignore[no-untyped-call]
        self.queue_name = queue_name

    def __next__(self) -> Any:
        while True:
            if not self.prefetch_semaphore.acquire(timeout=self.timeout / 1000):
                return None
            try:
                data = self.queue.get(timeout=self.timeout / 1000)
            except Empty:
                self.prefetch_semaphore.release()
                return None
            try:
                return StubMessageProxy(decode_message(data, self.queue_name))
            except MessageMalformed as rejection:
                log_rejection(rejection, None, self.queue_name, DEAD_LETTERED, error=True)
                self.dead_letters.append(UndecodableMessage(data, self.queue_name, rejection))
                self.queue.task_done()
                self.prefetch_semaphore.release()

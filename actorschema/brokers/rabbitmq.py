"""``RabbitmqBroker``: Dramatiq's RabbitmqBroker, dead-lettering malformed bodies with their reason.

Dramatiq's RabbitMQ consumer already nacks undecodable bodies to
``<queue>.XQ``; it does not check the envelope (a ``queue_name`` naming
another queue kills the worker thread that finishes the message), and a nack
cannot say why. This consumer checks the envelope too, and dead-letters every
rejected message (its own rejections and those of the gateway's worker-side
check) by publishing the body unchanged to ``<queue>.XQ`` with the reason in
the ``x-actorschema-reason`` header, on a confirmed channel, then acking the
delivery: a crash in between leaves a copy in both queues, never in neither.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import pika  # type: ignore[import-untyped, unused-ignore]
from dramatiq.brokers.rabbitmq import RabbitmqBroker as _RabbitmqBroker
from dramatiq.common import q_name, xq_name
from dramatiq.errors import ConnectionClosed

from .._dramatiq import RabbitmqConsumer, RabbitmqMessage, rabbitmq_tag
from ..consume.deadletters import REASON_HEADER, REJECTION_ATTRIBUTE, reason_text
from ..consume.envelope import decode_message
from ..errors import MessageMalformed, PayloadRejected
from ..log import log_rejection, logger
from ._common import DEAD_LETTERED, message_id_of

__all__ = ["RabbitmqBroker"]

_CONNECTION_ERRORS = (AssertionError, pika.exceptions.AMQPConnectionError, pika.exceptions.AMQPChannelError)


class RabbitmqBroker(_RabbitmqBroker):
    """Dramatiq's RabbitmqBroker, with a consumer that dead-letters malformed bodies; same parameters."""

    @property
    def consumer_class(self) -> Any:
        return _GuardedRabbitmqConsumer


class _GuardedRabbitmqConsumer(RabbitmqConsumer):
    _dead_letter_channel: Any = None

    def __next__(self) -> Any:
        try:
            method, properties, body = next(self.iterator)
            if method is None:
                return None
        except _CONNECTION_ERRORS as error:
            # As Dramatiq's consumer: a vanished queue is declared again when the consumer restarts.
            if getattr(error, "reply_code", None) == 404:
                self.broker.queues_pending.add(q_name(self.queue_name))
            raise ConnectionClosed(error) from None  # type: ignore[no-untyped-call]
        try:
            message = decode_message(body, self.queue_name)
        except MessageMalformed as rejection:
            log_rejection(rejection, message_id_of(body), self.queue_name, DEAD_LETTERED, error=True)
            self._dead_letter(method.delivery_tag, body, properties, rejection)
            return None
        proxy = RabbitmqMessage(method.redelivered, method.delivery_tag, message)  # type: ignore[no-untyped-call]
        # Kept for a dead-lettering with reason: the body exactly as it arrived.
        proxy.__dict__["_actorschema_delivery"] = (body, properties)
        self.known_tags.add(method.delivery_tag)
        return proxy

    def nack(self, message: Any) -> None:
        rejection = getattr(message, REJECTION_ATTRIBUTE, None)
        delivery = message.__dict__.get("_actorschema_delivery")
        if rejection is None or delivery is None:
            super().nack(message)  # type: ignore[no-untyped-call]
            return
        tag = rabbitmq_tag(message)
        try:
            self.known_tags.remove(tag)
        except KeyError:
            logger.warning("Failed to nack message: not in known tags.")
            return
        body, properties = delivery
        try:
            self.connection.add_callback_threadsafe(
                partial(self._dead_letter, tag, body, properties, rejection)
            )
        except _CONNECTION_ERRORS as error:
            raise ConnectionClosed(error) from None  # type: ignore[no-untyped-call]

    def _dead_letter(self, tag: int, body: bytes, properties: Any, rejection: PayloadRejected) -> None:
        """Publish ``body`` to the dead-letter queue with its reason, then ack it (on the consumer thread)."""
        headers = dict(getattr(properties, "headers", None) or {})
        headers[REASON_HEADER] = reason_text(
            rejection, message_id=message_id_of(body), queue_name=self.queue_name
        )
        try:
            channel = self._dead_letter_channel
            if channel is None or not channel.is_open:
                channel = self._dead_letter_channel = self.connection.channel()
                channel.confirm_delivery()
            channel.basic_publish(
                exchange="",
                routing_key=xq_name(self.queue_name),
                body=body,
                properties=pika.BasicProperties(delivery_mode=2, headers=headers),
            )
        except Exception:
            # Dead-letter it without its reason rather than lose or strand it.
            logger.exception("could not publish a dead-lettered message with its reason; nacking it instead")
            self.channel.basic_nack(tag, requeue=False)
            return
        self.channel.basic_ack(tag)

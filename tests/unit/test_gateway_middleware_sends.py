"""Sends from a user's middleware hook on a worker thread are checked like any other send.

Only Dramatiq's own re-enqueues are exempt (Retries, Pipelines, Callbacks,
GroupCallbacks, the worker's delay-queue move): Dramatiq acks the message
first, so raising there would lose it. Told apart by who sends
(:func:`actorschema._dramatiq.sent_by_dramatiq`), even through a broker class
the app subclassed.
"""

from __future__ import annotations

import logging
from typing import Any

import dramatiq
import pytest
from dramatiq import Message, pipeline
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import Middleware
from helpers.workers import drain

from actorschema import PayloadGateway, PayloadInvalid


class SendingMiddleware(Middleware):
    """A user's middleware that sends from its hooks, on the worker thread."""

    def __init__(self) -> None:
        self.sends: list[Any] = []  # what each send did: the message, or the exception it raised
        self.target: Any = None
        self.value: Any = None

    def _send(self) -> None:
        try:
            self.sends.append(self.target.send(self.value))
        except Exception as error:
            self.sends.append(error)

    def after_process_message(
        self, broker: Any, message: Any, *, result: Any = None, exception: Any = None
    ) -> None:
        if message.actor_name == "source" and not message.kwargs.get("early"):
            self._send()

    def before_process_message(self, broker: Any, message: Any) -> None:
        if message.actor_name == "source" and message.kwargs.get("early"):
            self._send()


@pytest.mark.parametrize("hook", ["before_process_message", "after_process_message"])
@pytest.mark.parametrize(("value", "accepted"), [("not a number", False), (3, True)])
def test_a_send_from_a_users_middleware_hook_on_a_worker_thread_is_checked(
    hook: str, value: Any, accepted: bool, stub_broker: StubBroker
) -> None:
    broker = stub_broker
    middleware = SendingMiddleware()
    broker.add_middleware(middleware)
    ran: list[int] = []

    @dramatiq.actor(queue_name="targets")
    def target(n: int) -> None:
        ran.append(n)

    @dramatiq.actor(max_retries=0)
    def source(early: bool) -> None:
        pass

    middleware.target, middleware.value = target, value
    source.send(early=hook == "before_process_message")
    drain(broker, "default", "targets", threads=1)
    [outcome] = middleware.sends
    if accepted:
        assert isinstance(outcome, Message) and ran == [3]
    else:
        assert isinstance(outcome, PayloadInvalid) and outcome.paths == ("args[0]",)
        assert ran == [] and not broker.dead_letters  # refused at the send: nothing was enqueued


def test_dramatiqs_own_re_enqueue_through_a_subclassed_broker_is_still_exempt(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class AppBroker(StubBroker):
        def enqueue(self, message: Any, *, delay: int | None = None) -> Any:
            return super().enqueue(message, delay=delay)

    broker = AppBroker()
    broker.add_middleware(PayloadGateway())

    # No return annotation: with one (-> str), the send side refuses this pipeline at run()
    # (the next step cannot take the declared result); without, only the worker can know.
    @dramatiq.actor(broker=broker)
    def produce():  # type: ignore[no-untyped-def]
        return "not a number"

    @dramatiq.actor(broker=broker, max_retries=0)
    def consume(n: int) -> None:
        pass

    with caplog.at_level(logging.WARNING, logger="actorschema"):
        pipeline([produce.message(), consume.message()], broker=broker).run()
        drain(broker, threads=1)
    logged = [r.getMessage() for r in caplog.records if r.name == "actorschema"]
    # Pipelines re-enqueued the continuation after acking: logged, not raised (it would be lost);
    # the worker then dead-letters it with its reason.
    assert "re-enqueueing an accepted message" in logged[0]
    assert len(broker.dead_letters) == 1
    broker.close()


def test_a_retry_and_a_delay_move_stay_exempt(stub_broker: StubBroker) -> None:
    broker = stub_broker
    attempts: list[int] = []

    @dramatiq.actor(max_retries=1, min_backoff=10, max_backoff=20, max_message_bytes=2000)
    def flaky(blob: str) -> None:
        attempts.append(len(blob))
        if len(attempts) == 1:
            raise ValueError("m" * 10_000)  # the retry's traceback alone is over the limit

    flaky.send_with_options(args=("b" * 1500,), delay=10)
    drain(broker, threads=1)
    assert attempts == [1500, 1500] and not broker.dead_letters

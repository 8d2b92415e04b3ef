"""Worker edges: sends from middleware hooks, typed delivery after later middleware, Redis reasons pruning.

* A send from a user's middleware hook on a worker thread is checked like any
  other send; only Dramatiq's own re-enqueues (Retries, Pipelines, Callbacks,
  GroupCallbacks, the delay-queue move) are exempt, even through a broker the
  app subclassed.
* Typed delivery converts the arguments as they stand when the actor is
  called: what a middleware after the guard changed in ``message.args`` or
  ``message.kwargs`` in ``before_process_message`` reaches the actor, typed,
  and is judged like the rest of the message.
* On Redis, the reasons beside ``<queue>.XQ`` go entry by entry with Dramatiq's
  own dead-letter maintenance, and ``dead_letter_reasons`` never reports a
  message that is gone.
"""

from __future__ import annotations

import datetime
import logging
import uuid
from typing import Any

import dramatiq
import pytest
from dramatiq import Message, Worker, pipeline
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import Middleware
from pydantic import BaseModel

from actorschema import PayloadGateway, PayloadInvalid, dead_letter_reasons
from actorschema.brokers import StubBroker as GuardedStubBroker

UTC = datetime.UTC


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


def _stub(broker_class: type[StubBroker] = StubBroker) -> StubBroker:
    broker = broker_class()
    broker.emit_after("process_boot")
    broker.add_middleware(PayloadGateway())
    dramatiq.set_broker(broker)
    return broker


def _drain(broker: StubBroker, *queues: str) -> None:
    worker = Worker(broker, worker_timeout=50, worker_threads=1)
    worker.start()
    try:
        for queue in queues or ("default",):
            broker.join(queue, fail_fast=False)
        worker.join()
    finally:
        worker.stop()


@pytest.mark.parametrize("hook", ["before_process_message", "after_process_message"])
@pytest.mark.parametrize(("value", "accepted"), [("not a number", False), (3, True)])
def test_a_send_from_a_users_middleware_hook_on_a_worker_thread_is_checked(
    hook: str, value: Any, accepted: bool
) -> None:
    broker = _stub()
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
    _drain(broker, "default", "targets")
    [outcome] = middleware.sends
    if accepted:
        assert isinstance(outcome, Message) and ran == [3]
    else:
        assert isinstance(outcome, PayloadInvalid) and outcome.paths == ("args[0]",)
        assert ran == [] and not broker.dead_letters  # refused at the send: nothing was enqueued
    broker.close()


def test_dramatiqs_own_re_enqueue_through_a_subclassed_broker_is_still_exempt(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class AppBroker(StubBroker):
        def enqueue(self, message: Any, *, delay: int | None = None) -> Any:
            return super().enqueue(message, delay=delay)

    broker = _stub(AppBroker)

    @dramatiq.actor
    def produce() -> str:
        return "not a number"

    @dramatiq.actor(max_retries=0)
    def consume(n: int) -> None:
        pass

    with caplog.at_level(logging.WARNING, logger="actorschema"):
        pipeline([produce.message(), consume.message()], broker=broker).run()
        _drain(broker)
    logged = [r.getMessage() for r in caplog.records if r.name == "actorschema"]
    # Pipelines re-enqueued the continuation after acking: logged, not raised (it would be lost);
    # the worker then dead-letters it with its reason.
    assert "re-enqueueing an accepted message" in logged[0]
    assert len(broker.dead_letters) == 1
    broker.close()


def test_a_retry_and_a_delay_move_stay_exempt(caplog: pytest.LogCaptureFixture) -> None:
    broker = _stub()
    attempts: list[int] = []

    @dramatiq.actor(max_retries=1, min_backoff=10, max_backoff=20, max_message_bytes=2000)
    def flaky(blob: str) -> None:
        attempts.append(len(blob))
        if len(attempts) == 1:
            raise ValueError("m" * 10_000)  # the retry's traceback alone is over the limit

    flaky.send_with_options(args=("b" * 1500,), delay=10)
    _drain(broker)
    assert attempts == [1500, 1500] and not broker.dead_letters
    broker.close()


# -- typed delivery after later middleware -------------------------------------------


class Order(BaseModel):
    sku: str
    qty: int


class ChangingMiddleware(Middleware):
    """A user's middleware, after the guard, that changes the arguments before the actor runs."""

    def __init__(self, change: Any) -> None:
        self.change = change

    def before_process_message(self, broker: Any, message: Any) -> None:
        self.change(message)


def _set_when(message: Any) -> None:
    message.kwargs["when"] = "2024-06-01T08:00:00+02:00"  # JSON text, as a producer writes it


def _add_tenant(message: Any) -> None:
    message.kwargs["tenant"] = uuid.UUID(int=5)  # a Python value


def _more_in_place(message: Any) -> None:
    message.kwargs["order"]["qty"] = 3  # changed inside the value the guard judged


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (_set_when, {"when": datetime.datetime(2024, 6, 1, 6, 0, tzinfo=UTC)}),
        (_add_tenant, {"tenant": uuid.UUID(int=5)}),
        (_more_in_place, {"order": Order(sku="a", qty=3)}),
    ],
    ids=["replaced", "added-python-value", "nested-in-place"],
)
@pytest.mark.parametrize("broker_class", [StubBroker, GuardedStubBroker], ids=["dramatiq", "drop-in"])
def test_typed_delivery_honours_what_a_later_middleware_changed(
    change: Any, expected: dict[str, Any], broker_class: type[StubBroker]
) -> None:
    broker = _stub(broker_class)
    broker.add_middleware(ChangingMiddleware(change))
    received: list[dict[str, Any]] = []

    @dramatiq.actor(max_retries=0)
    def book(when: datetime.datetime, order: Order, tenant: uuid.UUID | None = None) -> None:
        received.append({"when": when, "order": order, "tenant": tenant})

    book.send(when=datetime.datetime(2024, 1, 1, tzinfo=UTC), order=Order(sku="a", qty=1))
    _drain(broker)
    assert not broker.dead_letters
    [got] = received
    assert {key: got[key] for key in expected} == expected
    assert type(got["when"]) is datetime.datetime and type(got["order"]) is Order
    broker.close()


def test_a_change_the_contract_refuses_is_dead_lettered_with_its_reason() -> None:
    broker = _stub()
    broker.add_middleware(ChangingMiddleware(lambda message: message.kwargs.update(n="many")))
    ran: list[int] = []

    @dramatiq.actor(max_retries=3)
    def count(n: int) -> None:
        ran.append(n)

    count.send(1)
    _drain(broker)
    assert ran == [] and len(broker.dead_letters) == 1
    [reason] = dead_letter_reasons(broker, "default").values()
    assert [v["path"] for v in reason["violations"]] == ["kwargs.n"]
    broker.close()


def test_without_a_middleware_that_may_change_arguments_nothing_is_looked_at_twice(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    broker = _stub()
    rechecked: list[Any] = []
    gateway = next(m for m in broker.middleware if isinstance(m, PayloadGateway))
    check_changed = gateway.consume_guard.check_changed
    monkeypatch.setattr(
        gateway.consume_guard, "check_changed", lambda b, m: rechecked.append(m) or check_changed(b, m)
    )
    received: list[Any] = []

    @dramatiq.actor
    def stamp(when: datetime.datetime) -> None:
        received.append(when)

    stamp.send(datetime.datetime(2024, 1, 1, tzinfo=UTC))
    _drain(broker)
    assert received == [datetime.datetime(2024, 1, 1, tzinfo=UTC)] and rechecked == []
    broker.close()

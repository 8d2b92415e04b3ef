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
import json
import logging
import time
import uuid
from typing import Any

import dramatiq
import pytest
from conftest import RedisServer, wait_until
from dramatiq import Message, Worker, pipeline
from dramatiq.broker import MessageProxy
from dramatiq.brokers.redis import MAINTENANCE_SCALE
from dramatiq.brokers.redis import RedisBroker as DramatiqRedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.common import current_millis
from dramatiq.encoder import JSONEncoder
from dramatiq.middleware import Middleware
from hint_corpus import aware
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel
from test_app_encoders import IsoEncoder

from actorschema import PayloadGateway, PayloadInvalid, dead_letter_reasons
from actorschema.brokers import RedisBroker as GuardedRedisBroker
from actorschema.brokers import StubBroker as GuardedStubBroker
from actorschema.consume_guard import take_delivery
from actorschema.deadletters import prune_redis_reasons, reasons_key, store_redis_reason

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


# -- Redis dead-letter reasons go with their messages ------------------------------------


class RedisApp:
    """A producer without the gateway and a worker with it, on one namespace of the test Redis."""

    def __init__(self, url: str, broker_class: type[Any], **options: Any) -> None:
        self.namespace = f"edges-{uuid.uuid4().hex[:8]}"
        self.producer = DramatiqRedisBroker(url=url, namespace=self.namespace)
        self.broker = broker_class(url=url, namespace=self.namespace, **options)
        self.broker.add_middleware(PayloadGateway())
        self.ran: list[int] = []

        def count(n: int) -> None:
            self.ran.append(n)

        for broker in (self.producer, self.broker):
            dramatiq.actor(count, broker=broker, max_retries=0)
        self.client = self.broker.client

    def dead_letter(self, count: int) -> set[str]:
        """Have the worker dead-letter ``count`` bad messages; return their ids in ``<q>.XQ``."""
        before = set(self.xq())
        for _ in range(count):
            self.producer.get_actor("count").send("many")  # the producer runs no gateway
        worker = Worker(self.broker, worker_timeout=50, worker_threads=1)
        worker.start()
        try:
            wait_until(lambda: len(set(self.xq()) - before) == count, f"{count} more dead letters", 20)
            self.broker.join("default", timeout=10_000)
        finally:
            worker.stop()
        return set(self.xq()) - before

    def xq(self) -> list[str]:
        return [key.decode() for key in self.client.zrange(f"{self.namespace}:default.XQ", 0, -1)]

    def stored_reasons(self) -> set[str]:
        return {key.decode() for key in self.client.hkeys(reasons_key(self.namespace, "default"))}


@pytest.mark.redis
@pytest.mark.parametrize(
    "broker_class", [DramatiqRedisBroker, GuardedRedisBroker], ids=["dramatiq", "drop-in"]
)
def test_reasons_go_entry_by_entry_with_dramatiqs_dead_letter_maintenance(
    broker_class: type[Any], redis_server: RedisServer, redis_client: Any
) -> None:
    # Maintenance on every command, and a dead-letter TTL short enough to see it expire.
    app = RedisApp(
        redis_server.url,
        broker_class,
        maintenance_chance=MAINTENANCE_SCALE,
        dead_message_ttl=1000,
        heartbeat_timeout=1000,
    )
    first = app.dead_letter(3)
    assert app.stored_reasons() == first and dead_letter_reasons(app.broker, "default").keys() == first
    time.sleep(1.1)  # the first three expire
    second = app.dead_letter(2)
    # Dramatiq's maintenance removed the first three from the XQ: their reasons went with them,
    # and only theirs (the hash as a whole did not expire).
    assert set(app.xq()) == second
    assert app.stored_reasons() == second
    assert dead_letter_reasons(app.broker, "default").keys() == second
    assert app.ran == []


@pytest.mark.redis
def test_dead_letter_reasons_never_reports_a_message_that_is_gone(
    redis_server: RedisServer, redis_client: Any
) -> None:
    app = RedisApp(redis_server.url, GuardedRedisBroker, maintenance_chance=0)
    kept, removed = sorted(app.dead_letter(2))
    # Gone by hand (requeued or deleted by an operator): no maintenance ran since.
    redis_client.zrem(f"{app.namespace}:default.XQ", removed)
    redis_client.hdel(f"{app.namespace}:default.XQ.msgs", removed)
    assert app.stored_reasons() == {kept, removed}
    assert dead_letter_reasons(app.broker, "default").keys() == {kept}
    # The next prune removes it from the hash too.
    assert (
        prune_redis_reasons(app.broker, "default", now=current_millis() + app.broker.heartbeat_timeout) == 1
    )
    assert app.stored_reasons() == {kept}


@pytest.mark.redis
def test_a_reason_written_just_ahead_of_its_nack_is_not_pruned(
    redis_server: RedisServer, redis_client: Any
) -> None:
    app = RedisApp(redis_server.url, GuardedRedisBroker)
    now = current_millis()
    store_redis_reason(app.broker, "default", "in-flight", json.dumps({"dead_lettered_at": now}))
    assert prune_redis_reasons(app.broker, "default", now=now + 10) == 0
    assert app.stored_reasons() == {"in-flight"}
    # A heartbeat timeout later its worker is dead, and the message never reached the XQ.
    assert prune_redis_reasons(app.broker, "default", now=now + app.broker.heartbeat_timeout) == 1
    assert app.stored_reasons() == set()


def test_typed_delivery_honours_what_a_later_middleware_changed_inside_a_positional_argument() -> None:
    broker = _stub()

    def more(message: Any) -> None:
        # Dramatiq's args is a tuple (it cannot be assigned to): what is inside it can change.
        message.args[0]["qty"] = 3

    broker.add_middleware(ChangingMiddleware(more))
    received: list[Any] = []

    @dramatiq.actor(max_retries=0)
    def ship(order: Order, n: int) -> None:
        received.append((order, n))

    # An older producer's message, in the positional form.
    body = ship.message(Order(sku="a", qty=1), 1).asdict()
    body["args"], body["kwargs"] = [{"sku": "a", "qty": 1}, 1], {}
    broker.queues["default"].put(json.dumps(body).encode())
    _drain(broker)
    assert received == [(Order(sku="a", qty=3), 1)] and not broker.dead_letters
    broker.close()


@pytest.mark.parametrize("broker_class", [StubBroker, GuardedStubBroker], ids=["dramatiq", "drop-in"])
def test_with_the_apps_own_encoder_a_changed_message_is_read_as_its_encoder_writes_it(
    broker_class: type[StubBroker],
) -> None:
    dramatiq.set_encoder(IsoEncoder())  # revives every text that looks like a timestamp
    try:
        broker = _stub(broker_class)
        broker.add_middleware(ChangingMiddleware(lambda message: message.kwargs.update(n=2)))
        received: list[Any] = []

        @dramatiq.actor(max_retries=0)
        def note(text: str, when: datetime.datetime, n: int) -> None:
            received.append((text, when, n))

        stamp = "2024-01-01T00:00:00+00:00"
        note.send(stamp, datetime.datetime(2024, 1, 1, tzinfo=UTC), 1)
        _drain(broker)
    finally:
        dramatiq.set_encoder(JSONEncoder())
    # The str parameter gets its text, although decode() revived it, and the change is honoured.
    assert received == [(stamp, datetime.datetime(2024, 1, 1, tzinfo=UTC), 2)] and not broker.dead_letters
    broker.close()


# A broker whose middleware has one of the app's after the guard, driven hook by hook.
_LATE_BROKER = StubBroker()
_LATE_GATEWAY = PayloadGateway()
_LATE_BROKER.add_middleware(_LATE_GATEWAY)
_LATE_BROKER.add_middleware(ChangingMiddleware(lambda message: None))
_LATE_BROKER.emit_before("worker_boot", None)  # the guard first, LateChanges last


def _late_book(when: datetime.datetime, order: Order, ref: uuid.UUID | None = None) -> None:
    pass


_LATE_ACTOR = dramatiq.actor(_late_book, broker=_LATE_BROKER)


@given(
    before=aware,
    after=aware,
    qty=st.integers(-(2**53), 2**53),
    ref=st.none() | st.uuids(),
    as_text=st.booleans(),
)
@settings(max_examples=60, deadline=None)
def test_whatever_a_later_middleware_writes_the_actor_receives_typed(
    before: datetime.datetime, after: datetime.datetime, qty: int, ref: uuid.UUID | None, as_text: bool
) -> None:
    _LATE_ACTOR.send(when=before, order=Order(sku="a", qty=1))
    body = _LATE_BROKER.queues["default"].get_nowait()  # what the gateway stored
    proxy = MessageProxy(Message.decode(body))  # as Dramatiq's consumer hands it to the middleware
    guard = _LATE_GATEWAY.consume_guard
    guard.before_process_message(_LATE_BROKER, proxy)
    # The app's middleware: JSON text (as a producer writes it) or Python values.
    proxy.kwargs["when"] = after.isoformat() if as_text else after
    proxy.kwargs["order"]["qty"] = qty
    if ref is not None:
        proxy.kwargs["ref"] = str(ref) if as_text else ref
    guard.late_changes.before_process_message(_LATE_BROKER, proxy)
    delivery = take_delivery("_late_book", tuple(proxy.args), proxy.kwargs)
    guard.after_process_message(_LATE_BROKER, proxy)
    assert delivery is not None
    assert delivery.kwargs == {
        "when": after,
        "order": Order(sku="a", qty=qty),
        **({"ref": ref} if ref else {}),
    }
    assert type(delivery.kwargs["when"]) is datetime.datetime

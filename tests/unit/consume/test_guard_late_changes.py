"""actorschema.consume.guard's LateChanges: typed delivery honours what a later middleware changed.

A middleware after the guard may change ``message.args`` or ``message.kwargs``
in ``before_process_message``: the actor gets what they then hold, typed, and a
change the contract refuses dead-letters the message.
"""

from __future__ import annotations

import datetime
import json
import uuid
from typing import Any

import dramatiq
import pytest
from dramatiq import Message
from dramatiq.broker import MessageProxy
from dramatiq.brokers.stub import StubBroker
from dramatiq.encoder import JSONEncoder
from dramatiq.middleware import Middleware
from helpers.app_encoders import IsoEncoder
from helpers.hint_corpus import aware
from helpers.workers import drain
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from actorschema import PayloadGateway, dead_letter_reasons
from actorschema.brokers import StubBroker as GuardedStubBroker
from actorschema.delivery import here

UTC = datetime.UTC


def _stub(broker_class: type[StubBroker] = StubBroker) -> StubBroker:
    broker = broker_class()
    broker.emit_after("process_boot")
    broker.add_middleware(PayloadGateway())
    dramatiq.set_broker(broker)
    return broker


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
    drain(broker, fail_fast=False)
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
    drain(broker, fail_fast=False)
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
    drain(broker, fail_fast=False)
    assert received == [datetime.datetime(2024, 1, 1, tzinfo=UTC)] and rechecked == []
    broker.close()


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
    drain(broker, fail_fast=False)
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
        drain(broker, fail_fast=False)
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
    delivery = here().take_delivery("_late_book", tuple(proxy.args), proxy.kwargs)
    guard.after_process_message(_LATE_BROKER, proxy)
    assert delivery is not None
    assert delivery.kwargs == {
        "when": after,
        "order": Order(sku="a", qty=qty),
        **({"ref": ref} if ref else {}),
    }
    assert type(delivery.kwargs["when"]) is datetime.datetime

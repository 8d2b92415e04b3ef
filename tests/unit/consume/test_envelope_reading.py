"""Bodies read with an actor's argument types: a shortcut that never changes a message or a verdict.

The law itself (the same message and the same verdict as a plainly read body,
on the hint corpus) is in ``test_arguments_lanes.py``; here, the cases it rests
on, each named: a number keeps the type its text has, a body read with another
contract's types is judged in full, and a message read with the types skips
the mirror's second pass only when it should.
"""

from __future__ import annotations

import json
from typing import Any

import dramatiq
import msgspec
import pytest
from dramatiq.middleware import Middleware
from helpers.workers import drain
from pydantic import BaseModel

import actorschema.consume.arguments as arguments
import actorschema.consume.envelope as envelope
from actorschema import PayloadGateway
from actorschema._dramatiq import unwrap
from actorschema.brokers import StubBroker
from actorschema.consume.envelope import ARGUMENTS_READ_BY, decode_message
from actorschema.errors import MessageMalformed, PayloadInvalid

#: The guards here leave argument types for the decoder: forgotten after each test.
pytestmark = pytest.mark.usefixtures("forget_left_types")


class Priced(BaseModel):
    sku: str
    amount: float


class Counted(BaseModel):
    sku: str
    amount: int


class Worded(BaseModel):
    sku: str
    amount: str


def guarded(name: str, hint: Any) -> tuple[StubBroker, Any, Any]:
    """A broker with the gateway, the actor ``name(order: hint)``, its guard, and its InboundContract."""
    broker = StubBroker()
    gateway = PayloadGateway()
    broker.add_middleware(gateway)

    def receive(order: Any) -> None: ...

    receive.__annotations__ = {"order": hint, "return": None}
    dramatiq.actor(receive, actor_name=name, broker=broker)
    guard = gateway.consume_guard
    contract = gateway.contract_for(broker, name)
    assert contract is not None
    return broker, guard, guard._inbound_for(contract)  # leaves the lanes' types, as on a first message


def body(name: str, order: Any, *, args: list[Any] | None = None, compact: bool = True) -> bytes:
    fields = {
        "queue_name": "default",
        "actor_name": name,
        "args": args or [],
        "kwargs": {} if args else {"order": order},
        "options": {},
        "message_id": "7f1d6a3e-9c2b-4b8e-a7d5-3c1e2f4a5b6c",
        "message_timestamp": 1_700_000_000_000,
    }
    return msgspec.json.encode(fields) if compact else json.dumps(fields).encode()


@pytest.fixture
def converts(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every value a wire lane's mirror judges after decoding (the pass a body read with the types skips)."""
    seen: list[Any] = []
    convert = arguments._convert

    def counting(value: Any, kind: Any, **options: Any) -> Any:
        seen.append(value)
        return convert(value, kind, **options)

    monkeypatch.setattr(arguments, "_convert", counting)
    return seen


@pytest.mark.parametrize("compact", [True, False], ids=["gateway-body", "json-dumps-body"])
def test_a_number_keeps_the_type_its_text_has(compact: bool) -> None:
    """A float parameter's ``5`` is read as the int 5 (what plain decoding gives), delivered as 5.0."""
    broker, guard, inbound = guarded("priced_number", Priced)
    message = decode_message(body("priced_number", {"sku": "a", "amount": 5}, compact=compact), "default")
    assert getattr(message, ARGUMENTS_READ_BY) is inbound
    amount = message.kwargs["order"]["amount"]
    assert amount == 5 and type(amount) is int
    delivery = guard.check(broker, message)
    assert delivery.kwargs["order"] == Priced(sku="a", amount=5.0)
    assert type(delivery.kwargs["order"].amount) is float


def test_a_body_read_with_the_types_skips_the_mirrors_second_pass(converts: list[Any]) -> None:
    broker, guard, inbound = guarded("priced_skip", Priced)
    message = decode_message(body("priced_skip", {"sku": "a", "amount": 1.5}), "default")
    assert getattr(message, ARGUMENTS_READ_BY) is inbound
    assert guard.check(broker, message).kwargs["order"] == Priced(sku="a", amount=1.5)
    assert converts == []
    # Read plainly (no types left for the actor): the mirror judges after decoding.
    envelope._readers.pop("priced_skip")
    plain = decode_message(body("priced_skip", {"sku": "a", "amount": 1.5}), "default")
    assert not hasattr(plain, ARGUMENTS_READ_BY)
    assert guard.check(broker, plain).kwargs["order"] == Priced(sku="a", amount=1.5)
    assert converts == [{"sku": "a", "amount": 1.5}]


def test_positional_values_were_not_read_with_the_types(converts: list[Any]) -> None:
    """A continuation's positional values are read as ``Any``: the mirror judges them after decoding."""
    broker, guard, inbound = guarded("priced_positional", Priced)
    message = decode_message(body("priced_positional", None, args=[{"sku": "a", "amount": 1.5}]), "default")
    assert getattr(message, ARGUMENTS_READ_BY) is inbound
    assert guard.check(broker, message).kwargs["order"] == Priced(sku="a", amount=1.5)
    assert converts == [{"sku": "a", "amount": 1.5}]
    with pytest.raises(PayloadInvalid):
        guard.check(broker, decode_message(body("priced_positional", None, args=[{"sku": 1}]), "default"))


def test_a_body_read_with_another_contracts_types_is_judged_in_full() -> None:
    """Two brokers in one process declare one actor name with different hints: the types left last read
    the body, and the other guard judges it in full: ``"5"`` is no ``int`` to the schema, although
    pydantic's Python mode alone would take it.
    """
    counted_broker, counted_guard, counted = guarded("same_name", Counted)
    _, _, worded = guarded("same_name", Worded)  # left last: it reads the next bodies
    message = decode_message(body("same_name", {"sku": "a", "amount": "5"}), "default")
    assert getattr(message, ARGUMENTS_READ_BY) is worded is not counted
    with pytest.raises(PayloadInvalid) as refused:
        counted_guard.check(counted_broker, message)
    assert refused.value.violations[0].path == "kwargs.order.amount"
    valid = decode_message(body("same_name", {"sku": "a", "amount": 2}), "default")
    assert counted_guard.check(counted_broker, valid).kwargs["order"] == Counted(sku="a", amount=2)


@pytest.mark.parametrize(
    ("twist", "reason"),
    [
        (lambda b: b.replace(b'"kwargs":{', b'"kwargs":{"order":{},', 1), "duplicate key 'order'"),
        (
            lambda b: b.replace(b'"options":{}', b'"options":{},"extra":1', 1),
            "is not a field of a Dramatiq message",
        ),
        (lambda b: b[:-1], "truncated"),
        (lambda b: b.replace(b'"sku":"a"', b'"sku":"\xff"'), "cannot be decoded"),
    ],
    ids=["duplicate-key", "envelope-extra", "truncated", "invalid-utf-8"],
)
def test_what_the_types_cannot_read_is_read_plainly_and_refused_as_ever(twist: Any, reason: str) -> None:
    guarded("priced_refused", Priced)
    with pytest.raises(MessageMalformed) as refused:
        decode_message(twist(body("priced_refused", {"sku": "a", "amount": 1.5})), "default")
    assert any(reason in v.problem for v in refused.value.violations), refused.value.violations


def test_an_unknown_key_is_kept_as_it_arrived() -> None:
    """The types pass over keys they do not name; the message keeps them (a retry stores what arrived)."""
    broker, guard, _ = guarded("priced_unknown", Priced)
    message = decode_message(body("priced_unknown", {"sku": "a", "amount": 1.5, "colour": "red"}), "default")
    assert not hasattr(message, ARGUMENTS_READ_BY)
    assert message.kwargs["order"] == {"sku": "a", "amount": 1.5, "colour": "red"}
    escaped = body("priced_unknown", {"sku": "a", "amount": 1.5, "note": "x"}).replace(b'"x"', b'"a\\u003ab"')
    message = decode_message(escaped, "default")
    assert not hasattr(message, ARGUMENTS_READ_BY) and message.kwargs["order"]["note"] == "a:b"
    assert guard.check(broker, message).kwargs["order"] == Priced(sku="a", amount=1.5)


def test_a_real_worker_reads_the_bodies_after_the_first_with_the_types() -> None:
    """On actorschema's StubBroker with a real Worker: a message consumed after the actor's first is read
    with its types, and every one runs with the model that was sent."""
    broker = StubBroker()
    broker.add_middleware(PayloadGateway())
    read_typed: list[bool] = []

    class Spy(Middleware):
        def before_process_message(self, broker: Any, message: Any) -> None:
            read_typed.append(hasattr(unwrap(message), ARGUMENTS_READ_BY))

    broker.add_middleware(Spy())
    received: list[Priced] = []

    @dramatiq.actor(broker=broker, actor_name="priced_worker")
    def priced_worker(order: Priced) -> None:
        received.append(order)

    priced_worker.send(Priced(sku="first", amount=0.5))
    drain(broker, threads=1)  # the first message leaves the types
    for index in range(3):
        priced_worker.send(Priced(sku=str(index), amount=index))
    drain(broker, threads=1)
    assert received == [Priced(sku="first", amount=0.5), *(Priced(sku=str(i), amount=i) for i in range(3))]
    assert all(type(order.amount) is float for order in received)
    assert read_typed == [False, True, True, True]

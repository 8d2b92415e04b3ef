"""The worker's argument check (actorschema.consume.arguments), without a broker.

``InboundContract.check`` judges consumed arguments with the published schema's reading, then
hands the actor its declared Python types; the converted values never go back into the
message. These tests drive it directly: where a positional value's violation is reported,
what is refused and why, and that what the send side wrote comes back as the value sent.
"""

from __future__ import annotations

import copy
import datetime
import decimal
import json
import math
import uuid
from typing import Any

import dramatiq
import pytest
from dramatiq.brokers.stub import StubBroker
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from actorschema import PayloadGateway
from actorschema.consume.arguments import InboundContract
from actorschema.contract import ActorContract
from actorschema.errors import NonJSONPayload, PayloadInvalid


class Line(BaseModel):
    sku: str
    quantity: int


def place(when: datetime.datetime, order_id: uuid.UUID, total: decimal.Decimal, lines: list[Line]) -> None:
    pass


def scale(width: int, ratio: float = 1.0, *, label: str = "") -> None:
    pass


def prices(by_weight: dict[float, int]) -> None:
    pass


def inbound(fn: Any) -> InboundContract:
    return InboundContract(ActorContract.from_function(fn, fn.__name__, "q"))


def refusal(contract: InboundContract, args: Any, kwargs: Any) -> PayloadInvalid:
    with pytest.raises(PayloadInvalid) as caught:
        contract.check(args, kwargs)
    return caught.value


def test_the_json_form_arrives_as_the_declared_python_types() -> None:
    kwargs = {
        "when": "2024-05-01T12:30:00+02:00",
        "order_id": "12345678-1234-1234-1234-123456789abc",
        "total": "19.90",
        "lines": [{"sku": "A", "quantity": 2}],
    }
    sent = copy.deepcopy(kwargs)
    args, typed = inbound(place).check((), kwargs)
    assert args == ()
    assert typed == {
        "when": datetime.datetime(2024, 5, 1, 12, 30, tzinfo=datetime.timezone(datetime.timedelta(hours=2))),
        "order_id": uuid.UUID("12345678-1234-1234-1234-123456789abc"),
        "total": decimal.Decimal("19.90"),
        "lines": [Line(sku="A", quantity=2)],
    }
    # The converted values are the actor's: the message keeps what arrived (a retry re-sends it).
    assert kwargs == sent


def test_a_positional_value_is_reported_where_it_arrived() -> None:
    contract = inbound(scale)
    assert refusal(contract, ["wide"], {}).paths == ("args[0]",)
    assert refusal(contract, [10, "tall"], {}).paths == ("args[1]",)
    assert refusal(contract, [], {"width": "wide"}).paths == ("kwargs.width",)
    # Bound to the signature, the legacy form is judged as its canonical form and runs.
    assert contract.check([10, 2.5], {"label": "x"}) == ((), {"width": 10, "ratio": 2.5, "label": "x"})


def test_what_does_not_fit_the_signature_is_named_with_what_to_send() -> None:
    contract = inbound(scale)
    missing = refusal(contract, [], {})
    assert missing.paths == ("kwargs.width",) and "missing" in str(missing)
    unknown = refusal(contract, [], {"width": 1, "height": 2})
    assert unknown.paths == ("kwargs.height",)
    wrong = refusal(contract, [], {"width": True})
    assert wrong.violations[0].hint == "a value of type int"


def test_integral_json_numbers_are_ints_and_floats_are_floats() -> None:
    contract = inbound(scale)
    # JSON semantics: 5.0 is an integer; "5" and true are not.
    assert contract.check([], {"width": 5.0, "ratio": 2}) == ((), {"width": 5, "ratio": 2.0})
    assert type(contract.check([], {"width": 5.0})[1]["width"]) is int


def test_values_json_cannot_hold_are_refused_at_their_path_unless_already_known_strict() -> None:
    contract = inbound(scale)
    with pytest.raises(NonJSONPayload) as caught:
        contract.check([1, math.nan], {})
    assert caught.value.paths == ("args[1]",)
    with pytest.raises(NonJSONPayload) as caught:
        contract.check([], {"width": 1, "label": "\ud800"})
    assert caught.value.paths == ("kwargs.label",)


def test_two_keys_that_name_one_key_once_converted_are_both_named() -> None:
    refused = refusal(inbound(prices), [], {"by_weight": {"1": 10, "1.0": 20, "2.5": 30}})
    assert refused.paths and all(path.startswith("kwargs.by_weight") for path in refused.paths)
    assert "'1'" in str(refused) and "'1.0'" in str(refused)
    assert inbound(prices).check([], {"by_weight": {"1": 10, "2.5": 30}})[1] == {
        "by_weight": {1.0: 10, 2.5: 30}
    }


#: The send side, once: a StubBroker with the gateway and ``place`` declared on it.
SEND_BROKER = StubBroker()
SEND_BROKER.add_middleware(PayloadGateway())
SEND_PLACE = dramatiq.actor(place, broker=SEND_BROKER, queue_name="q")
PLACE = inbound(place)


@settings(max_examples=40, deadline=None)
@given(
    # RFC 3339 offsets are whole minutes (the send side refuses others, naming the fix).
    when=st.datetimes(
        timezones=st.integers(-14 * 60, 14 * 60).map(
            lambda m: datetime.timezone(datetime.timedelta(minutes=m))
        )
    ),
    order_id=st.uuids(),
    total=st.decimals(allow_nan=False, allow_infinity=False, places=2, min_value=-(10**9), max_value=10**9),
    lines=st.lists(
        st.builds(Line, sku=st.text(max_size=5), quantity=st.integers(-(2**53), 2**53)), max_size=3
    ),
)
def test_what_the_send_side_stored_arrives_as_what_was_sent(
    when: datetime.datetime, order_id: uuid.UUID, total: decimal.Decimal, lines: list[Line]
) -> None:
    SEND_PLACE.send(when=when, order_id=order_id, total=total, lines=lines)
    stored = json.loads(SEND_BROKER.queues["q"].get_nowait())
    _, typed = PLACE.check(stored["args"], stored["kwargs"])
    assert typed == {"when": when, "order_id": order_id, "total": total, "lines": lines}

"""What the contract and hint tests share: the types their actors declare and the helpers that check them.

No ``from __future__ import annotations`` here on purpose: ``one(hint)``
relies on annotations being evaluated.
"""

import dataclasses
import datetime as dt
import math
import typing
from decimal import Decimal
from typing import Annotated, Any, NamedTuple
from uuid import UUID

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import TypedDict

from actorschema.contract import ActorContract
from actorschema.errors import PayloadInvalid, PayloadRejected

PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
UTC = dt.UTC
PLUS2 = dt.timezone(dt.timedelta(hours=2))
MINUS0530 = dt.timezone(-dt.timedelta(hours=5, minutes=30))
NAIVE = dt.datetime(2024, 5, 6, 7, 8, 9)
json_text = st.text(st.characters(codec="utf-8"), max_size=20)
AN_ID = UUID("12345678-1234-5678-1234-567812345678")


class Opaque:
    pass


class LineItem(BaseModel):
    sku: str
    qty: Annotated[int, Field(ge=1)]
    unit_price: Decimal
    shipped_at: dt.datetime | None = None


class Customer(BaseModel):
    id: UUID
    name: str
    tags: list[str] = []


class Job(BaseModel):
    customer: Customer
    items: list[LineItem]
    due: dt.datetime
    notes: dict[str, str] = {}
    parent: "Job | None" = None


class Node(BaseModel):
    name: str
    children: list["Node"] = []


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")
    a: int


class WithAny(BaseModel):
    x: Any = None


class Event(TypedDict):  # typing_extensions: pydantic needs it before Python 3.12
    at: dt.datetime
    n: int


class Stamp(NamedTuple):
    n: int
    at: dt.datetime


@dataclasses.dataclass
class Visit:
    at: dt.datetime
    n: int = 0


class Holder(BaseModel):
    event: Event
    rows: list[dict[str, Any]] = []


def contract_of(fn: typing.Callable[..., Any]) -> ActorContract:
    return ActorContract.from_function(fn, fn.__name__)


def one(hint: Any) -> ActorContract:
    """The contract of an actor with a single parameter ``x: hint``."""

    def actor(x: hint) -> None:  # type: ignore[valid-type]
        pass

    return ActorContract.from_function(actor, "actor")


def invalid(
    contract: ActorContract,
    args: tuple[Any, ...] = (),
    kwargs: dict[str, Any] | None = None,
    *,
    awaiting_result: bool = False,
) -> PayloadInvalid:
    with pytest.raises(PayloadInvalid) as info:
        contract.canonical(args, kwargs or {}, awaiting_result=awaiting_result)
    error = info.value
    assert isinstance(error, PayloadRejected)
    assert error.actor_name == contract.actor_name
    assert error.violations, "a rejection always says what is wrong"
    return error


def typed(value: Any) -> Any:
    """``value`` with the exact type at every level, so 1, 1.0 and True differ."""
    kind = type(value)
    if kind is dict:
        return ("dict", [(typed(k), typed(v)) for k, v in value.items()])
    if kind in (list, tuple):
        return (kind.__name__, [typed(v) for v in value])
    if kind is float and math.isnan(value):
        return ("float", "nan")
    return (kind.__name__, value)


def assert_json_equal(actual: Any, expected: Any) -> None:
    assert typed(actual) == typed(expected)


def canonical_x(contract: ActorContract, value: Any) -> Any:
    """Pass ``value`` by name and by position; both must give the same ``kwargs.x``."""
    by_name = contract.canonical((), {"x": value})
    by_position = contract.canonical((value,), {})
    assert by_name[0] == () and by_position[0] == ()
    assert list(by_name[1]) == ["x"]
    assert_json_equal(by_position[1]["x"], by_name[1]["x"])
    return by_name[1]["x"]

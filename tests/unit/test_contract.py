"""The actor contract: binding with Python's rules, validation with paths, and the canonical JSON form.

Every kind of hint a Dramatiq user writes is checked both ways: a valid value
comes back as its JSON form (of exact JSON types, strict JSON, and stable when
fed back in), an invalid one raises ``PayloadInvalid`` naming the exact path,
whether the argument was passed by position (``args[0]...``) or by name
(``kwargs.x...``).

No ``from __future__ import annotations`` here on purpose: ``one(hint)``
relies on annotations being evaluated; the future-annotations case has its
own module, ``contract_future_annotations.py``.
"""

import base64
import collections
import dataclasses
import datetime as dt
import enum
import functools
import inspect
import json
import math
import typing
from decimal import Decimal
from typing import Annotated, Any, Literal, NamedTuple, Optional, Union
from uuid import UUID

import dramatiq
import helpers.contract_future_annotations as future
import pydantic
import pytest
from dramatiq.brokers.stub import StubBroker
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from rfc3339_validator import validate_rfc3339
from typing_extensions import TypedDict

from actorschema import PayloadGateway
from actorschema.contract import ActorContract, actor_function
from actorschema.errors import PayloadInvalid, PayloadRejected
from actorschema.paths import render_path
from actorschema.strict_json import find_violations

PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
UTC = dt.UTC
PLUS2 = dt.timezone(dt.timedelta(hours=2))
MINUS0530 = dt.timezone(-dt.timedelta(hours=5, minutes=30))
AN_ID = UUID("12345678-1234-5678-1234-567812345678")


class Color(str, enum.Enum):
    RED = "red"
    GREEN = "green"


class Priority(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Shape(enum.Enum):
    SQUARE = "square"
    CIRCLE = 2


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


# -- helpers -------------------------------------------------------------------------------------------


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


# -- every kind of hint: valid values and their JSON form -------------------------------------------------

VALID = [
    # scalars
    pytest.param(int, 7, 7, id="int"),
    pytest.param(int, -(2**80), -(2**80), id="int-big"),
    pytest.param(int, "7", 7, id="int-from-str"),
    pytest.param(int, 7.0, 7, id="int-from-integral-float"),
    pytest.param(int, Priority.HIGH, 2, id="int-from-int-enum"),
    pytest.param(float, 1.5, 1.5, id="float"),
    pytest.param(float, 2, 2.0, id="float-from-int"),
    pytest.param(float, "2.5", 2.5, id="float-from-str"),
    pytest.param(str, "héllo 𝄞", "héllo 𝄞", id="str"),
    pytest.param(str, Color.RED, "red", id="str-from-str-enum"),
    pytest.param(str, b"utf-8 \xc3\xa9", "utf-8 é", id="str-from-utf8-bytes"),
    pytest.param(bool, True, True, id="bool"),
    pytest.param(bool, "yes", True, id="bool-from-str"),
    pytest.param(bool, 0, False, id="bool-from-int"),
    pytest.param(None, None, None, id="none"),
    pytest.param(type(None), None, None, id="none-type"),
    # optional and unions
    pytest.param(Optional[int], None, None, id="optional-none"),  # noqa: UP045
    pytest.param(Optional[int], "3", 3, id="optional-value"),  # noqa: UP045
    pytest.param(int | None, 3, 3, id="pipe-optional"),
    pytest.param(int | str, 1, 1, id="union-int"),
    pytest.param(int | str, "a", "a", id="union-str"),
    pytest.param(Union[int, list[int]], [1, "2"], [1, 2], id="typing-union"),  # noqa: UP007
    # literals and enums
    pytest.param(Literal["a", "b", 3], "b", "b", id="literal-str"),
    pytest.param(Literal["a", "b", 3], 3, 3, id="literal-int"),
    pytest.param(Color, Color.GREEN, "green", id="str-enum-member"),
    pytest.param(Color, "red", "red", id="str-enum-value"),
    pytest.param(Priority, Priority.HIGH, 2, id="int-enum-member"),
    pytest.param(Priority, 1, 1, id="int-enum-value"),
    pytest.param(Shape, Shape.SQUARE, "square", id="plain-enum-member"),
    pytest.param(Shape, 2, 2, id="plain-enum-value"),
    # times
    pytest.param(
        dt.datetime, dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC), "2024-05-06T07:08:09Z", id="datetime-utc"
    ),
    pytest.param(
        dt.datetime,
        dt.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=PLUS2),
        "2024-05-06T07:08:09.123456+02:00",
        id="datetime-offset",
    ),
    pytest.param(
        dt.datetime,
        dt.datetime(2024, 5, 6, 7, 8, tzinfo=MINUS0530),
        "2024-05-06T07:08:00-05:30",
        id="datetime-neg",
    ),
    pytest.param(
        dt.datetime, "2024-05-06T07:08:09+02:00", "2024-05-06T07:08:09+02:00", id="datetime-from-str"
    ),
    pytest.param(dt.datetime, "2024-05-06T07:08:09Z", "2024-05-06T07:08:09Z", id="datetime-from-z-str"),
    pytest.param(dt.datetime, 0, "1970-01-01T00:00:00Z", id="datetime-from-unix-time"),
    pytest.param(dt.date, dt.date(2024, 5, 6), "2024-05-06", id="date"),
    pytest.param(dt.date, "2024-05-06", "2024-05-06", id="date-from-str"),
    pytest.param(dt.time, dt.time(7, 8, 9, tzinfo=UTC), "07:08:09Z", id="time-utc"),
    pytest.param(dt.time, dt.time(7, 8, tzinfo=PLUS2), "07:08:00+02:00", id="time-offset"),
    pytest.param(dt.timedelta, dt.timedelta(minutes=90), "PT1H30M", id="timedelta"),
    pytest.param(dt.datetime | None, None, None, id="optional-datetime-none"),
    # identifiers and numbers as text
    pytest.param(UUID, AN_ID, str(AN_ID), id="uuid"),
    pytest.param(UUID, str(AN_ID).upper(), str(AN_ID), id="uuid-from-upper-str"),
    pytest.param(Decimal, Decimal("1.10"), "1.10", id="decimal-keeps-digits"),
    pytest.param(Decimal, "0.1", "0.1", id="decimal-from-str"),
    pytest.param(Decimal, 3, "3", id="decimal-from-int"),
    pytest.param(bytes, b"\x00hi", "AGhp", id="bytes"),
    pytest.param(bytes, bytearray(b"hi"), "aGk=", id="bytes-from-bytearray"),
    pytest.param(bytes, "aGk=", "aGk=", id="bytes-from-base64"),
    # containers
    pytest.param(list[int], [1, "2", 3.0], [1, 2, 3], id="list"),
    pytest.param(list[int], (1, 2), [1, 2], id="list-from-tuple"),
    pytest.param(list[Any], [1, "a", None], [1, "a", None], id="list-any"),
    pytest.param(dict[str, int], {"a": "1"}, {"a": 1}, id="dict"),
    pytest.param(dict[str, Any], {"a": [1, {"b": None}]}, {"a": [1, {"b": None}]}, id="dict-any"),
    pytest.param(tuple[int, str], (1, "a"), [1, "a"], id="tuple-fixed"),
    pytest.param(tuple[int, str], [1, "a"], [1, "a"], id="tuple-fixed-from-list"),
    pytest.param(tuple[int, ...], (1, "2", 3), [1, 2, 3], id="tuple-variadic"),
    pytest.param(tuple[int, ...], (), [], id="tuple-variadic-empty"),
    pytest.param(tuple[()], (), [], id="tuple-empty"),
    pytest.param(set[int], {5}, [5], id="set"),
    pytest.param(set[int], [5, 5], [5], id="set-from-list"),
    pytest.param(frozenset[str], frozenset({"a"}), ["a"], id="frozenset"),
    pytest.param(
        dict[str, list[tuple[int, Decimal]]], {"a": [(1, "1.5")]}, {"a": [[1, "1.5"]]}, id="nested-containers"
    ),
    pytest.param(list[Color], ["red", Color.GREEN], ["red", "green"], id="list-of-enums"),
    pytest.param(dict[str, UUID], {"k": AN_ID}, {"k": str(AN_ID)}, id="dict-of-uuids"),
    pytest.param(
        list[dt.datetime], [dt.datetime(2024, 1, 1, tzinfo=UTC)], ["2024-01-01T00:00:00Z"], id="list-dt"
    ),
    # constraints
    pytest.param(Annotated[int, Field(ge=1)], 1, 1, id="annotated-ge"),
    pytest.param(Annotated[str, Field(max_length=3)], "abc", "abc", id="annotated-max-length"),
    pytest.param(list[Annotated[int, Field(gt=0)]], [1, 2], [1, 2], id="list-of-annotated"),
    # models
    pytest.param(
        Customer, {"id": str(AN_ID), "name": "Ada"}, {"id": str(AN_ID), "name": "Ada", "tags": []}, id="model"
    ),
    pytest.param(
        Customer,
        Customer(id=AN_ID, name="Ada", tags=["x"]),
        {"id": str(AN_ID), "name": "Ada", "tags": ["x"]},
        id="model-instance",
    ),
    pytest.param(
        Node,
        {"name": "a", "children": [{"name": "b"}]},
        {"name": "a", "children": [{"name": "b", "children": []}]},
        id="recursive-model",
    ),
    pytest.param(
        list[Customer],
        [{"id": AN_ID, "name": "A"}],
        [{"id": str(AN_ID), "name": "A", "tags": []}],
        id="list-of-models",
    ),
    pytest.param(Optional[Customer], None, None, id="optional-model"),  # noqa: UP045
    # other structured types
    pytest.param(
        Event,
        {"at": "2024-01-01T00:00:00Z", "n": "3"},
        {"at": "2024-01-01T00:00:00Z", "n": 3},
        id="typed-dict",
    ),
    pytest.param(
        Stamp, (1, dt.datetime(2024, 1, 1, tzinfo=UTC)), [1, "2024-01-01T00:00:00Z"], id="named-tuple"
    ),
    pytest.param(
        Visit,
        {"at": dt.datetime(2024, 1, 1, tzinfo=UTC)},
        {"at": "2024-01-01T00:00:00Z", "n": 0},
        id="dataclass-from-dict",
    ),
    pytest.param(
        Visit,
        Visit(dt.datetime(2024, 1, 1, tzinfo=UTC), 2),
        {"at": "2024-01-01T00:00:00Z", "n": 2},
        id="dataclass-instance",
    ),
]


@pytest.mark.parametrize(("hint", "value", "expected"), VALID)
def test_valid_value_gives_its_json_form(hint: Any, value: Any, expected: Any) -> None:
    contract = one(hint)
    out = canonical_x(contract, value)
    assert_json_equal(out, expected)
    assert find_violations(out) == []
    assert json.loads(json.dumps(out, allow_nan=False)) == out
    # The JSON form is accepted again and does not change: retries and the worker see the same value.
    assert_json_equal(canonical_x(contract, out), out)


def test_exact_scalars_are_passed_through_unchanged() -> None:
    text = "unchanged"
    assert one(str).canonical((text,), {})[1]["x"] is text
    payload = {"a": [1]}
    assert one(dict).canonical((payload,), {})[1]["x"] is payload


@pytest.mark.parametrize(
    "value",
    [
        dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC),
        dt.datetime(1, 1, 1, tzinfo=PLUS2),
        dt.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=MINUS0530),
    ],
)
def test_datetime_json_form_is_rfc3339(value: dt.datetime) -> None:
    out = canonical_x(one(dt.datetime), value)
    assert validate_rfc3339(out), out
    assert dt.datetime.fromisoformat(out) == value


def test_set_json_form_holds_every_member() -> None:
    out = canonical_x(one(set[int]), {3, 1, 2, 1000, -5})
    assert sorted(out) == [-5, 1, 2, 3, 1000]


# -- every kind of hint: invalid values and their exact path ------------------------------------------------

NAIVE = dt.datetime(2024, 5, 6, 7, 8, 9)

# (hint, value, path after kwargs.x / args[0], words the problem or hint mentions)
INVALID = [
    pytest.param(int, "abc", "", ["integer", "got str", "int"], id="int-from-text"),
    pytest.param(int, 1.5, "", ["fractional"], id="int-from-fraction"),
    pytest.param(int, None, "", ["integer", "nonetype"], id="int-from-none"),
    pytest.param(int, [1], "", ["integer", "list"], id="int-from-list"),
    pytest.param(float, "x", "", ["number"], id="float"),
    pytest.param(str, 5, "", ["string", "got int"], id="str-from-int"),
    pytest.param(str, b"\xff", "", ["string", "unicode"], id="str-from-non-utf8-bytes"),
    pytest.param(bool, 2, "", ["boolean"], id="bool"),
    pytest.param(None, 0, "", ["none"], id="none"),
    pytest.param(Optional[int], "x", "", ["integer"], id="optional"),  # noqa: UP045
    pytest.param(Literal["a", "b", 3], "c", "", ["'a', 'b' or 3"], id="literal"),
    pytest.param(Color, "blue", "", ["'red'", "color"], id="str-enum"),
    pytest.param(Priority, 9, "", ["1", "priority"], id="int-enum"),
    pytest.param(Shape, "triangle", "", ["'square'", "shape"], id="plain-enum"),
    pytest.param(dt.datetime, "not a date", "", ["datetime"], id="datetime-text"),
    pytest.param(dt.datetime, NAIVE, "", ["naive datetime", "utc offset", "tzinfo"], id="datetime-naive"),
    pytest.param(dt.datetime, "2024-05-06T07:08:09", "", ["naive datetime"], id="datetime-naive-text"),
    pytest.param(dt.date, "2024-13-01", "", ["date"], id="date"),
    pytest.param(dt.time, dt.time(7, 8), "", ["naive time", "utc offset"], id="time-naive"),
    pytest.param(dt.time, "07:08:09", "", ["naive time"], id="time-naive-text"),
    pytest.param(dt.datetime | None, NAIVE, "", ["naive datetime"], id="optional-datetime-naive"),
    pytest.param(UUID, "not-a-uuid", "", ["uuid"], id="uuid"),
    pytest.param(Decimal, "abc", "", ["decimal"], id="decimal"),
    pytest.param(Decimal, Decimal("NaN"), "", ["finite"], id="decimal-nan"),
    pytest.param(bytes, 5, "", ["bytes"], id="bytes-from-int"),
    pytest.param(bytes, "not base64!", "", ["base64"], id="bytes-from-text"),
    pytest.param(list[int], [1, 2, "x", 4], "[2]", ["integer"], id="list-item"),
    pytest.param(list[int], "abc", "", ["list"], id="list-from-str"),
    pytest.param(dict[str, int], {"a": 1, "b": "x"}, ".b", ["integer"], id="dict-value"),
    pytest.param(
        dict[str, int], {"content-type": "x"}, '["content-type"]', ["integer"], id="dict-quoted-key"
    ),
    pytest.param(tuple[int, str], (1,), "[1]", ["required"], id="tuple-too-short"),
    pytest.param(tuple[int, str], (1, "a", 3), "", ["at most 2"], id="tuple-too-long"),
    pytest.param(tuple[int, str], ("x", "a"), "[0]", ["integer"], id="tuple-item"),
    pytest.param(tuple[int, ...], (1, 2, "x"), "[2]", ["integer"], id="tuple-variadic-item"),
    pytest.param(set[int], {"x"}, "[0]", ["integer"], id="set-item"),
    pytest.param(
        list[dt.datetime], [dt.datetime(2024, 1, 1, tzinfo=UTC), NAIVE], "[1]", ["naive"], id="list-naive"
    ),
    pytest.param(dict[str, dt.time], {"open": dt.time(9)}, ".open", ["naive time"], id="dict-naive-time"),
    pytest.param(tuple[dt.datetime, ...], (NAIVE,), "[0]", ["naive"], id="tuple-naive"),
    pytest.param(
        dict[str, list[tuple[int, Decimal]]],
        {"a": [(1, "1"), (2, "x")]},
        ".a[1][1]",
        ["decimal"],
        id="nested-containers",
    ),
    pytest.param(Annotated[int, Field(ge=1)], 0, "", ["greater than or equal to 1"], id="annotated-ge"),
    pytest.param(Annotated[str, Field(max_length=3)], "abcd", "", ["at most 3"], id="annotated-max-length"),
    pytest.param(
        list[Annotated[int, Field(gt=0)]], [1, 0], "[1]", ["greater than 0"], id="list-of-annotated"
    ),
    pytest.param(Customer, {"id": str(AN_ID)}, ".name", ["required", "customer"], id="model-missing-field"),
    pytest.param(Customer, {"id": "x", "name": "A"}, ".id", ["uuid"], id="model-bad-field"),
    pytest.param(
        Customer, {"id": AN_ID, "name": "A", "tags": ["a", 1]}, ".tags[1]", ["string"], id="model-list"
    ),
    pytest.param(Customer, "Ada", "", ["dictionary", "customer"], id="model-from-str"),
    pytest.param(Strict, {"a": 1, "b": 2}, ".b", ["extra"], id="model-extra-forbidden"),
    pytest.param(
        list[Customer],
        [{"id": AN_ID, "name": "A"}, {"id": AN_ID}],
        "[1].name",
        ["required"],
        id="list-of-models",
    ),
    pytest.param(dict, [1], "", ["list", "dict"], id="bare-dict-given-list"),
    pytest.param(list, (1, 2), "", ["tuple", "list"], id="bare-list-given-tuple"),
    pytest.param(list, {"a": 1}, "", ["dict", "list"], id="bare-list-given-dict"),
]


@pytest.mark.parametrize(("hint", "value", "suffix", "words"), INVALID)
def test_invalid_value_is_rejected_at_its_exact_path(
    hint: Any, value: Any, suffix: str, words: list[str]
) -> None:
    contract = one(hint)
    by_name = invalid(contract, (), {"x": value})
    assert by_name.paths == (f"kwargs.x{suffix}",)
    by_position = invalid(contract, (value,), {})
    assert by_position.paths == (f"args[0]{suffix}",)
    text = " ".join(f"{v.problem} {v.hint}" for v in by_name.violations).lower()
    for word in words:
        assert word in text, f"{word!r} not in {text!r}"
    assert str(by_name).startswith("actor 'actor': ")


@pytest.mark.parametrize(
    ("hint", "value", "suffix"),
    [
        pytest.param(list[dt.datetime], [NAIVE], "[0]", id="list"),
        pytest.param(dict[str, dt.datetime], {"a": NAIVE}, ".a", id="dict"),
        pytest.param(tuple[int, dt.time], (1, dt.time(1)), "[1]", id="tuple"),
        pytest.param(Optional[dt.datetime], NAIVE, "", id="optional"),  # noqa: UP045
        pytest.param(Annotated[dt.datetime, Field(description="when")], NAIVE, "", id="annotated"),
        pytest.param(Visit, {"at": NAIVE}, ".at", id="dataclass"),
        pytest.param(list[Customer | Visit], [{"at": NAIVE}], "[0].at", id="list-of-union"),
        pytest.param(Event, {"at": NAIVE, "n": 1}, ".at", id="typed-dict"),
        pytest.param(Stamp, (1, NAIVE), "[1]", id="named-tuple"),
        pytest.param(
            Holder,
            {"event": {"at": NAIVE, "n": 1}},
            ".event.at",
            id="model-typed-dict",
        ),
        pytest.param(
            Holder,
            {"event": {"at": dt.datetime(2024, 1, 1, tzinfo=UTC), "n": 1}, "rows": [{"t": NAIVE}]},
            ".rows[0].t",
            id="model-list-of-dict-any",
        ),
        pytest.param(WithAny, {"x": NAIVE}, ".x", id="model-any"),
    ],
)
def test_naive_times_are_found_in_every_kind_of_container(hint: Any, value: Any, suffix: str) -> None:
    error = invalid(one(hint), (), {"x": value})
    assert error.paths == (f"kwargs.x{suffix}",)
    # In an Any-typed position a datetime is not JSON at all, aware or not.
    assert "naive" in error.violations[0].problem or "not JSON" in error.violations[0].problem


def test_json_typed_hints_keep_their_values_for_the_strict_check() -> None:
    # ``dict | None`` is made of JSON types: the value travels as sent, and the strict
    # JSON check (not pydantic's JSON mode) judges what is inside it.
    _, kwargs = one(dict | None).canonical((), {"x": {"at": NAIVE}})
    assert kwargs["x"]["at"] is NAIVE
    assert [v.path for v in find_violations(kwargs, ("kwargs",))] == ["kwargs.x.at"]


def test_naive_datetime_hint_suggests_an_aware_value() -> None:
    (violation,) = invalid(one(dt.datetime), (NAIVE,)).violations
    assert violation.path == "args[0]"
    assert "aware" in violation.hint and "timezone.utc" in violation.hint


def test_every_problem_is_reported_not_just_the_first() -> None:
    error = invalid(one(list[int]), (), {"x": ["a", 1, "b", 2.5]})
    assert error.paths == ("kwargs.x[0]", "kwargs.x[2]", "kwargs.x[3]")


@pytest.mark.parametrize(
    "hint",
    [float, Optional[float], list[float], dict[str, float], tuple[float, ...]],  # noqa: UP045
)
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_floats_are_rejected_or_left_for_the_strict_check(hint: Any, bad: float) -> None:
    value: Any = (
        {"k": bad} if hint == dict[str, float] else [bad] if hint in (list[float], tuple[float, ...]) else bad
    )
    try:
        _, kwargs = one(hint).canonical((), {"x": value})
    except PayloadInvalid as error:
        assert error.paths[0].startswith("kwargs.x")
        return
    assert find_violations(kwargs, ("kwargs",)), f"{bad} silently became {kwargs}"


def test_lone_surrogates_are_left_for_the_strict_check() -> None:
    _, kwargs = one(str).canonical(("\ud800",), {})
    assert [v.path for v in find_violations(kwargs, ("kwargs",))] == ["kwargs.x"]


@pytest.mark.parametrize(
    ("hint", "value"),
    [
        pytest.param(Any, {1, 2}, id="any"),
        pytest.param(object, (1, 2), id="object"),
        pytest.param(dict, {"at": NAIVE}, id="bare-dict"),
        pytest.param(list, [b"x"], id="bare-list"),
        pytest.param(dict[str, Any], {"n": math.nan}, id="dict-str-any"),
        pytest.param(list[Any], [Color.RED], id="list-any"),
        pytest.param(typing.Dict, {1: "a"}, id="typing-dict"),  # noqa: UP006
        pytest.param(typing.List, [(1,)], id="typing-list"),  # noqa: UP006
    ],
)
def test_raw_hints_pass_values_through_for_the_strict_check(hint: Any, value: Any) -> None:
    contract = one(hint)
    assert contract.parameters[0].is_raw_json
    _, kwargs = contract.canonical((value,), {})
    assert kwargs["x"] is value
    assert find_violations(kwargs, ("kwargs",)) != []


def test_unhinted_parameter_accepts_anything_unchanged() -> None:
    def legacy(a, b=None, *rest, **extra):  # type: ignore[no-untyped-def]
        pass

    contract = contract_of(legacy)
    odd = object()
    args, kwargs = contract.canonical((odd, {1, 2}), {"z": NAIVE})
    assert args == () and kwargs["a"] is odd and kwargs["b"] == {1, 2} and kwargs["z"] is NAIVE
    assert all(p.is_raw_json for p in contract.parameters)


@pytest.mark.parametrize(
    ("hint", "value"),
    [(dict[str, Any], [1]), (list[Any], {"a": 1}), (typing.Dict, "text"), (typing.List, 3)],  # noqa: UP006
    ids=["dict-str-any", "list-any", "typing-dict", "typing-list"],
)
def test_parameterised_raw_containers_check_their_container_type(hint: Any, value: Any) -> None:
    assert invalid(one(hint), (value,)).paths == ("args[0]",)


@pytest.mark.parametrize(
    ("hint", "value", "allowed", "required"),
    [
        pytest.param(int | str, 1.5, {"kwargs.x"}, "kwargs.x", id="int-or-str"),
        pytest.param(
            Union[int, list[int]],  # noqa: UP007
            [1, "x"],
            {"kwargs.x", "kwargs.x[1]"},
            "kwargs.x[1]",
            id="int-or-list",
        ),
        pytest.param(
            Customer | LineItem,
            {"id": AN_ID},
            {"kwargs.x.name", "kwargs.x.sku", "kwargs.x.qty", "kwargs.x.unit_price"},
            "kwargs.x.name",
            id="models",
        ),
        pytest.param(
            list[Customer | LineItem],
            [{"sku": "a", "qty": 0, "unit_price": 1}],
            {"kwargs.x[0].id", "kwargs.x[0].name", "kwargs.x[0].qty"},
            "kwargs.x[0].qty",
            id="list-of-union",
        ),
    ],
)
def test_union_errors_name_real_locations(hint: Any, value: Any, allowed: set[str], required: str) -> None:
    paths = set(invalid(one(hint), (), {"x": value}).paths)
    assert required in paths
    assert paths <= allowed


class Cat(BaseModel):
    kind: Literal["cat"]
    lives: int


class Dog(BaseModel):
    kind: Literal["dog"]
    good: bool


def test_discriminated_union_valid() -> None:
    contract = one(Annotated[Cat | Dog, Field(discriminator="kind")])
    assert canonical_x(contract, {"kind": "dog", "good": "yes"}) == {"kind": "dog", "good": True}


def test_discriminated_union_error_names_the_field() -> None:
    contract = one(Annotated[Cat | Dog, Field(discriminator="kind")])
    assert invalid(contract, (), {"x": {"kind": "cat", "lives": "many"}}).paths == ("kwargs.x.lives",)


def test_bad_dict_key_is_reported_at_the_dict() -> None:
    paths = invalid(one(dict[str, int]), (), {"x": {"a": 1, 5: 2}}).paths
    assert len(paths) == 1
    assert "[key]" not in paths[0]
    assert paths[0].startswith("kwargs.x")


def test_bytes_json_form_is_base64url() -> None:
    # pydantic writes bytes as base64url (RFC 4648 section 5, as its JSON Schema says:
    # "format": "base64url"); Node reads it with Buffer.from(text, "base64url").
    out = canonical_x(one(bytes), b"\xfb\xff")
    assert out == "-_8="
    assert base64.urlsafe_b64decode(out) == b"\xfb\xff"


@pytest.mark.parametrize("offset", [dt.timedelta(hours=1, seconds=30), dt.timedelta(minutes=19, seconds=32)])
def test_datetime_with_seconds_offset_is_rejected_not_shifted(offset: dt.timedelta) -> None:
    # RFC 3339 offsets are whole minutes: pydantic would cut the seconds and name another instant.
    value = dt.datetime(1900, 1, 1, 12, tzinfo=dt.timezone(offset))
    (violation,) = invalid(one(dt.datetime), (value,)).violations
    assert violation.path == "args[0]" and "seconds" in violation.problem
    assert "astimezone" in violation.hint


@pytest.mark.parametrize(
    ("hint", "value"),
    [
        pytest.param(Optional[dict], {"at": NAIVE}, id="optional-dict-naive-datetime"),  # noqa: UP045
        pytest.param(dict | None, {"tags": {1, 2}}, id="optional-dict-set"),
        pytest.param(dict | None, {"pair": (1, 2)}, id="optional-dict-tuple"),
        pytest.param(dict | None, {1: "a"}, id="optional-dict-int-key"),
        pytest.param(dict | None, {"n": math.nan}, id="optional-dict-nan"),
        pytest.param(
            list[dict[str, Any]],
            [{"at": NAIVE}],
            id="list-of-dict-any-naive-datetime",
        ),
        pytest.param(list[dict[str, Any]], [{"blob": b"\xff"}], id="list-of-dict-any-bytes"),
        pytest.param(WithAny, {"x": NAIVE}, id="model-any-naive-datetime"),
        pytest.param(WithAny, {"x": math.nan}, id="model-any-nan"),
        pytest.param(WithAny, {"x": Decimal("1.5")}, id="model-any-decimal"),
        pytest.param(tuple, (1, {2}), id="bare-tuple-set"),
    ],
)
def test_values_in_any_positions_are_not_silently_converted(hint: Any, value: Any) -> None:
    try:
        _, kwargs = one(hint).canonical((), {"x": value})
    except PayloadInvalid:
        return
    assert find_violations(kwargs, ("kwargs",)) != [], f"{value!r} silently became {kwargs['x']!r}"


# -- models nested to any depth -----------------------------------------------------------------------------


def submit(job: Job, *, priority: Priority = Priority.LOW) -> None:
    """Submit a job."""


def job_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "customer": {"id": str(AN_ID), "name": "Ada", "tags": ["vip"]},
        "items": [
            {"sku": "a", "qty": 1, "unit_price": "9.99"},
            {"sku": "b", "qty": "2", "unit_price": 5, "shipped_at": "2024-05-06T07:08:09+02:00"},
            {"sku": "c", "qty": 3, "unit_price": Decimal("0.10")},
        ],
        "due": dt.datetime(2024, 6, 1, tzinfo=UTC),
    }
    data.update(overrides)
    return data


JOB_JSON = {
    "customer": {"id": str(AN_ID), "name": "Ada", "tags": ["vip"]},
    "items": [
        {"sku": "a", "qty": 1, "unit_price": "9.99", "shipped_at": None},
        {"sku": "b", "qty": 2, "unit_price": "5", "shipped_at": "2024-05-06T07:08:09+02:00"},
        {"sku": "c", "qty": 3, "unit_price": "0.10", "shipped_at": None},
    ],
    "due": "2024-06-01T00:00:00Z",
    "notes": {},
    "parent": None,
}


def test_model_from_a_dict_gives_its_json_object() -> None:
    contract = contract_of(submit)
    args, kwargs = contract.canonical((job_data(),), {"priority": Priority.HIGH})
    assert args == ()
    assert_json_equal(kwargs, {"job": JOB_JSON, "priority": 2})
    assert find_violations(kwargs) == []
    assert contract.canonical((), kwargs) == (args, kwargs)


def test_model_instance_gives_the_same_json_object() -> None:
    contract = contract_of(submit)
    _, kwargs = contract.canonical((), {"job": Job.model_validate(job_data())})
    assert_json_equal(kwargs, {"job": JOB_JSON})


def test_model_error_paths_by_name_and_by_position() -> None:
    contract = contract_of(submit)
    data = job_data()
    data["items"][2]["qty"] = 0
    assert invalid(contract, (), {"job": data}).paths == ("kwargs.job.items[2].qty",)
    assert invalid(contract, (data,), {}).paths == ("args[0].items[2].qty",)


def test_model_reports_every_bad_field_in_order() -> None:
    data = job_data(customer={"id": "nope", "name": 7})
    data["items"][0]["qty"] = -1
    data["items"][1]["unit_price"] = "cheap"
    error = invalid(contract_of(submit), (), {"job": data, "priority": 5})
    assert error.paths == (
        "kwargs.job.customer.id",
        "kwargs.job.customer.name",
        "kwargs.job.items[0].qty",
        "kwargs.job.items[1].unit_price",
        "kwargs.priority",
    )
    assert "Job" in error.violations[0].hint


def test_nested_model_errors_at_depth() -> None:
    grandparent = job_data()
    grandparent["items"][1]["sku"] = ["not", "a", "str"]
    data = job_data(parent=job_data(parent=grandparent))
    assert invalid(contract_of(submit), (), {"job": data}).paths == ("kwargs.job.parent.parent.items[1].sku",)


def test_naive_datetime_inside_models_is_found() -> None:
    data = job_data(due=NAIVE)
    data["items"][1]["shipped_at"] = "2024-05-06T07:08:09"
    error = invalid(contract_of(submit), (), {"job": data})
    assert sorted(error.paths) == ["kwargs.job.due", "kwargs.job.items[1].shipped_at"]
    assert all("naive" in v.problem for v in error.violations)


def test_naive_datetime_inside_a_model_instance_is_found() -> None:
    job = Job.model_validate(job_data())
    job.parent = Job.model_validate(job_data(due=NAIVE))
    assert invalid(contract_of(submit), (job,), {}).paths == ("args[0].parent.due",)


def test_recursive_model_deep_error() -> None:
    def walk(tree: Node) -> None:
        pass

    tree: dict[str, Any] = {"name": "leaf"}
    for depth in range(12):
        tree = {"name": f"n{depth}", "children": [{"name": "sibling"}, tree]}
    path: Any = tree
    for _ in range(12):
        path = path["children"][1]
    path["name"] = 42
    expected = "kwargs.tree" + ".children[1]" * 12 + ".name"
    assert invalid(contract_of(walk), (), {"tree": tree}).paths == (expected,)


def test_model_with_dict_of_submodels_quotes_odd_keys() -> None:
    def index(items: dict[str, LineItem]) -> None:
        pass

    error = invalid(contract_of(index), (), {"items": {"sku 1": {"sku": "x", "qty": 0, "unit_price": 1}}})
    assert error.paths == ('kwargs.items["sku 1"].qty',)


# -- binding ------------------------------------------------------------------------------------------------


def pair(a: int, b: int = 2) -> None:
    pass


def test_too_many_positionals() -> None:
    (violation,) = invalid(contract_of(pair), (1, 2, 3)).violations
    assert violation.path == "args[2]"
    assert "at most 2 positional" in violation.problem and "3 were given" in violation.problem


def test_unknown_keyword() -> None:
    (violation,) = invalid(contract_of(pair), (1,), {"c": 3}).violations
    assert violation.path == "kwargs.c"
    assert "not a parameter" in violation.problem
    assert "a, b" in violation.hint


def test_unknown_keyword_with_an_odd_name_is_quoted() -> None:
    assert invalid(contract_of(pair), (1,), {"x-y": 3}).paths == ('kwargs["x-y"]',)


def test_positional_only_passed_by_keyword() -> None:
    def only(a: int, /, b: int = 0) -> None:
        pass

    error = invalid(contract_of(only), (), {"a": 1})
    assert error.paths[0] == "kwargs.a"
    assert "positional-only" in error.violations[0].problem
    assert "kwargs.a" in error.paths[1:]  # and so it is missing


def test_positional_only_name_goes_to_var_keyword_like_python() -> None:
    def only(a: int, /, **extra: Any) -> None:
        pass

    assert contract_of(only).canonical((1,), {"a": 2}) == ((1,), {"a": 2})
    error = invalid(contract_of(only), (), {"a": 2})
    assert error.paths == ("kwargs.a",)
    assert "required" in error.violations[0].problem


def test_duplicate_positional_and_keyword() -> None:
    (violation,) = invalid(contract_of(pair), (1,), {"a": 1}).violations
    assert violation.path == "kwargs.a"
    assert "multiple values" in violation.problem


def test_missing_required() -> None:
    def needs(a: int, *, b: str, c: int = 0) -> None:
        pass

    error = invalid(contract_of(needs), (), {"c": 1})
    assert error.paths == ("kwargs.a", "kwargs.b")
    assert all("required but missing" in v.problem for v in error.violations)
    assert error.violations[0].hint == "a value of type int"


def test_all_binding_problems_are_reported_together() -> None:
    error = invalid(contract_of(pair), ("x", 2, 3), {"zz": 1})
    assert sorted(error.paths) == ["args[0]", "args[2]", "kwargs.zz"]


def test_non_str_keyword_is_rejected() -> None:
    def flexible(**extra: Any) -> None:
        pass

    error = invalid(contract_of(flexible), (), {1: "a"})  # type: ignore[dict-item]
    assert "not a parameter" in error.violations[0].problem


def step(a: int, b: int, c: int) -> None:
    pass


def test_a_pipeline_step_may_lack_exactly_the_parameter_its_result_fills() -> None:
    contract = contract_of(step)
    assert contract.canonical((1, 2), {}, awaiting_result=True) == ((), {"a": 1, "b": 2})
    assert invalid(contract, (1,), {}, awaiting_result=True).paths == ("kwargs.c",)
    assert invalid(contract, (1, 2), {}).paths == ("kwargs.c",)
    assert invalid(contract, (), {}, awaiting_result=True).paths == ("kwargs.b", "kwargs.c")


def test_a_pipeline_step_still_validates_what_was_given() -> None:
    assert invalid(contract_of(step), ("x", 2), {}, awaiting_result=True).paths == ("args[0]",)


@pytest.mark.parametrize(
    ("fn", "args", "kwargs"),
    [
        pytest.param("keyword_only", (), {}, id="keyword-only-missing"),
        pytest.param("full", (1,), {}, id="no-room-for-the-result"),
        pytest.param("named_first", (), {"a": 1}, id="result-would-duplicate-a"),
    ],
)
def test_a_pipeline_step_is_refused_when_the_appended_result_cannot_bind(
    fn: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    def keyword_only(*, user_id: int) -> None:
        pass

    def full(result: int) -> None:
        pass

    def named_first(a: int, b: int) -> None:
        pass

    target = {"keyword_only": keyword_only, "full": full, "named_first": named_first}[fn]
    with pytest.raises(TypeError):  # what Dramatiq's pipeline would do at run time
        inspect.signature(target).bind(*args, "result", **kwargs)
    invalid(contract_of(target), args, kwargs, awaiting_result=True)


def place(a: int, b: int, /, c: int, d: int = 4, *rest: int, e: int, f: str = "f", **extra: Any) -> None:
    pass


@pytest.mark.parametrize(
    ("args", "kwargs", "expected"),
    [
        pytest.param((1, 2, 3), {"e": 5}, ((1, 2), {"c": 3, "e": 5}), id="named-goes-to-kwargs"),
        pytest.param((1, 2), {"c": 3, "e": 5}, ((1, 2), {"c": 3, "e": 5}), id="already-named"),
        pytest.param((1, 2, 3, 4), {"e": 5}, ((1, 2), {"c": 3, "d": 4, "e": 5}), id="default-given"),
        pytest.param(
            (1, 2, 3, 4, 5, 6),
            {"e": 5, "z": 1},
            ((1, 2, 3, 4, 5, 6), {"e": 5, "z": 1}),
            id="var-args-pin-earlier-positionals",
        ),
        pytest.param(
            (1, 2),
            {"zz": 0, "f": "x", "e": 5, "c": 3},
            ((1, 2), {"c": 3, "e": 5, "f": "x", "zz": 0}),
            id="signature-order-then-extras",
        ),
        pytest.param(
            ("1", "2", "3", "4", "5"), {"e": "6"}, ((1, 2, 3, 4, 5), {"e": 6}), id="var-args-validated"
        ),
    ],
)
def test_canonical_placement(args: tuple[Any, ...], kwargs: dict[str, Any], expected: Any) -> None:
    out = contract_of(place).canonical(args, kwargs)
    assert out == expected
    assert list(out[1]) == list(expected[1])


def test_plain_positionals_all_become_keywords() -> None:
    def plain(a: int, b: str) -> None:
        pass

    assert contract_of(plain).canonical([1, "x"], {}) == ((), {"a": 1, "b": "x"})


def test_defaults_are_not_filled_in_nor_validated() -> None:
    def defaults(a: int, b: str = "x", c: Priority = Priority.LOW, d: int = None) -> None:  # type: ignore[assignment]  # noqa: RUF013
        pass

    assert contract_of(defaults).canonical((1,), {}) == ((), {"a": 1})


def test_typed_var_args_and_var_kwargs() -> None:
    def weigh(*values: int, **weights: float) -> None:
        pass

    contract = contract_of(weigh)
    assert_json_equal(contract.canonical(("1", 2), {"w": "0.5"}), ((1, 2), {"w": 0.5}))
    assert invalid(contract, ("1", "x"), {"w": "heavy"}).paths == ("args[1]", "kwargs.w")
    assert contract.canonical((), {}) == ((), {})


def test_only_var_positional() -> None:
    def star(*items: Any) -> None:
        pass

    assert contract_of(star).canonical((1, 2), {}) == ((1, 2), {})
    assert invalid(contract_of(star), (), {"items": 1}).paths == ("kwargs.items",)


def test_no_parameters() -> None:
    def nothing() -> None:
        pass

    assert contract_of(nothing).canonical((), {}) == ((), {})
    assert invalid(contract_of(nothing), (1,), {}).paths == ("args[0]",)
    assert invalid(contract_of(nothing), (), {"a": 1}).violations[0].hint == "only its parameters (none)"


def test_parameter_kinds_and_requirements() -> None:
    contract = contract_of(place)
    kinds = inspect.Parameter
    assert [(p.name, p.kind) for p in contract.parameters] == [
        ("a", kinds.POSITIONAL_ONLY),
        ("b", kinds.POSITIONAL_ONLY),
        ("c", kinds.POSITIONAL_OR_KEYWORD),
        ("d", kinds.POSITIONAL_OR_KEYWORD),
        ("rest", kinds.VAR_POSITIONAL),
        ("e", kinds.KEYWORD_ONLY),
        ("f", kinds.KEYWORD_ONLY),
        ("extra", kinds.VAR_KEYWORD),
    ]
    assert contract.required == ["a", "b", "c", "e"]


# -- annotations as strings and forward references ---------------------------------------------------------


def test_future_annotations_are_resolved() -> None:
    contract = contract_of(future.place_order)
    hints = {p.name: p.hint for p in contract.parameters}
    assert hints["order"] is future.Order
    assert hints["placed_at"] is dt.datetime
    assert contract.description == "Place an order (a forward-referenced model)."


def order_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"id": AN_ID, "lines": [{"sku": "a", "qty": 1, "price": "1.50"}]}
    data.update(overrides)
    return data


def test_future_annotations_forward_referenced_model() -> None:
    contract = contract_of(future.place_order)
    when = dt.datetime(2024, 1, 1, tzinfo=PLUS2)
    args, kwargs = contract.canonical((order_data(parent=order_data()),), {"placed_at": when})
    line = {"sku": "a", "qty": 1, "price": "1.50"}
    assert args == ()
    assert kwargs == {
        "order": {
            "id": str(AN_ID),
            "lines": [line],
            "parent": {"id": str(AN_ID), "lines": [line], "parent": None},
        },
        "placed_at": "2024-01-01T00:00:00+02:00",
    }
    bad = order_data(
        parent=order_data(lines=[{"sku": "a", "qty": 1, "price": "1"}, {"sku": "b", "qty": 0, "price": "x"}])
    )
    error = invalid(contract, (bad,), {"placed_at": NAIVE, "note": 5})
    assert error.paths == (
        "args[0].parent.lines[1].qty",
        "args[0].parent.lines[1].price",
        "kwargs.placed_at",
        "kwargs.note",
    )


def test_future_annotations_var_args_of_forward_models() -> None:
    contract = contract_of(future.tag_lines)
    line = {"sku": "a", "qty": "2", "price": 1}
    out = contract.canonical((str(AN_ID), line, line), {"mode": "remove"})
    assert out == (
        (str(AN_ID), {"sku": "a", "qty": 2, "price": "1"}, {"sku": "a", "qty": 2, "price": "1"}),
        {"mode": "remove"},
    )
    assert contract.canonical((AN_ID,), {}) == ((str(AN_ID),), {})
    assert invalid(contract, (AN_ID, line, {"sku": "a"}), {"mode": "x"}).paths == (
        "args[2].qty",
        "args[2].price",
        "kwargs.mode",
    )


def test_quoted_annotation_in_a_future_module() -> None:
    contract = contract_of(future.quoted)
    assert contract.canonical(("1.50",), {}) == ((), {"price": "1.50"})
    assert invalid(contract, ("1.50", 0), {}).paths == ("args[1]",)


def test_string_annotation_and_forward_reference_in_a_plain_module() -> None:
    def by_name(item: "LineItem", later: "Later") -> None:
        pass

    contract = contract_of(by_name)
    out = contract.canonical(({"sku": "a", "qty": 1, "unit_price": 2},), {"later": {"n": "3"}})
    assert out == (
        (),
        {"item": {"sku": "a", "qty": 1, "unit_price": "2", "shipped_at": None}, "later": {"n": 3}},
    )


class Later(BaseModel):
    n: int


def test_unresolvable_annotation_names_the_actor() -> None:
    def broken(x: "NoSuchModel") -> None:  # type: ignore[name-defined]  # noqa: F821
        pass

    with pytest.raises(TypeError, match=r"broken.*NoSuchModel"):
        ActorContract.from_function(broken, "broken")


def test_hint_pydantic_cannot_validate_names_the_actor_and_parameter() -> None:
    def weird(ok: int, thing: Opaque) -> None:
        pass

    with pytest.raises(TypeError, match=r"'weird'.*'thing'"):
        ActorContract.from_function(weird, "weird")


# -- contracts of declared actors --------------------------------------------------------------------------


def test_from_actor_plain_function(stub_broker: StubBroker, gateway: PayloadGateway) -> None:
    @dramatiq.actor(queue_name="emails", max_retries=0)
    def send_email(to: str, subject: str, *, urgent: bool = False) -> None:
        """Send one email."""

    contract = ActorContract.from_actor(send_email)
    assert (contract.actor_name, contract.queue_name) == ("send_email", "emails")
    assert [(p.name, p.hint) for p in contract.parameters] == [
        ("to", str),
        ("subject", str),
        ("urgent", bool),
    ]
    assert contract.description == "Send one email."
    assert contract.canonical(("a@b.c", "hi"), {"urgent": "yes"}) == (
        (),
        {"to": "a@b.c", "subject": "hi", "urgent": True},
    )
    assert gateway.contracts["send_email"].parameters == contract.parameters


def test_from_actor_with_a_custom_name(stub_broker: StubBroker) -> None:
    @dramatiq.actor(actor_name="billing.charge")
    def charge(amount: Decimal) -> None:
        pass

    contract = ActorContract.from_actor(charge)
    assert contract.actor_name == "billing.charge"
    assert invalid(contract, ("lots",)).actor_name == "billing.charge"


def test_from_actor_async(stub_broker: StubBroker) -> None:
    @dramatiq.actor
    async def fetch(url: str, /, retries: Annotated[int, Field(ge=0)] = 3) -> None:
        pass

    fn = actor_function(fetch)
    assert inspect.iscoroutinefunction(fn)
    contract = ActorContract.from_actor(fetch)
    kinds = inspect.Parameter
    assert [(p.name, p.kind) for p in contract.parameters] == [
        ("url", kinds.POSITIONAL_ONLY),
        ("retries", kinds.POSITIONAL_OR_KEYWORD),
    ]
    assert contract.canonical(("http://x", "2"), {}) == (("http://x",), {"retries": 2})
    assert invalid(contract, ("http://x",), {"retries": -1}).paths == ("kwargs.retries",)


def test_from_actor_generic_actor(stub_broker: StubBroker) -> None:
    class Resize(dramatiq.GenericActor):
        """Resize an image."""

        class Meta:
            queue_name = "images"

        def perform(self, path: str, *sizes: int, quality: Annotated[int, Field(le=100)] = 90) -> None:
            pass

    contract = ActorContract.from_actor(Resize)
    assert (contract.actor_name, contract.queue_name) == ("Resize", "images")
    assert [p.name for p in contract.parameters] == ["path", "sizes", "quality"]
    assert contract.canonical(("a.png", "64", 128), {"quality": "80"}) == (
        ("a.png", 64, 128),
        {"quality": 80},
    )
    assert contract.canonical(("a.png",), {}) == ((), {"path": "a.png"})
    assert invalid(contract, ("a.png", "big"), {"quality": 101}).paths == ("args[1]", "kwargs.quality")


def test_from_actor_sees_through_functools_wraps(stub_broker: StubBroker) -> None:
    def logged(fn: Any) -> Any:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return fn(*args, **kwargs)

        return wrapper

    @dramatiq.actor
    @logged
    def resize(path: str, width: int) -> None:
        pass

    contract = ActorContract.from_actor(resize)
    assert [p.name for p in contract.parameters] == ["path", "width"]
    assert invalid(contract, ("a.png", "wide")).paths == ("args[1]",)


def test_from_actor_without_the_gateway() -> None:
    broker = StubBroker()
    try:

        @dramatiq.actor(broker=broker, queue_name="plain")
        def untouched(n: int, /, *, label: str = "") -> None:
            pass

        contract = ActorContract.from_actor(untouched)
        assert contract.queue_name == "plain"
        assert contract.canonical(("5",), {"label": "x"}) == ((5,), {"label": "x"})
    finally:
        broker.close()


# -- property tests ----------------------------------------------------------------------------------------

json_text = st.text(st.characters(codec="utf-8"), max_size=20)
_ONE: dict[str, ActorContract] = {}


@pytest.mark.slow
@PROPERTY
@pytest.mark.parametrize(
    ("hint", "values"),
    [
        (int, st.integers()),
        (float, st.floats(allow_nan=False, allow_infinity=False)),
        (str, json_text),
        (bool, st.booleans()),
        (int | None, st.none() | st.integers()),
        (list[int], st.lists(st.integers(), max_size=5)),
        (
            dict[str, float],
            st.dictionaries(json_text, st.floats(allow_nan=False, allow_infinity=False), max_size=4),
        ),
        (
            Any,
            st.recursive(
                st.none() | st.integers() | json_text, lambda x: st.lists(x, max_size=3), max_leaves=8
            ),
        ),
    ],
    ids=["int", "float", "str", "bool", "optional-int", "list-int", "dict-str-float", "any"],
)
@given(data=st.data())
def test_property_exact_json_values_round_trip_unchanged(hint: Any, values: Any, data: st.DataObject) -> None:
    if repr(hint) not in _ONE:  # one contract per hint, not one per example
        _ONE[repr(hint)] = one(hint)
    contract = _ONE[repr(hint)]
    value = data.draw(values)
    assert_json_equal(canonical_x(contract, value), value)


offsets = st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59).map(
    lambda minutes: dt.timezone(dt.timedelta(minutes=minutes))
)
DATETIME = one(dt.datetime)


@PROPERTY
@given(st.datetimes(timezones=st.just(UTC) | offsets))
def test_property_aware_datetime_round_trip(value: dt.datetime) -> None:
    out = canonical_x(DATETIME, value)
    assert validate_rfc3339(out), out
    again = dt.datetime.fromisoformat(out)
    assert again == value and again.utcoffset() == value.utcoffset()
    assert canonical_x(DATETIME, out) == out


@PROPERTY
@given(st.datetimes())
def test_property_naive_datetime_is_always_rejected(value: dt.datetime) -> None:
    assert invalid(DATETIME, (), {"x": value}).paths == ("kwargs.x",)
    assert invalid(DATETIME, (), {"x": value.isoformat()}).paths == ("kwargs.x",)


SCALARS = {kind: one(kind) for kind in (UUID, Decimal, bytes, dt.date)}


@pytest.mark.slow
@PROPERTY
@given(st.uuids(), st.decimals(allow_nan=False, allow_infinity=False), st.binary(max_size=64), st.dates())
def test_property_text_forms_round_trip(uuid_value: UUID, number: Decimal, blob: bytes, day: dt.date) -> None:
    assert canonical_x(SCALARS[UUID], uuid_value) == str(uuid_value)
    text = canonical_x(SCALARS[Decimal], number)
    assert type(text) is str and Decimal(text) == number
    assert canonical_x(SCALARS[Decimal], text) == text
    encoded = canonical_x(SCALARS[bytes], blob)
    assert base64.urlsafe_b64decode(encoded.replace("+", "-").replace("/", "_")) == blob
    assert canonical_x(SCALARS[bytes], encoded) == encoded
    assert canonical_x(SCALARS[dt.date], day) == day.isoformat()


line_items = st.fixed_dictionaries(
    {
        "sku": json_text,
        "qty": st.integers(min_value=1, max_value=10**9),
        "unit_price": st.decimals(
            allow_nan=False, allow_infinity=False, places=2, max_value=10**6, min_value=0
        ),
    },
    optional={"shipped_at": st.none() | st.datetimes(timezones=st.just(UTC) | offsets)},
)
jobs = st.fixed_dictionaries(
    {
        "customer": st.fixed_dictionaries(
            {"id": st.uuids(), "name": json_text}, optional={"tags": st.lists(json_text, max_size=3)}
        ),
        "items": st.lists(line_items, min_size=1, max_size=6),
        "due": st.datetimes(timezones=st.just(UTC) | offsets),
    },
    optional={"notes": st.dictionaries(json_text, json_text, max_size=3)},
)
SUBMIT = contract_of(submit)


@pytest.mark.slow
@PROPERTY
@given(jobs)
def test_property_model_json_form_is_strict_stable_and_equivalent(job: dict[str, Any]) -> None:
    _, kwargs = SUBMIT.canonical((job,), {})
    assert find_violations(kwargs) == []
    assert SUBMIT.canonical((), kwargs) == ((), kwargs)
    assert Job.model_validate(kwargs["job"]) == Job.model_validate(job)


@pytest.mark.slow
@PROPERTY
@given(jobs, st.data())
def test_property_one_bad_quantity_is_found_at_its_index(job: dict[str, Any], data: st.DataObject) -> None:
    index = data.draw(st.integers(min_value=0, max_value=len(job["items"]) - 1))
    job["items"][index] = {**job["items"][index], "qty": data.draw(st.integers(max_value=0))}
    assert invalid(SUBMIT, (), {"job": job}).paths == (f"kwargs.job.items[{index}].qty",)
    assert invalid(SUBMIT, (job,), {}).paths == (f"args[0].items[{index}].qty",)


PAIR = contract_of(pair)


@PROPERTY
@given(
    st.dictionaries(json_text.filter(lambda k: k not in ("a", "b")), st.integers(), min_size=1, max_size=4)
)
def test_property_unknown_keywords_always_raise(unknown: dict[str, int]) -> None:
    error = invalid(PAIR, (1,), unknown)
    assert set(error.paths) == {render_path(("kwargs", key)) for key in unknown}
    assert all("not a parameter" in v.problem for v in error.violations)


def mixed(a, b, /, c, d=4, *rest, e, f="f", **extra):  # type: ignore[no-untyped-def]
    pass


def no_var(a, /, b, c=3, *, d, e=5):  # type: ignore[no-untyped-def]
    pass


def simple(x, y=2):  # type: ignore[no-untyped-def]
    pass


def anything(*args, **kwargs):  # type: ignore[no-untyped-def]
    pass


def plain_kw(a, b=2, *, c, d=4):  # type: ignore[no-untyped-def]
    pass


SIGNATURES = [mixed, no_var, simple, plain_kw, anything]
names = st.sampled_from(["a", "b", "c", "d", "e", "f", "x", "y", "rest", "extra", "args", "kwargs", "zz"])


@PROPERTY
@given(
    st.sampled_from(SIGNATURES),
    st.lists(st.integers(), max_size=7),
    st.dictionaries(names, st.integers(), max_size=5),
)
def test_property_binding_follows_python(fn: Any, args: list[int], kwargs: dict[str, int]) -> None:
    signature = inspect.signature(fn)
    contract = contract_of(fn)
    try:
        expected = signature.bind(*args, **kwargs)
    except TypeError:
        invalid(contract, tuple(args), kwargs)
        return
    out_args, out_kwargs = contract.canonical(args, kwargs)
    assert signature.bind(*out_args, **out_kwargs).arguments == expected.arguments
    # args keeps only what cannot be named
    positional = [
        p for p in signature.parameters.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    has_var_values = len(args) > len(positional)
    if not has_var_values:
        named = [p.name for p in positional[: len(out_args)]]
        assert all(signature.parameters[name].kind is inspect.Parameter.POSITIONAL_ONLY for name in named)
    # kwargs in signature order, then the extras
    order = list(signature.parameters)
    nameable = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    keys = list(out_kwargs)
    named = [k for k in keys if k in signature.parameters and signature.parameters[k].kind in nameable]
    assert keys[: len(named)] == sorted(named, key=order.index)


def plain_typed(a: int, b: str = "b", *, c: float, d: Priority = Priority.LOW) -> None:
    pass


def general_typed(a: int, b: str = "b", *, c: float, d: Priority = Priority.LOW, **_unused: Any) -> None:
    pass


PLAIN_TYPED = contract_of(plain_typed)
GENERAL_TYPED = contract_of(general_typed)
loose_values = st.one_of(
    st.integers(-5, 5),
    st.sampled_from(["1", "2.5", "x", "", "b", True, None, 1.5, Priority.HIGH, Color.RED]),
    st.floats(allow_nan=False, allow_infinity=False),
)


def outcome(contract: ActorContract, args: list[Any], kwargs: dict[str, Any]) -> Any:
    try:
        return typed(contract.canonical(args, kwargs))
    except PayloadInvalid as error:
        return error.paths


@PROPERTY
@given(
    st.lists(loose_values, max_size=3),
    st.dictionaries(st.sampled_from(["a", "b", "c", "d"]), loose_values, max_size=4),
)
def test_property_plain_signatures_bind_like_general_ones(args: list[Any], kwargs: dict[str, Any]) -> None:
    """A signature without /, *args or **kwargs (which has a faster binder) gives the same outcome."""
    assert outcome(PLAIN_TYPED, args, kwargs) == outcome(GENERAL_TYPED, args, kwargs)


@PROPERTY
@given(
    st.sampled_from(SIGNATURES),
    st.lists(st.integers(), max_size=6),
    st.dictionaries(names, st.integers(), max_size=5),
)
def test_property_a_pipeline_step_is_accepted_exactly_when_the_appended_result_binds(
    fn: Any, args: list[int], kwargs: dict[str, int]
) -> None:
    try:
        inspect.signature(fn).bind(*args, "result", **kwargs)
    except TypeError:
        binds = False
    else:
        binds = True
    try:
        contract_of(fn).canonical(args, kwargs, awaiting_result=True)
    except PayloadInvalid:
        accepted = False
    else:
        accepted = True
    assert accepted == binds


def test_typed_helper_tells_json_types_apart() -> None:
    # The exactness assertions above rely on it.
    assert typed([1]) != typed((1,))
    assert typed({"a": 1}) != typed(collections.OrderedDict(a=1))
    assert typed(1) != typed(1.0)
    assert typed(1) != typed(True)


# -- issue 9, "Why" 1: nothing accepted at send is lost or changed on the worker -------------------------
#
# The hint corpus (test_hint_corpus.py) holds the round-trip law for every supported hint and the
# declare-time refusals; these are the issue's own examples, one test each, with the exact paths.


LETTERED_ID = UUID("abcdef01-abcd-4bcd-8bcd-abcdefabcdef")


@dataclasses.dataclass
class Carrier:
    label: str
    meta: Any = None


@dataclasses.dataclass
class Inner:
    n: int


class LooseTD(TypedDict):
    name: str
    value: Any


class OpenModel(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str


class Priced(BaseModel):
    price: float
    label: str = ""


class Basket(BaseModel):
    prices: list[float]
    at: dt.datetime


class AliasModel(BaseModel):
    user_id: int = Field(alias="userId")


class Lowercased(BaseModel):
    email: Annotated[str, AfterValidator(str.lower)]


@pytest.mark.parametrize(
    ("hint", "value", "path", "words"),
    [
        pytest.param(Carrier, Carrier("a", math.nan), "kwargs.x.meta", "NaN", id="dataclass-any-nan"),
        pytest.param(Carrier, Carrier("a", {1, 2}), "kwargs.x.meta", "set", id="dataclass-any-set"),
        pytest.param(Carrier, Carrier("a", {1: "b"}), "kwargs.x.meta", "1", id="dataclass-any-int-key"),
        pytest.param(Carrier, Carrier("a", Inner(1)), "kwargs.x.meta", "Inner", id="dataclass-any-dataclass"),
        pytest.param(
            LooseTD, {"name": "a", "value": math.nan}, "kwargs.x.value", "NaN", id="typeddict-any-nan"
        ),
        pytest.param(LooseTD, {"name": "a", "value": {3}}, "kwargs.x.value", "set", id="typeddict-any-set"),
        pytest.param(
            OpenModel, OpenModel(name="a", extra=math.inf), "kwargs.x.extra", "inf", id="extra-allow-inf"
        ),
        pytest.param(
            OpenModel, OpenModel(name="a", tags={"t"}), "kwargs.x.tags", "set", id="extra-allow-set"
        ),
        pytest.param(list[float], [1.0, math.nan], "kwargs.x[1]", "NaN", id="list-float-nan"),
        pytest.param(dict[str, float], {"k": math.nan}, "kwargs.x.k", "NaN", id="dict-float-nan"),
        pytest.param(Priced, Priced(price=math.inf), "kwargs.x.price", "inf", id="model-float-inf"),
        pytest.param(
            list[Priced],
            [Priced(price=1.0), Priced(price=-math.inf)],
            "kwargs.x[1].price",
            "inf",
            id="models-float",
        ),
        pytest.param(
            Basket,
            Basket(prices=[2.0, math.nan], at=dt.datetime(2024, 1, 1)),
            None,
            "",
            id="model-nan-and-naive",
        ),
        pytest.param(dict[float, int], {math.inf: 1}, "kwargs.x", "inf", id="float-key-inf"),
    ],
)
def test_any_positions_and_floats_are_held_to_strict_json_with_the_path(
    stub_broker: StubBroker, hint: Any, value: Any, path: str | None, words: str
) -> None:
    """Before: NaN became null, a set a list, int keys strings, a nested dataclass a dict, silently."""

    def holder(x: hint) -> None:  # type: ignore[valid-type]
        pass

    actor = dramatiq.actor(holder, actor_name="holder")
    with pytest.raises(PayloadRejected) as caught:
        actor.send(x=value)
    if path is None:  # every problem, each at its own path
        assert [v.path for v in caught.value.violations] == ["kwargs.x.prices[1]", "kwargs.x.at"]
        return
    assert [v.path for v in caught.value.violations] == [path]
    assert words in caught.value.violations[0].problem


def test_an_aliased_field_is_stored_by_its_alias_and_runs_on_the_worker(
    stub_broker: StubBroker, stub_worker: dramatiq.Worker
) -> None:
    """Before: stored as {"user_id": 3}; the schema and the worker require userId, so it was dead-lettered."""
    received: list[AliasModel] = []

    @dramatiq.actor(actor_name="aliased")
    def aliased(x: AliasModel) -> None:
        received.append(x)

    message = aliased.send(x=AliasModel(userId=3))
    assert message.kwargs == {"x": {"userId": 3}}
    stub_broker.join("default")
    stub_worker.join()
    assert received == [AliasModel(userId=3)]


@pytest.mark.parametrize(
    ("hint", "value", "keys"),
    [
        pytest.param(dict[int, str], {1: "a", "01": "b"}, "1 and '01'", id="int"),
        pytest.param(dict[float, int], {1.0: 1, "1": 2}, "1.0 and '1'", id="float"),
        pytest.param(dict[bool, int], {True: 1, "true": 2}, "True and 'true'", id="bool"),
        pytest.param(dict[Decimal, int], {Decimal("1"): 1, "1.0": 2}, "Decimal('1') and '1.0'", id="decimal"),
        pytest.param(
            dict[dt.datetime, int],
            {dt.datetime(2024, 1, 1, tzinfo=UTC): 1, "2024-01-01T02:00:00+02:00": 2},
            "'2024-01-01T02:00:00+02:00'",
            id="datetime",
        ),
        pytest.param(list[dict[int, str]], [{}, {2: "a", "+2": "b"}], "2 and '+2'", id="nested"),
    ],
)
def test_dict_keys_that_collide_once_converted_are_refused_on_send(hint: Any, value: Any, keys: str) -> None:
    """Before: pydantic kept one of the two entries and the other was dropped without a word."""
    error = invalid(one(hint), (), {"x": value})
    (violation,) = error.violations
    assert violation.path == ("kwargs.x[1]" if isinstance(value, list) else "kwargs.x")
    assert keys in violation.problem and "same" in violation.problem


@pytest.mark.parametrize(
    ("hint", "arrived"),
    [
        pytest.param(dict[float, int], {"1": 1, "1.0": 2}, id="float"),
        pytest.param(dict[Decimal, int], {"1": 1, "1.00": 2}, id="decimal"),
        pytest.param(dict[UUID, int], {str(LETTERED_ID): 1, str(LETTERED_ID).upper(): 2}, id="uuid"),
    ],
)
def test_dict_keys_that_collide_are_refused_on_the_worker(
    stub_broker: StubBroker, stub_worker: dramatiq.Worker, hint: Any, arrived: dict[str, int]
) -> None:
    """A producer that bypasses the gateway: the worker names both keys instead of dropping one entry."""
    from actorschema.consume.deadletters import dead_letter_reasons

    ran: list[Any] = []

    def keyed(x: hint) -> None:  # type: ignore[valid-type]
        ran.append(x)

    dramatiq.actor(keyed, actor_name="keyed")
    body = {
        "queue_name": "default",
        "actor_name": "keyed",
        "args": [],
        "kwargs": {"x": arrived},
        "options": {},
        "message_id": str(AN_ID),
        "message_timestamp": 1,
    }
    stub_broker.queues["default"].put(json.dumps(body).encode())
    stub_broker.join("default", fail_fast=False)
    stub_worker.join()
    assert ran == []
    (reason,) = dead_letter_reasons(stub_broker, "default").values()
    (violation,) = reason["violations"]
    assert violation["path"] == "kwargs.x"
    first, second = arrived
    assert repr(first) in violation["problem"] and repr(second) in violation["problem"]


def test_a_transforming_validator_must_be_idempotent_and_then_round_trips(
    stub_broker: StubBroker, stub_worker: dramatiq.Worker
) -> None:
    """Validators run on send and again on the worker: the stored form re-validates to the same value."""
    received: list[Lowercased] = []

    @dramatiq.actor(actor_name="lowered")
    def lowered(x: Lowercased) -> None:
        received.append(x)

    message = lowered.send(x=Lowercased(email="Ada@Example.COM"))
    assert message.kwargs == {"x": {"email": "ada@example.com"}}
    stub_broker.join("default")
    stub_worker.join()
    assert received == [Lowercased(email="ada@example.com")]
    assert one(Lowercased).canonical((), {"x": received[0]})[1] == message.kwargs


@pytest.mark.parametrize(
    ("hint", "words"),
    [
        pytest.param(pydantic.SecretStr, "the mask", id="secret-str"),
        pytest.param(Annotated[int, pydantic.PlainSerializer(str)], "PlainSerializer", id="plain-serializer"),
        pytest.param(dict[tuple[int, int], str], "do not survive as JSON object keys", id="tuple-keys"),
        pytest.param(dict[Literal[1, 2], str], "an IntEnum", id="literal-int-keys"),
    ],
)
def test_what_cannot_round_trip_is_refused_when_declared_with_actor_parameter_and_way_out(
    hint: Any, words: str
) -> None:
    with pytest.raises(TypeError) as caught:
        one(hint)
    reason = str(caught.value)
    assert reason.startswith("actor 'actor': parameter 'x' (")
    assert words in reason and "; declare " in reason


NUMBER_KEY_TEXTS = st.sampled_from(["1", "01", "+1", "1.0", "1e0", "2", "02", "-0", "0", " 3", "3"])


@pytest.mark.slow
@PROPERTY
@given(
    hint=st.sampled_from([dict[int, str], dict[float, str], dict[Decimal, str], dict[bool, str]]),
    arrived=st.dictionaries(
        NUMBER_KEY_TEXTS | st.sampled_from(["true", "false", "yes"]), st.text(max_size=2)
    ),
)
def test_the_worker_never_drops_an_entry(hint: Any, arrived: dict[str, str]) -> None:
    """Whatever key texts arrive, the worker refuses them or delivers one entry per key."""
    from actorschema.consume.arguments import InboundContract

    inbound = InboundContract(one(hint))
    try:
        _, kwargs = inbound.check((), {"x": arrived})
    except PayloadInvalid as error:
        assert all(v.path.startswith("kwargs.x") for v in error.violations)
    else:
        assert len(kwargs["x"]) == len(arrived)


@PROPERTY
@given(sent=st.dictionaries(st.integers(-3, 3) | NUMBER_KEY_TEXTS, st.text(max_size=2)))
def test_send_never_drops_an_entry(sent: dict[Any, str]) -> None:
    """Keys sent as ints and as texts: refused with both keys named, or stored one entry per key."""
    contract = one(dict[int, str])
    try:
        _, kwargs = contract.canonical((), {"x": sent})
    except PayloadInvalid as error:
        assert all(v.path == "kwargs.x" for v in error.violations)
    else:
        assert len(kwargs["x"]) == len(sent)


@dataclasses.dataclass
class Unreadable:
    later: "NotDefinedAnywhere | None" = None  # type: ignore[name-defined]  # noqa: F821


def test_a_type_whose_inner_hints_cannot_be_read_is_refused_not_waved_through() -> None:
    with pytest.raises(TypeError, match=r"parameter 'x' .*cannot read the types inside it: NameError"):
        one(Unreadable)


class Twin(BaseModel):
    x: int


class OtherTwin(BaseModel):
    x: int


def test_a_union_member_that_would_arrive_as_another_is_refused_on_send() -> None:
    """``A | B`` with the same fields: B's JSON form is also A's, and the worker would build an A."""
    contract = one(Twin | OtherTwin)
    assert contract.canonical((), {"x": Twin(x=1)})[1] == {"x": {"x": 1}}
    error = invalid(contract, (), {"x": OtherTwin(x=1)})
    (violation,) = error.violations
    assert violation.path == "kwargs.x"
    assert "would arrive on the worker as Twin(x=1)" in violation.problem
    assert "discriminat" in violation.hint

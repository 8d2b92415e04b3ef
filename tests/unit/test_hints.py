"""What a type hint means on the wire (actorschema.hints), through the actor contract that applies it.

Every kind of hint a Dramatiq user writes is checked both ways: a valid value
comes back as its JSON form (of exact JSON types, strict JSON, and stable when
fed back in), an invalid one raises ``PayloadInvalid`` naming the exact path,
whether the argument was passed by position (``args[0]...``) or by name
(``kwargs.x...``); and what the JSON form would hide or change is refused.

No ``from __future__ import annotations`` here on purpose: ``one(hint)``
relies on annotations being evaluated.
"""

import base64
import collections
import dataclasses
import datetime as dt
import json
import math
import typing
from decimal import Decimal
from typing import Annotated, Any, Literal, Optional, Union
from uuid import UUID

import dramatiq
import pydantic
import pytest
from dramatiq.brokers.stub import StubBroker
from helpers.contracts import (
    AN_ID,
    MINUS0530,
    NAIVE,
    PLUS2,
    PROPERTY,
    UTC,
    Customer,
    Event,
    Holder,
    Job,
    LineItem,
    Node,
    Stamp,
    Strict,
    Visit,
    WithAny,
    assert_json_equal,
    canonical_x,
    contract_of,
    invalid,
    json_text,
    one,
    typed,
)
from helpers.hint_corpus import Color, Priority, Shape
from hypothesis import given
from hypothesis import strategies as st
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from rfc3339_validator import validate_rfc3339
from typing_extensions import TypedDict

from actorschema import PayloadGateway
from actorschema.contract import ActorContract
from actorschema.encoder import encode_json
from actorschema.errors import PayloadInvalid, PayloadRejected
from actorschema.limits import SizeLimit
from actorschema.schema import message_schema
from actorschema.strict_json import find_violations

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


# -- property tests ----------------------------------------------------------------------------------------

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


def test_the_issues_timedeltas_are_stored_in_a_form_the_schema_and_the_worker_read(
    stub_broker: StubBroker, stub_worker: dramatiq.Worker, gateway: PayloadGateway
) -> None:
    """Before: stored as PT1.5S, -PT1S and P1Y35D, which the worker's duration format refused (dead-lettered)."""
    from jsonschema import Draft202012Validator

    received: list[dt.timedelta] = []

    @dramatiq.actor(actor_name="waits")
    def waits(x: dt.timedelta) -> None:
        received.append(x)

    sent = [dt.timedelta(seconds=1.5), dt.timedelta(seconds=-1), dt.timedelta(days=400)]
    schema = message_schema(gateway.contracts["waits"], SizeLimit(None, "global"))
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    for value in sent:
        message = waits.send(x=value)
        stored = json.loads(encode_json(message.asdict()))
        assert not list(validator.iter_errors(stored)), stored["kwargs"]
    stub_broker.join("default")
    stub_worker.join()
    assert sorted(received) == sorted(sent) and stub_broker.dead_letters == []


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


# -- sets: one order on the wire -------------------------------------------------------------------


class Tagged(BaseModel):
    kind: Literal["tagged"] = "tagged"
    tags: frozenset[str]
    groups: list[set[int]] = []


class Other(BaseModel):
    kind: Literal["other"] = "other"
    tags: list[str]


SET_HINTS = [
    (frozenset[str], st.frozensets(st.text(max_size=6), max_size=8)),
    (set[int], st.sets(st.integers(-(2**40), 2**40), max_size=8)),
    (
        dict[str, set[str]],
        st.dictionaries(st.text(max_size=3), st.sets(st.text(max_size=4), max_size=5), max_size=3),
    ),
    (set[UUID] | None, st.none() | st.sets(st.uuids(), max_size=4)),
    (
        Tagged,
        st.builds(Tagged, tags=st.frozensets(st.text(max_size=4)), groups=st.lists(st.sets(st.integers()))),
    ),
    (
        Annotated[Tagged | Other, Field(discriminator="kind")],
        st.builds(Tagged, tags=st.frozensets(st.text(max_size=4)))
        | st.builds(Other, tags=st.lists(st.text())),
    ),
]


@pytest.mark.parametrize(("hint", "values"), SET_HINTS, ids=[str(i) for i in range(len(SET_HINTS))])
def test_equal_sets_are_stored_as_equal_bytes_in_the_order_of_their_items_json_text(
    hint: Any, values: Any
) -> None:
    contract = one(hint)

    @given(values)
    def law(value: Any) -> None:
        wire = canonical_x(contract, value)
        # The same value rebuilt with its sets filled in another order stores the same bytes.
        again = canonical_x(contract, _sets_reversed(value))
        assert encode_json(again) == encode_json(wire)
        for found in _sets_in(wire, hint):
            assert found == sorted(found, key=encode_json)

    law()


def test_a_list_beside_a_set_in_an_untagged_union_keeps_its_order() -> None:
    contract = one(list[str] | set[int])
    assert canonical_x(contract, ["b", "a", "c"]) == ["b", "a", "c"]
    assert canonical_x(contract, {3, 1, 2}) in (
        [1, 2, 3],
        [3, 1, 2],
        [1, 3, 2],
        [2, 1, 3],
        [2, 3, 1],
        [3, 2, 1],
    )
    tagged = one(Annotated[Tagged | Other, Field(discriminator="kind")])
    assert canonical_x(tagged, Other(tags=["z", "a"]))["tags"] == ["z", "a"]  # a list: never sorted


def test_the_set_order_does_not_depend_on_the_process_hash_seed() -> None:
    import os
    import subprocess
    import sys

    code = (
        "from helpers.contracts import one\n"
        "from actorschema.encoder import encode_json\n"
        "contract = one(frozenset[str])\n"
        "print(encode_json(contract.canonical((frozenset('abcdefghijklmnop'),), {})[1]['x']).decode())\n"
    )
    tests = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    outputs = set()
    for seed in ("1", "2", "3"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [tests, env.get("PYTHONPATH", "")]))
        result = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stderr
        outputs.add(result.stdout)
    assert outputs == {json.dumps(sorted("abcdefghijklmnop"), separators=(",", ":")) + "\n"}


def _sets_reversed(value: Any) -> Any:
    """``value`` with every set rebuilt from its items in reverse order (another iteration order, often)."""
    if isinstance(value, frozenset | set):
        items = [_sets_reversed(item) for item in reversed(sorted(value, key=repr))]
        rebuilt = type(value)()
        if isinstance(rebuilt, set):
            for item in items:
                rebuilt.add(item)
            return rebuilt
        return frozenset(items)
    if isinstance(value, dict):
        return {key: _sets_reversed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_sets_reversed(item) for item in value]
    if isinstance(value, BaseModel):
        return type(value).model_validate(
            {k: _sets_reversed(getattr(value, k)) for k in type(value).model_fields}
        )
    return value


def _sets_in(wire: Any, hint: Any) -> list[list[Any]]:
    """The JSON lists that hold sets, for the hints of SET_HINTS."""
    if hint in (frozenset[str], set[int]):
        return [wire]
    if hint == dict[str, set[str]]:
        return list(wire.values())
    if hint == set[UUID] | None:
        return [] if wire is None else [wire]
    if isinstance(wire, dict) and wire.get("kind") == "tagged":
        return [wire["tags"], *wire.get("groups", [])]
    return []

"""Decimal and float ``multiple_of``: send, schema and worker agree, on every pydantic version.

pydantic's own ``Decimal`` schema changes between releases (no pattern on 2.6 and 2.14, a
digits-only pattern on 2.10 to 2.13) and never states ``max_digits`` / ``decimal_places``;
its float ``multiple_of`` check has a tolerance that JSON Schema validators do not. These
tests pin the schema actorschema writes instead, and check it against pydantic (the worker's
converter), ``jsonschema``, jsonschema-rs (the worker's fast engine) and ajv.
"""

from __future__ import annotations

import decimal
import json
import math
import re
import time
import typing
from decimal import Decimal
from typing import Annotated, Any

import dramatiq
import jsonschema_rs
import pytest
from dramatiq import Worker
from dramatiq.brokers.stub import StubBroker
from helpers.node import run_ajv
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from actorschema import PayloadRejected
from actorschema.consume.arguments import InboundContract
from actorschema.contract import ActorContract
from actorschema.errors import PayloadInvalid
from actorschema.limits import SizeLimit
from actorschema.numbers import DECIMAL_PATTERN, SchemaGenerator, decimal_pattern
from actorschema.ranges import DECIMAL_FORM, SPECIAL_FORMS
from actorschema.schema import message_schema

FORMATS = Draft202012Validator.FORMAT_CHECKER

Money = Annotated[Decimal, Field(max_digits=5, decimal_places=2)]
Tenths = Annotated[float, Field(multiple_of=0.1)]


def money(amount: Money) -> None:
    """A bounded Decimal."""


def plain(amount: Decimal) -> None:
    """An unconstrained Decimal."""


def positive(amount: Annotated[Decimal, Field(gt=0)]) -> None:
    """A Decimal above zero."""


def tenths(step: Tenths) -> None:
    """A float in tenths."""


class Reading(BaseModel):
    value: Tenths


def reading(readings: list[Reading]) -> None:
    """Floats with multiple_of inside a model."""


def contract_of(fn: Any) -> ActorContract:
    return ActorContract.from_function(fn, fn.__name__)


def schema_of(fn: Any) -> dict[str, Any]:
    return message_schema(contract_of(fn), SizeLimit(None, "global"))


def message(fn: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    return {
        "queue_name": "default",
        "actor_name": fn.__name__,
        "args": [],
        "kwargs": kwargs,
        "options": {},
        "message_id": "7f1d6a3e-9c2b-4b8e-a7d5-3c1e2f4a5b6c",
        "message_timestamp": 1,
    }


def worker_accepts(fn: Any, kwargs: dict[str, Any]) -> bool:
    try:
        InboundContract(contract_of(fn)).check((), kwargs)
    except PayloadInvalid:
        return False
    return True


# -- the Decimal schema is ours, the same on every pydantic version --------------------------------


def test_the_decimal_schema_is_written_by_actorschema() -> None:
    """Literal, so that any pydantic release that changes it fails here, not in the committed schemas."""
    assert TypeAdapter(Decimal).json_schema(schema_generator=SchemaGenerator) == {
        "anyOf": [{"type": "number"}, {"type": "string", "pattern": DECIMAL_PATTERN}]
    }
    bounded = TypeAdapter(Money).json_schema(schema_generator=SchemaGenerator)
    assert bounded == {
        "anyOf": [
            {"type": "integer", "exclusiveMaximum": 1000, "exclusiveMinimum": -1000},
            {"type": "string", "pattern": decimal_pattern(5, 2)},
        ]
    }


def test_a_ref_with_siblings_is_written_one_way() -> None:
    """pydantic before 2.9 wrapped a $ref with a default in allOf; the schema never does."""

    class Inner(BaseModel):
        x: int

    class Outer(BaseModel):
        inner: Inner = Inner(x=1)

    schema = TypeAdapter(Outer).json_schema(schema_generator=SchemaGenerator)
    inner = schema["properties"]["inner"]
    assert inner["$ref"] == "#/$defs/Inner" and "allOf" not in inner


DECIMAL_EDGES: list[tuple[Any, Any, bool]] = [
    # (actor, value, valid)
    (plain, "abc", False),
    (plain, "NaN", False),
    (plain, "Infinity", False),
    (plain, "1E+5", True),
    (plain, "-0.001", True),
    (plain, 1.5, True),
    (plain, "1\n", False),
    (money, "999.99", True),
    (money, "-999.99", True),
    (money, "1000", False),  # four whole digits: max_digits - decimal_places is 3
    (money, "123.456", False),  # three decimal places
    (money, "1.000", True),  # trailing zeros do not count
    (money, "00012.10", True),  # nor leading ones
    (money, "1E+2", True),  # what str(Decimal("1E+2")) writes
    (money, "1E+3", False),
    (money, "0E-10", True),
    (money, "0.5", True),
    (money, ".5", True),
    (money, "NaN", False),
    (money, "abc", False),
    (money, 999, True),
    (money, 1000, False),
    (money, 1.5, False),  # digits cannot be counted on a number: integers only
    (money, "12.5e1", False),  # an exponent form Python never writes: stricter than pydantic
    (positive, "0.01", True),
    (positive, "1E+2", True),
    (positive, "+3", True),
    (positive, "0", False),
    (positive, "-0", False),
    (positive, "0E+5", False),
    (positive, "-5", False),
    (positive, 0, False),
]


@pytest.mark.parametrize(
    ("fn", "value", "valid"), DECIMAL_EDGES, ids=lambda v: v.__name__ if callable(v) else repr(v)
)
def test_decimal_edges_get_one_verdict_from_jsonschema_and_the_worker(
    fn: Any, value: Any, valid: bool
) -> None:
    document = message(fn, {"amount": value})
    assert Draft202012Validator(schema_of(fn), format_checker=FORMATS).is_valid(document) is valid
    assert worker_accepts(fn, {"amount": value}) is valid


@pytest.mark.node
def test_decimal_edges_get_the_same_verdict_from_ajv() -> None:
    schemas = {fn.__name__: schema_of(fn) for fn in (plain, money, positive)}
    messages = [
        {"schema": fn.__name__, "data": message(fn, {"amount": value})} for fn, value, _ in DECIMAL_EDGES
    ]
    result = run_ajv({"schemas": schemas, "messages": messages})
    assert all(entry["ok"] for entry in result["schemas"].values()), result["schemas"]
    verdicts = [entry["valid"] for entry in result["messages"]]
    assert verdicts == [valid for _, _, valid in DECIMAL_EDGES]


def decimal_texts() -> st.SearchStrategy[str]:
    """Fixed-point and exponent texts, with leading and trailing zeros, and what str() writes."""
    digits = st.text("0123456789", max_size=7)
    fixed = st.builds(
        lambda sign, zeros, whole, dot, fraction, tail, exponent: (
            f"{sign}{zeros}{whole}{dot}{fraction}{tail}{exponent}"
        ),
        st.sampled_from(["", "-", "+"]),
        st.sampled_from(["", "0", "00"]),
        digits,
        st.sampled_from(["", "."]),
        digits,
        st.sampled_from(["", "0", "000"]),
        st.one_of(st.just(""), st.from_regex(r"[eE][+-]?[0-9]{1,2}", fullmatch=True)),
    )
    written = st.builds(
        lambda coefficient, exponent: str(Decimal(coefficient).scaleb(exponent)),
        st.integers(-(10**8), 10**8),
        st.integers(-12, 12),
    )
    return st.one_of(fixed, written)


BOUNDS = st.sampled_from(
    [(d, p) for d in (None, 1, 2, 3, 5, 8) for p in (None, 0, 1, 2, 4, 9) if (d, p) != (None, None)]
)


@pytest.mark.slow
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bounds=BOUNDS, text=decimal_texts())
def test_the_decimal_pattern_is_never_looser_than_pydantic_and_takes_what_the_gateway_writes(
    bounds: tuple[int | None, int | None], text: str
) -> None:
    max_digits, decimal_places = bounds
    adapter = TypeAdapter(Annotated[Decimal, Field(max_digits=max_digits, decimal_places=decimal_places)])
    pattern = re.compile(decimal_pattern(max_digits, decimal_places))
    try:
        value = adapter.validate_json(json.dumps(text))
    except ValidationError:
        assert not pattern.search(text), f"the schema accepts {text!r}, the worker does not"
        return
    stored = adapter.dump_python(value, mode="json")
    assert pattern.search(stored), f"the gateway stores {stored!r}, the schema refuses it"
    if "e" not in text.lower():
        # Fixed-point text: exact, not merely never looser.
        assert pattern.search(text), f"the worker accepts {text!r}, the schema does not"


@pytest.mark.slow
@settings(max_examples=200, deadline=None)
@given(value=st.decimals(allow_nan=False, allow_infinity=False, places=None))
def test_a_decimal_round_trips_through_the_gateway_the_schema_and_the_worker(value: Decimal) -> None:
    contract = contract_of(money)
    try:
        _, kwargs = contract.canonical((), {"amount": value})
    except PayloadInvalid:
        # Refused by pydantic, or (pydantic before 2.14, which rounds first) by the schema's digit count.
        if _pydantic_takes_money(value):
            validator = Draft202012Validator(schema_of(money), format_checker=FORMATS)
            assert not validator.is_valid(message(money, {"amount": str(value)}))
        return
    assert Draft202012Validator(schema_of(money), format_checker=FORMATS).is_valid(message(money, kwargs))
    _, delivered = InboundContract(contract).check((), kwargs)
    assert delivered["amount"] == value
    assert contract.canonical((), delivered)[1] == kwargs  # a retry stores the same JSON


def _pydantic_takes_money(value: Decimal) -> bool:
    try:
        TypeAdapter(Money).validate_python(value)
    except ValidationError:
        return False
    return True


# -- float multiple_of: refused at send where JSON Schema's division refuses it ------------------


@pytest.mark.parametrize(
    ("value", "accepted"), [(0.2, True), (0.5, True), (3.0, True), (0.3, False), (0.7, False)]
)
def test_send_refuses_the_multiples_json_schema_refuses(
    stub_broker: StubBroker, value: float, accepted: bool
) -> None:
    actor = dramatiq.actor(tenths)
    assert TypeAdapter(Tenths).validate_python(value) == value  # pydantic alone takes them all
    if accepted:
        actor.send(value)
        return
    with pytest.raises(PayloadRejected) as caught:
        actor.send(value)
    text = str(caught.value)
    assert "args[0]" in text and "multiple of 0.1" in text and "Decimal" in text


def test_a_multiple_inside_a_model_is_refused_with_its_path(stub_broker: StubBroker) -> None:
    actor = dramatiq.actor(reading)
    with pytest.raises(PayloadRejected) as caught:
        actor.send(readings=[{"value": 0.2}, {"value": 0.3}])
    assert "kwargs.readings[1].value" in str(caught.value)


def test_what_send_accepts_the_worker_runs(stub_broker: StubBroker) -> None:
    seen: list[float] = []

    def collect(step: Tenths) -> None:
        seen.append(step)

    actor = dramatiq.actor(collect)
    for value in (0.1, 0.2, 0.4, 0.8, 1.0):
        actor.send(value)
    worker = Worker(stub_broker, worker_timeout=50)
    worker.start()
    try:
        stub_broker.join(actor.queue_name)
        worker.join()
    finally:
        worker.stop()
    assert sorted(seen) == [0.1, 0.2, 0.4, 0.8, 1.0] and not stub_broker.dead_letters


SENT: list[float] = []


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(value=st.floats(-1000, 1000, allow_nan=False) | st.integers(-1000, 1000).map(lambda n: n / 10))
def test_send_the_schema_and_the_worker_agree_on_multiples(value: float) -> None:
    contract = contract_of(tenths)
    schema = schema_of(tenths)
    document = message(tenths, {"step": value})
    by_jsonschema = Draft202012Validator(schema).is_valid(document)
    if not jsonschema_rs.Draft202012Validator(schema).is_valid(document):
        # jsonschema-rs is the looser one (it takes 0.3): the worker does not ask it here.
        assert not by_jsonschema
    try:
        _, kwargs = contract.canonical((value,), {})
    except PayloadInvalid:
        sent = False
    else:
        sent = True
        SENT.append(kwargs["step"])
    assert sent is (by_jsonschema and _pydantic_takes(value))
    assert worker_accepts(tenths, {"step": value}) is sent


def _pydantic_takes(value: float) -> bool:
    try:
        TypeAdapter(Tenths).validate_python(value)
    except ValidationError:
        return False
    return True


@pytest.mark.node
def test_ajv_takes_every_multiple_send_stored() -> None:
    values = SENT[:300] or [0.1, 0.2]
    result = run_ajv(
        {
            "schemas": {"tenths": schema_of(tenths)},
            "messages": [{"schema": "tenths", "data": message(tenths, {"step": v})} for v in values],
        }
    )
    assert [entry["valid"] for entry in result["messages"]] == [True] * len(values)
    refused = run_ajv(
        {
            "schemas": {"tenths": schema_of(tenths)},
            "messages": [{"schema": "tenths", "data": message(tenths, {"step": 0.3})}],
        }
    )
    assert refused["messages"][0]["valid"] is False


def test_more_digits_than_a_decimal_context_holds_are_counted_exactly() -> None:
    """The pattern counts digits itself: 40 digits, beyond the default context's 28."""
    assert decimal.getcontext().prec < 40
    assert re.search(decimal_pattern(40, 0), "1" * 40) and not re.search(decimal_pattern(40, 0), "1" * 41)


def test_a_decimal_with_more_digits_than_allowed_is_refused_at_send_on_every_version(
    stub_broker: StubBroker,
) -> None:
    """pydantic before 2.14 rounds to 28 digits before counting and takes this value; send does not."""
    actor = dramatiq.actor(money)
    long = decimal.Context(prec=57).divide(
        Decimal(4999999999999999999999999999), Decimal(19999999999999999999999999997)
    )
    with pytest.raises(PayloadRejected) as caught:
        actor.send(amount=long)
    assert "kwargs.amount" in str(caught.value) and "max_digits" in str(caught.value)
    assert not worker_accepts(money, {"amount": str(long)})


ZERO_BOUNDS = st.sampled_from(
    [{"gt": 0}, {"ge": 0}, {"lt": 0}, {"le": 0}, {"ge": 0, "max_digits": 4, "decimal_places": 2}]
)


@pytest.mark.slow
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bounds=ZERO_BOUNDS, text=decimal_texts())
def test_a_bound_at_zero_is_exact_on_decimal_strings(bounds: dict[str, int], text: str) -> None:
    """``Field(gt=0)`` on a Decimal: the string branch says it too (sign and a non-zero digit)."""
    adapter = TypeAdapter(Annotated[Decimal, Field(**bounds)])
    schema = adapter.json_schema(schema_generator=SchemaGenerator)
    (string,) = [branch for branch in schema["anyOf"] if branch["type"] == "string"]
    matches = bool(re.search(string["pattern"], text))
    try:
        adapter.validate_json(json.dumps(text))
    except (ValidationError, ArithmeticError):  # before 2.14 pydantic lets decimal's errors out (sNaN)
        assert not matches, f"the schema accepts {text!r}, the worker does not"
        return
    if "e" not in text.lower():
        assert matches, f"the worker accepts {text!r}, the schema does not"


# -- Decimal bounds, multiple_of and allow_inf_nan: published as patterns on the text ---------------

Price = Annotated[Decimal, Field(ge=Decimal("0.01"), le=10000)]
Cents = Annotated[Decimal, Field(multiple_of=Decimal("0.01"), gt=-5)]
Extended = Annotated[Decimal, Field(allow_inf_nan=True)]
AboveFloor = Annotated[Decimal, Field(allow_inf_nan=True, gt=Decimal("-2.5"))]
PricedMoney = Annotated[Decimal, Field(gt=Decimal("0.5"), max_digits=5, decimal_places=2)]
Nickels = Annotated[Decimal, Field(multiple_of=Decimal("0.05"))]
Fives = Annotated[Decimal, Field(multiple_of=5, le=100)]


def price(amount: Price) -> None:
    """A price range."""


def cents(amount: Cents) -> None:
    """A multiple of a cent above -5."""


def extended(amount: Extended) -> None:
    """NaN and the infinities too."""


def above_floor(amount: AboveFloor) -> None:
    """Above -2.5, +Infinity too."""


def priced_money(amount: PricedMoney) -> None:
    """A bound beside max_digits / decimal_places."""


def nickels(amount: Nickels) -> None:
    """A multiple of 0.05: the last digit decides."""


def fives(amount: Fives) -> None:
    """A multiple of 5 up to 100."""


CONSTRAINED = [price, cents, extended, above_floor, priced_money, nickels, fives]

CONSTRAINED_EDGES: list[tuple[Any, Any, bool]] = [
    (price, "0.01", True),
    (price, "0.0100", True),
    (price, "000.01", True),
    (price, "1E-2", True),
    (price, "0.009", False),
    (price, "0.00999999999999999999999999999999", False),
    (price, "-0.01", False),
    (price, "10000", True),
    (price, "10000.000", True),
    (price, "1E+4", True),
    (price, "1.0000E+4", True),
    (price, "1.00001E+4", False),
    (price, "10000.0000001", False),
    (price, "12.5E+2", False),  # the canonical restriction: one digit before the point
    (price, "NaN", False),
    (price, 0.01, True),
    (price, 10000, True),
    (price, 0.0099999, False),
    (price, 10000.5, False),
    (cents, "0.01", True),
    (cents, "-4.99", True),
    (cents, "-5", False),
    (cents, "0.015", False),
    (cents, "1.50", True),
    (cents, "1E+25", True),
    (cents, "1E+26", False),  # pydantic's quotient needs 29 digits
    (cents, "0E-30", True),
    (cents, 3, True),
    (cents, 1.5, False),  # a cent multiple as a number: integers only
    (extended, "NaN", True),
    (extended, "-sNaN7", True),
    (extended, "Infinity", True),
    (extended, "-inf", True),
    (extended, "Infinit", False),
    (extended, "1.5", True),
    (above_floor, "Infinity", True),
    (above_floor, "-Infinity", False),
    (above_floor, "NaN", False),
    (above_floor, "-2.5", False),
    (above_floor, "-2.4999", True),
    (priced_money, "0.51", True),
    (priced_money, "0.5", False),
    (priced_money, "999.99", True),
    (priced_money, "5E+2", True),
    (priced_money, "0.505", False),
    (nickels, "0.15", True),
    (nickels, "0.150", True),
    (nickels, "0.17", False),
    (nickels, "1.5E+1", True),
    (nickels, "5E-2", True),
    (nickels, "1E-2", False),
    (nickels, "-3.05", True),
    (nickels, 3, True),
    (nickels, 0.15, False),  # as a number: integers only
    (fives, "95", True),
    (fives, "105", False),
    (fives, "5E+1", True),
    (fives, "7.5", False),
    (fives, "-2.5E+1", True),
    (fives, 45, True),
    (fives, 12, False),
]


@pytest.mark.parametrize(
    ("fn", "value", "valid"), CONSTRAINED_EDGES, ids=lambda v: v.__name__ if callable(v) else repr(v)
)
def test_constrained_decimal_edges_get_one_verdict_from_jsonschema_and_the_worker(
    fn: Any, value: Any, valid: bool
) -> None:
    document = message(fn, {"amount": value})
    assert Draft202012Validator(schema_of(fn), format_checker=FORMATS).is_valid(document) is valid
    assert jsonschema_rs.Draft202012Validator(schema_of(fn)).is_valid(document) is valid
    assert worker_accepts(fn, {"amount": value}) is valid


@pytest.mark.node
def test_constrained_decimal_edges_get_the_same_verdict_from_ajv() -> None:
    schemas = {fn.__name__: schema_of(fn) for fn in CONSTRAINED}
    messages = [
        {"schema": fn.__name__, "data": message(fn, {"amount": value})} for fn, value, _ in CONSTRAINED_EDGES
    ]
    result = run_ajv({"schemas": schemas, "messages": messages})
    assert all(entry["ok"] for entry in result["schemas"].values()), result["schemas"]
    verdicts = [entry["valid"] for entry in result["messages"]]
    assert verdicts == [valid for _, _, valid in CONSTRAINED_EDGES]


def constrained_texts() -> st.SearchStrategy[str]:
    """:func:`decimal_texts`, Python's scientific form with any exponent spelling, and the special values."""
    scientific = st.builds(
        lambda sign, head, fraction, exponent: f"{sign}{head}{fraction}E{exponent}",
        st.sampled_from(["", "-", "+"]),
        st.sampled_from(["1", "2", "5", "9", "0"]),
        st.sampled_from(["", ".", ".0", ".5", ".01", ".999"]),
        st.sampled_from(["+0", "-0", "1", "+2", "-2", "-07", "+4", "25", "26", "-30"]),
    )
    special = st.sampled_from(["NaN", "-NaN", "sNaN", "nan3", "Infinity", "-Infinity", "inf", "-INF", "Inf1"])
    return st.one_of(decimal_texts(), scientific, special)


CONSTRAINTS = st.fixed_dictionaries(
    {},
    optional={
        "gt": st.sampled_from([Decimal("-2.5"), Decimal("0.5"), Decimal("-100"), Decimal("1E-7"), 3]),
        "ge": st.sampled_from([Decimal("0.01"), Decimal("-0.001"), Decimal("12.5"), -7]),
        "lt": st.sampled_from([Decimal("99.99"), Decimal("-0.5"), Decimal("1E+5"), 10]),
        "le": st.sampled_from([Decimal("10000"), Decimal("0.1"), Decimal("-1E-3"), 250]),
        "multiple_of": st.sampled_from(
            [
                Decimal("0.01"),
                Decimal(1),
                Decimal("0.1"),
                Decimal("0.05"),
                Decimal("0.25"),
                Decimal("0.4"),
                5,
                20,
            ]
        ),
        "allow_inf_nan": st.just(True),
        "max_digits": st.sampled_from([3, 5]),
        "decimal_places": st.sampled_from([0, 2]),
    },
)


def _adapter(constraints: dict[str, Any]) -> TypeAdapter[Any] | None:
    try:
        return TypeAdapter(Annotated[Decimal, Field(**constraints)])
    except Exception:  # allow_inf_nan beside max_digits / decimal_places: pydantic refuses the type
        return None


@pytest.mark.slow
@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(constraints=CONSTRAINTS, text=constrained_texts())
def test_a_constrained_decimal_pattern_gives_pydantics_verdict(
    constraints: dict[str, Any], text: str
) -> None:
    """Exact on fixed-point and Python's scientific text; never looser than pydantic on any text."""
    adapter = _adapter(constraints)
    if adapter is None:
        return
    schema = adapter.json_schema(schema_generator=SchemaGenerator)
    (string,) = [branch for branch in schema["anyOf"] if branch["type"] == "string"]
    matches = bool(re.search(string["pattern"], text))
    rust = jsonschema_rs.validator_for(string)
    assert rust.is_valid(text) is matches, (string["pattern"], text)
    try:
        adapter.validate_json(json.dumps(text))
    except (ValidationError, ArithmeticError):  # before 2.14 pydantic lets decimal's errors out (sNaN)
        assert not matches, f"the schema accepts {text!r}, the worker does not"
        return
    in_form = re.fullmatch(DECIMAL_FORM, text) or any(
        re.fullmatch(form, text) for form in SPECIAL_FORMS.values()
    )
    digits_counted = "max_digits" in constraints or "decimal_places" in constraints
    if in_form and not (digits_counted and "e" in text.lower()):
        assert matches, f"the worker accepts {text!r}, the schema does not"


@pytest.mark.slow
@settings(max_examples=200, deadline=None)
@given(
    fn=st.sampled_from(CONSTRAINED),
    value=st.decimals(min_value=-20000, max_value=20000)
    | st.decimals(places=2, min_value=-10, max_value=10)
    | st.sampled_from([Decimal("NaN"), Decimal("Infinity"), Decimal("-Infinity"), Decimal("1E+30")]),
)
def test_send_and_the_worker_agree_on_constrained_decimals(fn: Any, value: Decimal) -> None:
    """send() accepts a value exactly when the worker accepts its text, and delivers it unchanged."""
    contract = contract_of(fn)
    try:
        _, kwargs = contract.canonical((), {"amount": value})
    except PayloadInvalid:
        assert not worker_accepts(fn, {"amount": str(value)}), value
        return
    assert kwargs["amount"] == str(value)
    assert Draft202012Validator(schema_of(fn), format_checker=FORMATS).is_valid(message(fn, kwargs))
    _, delivered = InboundContract(contract).check((), kwargs)
    assert str(delivered["amount"]) == str(value)  # NaN is not equal to itself: compare the texts
    assert contract.canonical((), delivered)[1] == kwargs


def test_a_quotient_pydantic_rounds_is_refused_at_send(stub_broker: StubBroker) -> None:
    """pydantic 2.14 divides in 28 digits and takes 1.00...001 (30 digits) as a multiple of 0.01; send does not.

    (Whether pydantic takes it depends on its version; send and the worker refuse it on every one.)
    """
    long = Decimal("1." + "0" * 28 + "1")
    with pytest.raises(PayloadRejected) as caught:
        dramatiq.actor(cents).send(amount=long)
    assert "kwargs.amount" in str(caught.value) and "multiple" in str(caught.value)
    assert not worker_accepts(cents, {"amount": str(long)})


def keyed(prices: dict[Annotated[Decimal, Field(gt=1)], int]) -> None:
    """Decimal keys with a bound."""


@pytest.mark.parametrize(("key", "valid"), [("2", True), ("1E+1", True), ("1", False), ("0.5", False)])
def test_a_bounded_decimal_key_gets_one_verdict_from_the_schema_and_the_worker(key: str, valid: bool) -> None:
    document = message(keyed, {"prices": {key: 1}})
    assert Draft202012Validator(schema_of(keyed), format_checker=FORMATS).is_valid(document) is valid
    assert worker_accepts(keyed, {"prices": {key: 1}}) is valid


NEAR_BOUNDS = st.sampled_from([0.01, 10000.0, -0.5, 99.99]).flatmap(
    lambda edge: (
        st.sampled_from(
            [edge, math.nextafter(edge, math.inf), math.nextafter(edge, -math.inf), edge * 1.0000001]
        )
        | st.floats(edge - 0.01, edge + 0.01)
    )
)


def float_bounded(amount: Annotated[Decimal, Field(gt=Decimal("-0.5"), lt=Decimal("99.99"))]) -> None:
    """Exclusive bounds, for numbers beside them."""


@settings(max_examples=150, deadline=None)
@given(fn=st.sampled_from([price, float_bounded]), number=NEAR_BOUNDS)
def test_a_json_number_beside_a_bound_gets_one_verdict(fn: Any, number: float) -> None:
    """The schema compares the float with the float bound, pydantic its shortest text with the Decimal: alike."""
    document = message(fn, {"amount": number})
    by_schema = Draft202012Validator(schema_of(fn), format_checker=FORMATS).is_valid(document)
    assert jsonschema_rs.Draft202012Validator(schema_of(fn)).is_valid(document) is by_schema
    assert worker_accepts(fn, {"amount": number}) is by_schema, number
    adapter = TypeAdapter(typing.get_type_hints(fn, include_extras=True)["amount"])
    try:
        adapter.validate_json(json.dumps(number))
    except ValidationError:
        assert not by_schema, number
    else:
        assert by_schema, number  # not stricter than pydantic either


@pytest.mark.parametrize(
    "constraints",
    [{}, {"gt": Decimal("-1.5")}, {"ge": Decimal("0.01"), "le": 10000}, {"multiple_of": 25, "gt": -2}],
    ids=["plain", "above-negative", "price", "step"],
)
def test_a_hostile_decimal_text_is_judged_in_linear_time(constraints: dict[str, Any]) -> None:
    """No ambiguous repetition: jsonschema's Python re once took 5 s on 8,000 zeros and an 'x'."""
    adapter = TypeAdapter(Annotated[Decimal, Field(**constraints)])
    (string,) = [
        branch
        for branch in adapter.json_schema(schema_generator=SchemaGenerator)["anyOf"]
        if branch["type"] == "string"
    ]
    pattern = re.compile(string["pattern"])
    started = time.perf_counter()
    for text in ("0" * 20_000 + "x", "1" * 20_000 + "x", "-" + "5" * 20_000 + "x", "." + "0" * 20_000 + "x"):
        assert not pattern.search(text)
    assert time.perf_counter() - started < 2  # quadratic backtracking takes minutes here

r"""Differential: the worker's verdict on a consumed message is jsonschema's verdict on the schema.

The reference is ``jsonschema`` (draft 2020-12, formats asserted with
rfc3339-validator) on the JSON Schemas ``actorschema generate`` wrote to
``schemas/`` (the committed files, kept current by ``actorschema check``), and
on the schema of every hint kind the contract supports. Hypothesis generates
messages, valid and invalid (mutations of valid ones at every depth, with
values chosen to sit on the edges: formats, bounds, enum members, integral
floats); the worker's whole consume check (envelope, size, binding, strict
JSON, arguments, conversion to the declared types) must agree.

Patterns used to be where the worker was stricter than jsonschema (Python's
``re`` reads ``\d`` as any Unicode digit and lets ``$`` match before a
trailing newline); the published pattern is now written so that every dialect
reads it alike (:mod:`actorschema.patterns`), and ``FORMERLY_STRICTER`` pins
those cases as refused by both. Everywhere else the conversion was fixed wherever
hypothesis found pydantic refusing what the schema allows (integral floats
beyond 64 bits, base64url without its padding).
"""

from __future__ import annotations

import copy
import datetime
import decimal
import enum
import json
import typing
import uuid
from pathlib import Path
from typing import Annotated, Any, Literal

import dramatiq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from pydantic import BaseModel, Field

import examples.shop as shop
from actorschema import PayloadGateway, PayloadRejected
from actorschema.consume.arguments import InboundContract
from actorschema.contract import ActorContract
from actorschema.limits import SizeLimit
from actorschema.schema import message_schema

# Hypothesis against jsonschema on every generated schema: a minute or more on two cores.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
FORMATS = Draft202012Validator.FORMAT_CHECKER
SCHEMAS = {
    path.name.removesuffix(".schema.json"): json.loads(path.read_text())
    for path in sorted((ROOT / "schemas").glob("*.schema.json"))
}
VALIDATORS = {name: Draft202012Validator(schema, format_checker=FORMATS) for name, schema in SCHEMAS.items()}
GATEWAY = next(m for m in shop.broker.middleware if isinstance(m, PayloadGateway))

UUID_TEXT = "7f1d6a3e-9c2b-4b8e-a7d5-3c1e2f4a5b6c"
VALID_KWARGS: dict[str, dict[str, Any]] = {
    "place_order": {
        "order": {
            "order_id": UUID_TEXT,
            "customer_id": 42,
            "placed_at": "2024-05-01T09:30:00+02:00",
            "currency": "USD",
            "items": [{"sku": "mug-1", "quantity": 2, "unit_price": "12.50"}],
            "note": None,
        },
        "notify": True,
    },
    "send_email": {"user_id": 7, "template": "welcome", "variables": {"name": "Ada"}},
    "make_thumbnail": {"source": "s3://photos/cat.png", "width": 640},
    "refund": {
        "order_id": UUID_TEXT,
        "amount": "1.5",
        "reason": "damaged",
        "requested_at": "2024-05-01T00:00:00Z",
    },
}

# Values on the edges of what the example app's hints and formats accept.
EDGES: list[Any] = [
    "2024-05-01T09:30:00Z", "2024-05-01t09:30:00z", "2024-05-01 09:30:00Z", "2024-05-01T09:30:00",
    "2024-02-30T00:00:00Z", "2024-13-01T00:00:00Z", "2016-12-31T23:59:60Z", "2024-05-01T09:30:00+0200",
    "2024-05-01T09:30:00.123456789+02:00", "2024-05-01T24:00:00Z", "2024-05-01", "09:30:00Z",
    UUID_TEXT, UUID_TEXT.upper(), UUID_TEXT.replace("-", ""), "urn:uuid:" + UUID_TEXT, UUID_TEXT + "\n",
    "{" + UUID_TEXT + "}", "1", "-1", "1.5", ".5", "5.", "1E+5", "1e-7", "+3.25", "007", "NaN", "Infinity",
    "1_000", " 1", "1 ", "abc", "", "EUR", "USD", "GBP", "eur", "welcome", "receipt", "password-reset",
    "goodbye", "x" * 64, "x" * 65, 0, 1, -1, 1000, 1001, 4096, 4097, 256, 5.0, 2.5, 1e20, -0.0, 2**63,
    2**70, True, False, None, [], {}, [1], {"a": "b"}, {"a": 1}, ["x"],
]  # fmt: skip

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
    st.sampled_from(EDGES),
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.text(max_size=6) | st.sampled_from(["sku", "quantity", "x"]), children, max_size=3
        )
    ),
    max_leaves=6,
)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in ``value`` a mutation can hit (not the root)."""
    found = []
    if isinstance(value, dict):
        for key, item in value.items():
            found.append((*prefix, key))
            found += paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.append((*prefix, index))
            found += paths(item, (*prefix, index))
    return found


@st.composite
def mutated_kwargs(draw: st.DrawFn, valid: dict[str, Any]) -> dict[str, Any]:
    """A valid kwargs object with up to three replacements, deletions or additions anywhere in it."""
    kwargs = copy.deepcopy(valid)
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        targets = paths(kwargs)
        action = draw(st.sampled_from(["replace", "replace", "replace", "delete", "add"]))
        if not targets:
            action = "add"
        if action == "add":
            containers = [p for p in [(), *targets] if isinstance(_get(kwargs, p), dict | list)]
            where = draw(st.sampled_from(containers))
            node = _get(kwargs, where)
            value = copy.deepcopy(draw(json_values))  # drawn values are hypothesis's own
            if isinstance(node, dict):
                node[draw(st.text(max_size=6) | st.sampled_from(["note", "extra", "notify"]))] = value
            else:
                node.append(value)
            continue
        target = draw(st.sampled_from(targets))
        parent = _get(kwargs, target[:-1])
        if action == "delete":
            del parent[target[-1]]
        else:
            parent[target[-1]] = copy.deepcopy(draw(json_values))
    return kwargs


def _get(value: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        value = value[step]
    return value


def message_for(actor: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    return {
        "queue_name": shop.broker.actors[actor].queue_name,
        "actor_name": actor,
        "args": [],
        "kwargs": kwargs,
        "options": {},
        "message_id": str(uuid.uuid4()),
        "message_timestamp": 1_700_000_000_000,
    }


def worker_accepts(message: dict[str, Any]) -> bool:
    """The worker's whole consume check, on the message as it would be decoded."""
    try:
        GATEWAY.consume_guard.check(shop.broker, dramatiq.Message(**copy.deepcopy(message)))
    except PayloadRejected:
        return False
    return True


#: (pattern, value): values the worker refused while jsonschema's Python ``re`` matched the user's pattern.
FORMERLY_STRICTER = {
    (r"^\d+$", "\u0663"): "Python's \\d matches any Unicode digit; ECMA-262 and Rust's engine only 0-9",
    (r"^\d+$", "12\n"): "Python's $ also matches before a trailing newline",
}


def test_the_committed_schemas_are_the_example_apps() -> None:
    assert sorted(SCHEMAS) == sorted(VALID_KWARGS)
    for actor, kwargs in VALID_KWARGS.items():
        message = message_for(actor, kwargs)
        assert VALIDATORS[actor].is_valid(message), actor
        assert worker_accepts(message), actor


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_the_worker_agrees_with_jsonschema_on_the_generated_schemas(data: st.DataObject) -> None:
    actor = data.draw(st.sampled_from(sorted(VALID_KWARGS)))
    message = message_for(actor, data.draw(mutated_kwargs(VALID_KWARGS[actor])))
    reference = VALIDATORS[actor].is_valid(message)
    verdict = worker_accepts(message)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in VALIDATORS[actor].iter_errors(message)]
    assert verdict == reference, f"worker {verdict}, jsonschema {reference}: {json.dumps(message)}; {errors}"


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_the_legacy_positional_form_gets_the_canonical_verdict(data: st.DataObject) -> None:
    actor = data.draw(st.sampled_from(["make_thumbnail", "refund"]))  # all positional-or-keyword
    kwargs = data.draw(mutated_kwargs(VALID_KWARGS[actor]))
    names = [p.name for p in GATEWAY.contracts[actor].parameters]
    count = data.draw(st.integers(min_value=0, max_value=len(names)))
    if not all(name in kwargs for name in names[:count]):
        count = 0
    positional = {**message_for(actor, {k: v for k, v in kwargs.items() if k not in names[:count]})}
    positional["args"] = [kwargs[name] for name in names[:count]]
    assert worker_accepts(positional) == VALIDATORS[actor].is_valid(message_for(actor, kwargs))


# -- every hint kind -----------------------------------------------------------------


class Colour(enum.Enum):
    RED = "red"
    GREEN = 2


class Point(BaseModel):
    x: int
    y: float = 0.0
    label: str | None = None


HINTS: list[Any] = [
    int,
    float,
    str,
    bool,
    int | None,
    int | str,
    Literal["a", "b", 3],
    Colour,
    datetime.datetime,
    datetime.date,
    datetime.time,
    uuid.UUID,
    decimal.Decimal,
    bytes,
    list[int],
    dict[str, int],
    tuple[int, str],
    tuple[float, ...],
    set[int],
    Point,
    list[Point],
    Annotated[int, Field(ge=0, lt=10)],
    Annotated[str, Field(min_length=2, max_length=4, pattern=r"^[a-z]+$")],
    Annotated[str, Field(pattern=r"^\d+$")],
    dict[str, Any],
    typing.Any,
]
HINT_EDGES: list[Any] = [
    "12:30:00Z", "12:30:00+01:00", "12:30:00", "25:00:00Z", "12:30:00.5Z", "2024-05-01", "2024-5-1",
    "aGVsbG8", "aGVsbG8=", "aGVsbG8==", "aGV+bG8=", "a", "ab", "abcd", "abcde", "Ab", "ab1", "red", 2,
    "2", 3, "3", [1, "x"], [1, 2], [1.5, 2], [1, 1], {"x": 1}, {"x": 1.0, "y": 2}, {"x": "1"},
    {"x": 1, "z": 0}, [{"x": 1}], 9, 10, 9.0, -1, "12", "\u0663", "12\n", "23:59:60Z",
]  # fmt: skip
hint_values = st.one_of(json_values, st.sampled_from(HINT_EDGES))


def contract_for(hint: Any) -> ActorContract:
    def actor(value):  # type: ignore[no-untyped-def]
        ...

    actor.__annotations__ = {"value": hint, "return": None}
    return ActorContract.from_function(actor, "hinted", "q")


INBOUND = {index: InboundContract(contract_for(hint)) for index, hint in enumerate(HINTS)}
HINT_VALIDATORS = {
    index: Draft202012Validator(
        message_schema(inbound.contract, SizeLimit(None, "global")), format_checker=FORMATS
    )
    for index, inbound in INBOUND.items()
}


@pytest.mark.parametrize("index", range(len(HINTS)), ids=[repr(h) for h in HINTS])
@settings(max_examples=150, deadline=None)
@given(value=hint_values)
def test_the_worker_agrees_with_jsonschema_for_every_hint_kind(index: int, value: Any) -> None:
    message = {
        "queue_name": "q",
        "actor_name": "hinted",
        "args": [],
        "kwargs": {"value": value},
        "options": {},
        "message_id": str(uuid.uuid4()),
        "message_timestamp": 0,
    }
    reference = HINT_VALIDATORS[index].is_valid(message)
    try:
        INBOUND[index].check((), {"value": value})
        verdict = True
    except PayloadRejected:
        verdict = False
    assert verdict == reference, f"{HINTS[index]!r}: worker {verdict}, jsonschema {reference} on {value!r}"


def pattern_of(hint: Any) -> str | None:
    for meta in typing.get_args(hint)[1:]:
        for item in getattr(meta, "metadata", []):
            if getattr(item, "pattern", None):
                return str(item.pattern)
    return None


@pytest.mark.parametrize(("pattern", "value"), sorted(FORMERLY_STRICTER))
def test_the_published_pattern_refuses_what_the_worker_refuses(pattern: str, value: str) -> None:
    index = next(i for i, hint in enumerate(HINTS) if pattern_of(hint) == pattern)
    with pytest.raises(PayloadRejected, match=r"kwargs\.value"):
        INBOUND[index].check((), {"value": value})
    assert not HINT_VALIDATORS[index].is_valid(
        {"queue_name": "q", "actor_name": "hinted", "args": [], "kwargs": {"value": value}, "options": {},
         "message_id": UUID_TEXT, "message_timestamp": 0}
    )  # fmt: skip


def test_what_the_worker_accepts_arrives_as_the_declared_type() -> None:
    cases = [
        (datetime.datetime, "2024-05-01T09:30:00+02:00", datetime.datetime),
        (datetime.date, "2024-05-01", datetime.date),
        (datetime.time, "12:30:00Z", datetime.time),
        (uuid.UUID, UUID_TEXT, uuid.UUID),
        (decimal.Decimal, "1E+5", decimal.Decimal),
        (bytes, "aGVsbG8", bytes),
        (Colour, 2, Colour),
        (tuple[int, str], [1, "x"], tuple),
        (set[int], [1, 2], set),
        (Point, {"x": 1}, Point),
        (float, 5, float),
        (int, 5.0, int),
        (int, 1e20, int),
    ]
    for hint, value, expected in cases:
        _, kwargs = InboundContract(contract_for(hint)).check((), {"value": value})
        assert type(kwargs["value"]) is expected or isinstance(kwargs["value"], expected), (hint, value)
    _, kwargs = InboundContract(contract_for(bytes)).check((), {"value": "aGVsbG8"})
    assert kwargs["value"] == b"hello"
    _, kwargs = InboundContract(contract_for(int)).check((), {"value": 1e20})
    assert kwargs["value"] == 10**20


SHOP_INBOUND = {name: InboundContract(GATEWAY.contracts[name]) for name in VALID_KWARGS}


@settings(max_examples=400, deadline=None)
@given(data=st.data())
def test_without_jsonschema_rs_the_python_engine_gives_the_same_verdict(data: st.DataObject) -> None:
    actor = data.draw(st.sampled_from(sorted(VALID_KWARGS)))
    kwargs = data.draw(mutated_kwargs(VALID_KWARGS[actor]))
    fast = SHOP_INBOUND[actor]
    slow = copy.copy(fast)
    slow._fast = None  # as on a platform without the jsonschema-rs wheel
    verdicts = []
    for inbound in (fast, slow):
        try:
            verdicts.append(inbound.check((), copy.deepcopy(kwargs)))
        except PayloadRejected as rejection:
            verdicts.append(rejection.paths)
    assert verdicts[0] == verdicts[1]

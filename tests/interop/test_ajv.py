"""The committed schemas (schemas/, from examples/shop.py) against two independent validators.

ajv 8 (Node, draft 2020-12, strict mode, ajv-formats) and Python's jsonschema
(format assertion on) must both accept every message the gateway stores for the
shop's actors, and both refuse messages that break the contract, among them the
values on which ajv-formats and jsonschema's format checkers once disagreed (a
space for ``T``, leap seconds, ``+0100`` offsets, ``urn:uuid:``): the schemas'
patterns (actorschema/formats.py) settle them, so there is no list of tolerated
disagreements. tests/interop/test_format_matrix.py runs the whole validator matrix.

Node runs once per batch: one ``ajv_check.mjs`` process for the static checks,
one for the messages the property test collected.
"""

from __future__ import annotations

import copy
import datetime
import inspect
import json
from typing import Any

import dramatiq
import pytest
from helpers.node import run_ajv
from helpers.shop_schemas import ACTORS, CANONICAL, SCHEMAS, stored
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

import examples.shop as shop
from actorschema import PayloadGateway, PayloadRejected
from actorschema.contract import actor_function
from actorschema.schema import DIALECT


def python_validator(actor: str) -> Draft202012Validator:
    return Draft202012Validator(SCHEMAS[actor], format_checker=Draft202012Validator.FORMAT_CHECKER)


# -- the schemas themselves ------------------------------------------------------------------------

# ajv's strict mode (strictTypes, then strictRequired) refuses a delay-queue rule written as
#   "then": {"properties": {"options": {"required": ["eta"]}}}
# (a "required" without "type": "object" beside it, naming a property that subschema does not
# declare), which the generator once wrote. STRICT_REPRO is that shape; STRICT_REPRO_FIXED the one
# it writes now, which the strict-mode test below checks on every committed schema.
STRICT_REPRO: dict[str, Any] = {
    "$schema": DIALECT,
    "type": "object",
    "properties": {"queue_name": {"type": "string"}, "options": {"type": "object"}},
    "if": {"properties": {"queue_name": {"const": "q.DQ"}}, "required": ["queue_name"]},
    "then": {"properties": {"options": {"required": ["eta"]}}},
}
STRICT_REPRO_FIXED: dict[str, Any] = {
    **STRICT_REPRO,
    "then": {
        "properties": {
            "options": {"type": "object", "properties": {"eta": {"type": "integer"}}, "required": ["eta"]}
        }
    },
}


def test_the_schema_folder_holds_the_shop_actors() -> None:
    assert sorted(SCHEMAS) == list(ACTORS)


@pytest.mark.parametrize("actor", ACTORS)
def test_schema_is_a_valid_draft_2020_12_schema(actor: str) -> None:
    Draft202012Validator.check_schema(SCHEMAS[actor])
    assert SCHEMAS[actor]["$schema"] == DIALECT


# -- negative cases: canonical messages that break the contract --------------------------------------


def mutated(actor: str, path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    """``canonical(actor)`` with the value at ``path`` replaced (or, for ``DELETE``, removed)."""
    message = copy.deepcopy(CANONICAL[actor])
    node = message
    for key in path[:-1]:
        node = node[key]
    if value is DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return message


DELETE = object()

# (label, actor, path, value): every one breaks the contract; both validators must refuse it.
INVALID = [
    ("wrong type: user_id as text", "send_email", ("kwargs", "user_id"), "7"),
    ("wrong type: quantity as float", "place_order", ("kwargs", "order", "items", 0, "quantity"), 2.5),
    ("quantity out of range", "place_order", ("kwargs", "order", "items", 0, "quantity"), 0),
    ("no items", "place_order", ("kwargs", "order", "items"), []),
    ("missing required kwarg", "refund", ("kwargs", "reason"), DELETE),
    ("missing required model field", "place_order", ("kwargs", "order", "customer_id"), DELETE),
    ("extra kwarg", "make_thumbnail", ("kwargs", "height"), 100),
    ("width over its maximum", "make_thumbnail", ("kwargs", "width"), 4097),
    ("width zero (exclusive minimum)", "make_thumbnail", ("kwargs", "width"), 0),
    ("naive datetime", "refund", ("kwargs", "requested_at"), "2024-01-01T00:00:00"),
    ("naive datetime in a model", "place_order", ("kwargs", "order", "placed_at"), "2024-01-01T00:00:00"),
    ("not a date", "refund", ("kwargs", "requested_at"), "2024-02-30T00:00:00Z"),
    ("Decimal 'abc'", "refund", ("kwargs", "amount"), "abc"),
    ("Decimal 'NaN'", "refund", ("kwargs", "amount"), "NaN"),
    ("template not in the Literal", "send_email", ("kwargs", "template"), "goodbye"),
    ("variables values must be text", "send_email", ("kwargs", "variables"), {"n": 1}),
    ("currency not in the Enum", "place_order", ("kwargs", "order", "currency"), "GBP"),
    ("order_id not a UUID", "refund", ("kwargs", "order_id"), "not-a-uuid"),
    ("positional args are not canonical", "refund", ("args",), ["x"]),
    ("wrong actor_name", "refund", ("actor_name",), "place_order"),
    ("wrong queue", "refund", ("queue_name",), "emails"),
    ("delay queue without eta", "refund", ("queue_name",), "orders.DQ"),
    ("unknown envelope field", "refund", ("extra",), 1),
    ("message_id not a UUID", "refund", ("message_id",), "1234"),
    ("negative timestamp", "refund", ("message_timestamp",), -1),
    ("options not an object", "refund", ("options",), []),
]

_UUID_TEXT = "12345678-1234-1234-1234-123456789abc"
# Values on which ajv-formats and jsonschema's format checkers disagree (or which only a pattern
# refuses in one of them), and which the worker refuses: the schemas' patterns make both refuse.
FORMAT_EDGES = [
    # ajv-formats accepts a space (RFC 3339 section 5.6 NOTE allows it; the ABNF does not).
    ("space for T", "refund", ("kwargs", "requested_at"), "2024-01-01 00:00:00Z"),
    # ajv-formats accepts an offset without its colon; RFC 3339 requires it.
    ("offset without colon", "refund", ("kwargs", "requested_at"), "2024-01-01T00:00:00+0100"),
    # Leap seconds: ajv accepts 23:59:60 UTC, rfc3339-validator and pydantic refuse any :60.
    ("leap second", "refund", ("kwargs", "requested_at"), "2016-12-31T23:59:60Z"),
    ("leap second with offset", "refund", ("kwargs", "requested_at"), "2017-01-01T00:59:60+01:00"),
    ("leap second in a model", "place_order", ("kwargs", "order", "placed_at"), "2016-12-31T23:59:60Z"),
    # ajv-formats' uuid allows the urn:uuid: prefix; jsonschema checks the hyphen positions.
    ("urn:uuid: prefix", "refund", ("kwargs", "order_id"), "urn:uuid:" + _UUID_TEXT),
    ("urn:uuid: in a model", "place_order", ("kwargs", "order", "order_id"), "urn:uuid:" + _UUID_TEXT),
    # Python's $ also matches before a trailing newline: the generator's (?!\n)$ makes both refuse.
    ("Decimal with trailing newline", "refund", ("kwargs", "amount"), "1\n"),
    # Python's \d matches any Unicode digit, JavaScript's only 0-9: the generator writes [0-9].
    ("Decimal in Arabic-Indic digits", "refund", ("kwargs", "amount"), "\u0663"),
    ("message_id with trailing newline", "refund", ("message_id",), _UUID_TEXT + "\n"),
    ("message_id as urn:uuid:", "refund", ("message_id",), "urn:uuid:" + _UUID_TEXT),
]


@pytest.fixture(scope="module")
def ajv_static() -> dict[str, Any]:
    """One Node run: the committed schemas, the reproduction, the invalid messages and the format edges."""
    schemas: dict[str, Any] = dict(SCHEMAS)
    schemas["strict_repro"] = STRICT_REPRO
    schemas["strict_repro_fixed"] = STRICT_REPRO_FIXED
    messages = [{"schema": actor, "data": CANONICAL[actor]} for actor in ACTORS]
    messages += [{"schema": actor, "data": mutated(actor, path, value)} for _, actor, path, value in INVALID]
    messages += [
        {"schema": actor, "data": mutated(actor, path, value)} for _, actor, path, value in FORMAT_EDGES
    ]
    return run_ajv({"schemas": schemas, "messages": messages})


@pytest.mark.node
@pytest.mark.parametrize("actor", ACTORS)
def test_schema_compiles_in_ajv_strict_mode(ajv_static: dict[str, Any], actor: str) -> None:
    result = ajv_static["schemas"][actor]
    assert result["ok"], result["error"]


@pytest.mark.node
@pytest.mark.parametrize("actor", ACTORS)
def test_schema_compiles_in_ajv(ajv_static: dict[str, Any], actor: str) -> None:
    """Without strict mode ajv compiles every schema: the message checks below are meaningful."""
    result = ajv_static["schemas"][actor]
    assert result["lenient_ok"], result["lenient_error"]


@pytest.mark.node
def test_strict_mode_reproduction(ajv_static: dict[str, Any]) -> None:
    """The cause of the strict-mode failure, minimal, and the shape that compiles."""
    assert not ajv_static["schemas"]["strict_repro"]["ok"]
    assert "strictTypes" in ajv_static["schemas"]["strict_repro"]["error"]
    assert ajv_static["schemas"]["strict_repro_fixed"]["ok"], ajv_static["schemas"]["strict_repro_fixed"]


@pytest.mark.node
def test_canonical_messages_pass_both(ajv_static: dict[str, Any]) -> None:
    results = ajv_static["messages"][: len(ACTORS)]
    for actor, result in zip(ACTORS, results, strict=True):
        assert python_validator(actor).is_valid(CANONICAL[actor]), actor
        assert result["valid"] is True, (actor, result["errors"])


@pytest.mark.node
@pytest.mark.parametrize("index", range(len(INVALID)), ids=[row[0] for row in INVALID])
def test_contract_violations_fail_both(ajv_static: dict[str, Any], index: int) -> None:
    _, actor, path, value = INVALID[index]
    message = mutated(actor, path, value)
    assert not python_validator(actor).is_valid(message)
    result = ajv_static["messages"][len(ACTORS) + index]
    assert result["valid"] is False, result


@pytest.mark.node
@pytest.mark.parametrize("index", range(len(FORMAT_EDGES)), ids=[row[0] for row in FORMAT_EDGES])
def test_format_edges_fail_both(ajv_static: dict[str, Any], index: int) -> None:
    _, actor, path, value = FORMAT_EDGES[index]
    message = mutated(actor, path, value)
    assert not python_validator(actor).is_valid(message)
    assert not Draft202012Validator(SCHEMAS[actor]).is_valid(message)  # format as an annotation
    result = ajv_static["messages"][len(ACTORS) + len(INVALID) + index]
    assert result["valid"] is False, result
    gateway = next(m for m in shop.broker.middleware if isinstance(m, PayloadGateway))
    with pytest.raises(PayloadRejected):  # and the worker, which the schemas describe
        gateway.consume_guard.check(shop.broker, dramatiq.Message(**message))


# -- property test: whatever the gateway stores validates in both -------------------------------------

GENERATED: list[tuple[str, bytes]] = []

whole_minute_offsets = st.integers(-(23 * 60 + 59), 23 * 60 + 59).map(
    lambda minutes: datetime.timezone(datetime.timedelta(minutes=minutes))
)
aware_datetimes = st.datetimes(
    min_value=datetime.datetime(1, 1, 2),
    max_value=datetime.datetime(9999, 12, 30),
    timezones=st.one_of(st.just(datetime.UTC), whole_minute_offsets),
)
finite_decimals = st.decimals(allow_nan=False, allow_infinity=False)
ints = st.integers(-(2**63), 2**63 - 1)
short_text = st.text(max_size=20)

line_items = st.builds(
    shop.LineItem,
    sku=st.text(min_size=1, max_size=64),
    quantity=st.integers(1, 1000),
    unit_price=finite_decimals,
)
orders = st.builds(
    shop.Order,
    order_id=st.uuids(),
    customer_id=ints,
    placed_at=aware_datetimes,
    currency=st.sampled_from(shop.Currency),
    items=st.lists(line_items, min_size=1, max_size=3),
    note=st.none() | short_text,
)

# (actor, positional args, keyword args) for each example actor.
calls = st.one_of(
    st.tuples(st.just("place_order"), st.tuples(orders), st.fixed_dictionaries({}, optional={"notify": st.booleans()})),
    st.tuples(
        st.just("send_email"),
        st.tuples(ints, st.sampled_from(["welcome", "receipt", "password-reset"])),
        st.fixed_dictionaries(
            {}, optional={"variables": st.none() | st.dictionaries(short_text, short_text, max_size=3)}
        ),
    ),
    st.tuples(
        st.just("make_thumbnail"),
        st.tuples(st.text(max_size=100)),
        st.fixed_dictionaries({}, optional={"width": st.integers(1, 4096)}),
    ),
    st.tuples(
        st.just("refund"),
        st.tuples(st.uuids(), finite_decimals, short_text, aware_datetimes),
        st.just({}),
    ),
)  # fmt: skip


@pytest.mark.slow
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(call=calls, delay=st.none() | st.integers(1, 10**6), by_name=st.booleans())
def test_gateway_output_validates(
    call: tuple[str, tuple[Any, ...], dict[str, Any]], delay: int | None, by_name: bool
) -> None:
    """Send through the real gateway; the exact stored bytes validate (jsonschema here, ajv at the end)."""
    actor_name, args, kwargs = call
    actor = shop.broker.get_actor(actor_name)
    stored(shop.broker)
    if by_name:
        names = list(inspect.signature(actor_function(actor)).parameters)
        kwargs = {**dict(zip(names, args, strict=False)), **kwargs}
        args = ()
    actor.send_with_options(args=args, kwargs=kwargs, delay=delay)
    [body] = stored(shop.broker)
    message = json.loads(body)
    assert message["queue_name"] == actor.queue_name + (".DQ" if delay else "")
    errors = [error.message for error in python_validator(actor_name).iter_errors(message)]
    assert not errors, (body, errors)
    GENERATED.append((actor_name, body))


@pytest.mark.node
def test_gateway_output_validates_in_ajv() -> None:
    """Everything the property test stored (plus one fixed message per actor), in one ajv run."""
    batch = [*GENERATED, *((actor, json.dumps(CANONICAL[actor]).encode()) for actor in ACTORS)]
    result = run_ajv(
        {
            "schemas": SCHEMAS,
            "messages": [{"schema": actor, "data": json.loads(body)} for actor, body in batch],
        }
    )
    failures = [
        (body, found["errors"])
        for (_, body), found in zip(batch, result["messages"], strict=True)
        if found["valid"] is not True
    ]
    assert not failures, failures[:3]

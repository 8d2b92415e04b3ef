"""The worker's one-pass lanes decide as the published schema does and deliver the full check's values.

:class:`actorschema.consume.arguments.InboundContract` has two shortcuts for typed
parameters, both decided once per hint from pydantic's core schema:

* **read-alike** (:func:`actorschema.hints.reads_json_as_python`): after the
  schema pass, the value is validated in pydantic's Python mode instead of
  being encoded and validated in JSON mode. Sound if, whenever the schema
  accepts a value and Python mode accepts it, the value is JSON mode's.
* **wire lanes** (``_wire_lane``): the schema pass is skipped when every
  parameter's lane accepts. Sound if, whenever a lane accepts, the reference
  (``jsonschema``, draft 2020-12, formats asserted, on the published schema)
  and jsonschema-rs accept, and the lane's value is the full check's.

Both are checked here with hypothesis on every hint of the corpus
(tests/helpers/hint_corpus.py) that has a shortcut, and on hints chosen because
pydantic reads them more loosely than the schema: for each, values as stored,
arbitrary JSON, and stored values with one place replaced by a near miss
(``5.0`` for an ``int``, ``1`` for ``True``, a time with a space for ``T``...).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import functools
import json
import math
import uuid
from typing import Annotated, Any, Literal, NotRequired

import dramatiq
import jsonschema_rs
import msgspec
import pydantic
import pytest
from helpers.format_edges import EDGES
from helpers.hint_corpus import NEAR_MISSES, ROWS, Row, aware, changed, json_values, mutated, places
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, OnErrorOmit
from typing_extensions import TypedDict

import actorschema.consume.envelope as envelope
from actorschema import PayloadGateway
from actorschema.brokers import StubBroker
from actorschema.consume.arguments import (
    InboundContract,
    WireLane,
    _conforms,
    _fast_validator,
    _to_python,
    _wire_lane,
)
from actorschema.consume.envelope import decode_message
from actorschema.contract import ActorContract
from actorschema.errors import MessageMalformed, PayloadRejected, Violation
from actorschema.formats import FORMAT_CHECKER, PATTERNS, exact_string_form, pattern_decides
from actorschema.hints import reads_json_as_python
from actorschema.limits import SizeLimit
from actorschema.schema import message_schema

#: The guards here leave argument types for the decoder: forgotten after each test.
pytestmark = pytest.mark.usefixtures("forget_left_types")


# -- hints pydantic may read more loosely than the schema ------------------------------------


class Kind(str, enum.Enum):
    A = "a"
    B = "b"


class Line(BaseModel):
    sku: str
    quantity: int
    price: float
    gift: bool = False
    tags: list[str] = []


class Wide(BaseModel):
    """The consume benchmark's medium model in small: every kind its wire lane covers."""

    text: str
    count: int
    amount: float
    flag: bool
    note: str | None = None
    at: dt.datetime
    aware_at: AwareDatetime
    day: dt.date | None = None
    ident: uuid.UUID
    kind: Kind
    mode: Literal["x", "y"] = "x"
    sizes: dict[str, int] = {}
    bounded: Annotated[int, Field(ge=0, le=10)] = 0
    short: Annotated[str, Field(max_length=3)] = ""
    lines: list[Line] = []
    child: Line | None = None


class WideRecord(TypedDict):
    """The same shape as a TypedDict, which pydantic-core validates by its schema (no class validator)."""

    text: str
    count: int
    amount: float
    flag: bool
    note: NotRequired[str | None]
    at: dt.datetime
    ident: uuid.UUID
    kind: Kind
    sizes: dict[str, int]
    lines: list[LineRecord]


class LineRecord(TypedDict):
    sku: str
    quantity: int
    tags: list[str]


class ByName(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    user_id: int = Field(alias="userId")


class Stripped(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)
    code: Annotated[str, Field(max_length=3)]


texts = st.text(max_size=4)
lines = st.builds(
    Line, sku=texts, quantity=st.integers(), price=st.floats(allow_nan=False, allow_infinity=False)
)
wides = st.builds(
    Wide,
    text=texts,
    count=st.integers(),
    amount=st.floats(allow_nan=False, allow_infinity=False),
    flag=st.booleans(),
    at=aware,
    aware_at=aware,
    ident=st.uuids(),
    kind=st.sampled_from(Kind),
    lines=st.lists(lines, max_size=2),
    child=st.none() | lines,
)
line_records = st.fixed_dictionaries(
    {"sku": texts, "quantity": st.integers(), "tags": st.lists(texts, max_size=2)}
)
wide_records = st.fixed_dictionaries(
    {
        "text": texts,
        "count": st.integers(),
        "amount": st.floats(allow_nan=False, allow_infinity=False),
        "flag": st.booleans(),
        "at": aware,
        "ident": st.uuids(),
        "kind": st.sampled_from(Kind),
        "sizes": st.dictionaries(texts, st.integers(), max_size=2),
        "lines": st.lists(line_records, max_size=2),
    },
    optional={"note": st.none() | texts},
)

#: Hints of the corpus with a shortcut, and hints chosen for where pydantic reads more loosely.
EXTRA = [
    Row("wide-model", Wide, wides),
    Row("wide-typeddict", WideRecord, wide_records),
    Row("populate-by-name", ByName, st.integers().map(lambda i: ByName(userId=i))),
    Row("strip-then-length", Stripped, st.text("ab ", max_size=3).map(lambda s: Stripped(code=s))),
    Row("pattern", Annotated[str, Field(pattern=r"^\d+$")], st.from_regex(r"^[0-9]+$", fullmatch=True)),
    Row("float-bounded", Annotated[float, Field(le=2.0**53)], st.floats(max_value=2.0**53, allow_nan=False)),
    Row("literal-true", Literal[True], st.just(True)),
    Row("list-omit-errors", list[OnErrorOmit[int]], st.lists(st.integers(), max_size=3)),
]


def contract_of(row: Row) -> ActorContract:
    def receive(x: Any) -> None: ...

    receive.__annotations__ = {"x": row.hint, "return": None}
    return ActorContract.from_function(receive, "lane_" + row.id.replace("-", "_"))


def has_shortcut(row: Row) -> bool:
    adapter = contract_of(row).by_name["x"].adapter
    return adapter is not None and reads_json_as_python(adapter.core_schema)


CASES = [row for row in ROWS if row.refused is None and has_shortcut(row)] + EXTRA

# -- the near misses that matter here ---------------------------------------------------------

NUMBERS = st.sampled_from(
    [5.0, -0.0, 1e20, 2.0**70, 2**64, 2**70, -(2**63) - 1, 2**53 + 1, True, False, 0, 1]
)
TEXTS = st.sampled_from(
    [
        "2020-01-01T00:00:00Z",
        "2020-01-01 00:00:00Z",
        "2020-01-01T00:00:00",
        "2020-01-01t00:00:00z",
        "2020-02-30T00:00:00Z",
        "2020-01-01",
        "1700000000",
        "12:30:00Z",
        "12:30:00",
        "24:00:00Z",
        "0e5e6c0a-1b7c-4d4e-9f3a-2b1c0d9e8f7a",
        "0E5E6C0A-1B7C-4D4E-9F3A-2B1C0D9E8F7A",
        "0e5e6c0a1b7c4d4e9f3a2b1c0d9e8f7a",
        "urn:uuid:0e5e6c0a-1b7c-4d4e-9f3a-2b1c0d9e8f7a",
        "a",
        "A",
        "x",
        " ab ",
        "١٢",
        "userId",
        "uid",
        "user_id",
    ]
)
REPLACEMENTS = json_values | NEAR_MISSES | NUMBERS | TEXTS


def at(value: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        value = value[step]
    return value


def confusions(value: Any) -> list[Any]:
    """JSON values a lax reader takes for ``value``'s type, and the schema does not."""
    if type(value) is bool:
        return [int(value), str(value).lower(), "yes"]
    if type(value) is int:
        return [str(value), float(value), value + 0.5, value != 0, [value]]
    if type(value) is float:
        # An integer is a JSON number too (the row's own strategy may hold an infinity: refused at send).
        return [str(value), True, None, *([int(value)] if math.isfinite(value) else [])]
    if type(value) is str:
        return [1, 1.5, True, None, value + " ", value.replace("T", " "), value.upper(), f"{value}\n"]
    if value is None:
        return [0, "", False, "null"]
    return ["", 0, [] if isinstance(value, dict) else {}]


def confused(wire: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A stored value with one place replaced by a value of a neighbouring JSON type."""

    def one(value: Any) -> st.SearchStrategy[Any]:
        spots = [path for path, is_key in places(value) if not is_key]
        return st.sampled_from(spots).flatmap(
            lambda path: st.sampled_from(confusions(at(value, path))).map(
                lambda new: changed(value, path, False, new)
            )
        )

    return wire.flatmap(one)


LANES = settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


def same(a: Any, b: Any) -> bool:
    """Equal, and of the same type at every level (so 1, 1.0 and True differ, as do two offsets)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, BaseModel):
        return (
            same(vars(a), vars(b))
            and a.model_fields_set == b.model_fields_set
            and same(a.__pydantic_extra__, b.__pydantic_extra__)
        )
    if isinstance(a, dict):
        return (
            list(map(type, a)) == list(map(type, b))
            and list(a) == list(b)
            and all(same(a[k], b[k]) for k in a)
        )
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, set | frozenset):
        return a == b and sorted(map(repr, a)) == sorted(map(repr, b))
    if isinstance(a, float):
        return (a == b and math.copysign(1, a) == math.copysign(1, b)) or (a != a and b != b)
    if isinstance(a, dt.datetime | dt.time):
        return a == b and a.isoformat() == b.isoformat() and type(a.tzinfo) is type(b.tzinfo)
    if dataclasses.is_dataclass(a):
        return same(vars(a), vars(b))
    return bool(a == b)


def containers(value: Any, found: set[int]) -> set[int]:
    """The ids of every list and dict inside a JSON value."""
    if isinstance(value, list | dict):
        found.add(id(value))
        for item in value.values() if isinstance(value, dict) else value:
            containers(item, found)
    return found


def shares(delivered: Any, ids: set[int]) -> bool:
    """True when ``delivered`` holds one of those containers (the actor could change the message)."""
    if isinstance(delivered, BaseModel):
        return shares(vars(delivered), ids) or shares(delivered.__pydantic_extra__, ids)
    if isinstance(delivered, list | dict | tuple | set | frozenset):
        if id(delivered) in ids:
            return True
        items = delivered.values() if isinstance(delivered, dict) else delivered
        return any(shares(item, ids) for item in items)
    return False


class Reference:
    """The full check as it was: the published schema (jsonschema and jsonschema-rs), then JSON mode."""

    def __init__(self, contract: ActorContract) -> None:
        schema = message_schema(contract, SizeLimit(None, "global"))
        self.validator = Draft202012Validator(
            {**schema, "properties": {"kwargs": schema["properties"]["kwargs"]}, "required": ["kwargs"]},
            format_checker=Draft202012Validator.FORMAT_CHECKER,
        )
        self.parameter = contract.by_name["x"]

    def schema_accepts(self, value: Any) -> bool:
        return bool(self.validator.is_valid({"kwargs": {"x": value}}))

    def json_mode(self, value: Any) -> tuple[Any, list[Violation]]:
        violations: list[Violation] = []
        return _to_python(self.parameter, value, ("kwargs", "x"), violations), violations


@pytest.mark.parametrize("row", CASES, ids=[row.id for row in CASES])
def test_lanes_decide_as_the_schema_and_deliver_the_full_checks_value(row: Row) -> None:
    contract = contract_of(row)
    inbound = InboundContract(contract)
    reference = Reference(contract)
    parameter = contract.by_name["x"]
    assert parameter.adapter is not None and row.values is not None
    lane = _wire_lane(parameter.adapter)
    stored = row.values.map(lambda value: contract.canonical((), {"x": value})[1]["x"])

    @LANES
    @given(stored | confused(stored) | json_values | mutated(stored, REPLACEMENTS))
    @example(5.0)
    @example(True)
    def law(value: Any) -> None:
        schema_ok = reference.schema_accepts(value)
        rs_ok = inbound._fast is not None and inbound._fast.is_valid({"args": [], "kwargs": {"x": value}})
        if lane is not None:
            try:
                lane_value = lane(value)
            except (msgspec.ValidationError, pydantic.ValidationError):
                pass
            else:
                assert schema_ok and rs_ok, f"the lane accepts {value!r}, the schema does not"
                expected, violations = reference.json_mode(value)
                assert not violations, (value, violations)
                assert same(lane_value, expected), (value, lane_value, expected)
                assert not shares(lane_value, containers(value, set())), value
        if schema_ok and rs_ok:
            try:
                python_value = parameter.adapter.validate_python(value)
            except pydantic.ValidationError:
                pass  # the full check then converts in JSON mode
            else:
                expected, violations = reference.json_mode(value)
                assert not violations, (value, violations)
                assert same(python_value, expected), (value, python_value, expected)
        # The whole check: the schema's verdict (where pydantic converts it), the same value.
        try:
            _, delivered = inbound.check((), {"x": value})
        except PayloadRejected:
            assert not (schema_ok and rs_ok) or reference.json_mode(value)[1], value
        else:
            assert schema_ok and rs_ok, value
            expected, _ = reference.json_mode(value)
            assert same(delivered["x"], expected), (value, delivered["x"], expected)
            assert not shares(delivered["x"], containers(value, set())), value

    law()


def test_the_benchmark_shape_takes_the_lane() -> None:
    """The consume benchmark's medium shape (a wide model, times, nested items) skips the schema pass."""
    wide = InboundContract(contract_of(EXTRA[0]))
    assert wide._read_alike == {"x"} and wide._lanes is not None
    order = Wide(
        text="a",
        count=1,
        amount=1.5,
        flag=True,
        at=dt.datetime(2024, 5, 1, tzinfo=dt.UTC),
        aware_at=dt.datetime(2024, 5, 1, tzinfo=dt.UTC),
        ident=uuid.UUID(int=1),
        kind=Kind.A,
        lines=[Line(sku="s", quantity=2, price=1.0)],
    )
    value = contract_of(EXTRA[0]).canonical((), {"x": order})[1]["x"]
    lane = wide._lanes["x"]
    assert isinstance(lane(value), Wide)
    with pytest.raises(msgspec.ValidationError):
        lane({**value, "count": "1"})  # the model's own validator would take it: the mirror judges


LOOSER = EXTRA[4:] + [row for row in ROWS if row.id == "alias-choices"]


@pytest.mark.parametrize("row", LOOSER, ids=[row.id for row in LOOSER])
def test_no_lane_where_pydantic_reads_more_loosely(row: Row) -> None:
    """Alias choices, regexes, float bounds, literals other than text, a default in place of an invalid item."""
    contract = contract_of(row)
    adapter = contract.by_name["x"].adapter
    assert adapter is not None
    assert _wire_lane(adapter) is None
    assert InboundContract(contract)._lanes is None


@pytest.mark.parametrize(
    ("hint", "value", "delivered"),
    [
        (int, 5.0, 5),
        (list[int], [1, 2.0], [1, 2]),
        (dt.datetime, "2020-01-01T00:00:00Z", dt.datetime(2020, 1, 1, tzinfo=dt.UTC)),
    ],
    ids=["int-from-integral-float", "list-int-with-integral-float", "datetime"],
)
def test_what_a_lane_refuses_the_full_check_still_accepts(hint: Any, value: Any, delivered: Any) -> None:
    """A lane is a shortcut only: ``5.0`` for an ``int`` is refused by strict pydantic, accepted by the schema."""
    inbound = InboundContract(contract_of(Row("x", hint)))
    _, kwargs = inbound.check((), {"x": value})
    assert kwargs["x"] == delivered and type(kwargs["x"]) is type(delivered)


# -- formats the pattern beside them decides ------------------------------------------------


PATTERNED = sorted(form for form in EDGES if form in PATTERNS)


@pytest.mark.parametrize("form", PATTERNED)
def test_a_format_beside_its_pattern_adds_nothing(form: str) -> None:
    """jsonschema-rs without formats, where each carries its pattern, judges as with the worker's format checks."""
    node = exact_string_form({"type": "string", "format": form})
    assert pattern_decides(node)
    without = _fast_validator({"type": "array", "items": node})
    with_formats = jsonschema_rs.Draft202012Validator(
        {"type": "array", "items": node},
        validate_formats=True,
        formats={
            str(name): functools.partial(_conforms, *check) for name, check in FORMAT_CHECKER.checkers.items()
        },
    )

    @settings(max_examples=40, deadline=None, derandomize=True)
    @given(
        st.sampled_from(EDGES[form]) | st.text(max_size=30) | st.from_regex(PATTERNS[form], fullmatch=True)
    )
    def same_verdict(text: str) -> None:
        assert without.is_valid([text]) == with_formats.is_valid([text]), text

    same_verdict()


def test_formats_stay_asserted_where_a_pattern_does_not_decide() -> None:
    """A user's own pattern beside a format, or a format without a pattern here, keeps the format check."""
    own = {"type": "string", "format": "date-time", "pattern": "^2"}
    email = {"type": "string", "format": "email"}
    assert not pattern_decides(own) and not pattern_decides(email)
    assert not _fast_validator({"type": "array", "items": own}).is_valid(["2 not a time"])
    assert not _fast_validator({"type": "array", "items": email}).is_valid(["not an address"])


# -- bodies read with the lanes' types ------------------------------------------------------------


def _lane_of(row: Row) -> Any:
    """The worker's lane for ``x``, where it is a wire lane (not an exact type)."""
    lanes = InboundContract(contract_of(row))._lanes
    lane = None if lanes is None else lanes["x"]
    return lane if type(lane) is WireLane else None


LANED = [row for row in CASES if _lane_of(row) is not None]
ENVELOPE = {
    "queue_name": "default",
    "options": {},
    "message_id": "7f1d6a3e-9c2b-4b8e-a7d5-3c1e2f4a5b6c",
    "message_timestamp": 1_700_000_000_000,
}


def body_of(actor_name: str, kwargs: dict[str, Any], style: str, twist: str) -> bytes:
    """A stored message, as bare Dramatiq (``json.dumps``) or the gateway (msgspec) writes it, then twisted."""
    fields = {"queue_name": "default", "actor_name": actor_name, "args": [], "kwargs": kwargs, **ENVELOPE}
    if twist == "unknown-keyword":
        kwargs["zz"] = "a:b"
    if twist == "envelope-extra":
        fields["extra"] = 1
    if twist == "positional":
        fields["args"], fields["kwargs"] = list(kwargs.values()), {}
    body = json.dumps(fields).encode() if style == "dramatiq" else msgspec.json.encode(fields)
    opening = b'"kwargs": {' if style == "dramatiq" else b'"kwargs":{'
    if twist == "duplicate-key" and opening + b"}" not in body:
        body = body.replace(opening, opening + b'"x": 0, ', 1)
    if twist == "escaped-colon-in-unknown":
        body = body.replace(opening, opening + b'"zz": "a\\u003ab", ', 1)
    if twist == "invalid-utf-8":
        body = body.replace(opening, opening + b'"zz": "\xff", ', 1)
    return body


def decoded(body: bytes) -> tuple[Any, Any]:
    """The message decode_message gives (its fields and marks), or the refusal's violations."""
    try:
        message = decode_message(body, "default")
    except MessageMalformed as refusal:
        return "refused", refusal.violations
    return "message", message


def verdict(guard: Any, broker: Any, message: Any) -> tuple[str, Any]:
    try:
        delivery = guard.check(broker, message)
    except PayloadRejected as rejection:
        return type(rejection).__name__, [(v.path, v.problem) for v in rejection.violations]
    return "delivered", None if delivery is None else (delivery.args, delivery.kwargs)


@pytest.mark.parametrize("row", LANED, ids=[row.id for row in LANED])
def test_a_body_read_with_the_lanes_types_is_the_body_read_plainly(row: Row) -> None:
    """Reading a body with its actor's mirrors builds what plain decoding builds, and the worker judges alike.

    Where the reading applies, the message (every field, key order and type) is
    plain decoding's, each mirrored value is one its lane accepts, and the
    guard's verdict and delivered values are those for the plainly read body;
    where it does not (a value its mirror refuses, a key it passes over, a
    duplicate key, an escaped colon), the body is read plainly.
    """
    broker = StubBroker()
    gateway = PayloadGateway()
    broker.add_middleware(gateway)
    name = "read_" + row.id.replace("-", "_")

    def receive(x: Any) -> None: ...

    receive.__annotations__ = {"x": row.hint, "return": None}
    dramatiq.actor(receive, actor_name=name, broker=broker)
    guard = gateway.consume_guard
    contract = gateway.contract_for(broker, name)
    assert contract is not None and row.values is not None
    inbound = guard._inbound_for(contract)  # as on the first message: leaves the lanes' types
    lane = inbound._lanes["x"] if inbound._lanes is not None else None
    assert isinstance(lane, WireLane) and envelope._readers[name].owner is inbound
    stored = row.values.map(lambda value: contract.canonical((), {"x": value})[1]["x"])
    read_typed = []

    @LANES
    @given(
        stored | confused(stored) | json_values | mutated(stored, REPLACEMENTS),
        st.sampled_from(["dramatiq", "gateway"]),
        st.sampled_from(
            [
                "",
                "",
                "",
                "unknown-keyword",
                "envelope-extra",
                "positional",
                "duplicate-key",
                "escaped-colon-in-unknown",
                "invalid-utf-8",
            ]
        ),
    )
    @example(5.0, "dramatiq", "")
    @example(True, "gateway", "")
    def law(value: Any, style: str, twist: str) -> None:
        body = body_of(name, {"x": value}, style, twist)
        kind, typed = decoded(body)
        reader = envelope._readers.pop(name)
        try:
            plain_kind, plain = decoded(body)
        finally:
            envelope._readers[name] = reader
        assert kind == plain_kind, (body, typed, plain)
        if kind == "refused":
            assert typed == plain
            return
        marks = {envelope.ARGUMENTS_READ_BY}
        assert same({k: v for k, v in vars(typed).items() if k not in marks}, vars(plain)), (
            body,
            vars(typed),
            vars(plain),
        )
        if getattr(typed, envelope.ARGUMENTS_READ_BY, None) is inbound:
            read_typed.append(twist)
            assert twist in ("", "positional"), (twist, body)
            if not typed.args:
                lane(typed.kwargs["x"])  # the mirror's verdict as read is the lane's: it accepts
        assert verdict(guard, broker, typed) == verdict(guard, broker, plain) or same(
            verdict(guard, broker, typed), verdict(guard, broker, plain)
        ), body

    law()
    assert "" in read_typed, "no body was read with the lanes' types: the law above decided nothing"

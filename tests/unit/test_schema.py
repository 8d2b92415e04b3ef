"""The generated schemas are the gateway's contract: what it emits validates, what it refuses fails."""

from __future__ import annotations

import datetime
import decimal
import enum
import json
import uuid
from typing import Annotated, Any, Literal

import dramatiq
import jsonschema
import pytest
from dramatiq.brokers.stub import StubBroker
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, Field

from actorschema import PayloadGateway, PayloadRejected
from actorschema.generate import render
from actorschema.message import MESSAGE_FIELDS
from actorschema.schema import DECIMAL_PATTERN, message_schema

UTC = datetime.UTC


class Tier(enum.StrEnum):
    FREE = "free"
    PRO = "pro"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Address(BaseModel):
    street: str
    zip: Annotated[str, Field(pattern=r"^\d{5}$")]


class Customer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: uuid.UUID
    name: Annotated[str, Field(min_length=1, max_length=50)]
    tier: Tier = Tier.FREE
    addresses: list[Address] = []
    since: datetime.datetime | None = None


def build_app() -> tuple[StubBroker, dict[str, Any]]:
    broker = StubBroker()
    broker.add_middleware(PayloadGateway(max_message_bytes=None))
    actors: dict[str, Any] = {}

    def actor(fn: Any) -> Any:
        actors[fn.__name__] = dramatiq.actor(fn, broker=broker)
        return actors[fn.__name__]

    @actor
    def scalars(i: int, f: float, s: str, b: bool, n: None = None) -> None: ...

    @actor
    def unions(x: int | str, o: int | None = None, lit: Literal["a", "b", 3] = "a") -> None: ...

    @actor
    def enums(t: Tier, lv: Level) -> None: ...

    @actor
    def times(at: datetime.datetime, day: datetime.date, tm: datetime.time) -> None: ...

    @actor
    def ids(u: uuid.UUID, d: decimal.Decimal, raw: bytes) -> None: ...

    @actor
    def containers(xs: list[int], m: dict[str, float], pair: tuple[int, str], tags: set[str]) -> None: ...

    @actor
    def models(c: Customer, others: list[Customer] | None = None) -> None: ...

    @actor
    def constrained(
        n: Annotated[int, Field(ge=1, le=10)], name: Annotated[str, Field(max_length=5)]
    ) -> None: ...

    @actor
    def untyped(a, b=None, *rest, **extra) -> None: ...  # type: ignore[no-untyped-def]

    @actor
    def positional(a: int, /, b: str, *, c: bool = False) -> None: ...

    return broker, actors


BROKER, ACTORS = build_app()
SCHEMAS = {name: json.loads(text) for name, text in render(BROKER).items() if name.endswith(".schema.json")}
VALIDATORS = {
    name.removesuffix(".schema.json"): jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    for name, schema in SCHEMAS.items()
}


def sent(actor_name: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """Send through the real gateway; return the stored message as another language would parse it."""
    BROKER.flush_all()
    ACTORS[actor_name].send(*args, **kwargs)
    queue = BROKER.queues[ACTORS[actor_name].queue_name]
    body: dict[str, Any] = json.loads(next(iter(queue.queue)))
    BROKER.flush_all()
    return body


def errors(message: dict[str, Any]) -> list[str]:
    validator = VALIDATORS[message["actor_name"]]
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(message)]


def test_every_schema_is_valid_draft_2020_12() -> None:
    assert set(SCHEMAS) == {f"{name}.schema.json" for name in ACTORS}
    for schema in SCHEMAS.values():
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert schema["additionalProperties"] is False
        assert set(schema["required"]) == set(schema["properties"]) == MESSAGE_FIELDS


def test_output_is_deterministic_and_states_the_limit() -> None:
    again, _ = build_app()
    assert render(again) == render(BROKER)
    index = json.loads(render(BROKER)["index.json"])
    assert index["actors"]["scalars"]["max_message_bytes"] is None
    limited = StubBroker()
    limited.add_middleware(PayloadGateway(queue_limits={"small": 2048}))

    @dramatiq.actor(broker=limited, queue_name="small")
    def tiny(n: int) -> None: ...

    files = render(limited)
    assert json.loads(files["index.json"])["actors"]["tiny"]["max_message_bytes"] == 2048
    assert "at most 2048 bytes (queue limit)" in json.loads(files["tiny.schema.json"])["$comment"]


def test_the_docstring_becomes_the_description() -> None:
    broker = StubBroker()

    @dramatiq.actor(broker=broker)
    def documented(n: int) -> None:
        """Count to n."""

    schema = json.loads(render(broker)["documented.schema.json"])
    assert schema["description"].startswith("Count to n.")


EXAMPLES = [
    ("scalars", (1, 2.5, "s", True), {}),
    ("scalars", (), {"i": -3, "f": 7, "s": "", "b": False, "n": None}),
    ("unions", ("text",), {"o": 4, "lit": 3}),
    ("enums", (Tier.PRO, Level.HIGH), {}),
    (
        "times",
        (datetime.datetime(2024, 2, 29, 23, 59, tzinfo=UTC), datetime.date(2024, 1, 1)),
        {"tm": datetime.time(8, tzinfo=UTC)},
    ),
    ("ids", (uuid.uuid4(), decimal.Decimal("1E+5"), b"\xfb\xff\x00"), {}),
    ("ids", (uuid.uuid4(), decimal.Decimal("-0.001"), b""), {}),
    ("containers", ([1, 2], {"a": 1.5}, (1, "x"), {"t"}), {}),
    (
        "models",
        ({"id": str(uuid.uuid4()), "name": "Ann", "addresses": [{"street": "s", "zip": "12345"}]},),
        {},
    ),
    ("constrained", (1, "abcde"), {}),
    ("untyped", ({"k": [1, None]}, "b", 3, 4), {"z": True}),
    ("untyped", (1,), {"z": {"deep": [1.5]}}),
    ("positional", (1, "b"), {"c": True}),
]


@pytest.mark.parametrize(("actor_name", "args", "kwargs"), EXAMPLES)
def test_what_the_gateway_emits_validates(
    actor_name: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    message = sent(actor_name, *args, **kwargs)
    assert errors(message) == []


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    i=st.integers(),
    f=st.floats(allow_nan=False, allow_infinity=False),
    s=st.text(),
    at=st.datetimes(timezones=st.timezones()).filter(lambda d: d.utcoffset() is not None),
    d=st.decimals(allow_nan=False, allow_infinity=False),
    raw=st.binary(max_size=20),
)
def test_property_accepted_values_validate(
    i: int, f: float, s: str, at: datetime.datetime, d: decimal.Decimal, raw: bytes
) -> None:
    for actor_name, args in [
        ("scalars", (i, f, s, bool(i % 2))),
        ("times", (at, at.date(), at.timetz())),
        ("ids", (uuid.uuid4(), d, raw)),
    ]:
        try:
            message = sent(actor_name, *args)
        except PayloadRejected:
            continue  # e.g. an offset with seconds: refused, so nothing to validate
        assert errors(message) == [], message


def canonical(actor_name: str, **kwargs: Any) -> dict[str, Any]:
    return {
        "queue_name": "default",
        "actor_name": actor_name,
        "args": [],
        "kwargs": kwargs,
        "options": {},
        "message_id": str(uuid.uuid4()),
        "message_timestamp": 1_700_000_000_000,
    }


REFUSED = [
    canonical("scalars", i="1", f=1.0, s="s", b=True),  # a string for an int
    canonical("scalars", i=1, f=1.0, s="s", b=1),  # an int for a bool
    canonical("scalars", i=1, f=1.0, s="s"),  # missing b
    canonical("scalars", i=1, f=1.0, s="s", b=True, extra=1),  # unknown keyword
    canonical("unions", x=1.5),
    canonical("unions", x=1, lit="c"),
    canonical("enums", t="gold", lv=1),
    canonical("enums", t="free", lv=3),
    canonical("times", at="2024-01-01T00:00:00", day="2024-01-01", tm="08:00:00Z"),  # naive
    canonical("times", at="2024-13-01T00:00:00Z", day="2024-01-01", tm="08:00:00Z"),
    canonical("ids", u="not-a-uuid", d="1.5", raw=""),
    canonical("ids", u=str(uuid.uuid4()), d="abc", raw=""),
    canonical("ids", u=str(uuid.uuid4()), d="NaN", raw=""),
    canonical("ids", u=str(uuid.uuid4()), d="1.5", raw="not base64!"),
    canonical("containers", xs=[1, "2"], m={}, pair=[1, "x"], tags=[]),
    canonical("containers", xs=[], m={}, pair=[1], tags=[]),
    canonical("models", c={"id": str(uuid.uuid4()), "name": ""}),
    canonical("models", c={"id": str(uuid.uuid4()), "name": "A", "unknown": 1}),  # extra="forbid"
    canonical("models", c={"id": str(uuid.uuid4()), "name": "A", "addresses": [{"street": "s", "zip": "1"}]}),
    canonical("constrained", n=11, name="abc"),
    canonical("constrained", n=1, name="abcdef"),
    canonical("positional", b="b"),  # a positional-only value missing from args
    {**canonical("scalars", i=1, f=1.0, s="s", b=True), "queue_name": "elsewhere"},
    {**canonical("scalars", i=1, f=1.0, s="s", b=True), "queue_name": "default.DQ"},  # delayed without eta
    {**canonical("scalars", i=1, f=1.0, s="s", b=True), "message_id": "m-1"},
    {**canonical("scalars", i=1, f=1.0, s="s", b=True), "options": {"retries": "3"}},
    {**canonical("scalars", i=1, f=1.0, s="s", b=True), "surprise": 1},
]


@pytest.mark.parametrize("message", REFUSED, ids=lambda m: f"{m['actor_name']}-{sorted(m['kwargs'])}")
def test_messages_the_contract_refuses_fail_the_schema(message: dict[str, Any]) -> None:
    assert errors(message) != []


# Python values the send side converts to the declared type (pydantic's lax mode) rather than
# refusing; what it stores is then the converted value, which the schema accepts.
CONVERTED_ON_SEND = {
    ("scalars", "i"): "'1' is stored as 1",
    ("scalars", "b"): "1 is stored as true",
    ("containers", "xs"): "'2' in a list[int] is stored as 2",
}


def test_the_gateway_refuses_what_the_schema_refuses_but_documented_conversions() -> None:
    converted = set()
    for message in REFUSED[:21]:
        name = message["actor_name"]
        try:
            stored = sent(name, **message["kwargs"])
        except PayloadRejected:
            continue
        assert errors(stored) == [], "what the gateway stores always validates"
        converted |= {
            (name, key)
            for key, value in message["kwargs"].items()
            if json.dumps(stored["kwargs"][key]) != json.dumps(value)
        }
    assert converted == set(CONVERTED_ON_SEND)
    assert all(q.qsize() == 0 for q in BROKER.queues.values())


@pytest.mark.parametrize(
    "text",
    ["1", "-1", "1.5", ".5", "5.", "1E+5", "1e-7", "-0", "+3.25", "007"],
)
def test_the_decimal_pattern_accepts_what_pydantic_reads(text: str) -> None:
    import re

    from pydantic import TypeAdapter

    TypeAdapter(decimal.Decimal).validate_python(text)
    assert re.match(DECIMAL_PATTERN, text)


def test_a_contract_without_a_gateway_gets_the_default_limit() -> None:
    broker = StubBroker()

    @dramatiq.actor(broker=broker)
    def plain(n: int) -> None: ...

    from actorschema.contract import ActorContract
    from actorschema.limits import SizeLimit

    schema = message_schema(ActorContract.from_actor(plain), SizeLimit(262_144, "global"))
    assert json.loads(render(broker)["plain.schema.json"]) == schema


def test_with_star_args_the_required_positionals_travel_by_name_or_pinned_in_args() -> None:
    broker = StubBroker()
    broker.add_middleware(PayloadGateway())

    @dramatiq.actor(broker=broker)
    def total(first: int, *more: int) -> None: ...

    validator = jsonschema.Draft202012Validator(json.loads(render(broker)["total.schema.json"]))
    envelope = {**canonical("total"), "actor_name": "total"}
    assert not validator.is_valid({**envelope, "args": [], "kwargs": {}})
    assert validator.is_valid({**envelope, "args": [], "kwargs": {"first": 1}})
    assert validator.is_valid({**envelope, "args": [1, 2, 3], "kwargs": {}})
    for call in [(1,), (1, 2, 3)]:
        total.send(*call)
        body = json.loads(next(iter(broker.queues["default"].queue)))
        broker.flush_all()
        assert validator.is_valid(body), body


class Cat(BaseModel):
    kind: Literal["cat"]
    lives: int


class Dog(BaseModel):
    kind: Literal["dog"]


def test_a_pydantic_field_as_a_default_is_read_as_validate_call_reads_it() -> None:
    broker = StubBroker()
    broker.add_middleware(PayloadGateway())

    @dramatiq.actor(broker=broker)
    def adopt(pet: Cat | Dog = Field(discriminator="kind"), times: int = Field(default=1, ge=1)) -> None: ...  # noqa: B008

    with pytest.raises(PayloadRejected) as missing:
        adopt.send()  # the Field has no default: the parameter is required
    assert missing.value.paths == ("kwargs.pet",)
    with pytest.raises(PayloadRejected):
        adopt.send({"kind": "cat", "lives": 9}, times=0)  # the Field's constraint applies
    assert adopt.send({"kind": "dog"}).kwargs == {"pet": {"kind": "dog"}}
    schema = json.loads(render(broker)["adopt.schema.json"])["properties"]["kwargs"]
    assert schema["required"] == ["pet"]
    assert schema["properties"]["times"]["minimum"] == 1 and schema["properties"]["times"]["default"] == 1

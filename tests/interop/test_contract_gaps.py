"""Issue 9's remaining contract gaps, each through the real gateway, the published schema (jsonschema and ajv) and a real worker.

1. A ``Decimal`` with a bound other than zero, ``multiple_of`` or ``allow_inf_nan``:
   the string branch of its schema accepted what the worker refuses (``"11"`` for
   ``lt=10``), or send stored ``"NaN"`` that schema and worker refuse. Now each is
   a pattern on the text (:mod:`actorschema.ranges`); what no pattern states exactly
   (``multiple_of=Decimal("0.03")``, a float bound such as ``9.99``) is refused at declare.
2. ``\\d``, ``\\w``, ``\\s`` and ``.`` in a user ``pattern``: pydantic reads them as
   Unicode, ajv as ASCII, ``jsonschema`` as Unicode again. The schema publishes the
   ASCII reading, send refuses the rest; ``\\b`` and friends are refused at declare.
3. A scoped IPv6 address (``fe80::1%eth0``): send accepted it, schema and worker refused it.
4. A msgspec ``Struct``'s error: the place inside the Struct is in the path, not the text.
5. A recursive stdlib ``typing.TypedDict`` on Python 3.11: refused with the actor,
   the parameter, why, and the way out (which works).
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import sys
import typing
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Annotated, Any

import dramatiq
import msgspec
import pydantic
import pytest
import typing_extensions
from dramatiq import Worker
from dramatiq.brokers.stub import StubBroker
from helpers.node import run_ajv
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from pydantic import Field

from actorschema import PayloadGateway
from actorschema.consume.arguments import InboundContract
from actorschema.consume.deadletters import dead_letter_reasons
from actorschema.contract import ActorContract, hint_text, result_parameter
from actorschema.encoder import encode_json
from actorschema.errors import PayloadRejected
from actorschema.limits import SizeLimit
from actorschema.message import envelope_violations
from actorschema.patterns import Untranslatable, translate
from actorschema.pipes import result_misfit
from actorschema.schema import message_schema

FORMATS = Draft202012Validator.FORMAT_CHECKER
CHECKS = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


class Inner(msgspec.Struct):
    count: int


class Outer(msgspec.Struct):
    items: list[Inner]
    name: str = ""


class Tree(typing_extensions.TypedDict):
    name: str
    children: list[Tree]


#: The accepted hints, one actor each.
HINTS: dict[str, Any] = {
    "digits": Annotated[str, Field(pattern=r"^\d+$")],
    "words": Annotated[str, Field(pattern=r"^\w+\s\w+$")],
    "dotted": Annotated[str, Field(pattern=r"^a.c")],
    "negated": Annotated[str, Field(pattern=r"^\D\S$")],
    "classes": Annotated[str, Field(pattern=r"^[\d\s_]+$")],
    "negclass": Annotated[str, Field(pattern=r"^[^\d\s]+$")],
    "ipv6": ipaddress.IPv6Address,
    "ipany": pydantic.IPvAnyAddress,
    "positive": Annotated[Decimal, Field(gt=0, max_digits=6, decimal_places=2)],
    "price": Annotated[Decimal, Field(ge=Decimal("0.01"), le=10000)],
    "cents": Annotated[Decimal, Field(multiple_of=Decimal("0.01"), gt=-5)],
    "extended": Annotated[Decimal, Field(allow_inf_nan=True)],
    "struct": Outer,
    "tree": Tree,
}


class App:
    """A StubBroker with the gateway, one actor per hint, and a real worker."""

    def __init__(self) -> None:
        self.broker = StubBroker()
        self.broker.emit_after("process_boot")
        self.gateway = PayloadGateway()
        self.broker.add_middleware(self.gateway)
        self.received: list[Any] = []
        self.actors = {name: self.declare(name, hint) for name, hint in HINTS.items()}
        self.schemas = {
            name: message_schema(self.gateway.contracts[f"gap_{name}"], SizeLimit(None, "global"))
            for name in HINTS
        }
        self.inbound = {name: InboundContract(self.gateway.contracts[f"gap_{name}"]) for name in HINTS}
        self.worker = Worker(self.broker, worker_timeout=20, worker_threads=1)
        self.worker.start()

    def declare(self, name: str, hint: Any) -> Any:
        def receive(x: Any) -> None:
            self.received.append(x)

        receive.__annotations__ = {"x": hint, "return": None}
        return dramatiq.actor(receive, actor_name=f"gap_{name}", broker=self.broker, max_retries=0)

    def send(self, name: str, value: Any) -> dict[str, Any] | None:
        """The stored message, or None when send() refused the value."""
        try:
            message = self.actors[name].send(x=value)
        except PayloadRejected:
            return None
        stored: dict[str, Any] = json.loads(encode_json(message.asdict()))
        return stored

    def run(self, name: str, value: Any) -> Any:
        """Send ``value`` and return what the actor received (the worker must run it)."""
        message = self.actors[name].send(x=value)
        self.broker.join(message.queue_name, timeout=10_000, fail_fast=False)
        self.worker.join()
        if not self.received:
            reasons = dead_letter_reasons(self.broker, message.queue_name)
            raise AssertionError(reasons.get(message.message_id, "the actor raised"))
        return self.received.pop()

    def schema_accepts(self, name: str, value: Any) -> bool:
        published = self.schemas[name]
        schema = {**published["properties"]["kwargs"], "$defs": published.get("$defs", {})}
        return bool(Draft202012Validator(schema, format_checker=FORMATS).is_valid({"x": value}))

    def worker_accepts(self, name: str, value: Any) -> bool:
        try:
            self.inbound[name].check((), {"x": value})
        except PayloadRejected:
            return False
        return True


@pytest.fixture(scope="module")
def app() -> Iterator[App]:
    app = App()
    yield app
    app.worker.stop()
    app.broker.close()


def contract_error(hint: Any) -> str:
    def receive(x: Any) -> None: ...

    receive.__annotations__ = {"x": hint, "return": None}
    with pytest.raises(TypeError) as caught:
        ActorContract.from_function(receive, "gap_refused")
    reason = str(caught.value)
    assert "gap_refused" in reason and "parameter 'x'" in reason and "; declare " in reason, reason
    return reason


# -- 1. Decimal constraints ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hint", "words"),
    [
        pytest.param(
            pydantic.condecimal(multiple_of=Decimal("0.03")),
            ("multiple_of=Decimal('0.03')", "decimal_places"),
            id="multiple-of",
        ),
        pytest.param(Annotated[Decimal, Field(le=9.99)], ("le=9.99", "Decimal('9.99')"), id="float-bound"),
        pytest.param(
            Annotated[Decimal, Field(gt=Decimal("0.1000000000000000000001"))],
            ("gt=Decimal('0.1000000000000000000001')", "15 significant digits"),
            id="long-bound",
        ),
        pytest.param(
            pydantic.create_model("Priced", price=(Decimal, Field(multiple_of=Decimal("0.125")))),
            ("Priced.price", "multiple_of"),
            id="model",
        ),
    ],
)
def test_a_decimal_the_schema_cannot_state_is_refused_at_declare(hint: Any, words: tuple[str, str]) -> None:
    reason = contract_error(hint)
    assert all(word in reason for word in words), reason


def test_a_decimal_string_out_of_range_is_refused_by_the_schema_as_by_the_worker(app: App) -> None:
    """What the refusal once prevented: the string branch now compares the text with the bounds."""
    for text, valid in [
        ("11", True),
        ("10000", True),
        ("10000.01", False),
        ("1.00001E+4", False),
        ("0.001", False),
    ]:
        assert app.schema_accepts("price", text) is valid, text
        assert app.worker_accepts("price", text) is valid, text


@CHECKS
@given(
    name=st.sampled_from(["price", "cents", "extended"]),
    value=st.decimals(min_value=-20, max_value=20000) | st.decimals(allow_nan=True, allow_infinity=True),
)
def test_send_schema_and_worker_agree_on_constrained_decimals(app: App, name: str, value: Decimal) -> None:
    stored = app.send(name, value)
    text = str(value)
    assert (stored is not None) == app.schema_accepts(name, text) == app.worker_accepts(name, text), text
    if stored is not None:
        assert stored["kwargs"]["x"] == text


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("price", Decimal("0.01")),
        ("price", Decimal("1E+4")),
        ("cents", Decimal("-4.99")),
        ("extended", Decimal("-Infinity")),
        ("extended", Decimal("NaN")),
    ],
    ids=["lowest-price", "highest-price", "cents", "minus-infinity", "nan"],
)
def test_a_constrained_decimal_reaches_the_actor_unchanged(app: App, name: str, value: Decimal) -> None:
    received = app.run(name, value)
    assert isinstance(received, Decimal) and str(received) == str(value)


@CHECKS
@given(st.decimals(min_value=Decimal("-9999.99"), max_value=Decimal("9999.99"), places=2))
def test_a_bound_at_zero_still_travels(app: App, value: Decimal) -> None:
    stored = app.send("positive", value)
    assert (stored is not None) == (value > 0)
    if stored is not None:
        wire = stored["kwargs"]["x"]
        assert app.schema_accepts("positive", wire) and app.worker_accepts("positive", wire)


# -- 2. patterns ----------------------------------------------------------------------------------

#: Characters where the dialects part: other scripts' digits and letters, whitespace only some call so.
EDGES = "0129aZ_ \t\r\n\x0b\x85\xa0\ufeff\u2028\u3000\u0661\u0663\u06f5\u0966éßЖ-.!"
PATTERN_TEXT = st.text(st.sampled_from(EDGES), min_size=0, max_size=5)
PATTERNED = ["digits", "words", "dotted", "negated", "classes", "negclass"]


@pytest.mark.parametrize("name", PATTERNED)
def test_send_accepts_what_schema_and_worker_accept(app: App, name: str) -> None:
    @CHECKS
    @given(PATTERN_TEXT)
    def agree(text: str) -> None:
        stored = app.send(name, text)
        schema_ok = app.schema_accepts(name, text)
        assert (stored is not None) == schema_ok == app.worker_accepts(name, text), text

    agree()


def test_unicode_digits_are_refused_on_send_with_the_path(app: App) -> None:
    with pytest.raises(PayloadRejected) as caught:
        app.actors["digits"].send(x="\u0661\u0662\u0663")
    (violation,) = caught.value.violations
    assert violation.path == "kwargs.x" and "[0-9]" in violation.problem
    assert app.schemas["digits"]["properties"]["kwargs"]["properties"]["x"]["pattern"] == "^[0-9]+(?!\\n)$"
    assert app.run("digits", "123") == "123"


@pytest.mark.node
def test_ajv_reads_the_published_patterns_as_the_worker_does(app: App) -> None:
    texts = sorted({*EDGES, "12", "ab cd", "abc", "a\rc", "a\u2028c", "\u0661\u0662", "é é", "x y"})
    messages, verdicts = [], []
    for name in [*PATTERNED, "ipv6", "ipany"]:
        values: list[Any] = texts if name in PATTERNED else ["fe80::1", "fe80::1%eth0", "::1", "1.2.3.4"]
        for value in values:
            message = dramatiq.Message(
                queue_name="default", actor_name=f"gap_{name}", args=(), kwargs={"x": value}, options={}
            )
            messages.append({"schema": name, "data": json.loads(encode_json(message.asdict()))})
            verdicts.append(app.worker_accepts(name, value))
            assert app.schema_accepts(name, value) == verdicts[-1], (name, value)
    result = run_ajv({"schemas": app.schemas, "messages": messages})
    assert all(entry["ok"] for entry in result["schemas"].values()), result["schemas"]
    ajv = [entry["valid"] for entry in result["messages"]]
    disagreements = [
        (m["schema"], m["data"]["kwargs"]) for m, a, w in zip(messages, ajv, verdicts, strict=True) if a != w
    ]
    assert not disagreements
    assert True in verdicts and False in verdicts


@pytest.mark.parametrize(
    ("pattern", "words"),
    [
        pytest.param(r"^\bword\b$", "word boundary", id="boundary"),
        pytest.param(r"^[\D]$", "inside [...]", id="negated-in-class"),
        pytest.param(r"^\W$", "not a word character", id="not-word"),
        pytest.param(r"^[^\w]$", "not a word character", id="not-word-in-class"),
        pytest.param(r"^[[:alpha:]]$", "POSIX class", id="posix-class"),
        pytest.param(r"(?i)^abc$", "inline flag", id="inline-flag"),
        pytest.param(r"^(?P<year>[0-9]{4})$", "named group", id="python-named-group"),
        pytest.param(r"^\p{L}+$", "Unicode property", id="property"),
        pytest.param(r"^[]a]$", "empty class", id="bracket-first"),
    ],
)
def test_a_pattern_no_schema_states_alike_is_refused_at_declare(pattern: str, words: str) -> None:
    with pytest.raises(Untranslatable):
        translate(pattern)
    reason = contract_error(Annotated[str, Field(pattern=pattern)])
    assert words in reason and repr(pattern) in reason


@given(st.text(st.sampled_from("ab09.$^*+?()[]|"), max_size=8))
@settings(max_examples=200, deadline=None, derandomize=True)
def test_a_pattern_without_dialect_escapes_keeps_its_meaning_in_python(pattern: str) -> None:
    """``.`` and ``$`` aside, translate changes nothing; with them, Python reads the translation as ECMA would."""
    import re
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # "possible nested set": not our concern
            re.compile(pattern)
        translated = translate(pattern)
    except (re.error, Untranslatable):
        return
    for text in ("", "a", "ab", "a\n", "a\rb", "09", "a.b"):
        if "\n" not in text and "\r" not in text:
            assert bool(re.search(pattern, text)) == bool(re.search(translated, text)), (pattern, text)
        else:
            assert not re.search(translated, text) or bool(re.search(pattern, text)), (pattern, text)


# -- 3. scoped IPv6 --------------------------------------------------------------------------------

SCOPES = st.sampled_from(["eth0", "1", "en0"])


@pytest.mark.parametrize("name", ["ipv6", "ipany"])
def test_a_scoped_ipv6_address_is_refused_on_send(app: App, name: str) -> None:
    @CHECKS
    @given(st.ip_addresses(v=6), st.none() | SCOPES)
    def agree(address: ipaddress.IPv6Address, scope: str | None) -> None:
        text = f"{address}%{scope}" if scope else str(address)
        stored = app.send(name, text)
        assert (stored is not None) == (scope is None), text
        wire = text if stored is None else stored["kwargs"]["x"]
        assert app.schema_accepts(name, wire) == app.worker_accepts(name, wire) == (scope is None)

    agree()
    with pytest.raises(PayloadRejected) as caught:
        app.actors[name].send(x=ipaddress.IPv6Address("fe80::1%eth0"))
    assert all(
        v.path == "kwargs.x" and "zone" in v.hint for v in caught.value.violations if "ipv6" in v.problem
    )
    assert app.run(name, "fe80::1") == ipaddress.IPv6Address("fe80::1")


def test_ipvanyaddress_is_published_as_either_form(app: App) -> None:
    assert not app.schema_accepts("ipany", "not an address")
    assert app.schema_accepts("ipany", "192.0.2.1") and app.schema_accepts("ipany", "2001:db8::1")
    assert app.run("ipany", "192.0.2.1") == ipaddress.IPv4Address("192.0.2.1")


# -- 4. msgspec Struct errors ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "path"),
    [
        pytest.param({"items": [{"count": "x"}]}, "kwargs.x.items[0].count", id="field"),
        pytest.param({"items": [{"count": 1}, {}]}, "kwargs.x.items[1]", id="missing"),
        pytest.param({"items": 3}, "kwargs.x.items", id="type"),
        pytest.param(5, "kwargs.x", id="top"),
    ],
)
def test_a_struct_error_carries_its_path(app: App, value: Any, path: str) -> None:
    with pytest.raises(PayloadRejected) as caught:
        app.actors["struct"].send(x=value)
    (violation,) = caught.value.violations
    assert violation.path == path, violation
    assert " - at `" not in violation.problem and "Outer" in violation.problem
    assert not app.worker_accepts("struct", value) and not app.schema_accepts("struct", value)


def test_a_valid_struct_still_runs(app: App) -> None:
    assert app.run("struct", Outer([Inner(2)], "n")) == Outer([Inner(2)], "n")


# -- 5. recursive stdlib TypedDict -------------------------------------------------------------------


class StdTree(typing.TypedDict):
    name: str
    children: list[StdTree]


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="pydantic validates a stdlib TypedDict from 3.12 on")
def test_a_recursive_stdlib_typeddict_is_refused_with_the_way_out() -> None:
    reason = contract_error(StdTree)
    assert "StdTree is a recursive typing.TypedDict" in reason
    assert "typing_extensions.TypedDict" in reason and "payload_contract" in reason


def test_the_way_out_runs(app: App) -> None:
    tree = {"name": "a", "children": [{"name": "b", "children": []}]}
    assert app.run("tree", tree) == tree
    assert app.schema_accepts("tree", tree)
    assert not app.schema_accepts("tree", {"name": "a", "children": [{"name": 1, "children": []}]})


# -- 7. on_success / on_failure / on_retry_exhausted as actor options ------------------------------------


def test_a_callback_named_in_the_actors_options_is_checked_on_send(caplog: pytest.LogCaptureFixture) -> None:
    """Dramatiq reads ``message.options.get(x) or actor.options.get(x)``: the actor's option is checked as the message's."""
    broker = StubBroker()
    broker.emit_after("process_boot")
    broker.add_middleware(PayloadGateway())
    seen: list[Any] = []

    def on_done(message_data: dict[str, Any], result: datetime.date) -> None:
        seen.append((message_data["actor_name"], result))

    def takes_one(message_data: dict[str, Any]) -> None: ...

    def day(n: int) -> datetime.date:
        return datetime.date(2024, 1, n)

    dramatiq.actor(on_done, broker=broker)
    dramatiq.actor(takes_one, broker=broker)
    good = dramatiq.actor(day, actor_name="good", broker=broker, on_success="on_done")
    wrong = dramatiq.actor(day, actor_name="wrong", broker=broker, on_success="takes_one")
    missing = dramatiq.actor(day, actor_name="missing", broker=broker, on_failure="nobody")
    exhausted = dramatiq.actor(day, actor_name="exhausted", broker=broker, on_retry_exhausted="takes_one")
    # Said at declare already when the callback was declared first.
    assert any("wrong" in r.getMessage() and "takes_one" in r.getMessage() for r in caplog.records)
    for actor, option, words in [
        (wrong, "on_success", "cannot be called with the two arguments"),
        (missing, "on_failure", "names no actor declared"),
        (exhausted, "on_retry_exhausted", "the retry counts"),
    ]:
        with pytest.raises(PayloadRejected) as caught:
            actor.send(1)
        (violation,) = caught.value.violations
        assert violation.path == f"options.{option}" and words in violation.problem, violation
        assert f"actor {actor.actor_name!r}'s own {option}=" in violation.problem
        assert broker.queues["default"].qsize() == 0
    # The message's own option wins, as in Dramatiq.
    good.send_with_options(args=(3,))
    wrong.send_with_options(args=(4,), on_success="on_done")
    worker = Worker(broker, worker_timeout=20, worker_threads=1)
    worker.start()
    try:
        broker.join("default", timeout=10_000, fail_fast=True)
        worker.join()
    finally:
        worker.stop()
        broker.close()
    assert sorted(seen) == [("good", datetime.date(2024, 1, 3)), ("wrong", datetime.date(2024, 1, 4))]


# -- 6. the nested message's shape in the published schema --------------------------------------------

NEAR_FIELDS = st.sampled_from(
    [None, "", "q", "q.DQ", 0, -1, 1.5, True, [], {}, "not-a-uuid", "0b9e6a52-7d3c-4b8e-9f21-3c1e2f4a5b6c"]
)


def nested_messages(depth: int = 2) -> st.SearchStrategy[Any]:
    """Messages as Dramatiq nests them in options, and near misses: a field dropped, retyped, added."""
    valid = st.builds(
        lambda queue, actor, eta: {
            "queue_name": queue,
            "actor_name": actor,
            "args": [1],
            "kwargs": {},
            "options": {"eta": eta} if eta is not None else {},
            "message_id": "0b9e6a52-7d3c-4b8e-9f21-3c1e2f4a5b6c",
            "message_timestamp": 1,
        },
        st.sampled_from(["default", "default.DQ"]),
        st.sampled_from(["gap_digits", "elsewhere"]),
        st.none() | st.integers(0, 10),
    )

    def broken(message: dict[str, Any]) -> st.SearchStrategy[Any]:
        names = sorted(message)
        return st.one_of(
            st.just(message),
            st.sampled_from(names).map(lambda n: {k: v for k, v in message.items() if k != n}),
            st.tuples(st.sampled_from(names), NEAR_FIELDS).map(lambda c: {**message, c[0]: c[1]}),
            st.just({**message, "extra": 1}),
        )

    one = valid.flatmap(broken)
    if depth == 0:
        return one
    inner = nested_messages(depth - 1)
    return st.one_of(
        one,
        st.tuples(one, inner).map(lambda p: {**p[0], "options": {"pipe_target": p[1]}}),
        st.tuples(one, st.lists(inner, max_size=2)).map(
            lambda p: {**p[0], "options": {"group_completion_callbacks": p[1]}}
        ),
    )


@pytest.mark.node
def test_the_published_schema_states_the_nested_messages_the_worker_checks(app: App) -> None:
    published = app.schemas["digits"]
    assert published["properties"]["options"]["properties"]["pipe_target"]["anyOf"][1] == {
        "$ref": "#/$defs/actorschema.NestedMessage"
    }
    validator = Draft202012Validator(published, format_checker=FORMATS)
    base = json.loads(encode_json(app.actors["digits"].message(x="12").asdict()))
    collected: list[tuple[dict[str, Any], bool]] = []

    @CHECKS
    @given(nested_messages(), st.sampled_from(["pipe_target", "group_completion_callbacks"]))
    def agree(nested: Any, option: str) -> None:
        message = {**base, "options": {option: nested if option == "pipe_target" else [nested]}}
        worker_ok = not envelope_violations(message, queue_name="default")
        assert validator.is_valid(message) == worker_ok, (message, worker_ok)
        collected.append((message, worker_ok))

    agree()
    assert {ok for _, ok in collected} == {True, False}
    result = run_ajv(
        {
            "schemas": {"digits": published},
            "messages": [{"schema": "digits", "data": m} for m, _ in collected],
        }
    )
    assert [entry["valid"] for entry in result["messages"]] == [ok for _, ok in collected]


# -- 8. a pipeline's next step against the previous step's declared result -------------------------------


class Point(pydantic.BaseModel):
    x: int
    y: int


RESULT_TYPES: list[Any] = [
    int, float, str, datetime.datetime, uuid.UUID, list[int], dict[str, int], int | None, Point, Decimal,
]  # fmt: skip


RESULT_VALUES = {
    datetime.datetime: st.datetimes(timezones=st.just(datetime.UTC)),
    float: st.floats(-1e6, 1e6).filter(lambda f: not f.is_integer()) | st.floats(allow_nan=False),
}


def pipeline_contracts(result: Any, taking: Any) -> tuple[ActorContract, Any, ActorContract]:
    def produce() -> None: ...

    def consume(value: Any) -> None: ...

    produce.__annotations__ = {"return": result}
    consume.__annotations__ = {"value": taking, "return": None}
    owner = ActorContract.from_function(produce, "produce")
    step = ActorContract.from_function(consume, "consume")
    return owner, result_parameter("produce", result), step


@pytest.mark.parametrize("taking", RESULT_TYPES, ids=[hint_text(h) for h in RESULT_TYPES])
@pytest.mark.parametrize("result", RESULT_TYPES, ids=[hint_text(h) for h in RESULT_TYPES])
def test_the_send_side_verdict_on_a_step_is_the_workers_on_the_results(result: Any, taking: Any) -> None:
    """A step judged to take the result takes every sampled result; one judged not to refuses some."""
    owner, declared, step = pipeline_contracts(result, taking)
    misfit = result_misfit(owner, declared, step, 0)
    inbound = InboundContract(step)
    verdicts: list[bool] = []

    @settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(RESULT_VALUES[result] if result in RESULT_VALUES else st.from_type(result))
    def sample(value: Any) -> None:
        violations: list[Any] = []
        wire = declared.to_json(value, ("result",), violations)
        if violations:
            return
        wire = json.loads(encode_json(wire))
        try:
            inbound.check((wire,), {})
        except PayloadRejected:
            verdicts.append(False)
        else:
            verdicts.append(True)

    sample()
    assert verdicts
    if misfit is None:
        assert all(verdicts), f"judged to fit, but the worker refused some {hint_text(result)} results"
    else:
        assert not all(verdicts), f"refused ({misfit}), but the worker took every sampled result"


def test_a_pipeline_whose_next_step_cannot_take_the_result_is_refused_on_send() -> None:
    broker = StubBroker()
    broker.emit_after("process_boot")
    broker.add_middleware(PayloadGateway())
    seen: list[Any] = []

    def when(day: int) -> datetime.datetime:
        return datetime.datetime(2024, 1, day, tzinfo=datetime.UTC)

    def stamp(label: str, at: datetime.datetime) -> None:
        seen.append((label, at))

    def count(n: int) -> None: ...

    first = dramatiq.actor(when, broker=broker)
    good = dramatiq.actor(stamp, broker=broker)
    bad = dramatiq.actor(count, broker=broker)
    with pytest.raises(PayloadRejected) as caught:
        dramatiq.pipeline([first.message(2), bad.message()], broker=broker).run()
    (violation,) = caught.value.violations
    assert violation.path == "options.pipe_target"
    assert "'when' declares its result as datetime" in violation.problem and "'n' (int)" in violation.problem
    assert "pipe_ignore" in violation.hint
    assert broker.queues["default"].qsize() == 0
    # The step that does not want the result says so, and is sent.
    dramatiq.pipeline(
        [first.message(2), bad.message_with_options(args=(1,), pipe_ignore=True)], broker=broker
    )
    dramatiq.pipeline([first.message(3), good.message("a")], broker=broker).run()
    worker = Worker(broker, worker_timeout=20, worker_threads=1)
    worker.start()
    try:
        broker.join("default", timeout=10_000, fail_fast=True)
        worker.join()
    finally:
        worker.stop()
        broker.close()
    assert seen == [("a", datetime.datetime(2024, 1, 3, tzinfo=datetime.UTC))]

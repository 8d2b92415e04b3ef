"""The round-trip law on the hint corpus (tests/helpers/hint_corpus.py), through the real gateway and a real worker.

For every supported hint and every value ``v`` that ``send()`` accepts, the
stored JSON ``w``:

(a) is accepted by the published schema (jsonschema, draft 2020-12, formats
    asserted; and by ajv, in one batch at the end);
(b) is accepted by a real Dramatiq ``Worker``, which hands the actor a value
    equal to the validated ``v``;
(c) re-encodes to exactly ``w`` (a retry stores the same bytes).

For arbitrary JSON in the parameter's place, the worker's verdict is the
schema's. A hint the contract cannot make round-trip is refused when the
actor is declared, naming the actor, the parameter, the place in the type,
why, and what to declare instead; a send to that actor then fails with it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import dramatiq
import pytest
from dramatiq import Worker
from dramatiq.brokers.stub import StubBroker
from helpers.hint_corpus import ROWS, Row, json_values, mutated
from helpers.node import run_ajv
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from actorschema import PayloadGateway
from actorschema.consume.arguments import InboundContract
from actorschema.consume.deadletters import dead_letter_reasons
from actorschema.contract import ActorContract
from actorschema.encoder import encode_json
from actorschema.errors import PayloadInvalid, PayloadRejected
from actorschema.limits import SizeLimit
from actorschema.schema import message_schema

# Every hint of the corpus through the gateway and a real worker: tens of seconds.
pytestmark = pytest.mark.slow

ACCEPTED = [row for row in ROWS if row.refused is None]
REFUSED = [row for row in ROWS if row.refused is not None]
ROUND_TRIP = settings(
    max_examples=6, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True
)
VERDICT = settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
FORMATS = Draft202012Validator.FORMAT_CHECKER


def test_the_corpus_is_large_enough() -> None:
    assert len(ROWS) >= 80
    assert len({row.id for row in ROWS}) == len(ROWS)


def actor_name(row: Row) -> str:
    return "corpus_" + row.id.replace("-", "_")


def declare(row: Row, received: list[Any], broker: StubBroker) -> Any:
    def receive(x: Any) -> None:
        received.append(x)

    receive.__annotations__ = {"x": row.hint, "return": None}
    return dramatiq.actor(receive, actor_name=actor_name(row), broker=broker, max_retries=0)


class Corpus:
    """One StubBroker with the gateway, an actor per accepted row, and one real worker."""

    def __init__(self) -> None:
        self.broker = StubBroker()
        self.broker.emit_after("process_boot")
        self.gateway = PayloadGateway()
        self.broker.add_middleware(self.gateway)
        self.received: list[Any] = []
        self.actors = {row.id: declare(row, self.received, self.broker) for row in ACCEPTED}
        self.schemas = {
            row.id: message_schema(self.gateway.contracts[actor_name(row)], SizeLimit(None, "global"))
            for row in ACCEPTED
        }
        self.worker = Worker(self.broker, worker_timeout=20, worker_threads=1)
        self.worker.start()

    def deliver(self, row: Row, value: Any) -> tuple[dict[str, Any], Any]:
        """Send ``value`` to the row's actor; return the stored message and what the actor received."""
        message = self.actors[row.id].send(x=value)
        stored = json.loads(encode_json(message.asdict()))
        self.broker.join(message.queue_name, timeout=10_000, fail_fast=False)
        self.worker.join()
        if not self.received:
            reasons = dead_letter_reasons(self.broker, message.queue_name)
            reason = reasons.get(message.message_id, "no reason recorded: the actor raised")
            raise AssertionError(f"the worker did not run the actor for {stored['kwargs']}: {reason}")
        return stored, self.received.pop()


@pytest.fixture(scope="module")
def corpus() -> Iterator[Corpus]:
    corpus = Corpus()
    yield corpus
    corpus.worker.stop()
    corpus.broker.close()


def contract_of(row: Row) -> ActorContract:
    def receive(x: Any) -> None: ...

    receive.__annotations__ = {"x": row.hint, "return": None}
    return ActorContract.from_function(receive, actor_name(row))


#: Rows whose remaining gap belongs to another workstream, with the reason: stored values...
PENDING_ROUND_TRIP: dict[str, str] = {}
#: ...and arbitrary JSON.
PENDING = {**PENDING_ROUND_TRIP}


def pending(row: Row, table: dict[str, str]) -> Any:
    reason = table.get(row.id)
    # strict: once the other workstream lands, the mark must go (an XPASS fails).
    return pytest.param(
        row, id=row.id, marks=[pytest.mark.xfail(reason=reason, strict=True)] if reason else []
    )


@pytest.mark.parametrize("row", [pending(row, PENDING_ROUND_TRIP) for row in ACCEPTED])
def test_round_trip_law(corpus: Corpus, row: Row) -> None:
    contract = corpus.gateway.contracts[actor_name(row)]
    parameter = contract.by_name["x"]
    validator = Draft202012Validator(corpus.schemas[row.id], format_checker=FORMATS)
    assert row.values is not None

    @ROUND_TRIP
    @given(row.values)
    def law(value: Any) -> None:
        expected = value if parameter.adapter is None else parameter.adapter.validate_python(value)
        stored, delivered = corpus.deliver(row, value)
        wire = stored["kwargs"]["x"]
        # (a) the published schema accepts what was stored
        errors = [error.message for error in validator.iter_errors(stored)]
        assert not errors, (wire, errors)
        # (b) the worker delivers the validated value
        assert delivered == expected, (wire, delivered, expected)
        # (c) re-encoding gives the same bytes
        _, again = contract.canonical((), {"x": delivered})
        assert encode_json(again["x"]) == encode_json(wire)

    law()


def stored_form(row: Row) -> st.SearchStrategy[Any]:
    contract = contract_of(row)
    assert row.values is not None
    return row.values.map(lambda value: contract.canonical((), {"x": value})[1]["x"])


@pytest.mark.parametrize("row", [pending(row, PENDING) for row in ACCEPTED])
def test_worker_verdict_is_the_schemas(corpus: Corpus, row: Row) -> None:
    """For any JSON in the parameter's place, the worker accepts exactly what the published schema does."""
    contract = corpus.gateway.contracts[actor_name(row)]
    inbound = InboundContract(contract)
    schema = corpus.schemas[row.id]
    validator = Draft202012Validator(
        {**schema, "properties": {"kwargs": schema["properties"]["kwargs"]}, "required": ["kwargs"]},
        format_checker=FORMATS,
    )

    @VERDICT
    @given(json_values | stored_form(row) | mutated(stored_form(row)))
    def verdict(value: Any) -> None:
        schema_ok = validator.is_valid({"kwargs": {"x": value}})
        try:
            inbound.check((), {"x": value})
        except PayloadRejected as error:
            assert not schema_ok, (value, error.violations)
            assert all(v.path.startswith("kwargs.x") for v in error.violations), error.violations
        else:
            assert schema_ok, value

    verdict()


@pytest.mark.parametrize("row", REFUSED, ids=[row.id for row in REFUSED])
def test_refused_when_declared(row: Row) -> None:
    with pytest.raises(TypeError) as caught:
        contract_of(row)
    reason = str(caught.value)
    assert actor_name(row) in reason and "parameter 'x'" in reason
    assert row.refused is not None and row.refused in reason, reason
    assert "; declare " in reason


@pytest.mark.parametrize("row", REFUSED[:3], ids=[row.id for row in REFUSED[:3]])
def test_a_refused_hint_fails_every_send_with_its_reason(row: Row) -> None:
    broker = StubBroker()
    broker.add_middleware(PayloadGateway())
    actor = declare(row, [], broker)
    with pytest.raises(PayloadInvalid) as caught:
        actor.send(x=None)
    assert row.refused is not None and row.refused in str(caught.value)
    assert (
        not any(broker.queues[actor.queue_name].queue)
        if hasattr(broker.queues[actor.queue_name], "queue")
        else True
    )


@pytest.mark.node
def test_ajv_accepts_every_stored_message(corpus: Corpus) -> None:
    """ajv (strict mode, ajv-formats) on every corpus schema, stored messages and near misses, in one run."""
    messages: list[dict[str, Any]] = []

    @settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(st.tuples(*(row.values for row in ACCEPTED if row.values is not None)))
    def collect(values: tuple[Any, ...]) -> None:
        for row, value in zip(ACCEPTED, values, strict=True):
            contract = corpus.gateway.contracts[actor_name(row)]
            _, kwargs = contract.canonical((), {"x": value})
            message = dramatiq.Message(
                queue_name="default", actor_name=actor_name(row), args=(), kwargs=kwargs, options={}
            )
            messages.append({"schema": row.id, "data": json.loads(encode_json(message.asdict()))})

    collect()
    valid_count = len(messages)
    # Near misses too: ajv's verdict must be the worker's (the message is not sent, only judged).
    verdicts: list[bool] = []
    inbound = {row.id: InboundContract(corpus.gateway.contracts[actor_name(row)]) for row in ACCEPTED}

    @settings(max_examples=2, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(st.tuples(*(mutated(stored_form(row)) for row in ACCEPTED)))
    def collect_near_misses(values: tuple[Any, ...]) -> None:
        for row, value in zip(ACCEPTED, values, strict=True):
            message = dramatiq.Message(
                queue_name="default", actor_name=actor_name(row), args=(), kwargs={"x": value}, options={}
            )
            messages.append({"schema": row.id, "data": json.loads(encode_json(message.asdict()))})
            try:
                inbound[row.id].check((), {"x": value})
            except PayloadRejected:
                verdicts.append(False)
            else:
                verdicts.append(True)

    collect_near_misses()
    result = run_ajv({"schemas": corpus.schemas, "messages": messages})
    disagreements = [
        (m["schema"], m["data"]["kwargs"], worker, r["errors"])
        for m, r, worker in zip(
            messages[valid_count:], result["messages"][valid_count:], verdicts, strict=True
        )
        if r["valid"] != worker and m["schema"] not in PENDING
    ]
    assert not disagreements
    assert True in verdicts and False in verdicts  # near misses that pass, and ones that do not
    messages, result["messages"] = messages[:valid_count], result["messages"][:valid_count]
    broken = {name: entry["error"] for name, entry in result["schemas"].items() if not entry["ok"]}
    assert not broken
    refused = [
        (m["schema"], m["data"]["kwargs"], r["errors"])
        for m, r in zip(messages, result["messages"], strict=True)
        if not r["valid"] and m["schema"] not in PENDING
    ]
    assert not refused
    assert len(messages) >= len(ACCEPTED)


# -- issue 9, "Why" 2: the published schema is no looser than the worker ------------------------------


UUID_TEXT = "0b9e6a52-7d3c-4b8e-9f21-3c1e2f4a5b6c"


def struct_datetimes(**places: Any) -> dict[str, Any]:
    """A stored StructDatetimes, with the values of ``places`` put in."""
    at = "2024-05-01T12:00:00Z"
    valid = {
        "maybe": None,
        "many": [at],
        "by_name": {"a": at},
        "inner": {"at": at, "day": "2024-05-01", "id": UUID_TEXT},
        "either": {"type": "Stamped", "at": at},
    }
    return {**valid, **places}


def by_id(row_id: str) -> Row:
    return next(row for row in ROWS if row.id == row_id)


@pytest.mark.parametrize(
    ("row_id", "refused", "accepted"),
    [
        pytest.param("dict-int-str", {"01": "a"}, {"-12": "a"}, id="int-keys-one-spelling"),
        pytest.param("dict-int-str", {"a": "b"}, {"0": "b"}, id="int-keys-not-text"),
        pytest.param("dict-intenum-str", {"3": "a"}, {"2": "a"}, id="intenum-keys"),
        pytest.param("dict-bool-int", {"yes": 1}, {"false": 1}, id="bool-keys"),
        pytest.param("http-url", "ftp://example.com/", "HTTPS://example.com/", id="http-url-scheme"),
        pytest.param("any-url", "http://a.1/", "http://a.b1/", id="url-host-pydantic-refuses"),
        pytest.param("any-url", "http://example.com/a|b", "http://example.com/a%7Cb", id="url-not-rfc-3986"),
        pytest.param("discriminated", {"lives": 3}, {"kind": "cat", "lives": 3}, id="tag-with-default"),
        pytest.param("flag", 8, 7, id="flag-combinations"),
        # msgspec's schema calls a Struct's plain datetime any text; the worker reads a datetime.
        pytest.param(
            "struct-times",
            {"at": "01", "day": "2024-05-01", "id": UUID_TEXT},
            {"at": "2024-05-01T12:00:00+02:00", "day": "2024-05-01", "id": UUID_TEXT},
            id="struct-datetime",
        ),
        pytest.param(
            "struct-times",
            {"at": "2024-05-01T12:00:00", "day": "2024-05-01", "id": UUID_TEXT},
            {"at": "2024-05-01t12:00:00z", "day": "2024-05-01", "id": UUID_TEXT},
            id="struct-naive-datetime",
        ),
        *(
            pytest.param(
                "struct-datetimes",
                struct_datetimes(**{place: bad}),
                struct_datetimes(),
                id=f"struct-datetime-in-{place}",
            )
            for place, bad in [
                ("maybe", "2024-05-01"),
                ("many", ["2024-05-01T12:00:00Z", "12:00"]),
                ("by_name", {"a": "yesterday"}),
                ("inner", {"at": "2024-05-01T12:00:00", "day": "2024-05-01", "id": UUID_TEXT}),
                ("either", {"type": "Stamped", "at": "1700000000"}),
            ]
        ),
    ],
)
def test_the_schema_refuses_what_the_worker_refuses(
    corpus: Corpus, row_id: str, refused: Any, accepted: Any
) -> None:
    """Before: the schema accepted these and the worker refused them (or the reverse, for Flag combinations)."""
    row = by_id(row_id)
    published = corpus.schemas[row.id]
    schema = {**published["properties"]["kwargs"], "$defs": published.get("$defs", {})}
    validator = Draft202012Validator(schema, format_checker=FORMATS)
    inbound = InboundContract(corpus.gateway.contracts[actor_name(row)])
    assert not validator.is_valid({"x": refused})
    with pytest.raises(PayloadInvalid):
        inbound.check((), {"x": refused})
    assert validator.is_valid({"x": accepted})
    inbound.check((), {"x": accepted})

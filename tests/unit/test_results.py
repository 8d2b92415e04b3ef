"""Return values are part of the contract: converted by the return annotation before Dramatiq hands them on.

Real StubBroker and Worker, Dramatiq's own Results middleware (StubBackend,
RedisBackend on a real redis-server), Pipelines and Retries.
"""

from __future__ import annotations

import datetime
import decimal
import json
import logging
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dramatiq
import pytest
from dramatiq import Worker, pipeline
from dramatiq.brokers.stub import StubBroker
from dramatiq.results import ResultFailure, Results
from dramatiq.results.backends import StubBackend
from helpers.node import run_ajv  # the test suite's one Node oracle (ajv 8, strict mode)
from helpers.workers import drain
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from pydantic import BaseModel

from actorschema import PayloadGateway, ResultRejected
from actorschema import results as results_module
from actorschema.catalogue import INDEX, compare, write
from actorschema.generate import render
from actorschema.results import typed_result
from actorschema.validate import load_schemas

if TYPE_CHECKING:
    from fractions import Fraction  # only for type checkers: never importable at run time here

UTC = datetime.UTC


class Order(BaseModel):
    ident: uuid.UUID
    total: decimal.Decimal
    placed: datetime.datetime
    tags: tuple[str, ...] = ()


def returning(name: str, hint: Any, value: Any, **options: Any) -> Any:
    """An actor that returns ``value``, annotated ``-> hint``."""

    def fn() -> Any:
        return value

    fn.__annotations__ = {"return": hint}
    return dramatiq.actor(fn, actor_name=name, **options)


@pytest.fixture
def backend(stub_broker: StubBroker) -> StubBackend:
    backend = StubBackend()
    stub_broker.add_middleware(Results(backend=backend))
    return backend


def result_validator(broker: StubBroker, actor_name: str) -> Any:
    """jsonschema's validator for the result schema ``generate`` writes for the actor."""
    schema = json.loads(render(broker)[f"{actor_name}.result-schema.json"])
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


ORDER = Order(
    ident=uuid.UUID(int=5),
    total=decimal.Decimal("10.25"),
    placed=datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
    tags=("a", "b"),
)

TYPED_RESULTS = [
    (datetime.datetime, datetime.datetime(2024, 6, 1, 12, 0, tzinfo=UTC), "2024-06-01T12:00:00Z"),
    (uuid.UUID, uuid.UUID(int=1), "00000000-0000-0000-0000-000000000001"),
    (decimal.Decimal, decimal.Decimal("1.10"), "1.10"),
    (datetime.date, datetime.date(2024, 2, 29), "2024-02-29"),
    (tuple[int, str], (1, "x"), [1, "x"]),
    (bytes, b"\xff\x00", "_wA="),
    (Order, ORDER, ORDER.model_dump(mode="json")),
    (list[Order], [ORDER], [ORDER.model_dump(mode="json")]),
    (int | None, None, None),
    (dict[str, Any], {"a": [1, 2.5, None]}, {"a": [1, 2.5, None]}),
]


@pytest.mark.parametrize(("hint", "value", "form"), TYPED_RESULTS)
def test_a_typed_result_is_stored_as_its_json_form_and_read_back_typed(
    stub_broker: StubBroker, backend: StubBackend, hint: Any, value: Any, form: Any
) -> None:
    actor = returning("give", hint, value, store_results=True)
    message = actor.send()
    drain(stub_broker, fail_fast=False)
    stored = message.get_result(backend=backend, block=True, timeout=5000)
    assert stored == form  # without the gateway: "Object of type ... is not JSON serializable", result lost
    assert typed_result(actor, stored) == value
    assert not list(result_validator(stub_broker, "give").iter_errors(stored))


def test_async_and_generic_actors_return_typed_results_too(
    stub_broker: StubBroker, backend: StubBackend
) -> None:
    from dramatiq import GenericActor
    from dramatiq.middleware import AsyncIO

    stub_broker.add_middleware(AsyncIO())

    @dramatiq.actor(store_results=True)
    async def later(day: int) -> datetime.date:
        return datetime.date(2024, 1, day)

    class Labelled(GenericActor):
        class Meta:
            store_results = True

        def perform(self, n: int) -> uuid.UUID:
            return uuid.UUID(int=n)

    sent = [later.send(2), Labelled.send(3)]
    drain(stub_broker, fail_fast=False)
    assert [m.get_result(backend=backend) for m in sent] == ["2024-01-02", str(uuid.UUID(int=3))]
    assert typed_result(later, "2024-01-02") == datetime.date(2024, 1, 2)
    assert typed_result(Labelled, str(uuid.UUID(int=3))) == uuid.UUID(int=3)


#: Per typed result case: a JSON value its result schema must refuse.
NOT_RESULTS = ["2024-06-01", "not-a-uuid", "1e", "2024-02-30", [1, 2], "a+b=", {"ident": 1}, [{}], "x", []]


@pytest.mark.node
def test_result_schemas_compile_in_ajv_strict_mode_and_agree_with_jsonschema(stub_broker: StubBroker) -> None:
    schemas: dict[str, Any] = {}
    messages: list[dict[str, Any]] = []
    expected: list[bool] = []
    for index, ((hint, value, form), bad) in enumerate(zip(TYPED_RESULTS, NOT_RESULTS, strict=True)):
        name = f"give{index}"
        returning(name, hint, value)
        schemas[name] = json.loads(render(stub_broker)[f"{name}.result-schema.json"])
        validator = result_validator(stub_broker, name)
        for data, valid in ((form, True), (bad, False)):
            assert validator.is_valid(data) is valid, (hint, data)
            messages.append({"schema": name, "data": data})
            expected.append(valid)
    checked = run_ajv({"schemas": schemas, "messages": messages})
    assert {name: entry["ok"] for name, entry in checked["schemas"].items()} == dict.fromkeys(schemas, True)
    assert [result["valid"] for result in checked["messages"]] == expected


def test_a_direct_call_returns_the_value_itself(stub_broker: StubBroker, stub_worker: Worker) -> None:
    inner: list[Any] = []

    @dramatiq.actor
    def when() -> datetime.datetime:
        return datetime.datetime(2024, 1, 1, tzinfo=UTC)

    @dramatiq.actor
    def outer() -> None:
        inner.append(when())  # an actor called from another actor: its own value

    assert when() == datetime.datetime(2024, 1, 1, tzinfo=UTC)
    outer.send()
    stub_broker.join("default")
    assert inner == [datetime.datetime(2024, 1, 1, tzinfo=UTC)]


def test_a_pipeline_step_returning_a_datetime_feeds_an_untyped_next_step(stub_broker: StubBroker) -> None:
    seen: list[Any] = []

    @dramatiq.actor
    def stamp() -> datetime.datetime:
        return datetime.datetime(2024, 7, 8, tzinfo=UTC)

    @dramatiq.actor
    def log_it(value: Any) -> None:
        seen.append(value)

    # Plain Dramatiq cannot encode the continuation (datetime) and loses it after the ack.
    pipeline([stamp.message(), log_it.message()]).run()
    drain(stub_broker, fail_fast=False)
    assert seen == ["2024-07-08T00:00:00Z"]


def test_a_result_that_does_not_fit_fails_like_a_raised_exception(
    stub_broker: StubBroker, backend: StubBackend, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[int] = []

    @dramatiq.actor(max_retries=1, min_backoff=1, max_backoff=1, store_results=True)
    def count() -> int:
        calls.append(1)
        return "seven"  # type: ignore[return-value]

    with caplog.at_level(logging.ERROR, logger="actorschema"):
        message = count.send()
        drain(stub_broker, fail_fast=False)
    assert len(calls) == 2  # retried, as after an exception
    assert [m.message_id for m in stub_broker.dead_letters] == [message.message_id]
    records = [r for r in caplog.records if r.name == "actorschema"]
    assert len(records) == 2
    fields = records[0].actorschema  # type: ignore[attr-defined]
    assert fields["actor"] == "count" and fields["paths"] == ["result"]
    assert fields["message_id"] == message.message_id
    assert "retried, then dead-lettered" in fields["outcome"]
    with pytest.raises(ResultFailure) as failure:
        message.get_result(backend=backend)
    assert "ResultRejected" in str(failure.value) and "result: Input should be a valid integer" in str(
        failure.value
    )


def test_a_bad_result_names_the_path_inside_it(stub_broker: StubBroker, gateway: PayloadGateway) -> None:
    contract = gateway.results

    @dramatiq.actor
    def orders() -> list[Order]:
        return []

    with pytest.raises(ResultRejected) as caught:
        contract["orders"].to_json([ORDER.model_dump(), {"ident": "x"}], travels=True)
    assert caught.value.paths == (
        "result[1].ident",
        "result[1].total",
        "result[1].placed",
    )
    assert "a value of type list[" in str(caught.value)


def test_a_non_json_result_without_annotation_fails_where_it_travels(stub_broker: StubBroker) -> None:
    seen: list[Any] = []

    @dramatiq.actor(max_retries=0)
    def produce():  # type: ignore[no-untyped-def]
        return {1, 2}

    @dramatiq.actor
    def consume(value: Any = None) -> None:
        seen.append(value)

    piped = produce.message()
    pipeline([piped, consume.message()]).run()
    alone = produce.send()  # nobody reads this result: left alone, as Dramatiq leaves it
    drain(stub_broker, fail_fast=False)
    assert seen == []
    # Before: the continuation's encode failed after the ack, and the pipeline vanished without a trace.
    assert [m.message_id for m in stub_broker.dead_letters] == [piped.message_id]
    assert alone.message_id not in {m.message_id for m in stub_broker.dead_letters}
    error = stub_broker.dead_letters[0].options["traceback"]
    assert "ResultRejected" in error and "result: is a set" in error


def test_an_unannotated_tuple_result_travels_as_an_array_as_in_plain_dramatiq(
    stub_broker: StubBroker, backend: StubBackend
) -> None:
    @dramatiq.actor(store_results=True)
    def pair(n: int):  # type: ignore[no-untyped-def]
        return (n, {"inner": (n, n)})

    message = pair.send(4)
    drain(stub_broker, fail_fast=False)
    assert message.get_result(backend=backend) == [4, {"inner": [4, 4]}]


def test_a_type_checking_only_return_annotation_never_blocks_the_actor(
    stub_broker: StubBroker, backend: StubBackend, caplog: pytest.LogCaptureFixture
) -> None:
    @dramatiq.actor(store_results=True)
    def ratio(n: int) -> Fraction:
        return n  # type: ignore[return-value]

    @dramatiq.actor(store_results=True, max_retries=0)
    def bad_ratio(n: int) -> Fraction:
        return datetime.date(2024, 1, n)  # type: ignore[return-value]

    with caplog.at_level(logging.WARNING, logger="actorschema"):
        sent = [ratio.send(1), ratio.send(n=2), bad_ratio.send(3)]
        drain(stub_broker, fail_fast=False)
    assert [m.get_result(backend=backend) for m in sent[:2]] == [1, 2]
    with pytest.raises(ResultFailure):
        sent[2].get_result(backend=backend)  # travels (stored), not JSON: refused
    unresolved = [r for r in caplog.records if "cannot be resolved" in r.getMessage()]
    assert sorted(r.getMessage().split(":")[0] for r in unresolved) == ["actor 'bad_ratio'", "actor 'ratio'"]
    assert "ratio.result-schema.json" not in render(stub_broker)  # nothing to publish it from


def test_parameters_and_return_annotation_resolve_apart() -> None:
    import functools

    from actorschema.contract import ActorContract, resolve_annotations

    def hidden(n: int, ident: uuid.UUID) -> Fraction:
        raise NotImplementedError

    assert resolve_annotations(hidden, ("n", "ident")) == {"n": int, "ident": uuid.UUID}
    with pytest.raises(NameError):
        resolve_annotations(hidden, ("return",))
    contract = ActorContract.from_function(hidden, "hidden")  # the return type does not block it
    assert [(p.name, p.hint) for p in contract.parameters] == [("n", int), ("ident", uuid.UUID)]
    bound = ActorContract.from_function(functools.partial(hidden, 1), "bound")  # still typed
    assert [(p.name, p.hint) for p in bound.parameters] == [("ident", uuid.UUID)]


def test_none_results_cost_nothing_and_annotations_resolve_once(
    stub_broker: StubBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    resolved: list[Any] = []
    resolve = results_module.resolve_annotations

    def counting(fn: Callable[..., Any], names: Any) -> dict[str, Any]:
        resolved.append(fn.__name__)
        return resolve(fn, names)

    monkeypatch.setattr(results_module, "resolve_annotations", counting)

    @dramatiq.actor
    def nothing() -> None:
        pass

    @dramatiq.actor
    def unannotated(n: int):  # type: ignore[no-untyped-def]
        return None

    @dramatiq.actor
    def when() -> datetime.datetime:
        return datetime.datetime(2024, 1, 1, tzinfo=UTC)

    for _ in range(3):
        nothing.send()
        unannotated.send(1)
        when.send()
    drain(stub_broker, fail_fast=False)
    assert resolved == ["when"]


def test_warn_mode_hands_a_bad_result_on_unchanged_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    broker = StubBroker()
    broker.emit_after("process_boot")
    backend = StubBackend()
    broker.add_middleware(PayloadGateway(mode="warn"))
    broker.add_middleware(Results(backend=backend))
    dramatiq.set_broker(broker)

    @dramatiq.actor(store_results=True)
    def count() -> int:
        return "seven"  # type: ignore[return-value]

    with caplog.at_level(logging.WARNING, logger="actorschema"):
        message = count.send()
        drain(broker, fail_fast=False)
    assert message.get_result(backend=backend) == "seven"
    (record,) = [r for r in caplog.records if r.name == "actorschema"]
    assert record.actorschema["outcome"] == "result handed on unchanged (mode='warn')"  # type: ignore[attr-defined]
    broker.close()


# -- the round-trip law, and the published result schema -----------------------------

law_settings = settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
orders = st.builds(
    Order,
    ident=st.uuids(),
    total=st.decimals(allow_nan=False, allow_infinity=False, places=3),
    placed=st.datetimes(timezones=st.just(UTC)),
    tags=st.lists(st.text(max_size=5), max_size=3).map(tuple),
)
LAW_CASES = {
    "datetime": (datetime.datetime, st.datetimes(timezones=st.just(UTC))),
    "uuid": (uuid.UUID, st.uuids()),
    "decimal": (decimal.Decimal, st.decimals(allow_nan=False, allow_infinity=False)),
    "orders": (list[Order], st.lists(orders, max_size=3)),
    "bytes": (bytes, st.binary(max_size=20)),
}


@pytest.mark.parametrize("case", sorted(LAW_CASES))
def test_property_results_round_trip_and_fit_their_published_schema(
    stub_broker: StubBroker, gateway: PayloadGateway, case: str
) -> None:
    hint, values = LAW_CASES[case]
    actor = returning("law", hint, None)
    contract = gateway.results["law"]
    validator = result_validator(stub_broker, "law")

    @law_settings
    @given(value=values)
    def law(value: Any) -> None:
        form = contract.to_json(value, travels=True)
        assert json.loads(json.dumps(form, allow_nan=False)) == form  # strict JSON
        assert not list(validator.iter_errors(form))  # the published result schema accepts it
        typed = typed_result(actor, form)
        assert typed == value  # read back as the value returned
        assert contract.to_json(typed, travels=True) == form  # and re-encodes to the same form

    law()


def test_the_schema_folder_publishes_result_schemas(stub_broker: StubBroker, tmp_path: Path) -> None:
    @dramatiq.actor
    def nothing() -> None:
        pass

    @dramatiq.actor
    def unannotated(n: int):  # type: ignore[no-untyped-def]
        return n

    @dramatiq.actor
    def order(n: int) -> Order:
        return ORDER

    @dramatiq.actor
    def hidden(n: int) -> Fraction:
        return n  # type: ignore[return-value]

    files = render(stub_broker)
    assert sorted(name for name in files if name.endswith(".result-schema.json")) == [
        "order.result-schema.json"
    ]
    index = json.loads(files[INDEX])["actors"]
    assert index["order"]["result_schema"] == "order.result-schema.json"
    assert all("result_schema" not in index[name] for name in ("nothing", "unannotated", "hidden"))
    schema = json.loads(files["order.result-schema.json"])
    assert schema["$id"] == "order.result-schema.json" and "Order" in schema["$defs"]
    write(tmp_path, files)
    assert compare(tmp_path, files) == []
    assert sorted(load_schemas(tmp_path).actors) == ["hidden", "nothing", "order", "unannotated"]
    (tmp_path / "order.result-schema.json").write_text("{}\n")
    (tmp_path / "gone.result-schema.json").write_text("{}\n")  # an actor that no longer returns
    assert [(d.name, d.kind) for d in compare(tmp_path, files)] == [
        ("order.result-schema.json", "stale"),
        ("gone.result-schema.json", "extra"),
    ]
    assert sorted(write(tmp_path, files)) == ["gone.result-schema.json", "order.result-schema.json"]
    assert compare(tmp_path, files) == [] and not (tmp_path / "gone.result-schema.json").exists()


# -- a real Redis ------------------------------------------------------------------------


@pytest.mark.redis
def test_a_typed_pipeline_on_redis_end_to_end(redis_server: Any, redis_client: Any) -> None:
    from dramatiq.brokers.redis import RedisBroker
    from dramatiq.results.backends import RedisBackend

    namespace = f"actorschema-{uuid.uuid4().hex[:12]}"
    broker = RedisBroker(url=redis_server.url, namespace=namespace)
    broker.add_middleware(PayloadGateway())
    backend = RedisBackend(client=redis_server.client(), namespace=namespace + "-results")
    broker.add_middleware(Results(backend=backend))
    dramatiq.set_broker(broker)
    seen: list[Any] = []

    @dramatiq.actor
    def stamp(day: int) -> datetime.datetime:
        return datetime.datetime(2024, 1, day, tzinfo=UTC)

    @dramatiq.actor
    def price(ident: uuid.UUID, total: decimal.Decimal, placed: datetime.datetime) -> Order:
        seen.append((type(ident), type(total), type(placed)))
        return Order(ident=ident, total=total, placed=placed)

    @dramatiq.actor(store_results=True)
    def ship(order: Order) -> tuple[uuid.UUID, datetime.datetime]:
        seen.append(type(order))
        return order.ident, order.placed

    ident = uuid.uuid4()
    jobs = pipeline([stamp.message(9), price.message(ident, decimal.Decimal("5.50")), ship.message()])
    jobs.run()
    worker = Worker(broker, worker_threads=2, worker_timeout=100)
    worker.start()
    try:
        stored = jobs.get_result(block=True, timeout=20_000)
    finally:
        worker.stop()
        broker.close()
    placed = datetime.datetime(2024, 1, 9, tzinfo=UTC)
    assert stored == [str(ident), "2024-01-09T00:00:00Z"]
    assert typed_result(ship, stored) == (ident, placed)
    assert seen == [(uuid.UUID, decimal.Decimal, datetime.datetime), Order]


def test_inspect_shows_the_result_type() -> None:
    from typer.testing import CliRunner

    from actorschema.cli import app

    result = CliRunner().invoke(app, ["inspect", "examples.shop", "--json"])
    assert result.exit_code == 0, result.output
    returns = {row["actor"]: row["returns"] for row in json.loads(result.stdout)["actors"]}
    assert returns == {"make_thumbnail": "str", "place_order": None, "refund": None, "send_email": None}


def test_diff_reports_result_schema_changes(tmp_path: Path) -> None:
    from actorschema.compat import RULES, breaking, diff, load_folder

    class Receipt(BaseModel):
        total: decimal.Decimal

    class ReceiptWithNote(BaseModel):
        total: decimal.Decimal
        note: str  # a new required field

    def folder(name: str, hints: dict[str, Any]) -> dict[str, dict[str, Any]]:
        broker = StubBroker()
        broker.add_middleware(PayloadGateway())
        for actor_name, hint in hints.items():
            returning(actor_name, hint, None, broker=broker)
        write(tmp_path / name, render(broker))
        broker.close()
        return load_folder(str(tmp_path / name))

    old = folder("old", {"when": datetime.datetime, "receipt": Receipt, "typed": Any, "same": int})
    new = folder("new", {"when": int, "receipt": ReceiptWithNote, "typed": uuid.UUID, "same": int})
    new_with_none = folder("none", {"when": None, "receipt": Receipt, "typed": Any, "same": int})
    assert isinstance(old["when"]["result_schema"], dict)
    found = {(c.actor, c.rule, c.path): c.breaks for c in diff(old, new)}
    assert found == {
        ("when", "TYPE_CHANGED", "result"): frozenset({"backward", "forward"}),
        ("receipt", "FIELD_ADDED_REQUIRED", "result.note"): frozenset({"backward"}),
        ("typed", "TYPE_NARROWED", "result"): frozenset({"backward"}),  # any JSON -> a UUID string
        ("typed", "CONSTRAINT_TIGHTENED", "result"): frozenset({"backward"}),
    }
    gone = diff(old, new_with_none)
    assert [(c.actor, c.rule) for c in gone] == [("when", "RESULT_UNTYPED")]
    assert [(c.actor, c.rule) for c in breaking(diff(new_with_none, old), "backward")] == [
        ("when", "RESULT_TYPED")
    ]
    assert {"RESULT_TYPED", "RESULT_UNTYPED"} <= RULES.keys()

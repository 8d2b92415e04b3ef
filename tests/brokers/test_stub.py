"""The worker side on StubBroker with a real Worker: check before run, typed delivery, dead letters.

Redis and RabbitMQ get the same catalogue of malformed messages in
``test_consume_redis.py`` and ``test_consume_rabbitmq.py``.
"""

from __future__ import annotations

import datetime
import decimal
import enum
import json
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import dramatiq
import pytest
from dramatiq import GenericActor, Worker, pipeline
from dramatiq.middleware import AsyncIO
from helpers.malformed import CASES, Item, Malformed, typed_actor_fn, valid_body
from pydantic import BaseModel

from actorschema import DeadLettered, PayloadGateway
from actorschema.brokers import StubBroker, UndecodableMessage
from actorschema.consume.deadletters import dead_letter_reasons
from actorschema.consume.guard import ConsumeGuard

UTC = datetime.UTC


@pytest.fixture
def broker() -> Iterator[StubBroker]:
    broker = StubBroker()
    broker.emit_after("process_boot")
    broker.add_middleware(AsyncIO())
    broker.add_middleware(PayloadGateway())
    dramatiq.set_broker(broker)
    yield broker
    broker.flush_all()
    broker.close()


def run_worker(broker: StubBroker, queue: str = "default", threads: int = 2) -> None:
    """Run a real worker until the queue is done; every worker and consumer thread must still be alive."""
    worker = Worker(broker, worker_timeout=20, worker_threads=threads)
    worker.start()
    try:
        broker.join(queue, fail_fast=False)
        dead = [t.name for t in [*worker.workers, *worker.consumers.values()] if not t.is_alive()]
        assert dead == [], f"threads died: {dead}"
    finally:
        worker.stop()


def put(broker: StubBroker, body: bytes | dict[str, Any], queue: str = "default") -> None:
    """Write a body straight into the queue, as a producer that bypasses Dramatiq would."""
    broker.queues[queue].put(body if isinstance(body, bytes) else json.dumps(body).encode())


# -- the guard's place -------------------------------------------------------------


def test_the_consume_check_runs_first_among_the_middleware(broker: StubBroker) -> None:
    dramatiq.actor(lambda: None, actor_name="noop")
    run_worker(broker)
    assert isinstance(broker.middleware[0], ConsumeGuard)
    assert sum(isinstance(m, ConsumeGuard) for m in broker.middleware) == 1
    run_worker(broker)  # a second worker boot does not add it twice
    assert sum(isinstance(m, ConsumeGuard) for m in broker.middleware) == 1


# -- typed delivery ----------------------------------------------------------------


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Line(BaseModel):
    sku: str
    price: decimal.Decimal


class Order(BaseModel):
    order_id: uuid.UUID
    placed_at: datetime.datetime
    lines: list[Line]
    colour: Colour = Colour.RED


def test_arguments_arrive_as_their_declared_python_types(broker: StubBroker) -> None:
    seen: list[dict[str, Any]] = []

    @dramatiq.actor
    def everything(
        order: Order,
        when: datetime.datetime,
        day: datetime.date,
        ident: uuid.UUID,
        amount: decimal.Decimal,
        colour: Colour,
        pair: tuple[int, str],
        blob: bytes,
        nested: dict[str, list[Line]],
        plain: dict,  # type: ignore[type-arg]
        count: int = 0,
    ) -> None:
        seen.append({name: value for name, value in locals().items() if name != "seen"})

    order = Order(
        order_id=uuid.uuid4(),
        placed_at=datetime.datetime(2024, 5, 1, 9, 30, tzinfo=UTC),
        lines=[Line(sku="a", price=decimal.Decimal("1.50"))],
    )
    arguments: dict[str, Any] = {
        "order": order,
        "when": datetime.datetime(2024, 5, 1, 12, tzinfo=datetime.timezone(datetime.timedelta(hours=2))),
        "day": datetime.date(2024, 5, 2),
        "ident": uuid.uuid4(),
        "amount": decimal.Decimal("1E+5"),
        "colour": Colour.BLUE,
        "pair": (1, "x"),
        "blob": b"\x00\xffhello",
        "nested": {"k": [Line(sku="b", price=decimal.Decimal("2"))]},
        "plain": {"raw": [1, 2.5, None]},
    }
    stored = everything.send(**arguments)
    assert stored.kwargs["order"]["placed_at"] == "2024-05-01T09:30:00Z"  # JSON on the wire
    run_worker(broker)
    assert len(seen) == 1
    assert seen[0] == {**arguments, "count": 0}
    assert {name: type(value) for name, value in seen[0].items()} == {
        **{name: type(value) for name, value in arguments.items()},
        "count": int,
    }


def test_sync_async_and_generic_actors_receive_typed_arguments(broker: StubBroker) -> None:
    seen: list[Any] = []
    when = datetime.datetime(2024, 1, 1, tzinfo=UTC)

    @dramatiq.actor
    def sync(order: Order) -> None:
        seen.append(("sync", type(order)))

    @dramatiq.actor
    async def coroutine(order: Order, at: datetime.datetime) -> None:
        seen.append(("async", type(order), type(at)))

    class Generic(GenericActor):  # type: ignore[misc]
        def perform(self, order: Order) -> None:
            seen.append(("generic", type(order)))

    order = Order(order_id=uuid.uuid4(), placed_at=when, lines=[])
    sync.send(order)
    coroutine.send(order, when)
    Generic.send(order)
    run_worker(broker)
    assert sorted(seen, key=str) == [("async", Order, datetime.datetime), ("generic", Order), ("sync", Order)]


def test_a_retried_message_is_re_enqueued_as_it_arrived_and_typed_again(broker: StubBroker) -> None:
    attempts: list[Any] = []

    @dramatiq.actor(max_retries=3, min_backoff=1, max_backoff=5)
    def flaky(order: Order) -> None:
        attempts.append(order)
        if len(attempts) == 1:
            raise RuntimeError("first attempt fails")

    flaky.send(Order(order_id=uuid.uuid4(), placed_at=datetime.datetime(2024, 1, 1, tzinfo=UTC), lines=[]))
    run_worker(broker)
    assert len(attempts) == 2 and all(type(a) is Order for a in attempts)
    assert attempts[0] == attempts[1]
    assert broker.dead_letters == []


def test_the_legacy_positional_form_and_pipeline_results_are_bound_and_typed(broker: StubBroker) -> None:
    seen: list[Any] = []

    @dramatiq.actor
    def stamp(day: int) -> datetime.datetime:
        return datetime.datetime(2024, 1, day, tzinfo=UTC)

    @dramatiq.actor
    def record(label: str, at: datetime.datetime, ident: uuid.UUID | None = None) -> None:
        seen.append((label, at, ident))

    ident = uuid.uuid4()
    put(
        broker,
        {
            "queue_name": "default",
            "actor_name": "record",
            "args": ["positional", "2024-02-03T00:00:00Z", str(ident)],
            "kwargs": {},
            "options": {},
            "message_id": str(uuid.uuid4()),
            "message_timestamp": 0,
        },
    )
    pipeline([stamp.message(5), record.message("piped")]).run()
    run_worker(broker)
    assert sorted(seen, key=str) == [
        ("piped", datetime.datetime(2024, 1, 5, tzinfo=UTC), None),
        ("positional", datetime.datetime(2024, 2, 3, tzinfo=UTC), ident),
    ]


def test_a_direct_call_of_the_actor_is_not_converted(broker: StubBroker) -> None:
    seen: list[Any] = []

    @dramatiq.actor
    def direct(at: datetime.datetime) -> None:
        seen.append(at)

    direct("not even a date")  # calling the function yourself stays a plain call
    assert seen == ["not even a date"]


# -- JSON semantics ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("hint", "value", "valid"),
    [
        (int, 5, True),
        (int, 5.0, True),
        (int, "5", False),
        (int, True, False),
        (float, "NaN", False),
        (float, 5, True),
        (datetime.datetime, "2024-05-01T00:00:00Z", True),
        (datetime.datetime, "2024-13-01T00:00:00Z", False),
        (datetime.datetime, "2024-05-01 00:00:00Z", False),  # RFC 3339's ABNF wants a T
        (datetime.datetime, "2016-12-31T23:59:60Z", False),  # no leap seconds (ajv allows them)
        (uuid.UUID, "urn:uuid:7f1d6a3e-9c2b-4b8e-a7d5-3c1e2f4a5b6c", False),  # ajv allows the prefix
        (decimal.Decimal, "1\n", False),  # Python's $ would match before the newline
    ],
)
def test_consumed_arguments_are_judged_with_json_semantics(
    broker: StubBroker, hint: Any, value: Any, valid: bool
) -> None:
    seen: list[Any] = []

    def judged(value: Any) -> None:
        seen.append(value)

    judged.__annotations__ = {"value": hint, "return": None}
    dramatiq.actor(judged)
    put(broker, {**valid_body("default"), "actor_name": "judged", "kwargs": {"value": value}})
    run_worker(broker)
    assert len(seen) == (1 if valid else 0)
    assert len(broker.dead_letters) == (0 if valid else 1)
    if valid:
        assert type(seen[0]) is (int if hint is int else hint if isinstance(hint, type) else type(seen[0]))


def test_an_unknown_keyword_is_invalid_unless_the_actor_takes_kwargs(broker: StubBroker) -> None:
    seen: list[Any] = []

    @dramatiq.actor
    def closed(n: int) -> None:
        seen.append(("closed", n))

    @dramatiq.actor
    def open_(n: int, **extra: int) -> None:
        seen.append(("open", n, extra))

    for actor in ("closed", "open_"):
        put(broker, {**valid_body("default"), "actor_name": actor, "kwargs": {"n": 1, "colour": 2}})
    run_worker(broker)
    assert seen == [("open", 1, {"colour": 2})]
    assert dead_letter_reasons(broker, "default")
    (reason,) = dead_letter_reasons(broker, "default").values()
    assert reason["actor"] == "closed" and reason["violations"][0]["path"] == "kwargs.colour"


# -- malformed messages --------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=[case.label for case in CASES])
def test_a_malformed_message_is_dead_lettered_and_the_next_good_one_runs(
    broker: StubBroker, case: Malformed, caplog: pytest.LogCaptureFixture
) -> None:
    received: list[Any] = []
    typed = dramatiq.actor(typed_actor_fn(received), actor_name="typed", max_retries=5)
    bad = case.build(valid_body("default", n=1))
    put(broker, bad)
    put(broker, valid_body("default", n=2))
    typed.send(3, datetime.datetime(2024, 1, 1, tzinfo=UTC), Item(sku="c", quantity=1))
    with caplog.at_level(logging.ERROR, logger="actorschema"):
        run_worker(broker)
    assert sorted(n for n, _, _ in received) == [2, 3], "the bad message did not run, the good ones did"
    assert all(type(when) is datetime.datetime and type(item) is Item for _, when, item in received)
    (dead,) = broker.dead_letters
    reasons = list(dead_letter_reasons(broker, "default").values())
    assert len(reasons) == 1 and case.path in [v["path"] for v in reasons[0]["violations"]], reasons
    records = [r for r in caplog.records if hasattr(r, "actorschema")]
    assert len(records) == 1 and case.path in records[0].actorschema["paths"]
    if case.at_consumer:
        assert isinstance(dead, UndecodableMessage) and dead.body == bad  # kept byte for byte
    else:
        assert dead.message_id == json.loads(bad)["message_id"] and dead.failed


def test_a_rejected_message_is_not_retried(broker: StubBroker) -> None:
    calls: list[Any] = []

    @dramatiq.actor(max_retries=5, min_backoff=1)
    def never(n: int) -> None:
        calls.append(n)

    put(broker, {**valid_body("default"), "actor_name": "never", "kwargs": {"n": "one"}})
    run_worker(broker)
    assert calls == []
    assert len(broker.dead_letters) == 1
    assert "retries" not in broker.dead_letters[0].options


def test_join_with_fail_fast_raises_the_reason(broker: StubBroker) -> None:
    @dramatiq.actor
    def strict(n: int) -> None: ...

    put(broker, {**valid_body("default"), "actor_name": "strict", "kwargs": {"n": "one"}})
    worker = Worker(broker, worker_timeout=20)
    worker.start()
    try:
        with pytest.raises(DeadLettered, match=r"kwargs\.n: 'one' is not of type 'integer'"):
            broker.join("default")
    finally:
        worker.stop()


def test_a_message_dramatiq_runs_with_a_warning_is_not_dead_lettered(broker: StubBroker) -> None:
    ran: list[int] = []

    @dramatiq.actor
    def tolerant(n: int) -> None:
        ran.append(n)

    put(
        broker,
        {**valid_body("default"), "actor_name": "tolerant", "kwargs": {"n": 1}, "options": {"eta": "soon"}},
    )
    run_worker(broker)
    assert ran == [1] and broker.dead_letters == []


def test_an_oversized_message_is_dead_lettered_but_bookkeeping_options_do_not_count(
    broker: StubBroker,
) -> None:
    ran: list[int] = []

    @dramatiq.actor(max_message_bytes=400)
    def small(text: str) -> None:
        ran.append(len(text))

    bookkeeping = {"traceback": "x" * 5000, "retries": 1, "requeue_timestamp": 1, "redis_message_id": "r"}
    put(
        broker,
        {
            **valid_body("default"),
            "actor_name": "small",
            "kwargs": {"text": "a" * 10},
            "options": bookkeeping,
        },
    )
    put(broker, {**valid_body("default"), "actor_name": "small", "kwargs": {"text": "a" * 500}})
    run_worker(broker)
    assert ran == [10]
    (reason,) = dead_letter_reasons(broker, "default").values()
    assert reason["reason"] == "the message is too large"
    assert reason["violations"][0]["path"] == "kwargs.text"
    assert "400-byte actor limit" in reason["violations"][0]["problem"]


def test_warn_mode_logs_and_runs_the_message_as_it_arrived(caplog: pytest.LogCaptureFixture) -> None:
    broker = StubBroker()
    broker.add_middleware(PayloadGateway(mode="warn"))
    dramatiq.set_broker(broker)
    ran: list[Any] = []

    @dramatiq.actor
    def lenient(n: int) -> None:
        ran.append(n)

    put(broker, {**valid_body("default"), "actor_name": "lenient", "kwargs": {"n": "7"}})
    # A broken envelope is never run: the worker thread would die when the actor raised.
    put(
        broker,
        {**valid_body("default"), "actor_name": "lenient", "kwargs": {"n": 8}, "options": {"throws": "E"}},
    )
    with caplog.at_level(logging.WARNING, logger="actorschema"):
        run_worker(broker)
    assert ran == ["7"] and len(broker.dead_letters) == 1
    (record,) = [r for r in caplog.records if hasattr(r, "actorschema") and r.levelno == logging.WARNING]
    assert record.levelno == logging.WARNING and record.actorschema["paths"] == ["kwargs.n"]
    assert "mode='warn'" in record.actorschema["outcome"]


def test_with_dramatiqs_own_stub_broker_values_json_cannot_hold_are_still_refused_at_their_path() -> None:
    # Dramatiq's own decoder (json.loads) lets NaN and lone surrogates through; the gateway does not.
    from dramatiq.brokers.stub import StubBroker as DramatiqStubBroker

    broker = DramatiqStubBroker()
    broker.add_middleware(PayloadGateway())
    dramatiq.set_broker(broker)
    ran: list[Any] = []

    @dramatiq.actor
    def anything(value: Any, label: str = "") -> None:
        ran.append(value)

    good = json.dumps({**valid_body("default"), "actor_name": "anything", "kwargs": {"value": 1}})
    broker.queues["default"].put(good.replace('"value": 1', '"value": NaN').encode())
    broker.queues["default"].put(good.replace('"value": 1', '"value": 2, "label": "\\ud800"').encode())
    broker.queues["default"].put(good.encode())
    run_worker(broker)  # type: ignore[arg-type]
    assert ran == [1]
    paths = sorted(path for m in broker.dead_letters for path in m._actorschema_rejection.paths)
    assert paths == ["kwargs.label", "kwargs.value"]

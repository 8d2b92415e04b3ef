"""PayloadGateway on the send side: every path to a queue, canonical messages, modes."""

from __future__ import annotations

import datetime
import json
import logging
from typing import Any

import dramatiq
import pydantic
import pytest
from dramatiq import GenericActor, Message, Worker, group, pipeline
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import Middleware
from dramatiq.results import Results
from dramatiq.results.backends import StubBackend

from actorschema import (
    NonJSONPayload,
    PayloadGateway,
    PayloadInvalid,
    PayloadRejected,
    PayloadTooLarge,
)

UTC = datetime.UTC


def stored(broker: StubBroker, queue: str = "default") -> list[dict[str, Any]]:
    """The messages a StubBroker queue holds, decoded with the standard library."""
    return [json.loads(body) for body in list(broker.queues[queue].queue)]


def total_stored(broker: StubBroker) -> int:
    return sum(q.qsize() for q in broker.queues.values())


class Job(pydantic.BaseModel):
    path: str
    width: int
    when: datetime.datetime


def make_job(**overrides: Any) -> Job:
    fields: dict[str, Any] = {
        "path": "s3://bucket/a.png",
        "width": 640,
        "when": datetime.datetime(2024, 5, 1, tzinfo=UTC),
    }
    return Job(**{**fields, **overrides})


# -- canonical messages ---------------------------------------------------------


def test_send_stores_canonical_message_equal_to_the_returned_one(stub_broker: StubBroker) -> None:
    @dramatiq.actor
    def resize(job: Job, quality: int = 80) -> None:
        pass

    message = resize.send(make_job(), 90)

    [body] = stored(stub_broker)
    assert body["args"] == []
    assert body["kwargs"] == {
        "job": {"path": "s3://bucket/a.png", "width": 640, "when": "2024-05-01T00:00:00Z"},
        "quality": 90,
    }
    assert json.loads(json.dumps({**message.asdict(), "args": list(message.args)})) == body


def test_canonical_form_keeps_positional_only_and_var_positional(stub_broker: StubBroker) -> None:
    @dramatiq.actor
    def f(a: int, /, b: int, *rest: int, c: int = 0) -> None:
        pass

    f.send(1, 2, c=3)
    f.send(1, 2, 3, 4)
    first, second = stored(stub_broker)
    assert (first["args"], first["kwargs"]) == ([1], {"b": 2, "c": 3})
    # values for *args pin the positionals before them
    assert (second["args"], second["kwargs"]) == ([1, 2, 3, 4], {})


def test_worker_runs_canonical_messages_and_legacy_positional_ones(
    stub_broker: StubBroker, stub_worker: Worker
) -> None:
    calls: list[tuple[int, str]] = []

    @dramatiq.actor
    def record(n: int, label: str = "x") -> None:
        calls.append((n, label))

    record.send(1, "a")
    record.send(n=2)
    stub_broker.enqueue(
        Message(queue_name="default", actor_name="record", args=(3, "c"), kwargs={}, options={})
    )
    stub_broker.join("default")
    assert sorted(calls) == [(1, "a"), (2, "x"), (3, "c")]


def test_generic_and_async_actors_are_covered(stub_broker: StubBroker) -> None:
    from dramatiq.middleware import AsyncIO

    stub_broker.add_middleware(AsyncIO())
    seen: list[Any] = []

    class Generic(GenericActor):
        def perform(self, n: int, when: datetime.datetime) -> None:
            seen.append(("generic", n, when))

    @dramatiq.actor
    async def coroutine(n: int) -> None:
        seen.append(("async", n))

    Generic.send(1, datetime.datetime(2024, 1, 1, tzinfo=UTC))
    coroutine.send(n=2)
    with pytest.raises(PayloadInvalid, match=r"kwargs\.n"):
        coroutine.send(n="two")
    with pytest.raises(PayloadInvalid):
        Generic.send(1, datetime.datetime(2024, 1, 1))  # naive
    worker = Worker(stub_broker, worker_timeout=50)
    worker.start()
    try:
        stub_broker.join("default")
    finally:
        worker.stop()
    # Typed delivery: the worker hands the GenericActor a datetime again, not its RFC 3339 text.
    assert sorted(seen, key=str) == [("async", 2), ("generic", 1, datetime.datetime(2024, 1, 1, tzinfo=UTC))]
    assert type(seen[[s[0] for s in seen].index("generic")][2]) is not str


def test_actors_declared_before_the_gateway_are_covered() -> None:
    broker = StubBroker()
    dramatiq.set_broker(broker)

    @dramatiq.actor
    def early(x: int) -> None:
        pass

    broker.add_middleware(PayloadGateway())
    with pytest.raises(PayloadInvalid):
        early.send("not an int")
    with pytest.raises(NonJSONPayload):
        early.send_with_options(args=(1,), when=datetime.datetime.now(UTC))
    assert total_stored(broker) == 0


# -- every path to a queue ------------------------------------------------------------


BAD_VALUES = [
    (datetime.datetime(2024, 1, 1, tzinfo=UTC), "kwargs.value"),
    ({1, 2}, "kwargs.value"),
    ((1, 2), "kwargs.value"),
    ({"k": float("nan")}, "kwargs.value.k"),
    ({1: "a"}, "kwargs.value"),
]


@pytest.mark.parametrize(("bad", "path"), BAD_VALUES)
def test_every_send_path_rejects_and_enqueues_nothing(stub_broker: StubBroker, bad: Any, path: str) -> None:
    @dramatiq.actor
    def sink(value: Any = None, previous: Any = None) -> None:  # room for a pipeline's result
        pass

    @dramatiq.actor
    def other(value: Any = None) -> None:
        pass

    attempts = [
        lambda: sink.send(bad),
        lambda: sink.send(value=bad),
        lambda: sink.send_with_options(args=(bad,)),
        lambda: sink.send_with_options(kwargs={"value": bad}),
        lambda: sink.send_with_options(args=(bad,), delay=10),
        lambda: stub_broker.enqueue(sink.message(bad)),
        lambda: stub_broker.enqueue(Message("default", "sink", (bad,), {}, {})),
        lambda: stub_broker.enqueue(Message("default", "sink", (bad,), {}, {}), delay=10),
        lambda: pipeline([other.message(1), sink.message(bad)]).run(),
        lambda: pipeline(
            [Message("default", "other", (1,), {}, {}), Message("default", "sink", (bad,), {}, {})]
        ).run(),
        lambda: (other.message(1) | sink.message(bad)).run(),
        lambda: group([other.message(1), other.message(2), sink.message(bad)]).run(),
    ]
    for attempt in attempts:
        with pytest.raises(PayloadRejected) as caught:
            attempt()
        # Canonical messages name the parameter; pipeline steps not yet enqueued keep their positions.
        tail = path.removeprefix("kwargs.value")
        paths = caught.value.paths
        assert any(p.endswith(("value" + tail, "args[0]" + tail)) for p in paths), caught.value
        assert total_stored(stub_broker) == 0


def test_non_json_options_are_rejected_with_their_path(stub_broker: StubBroker) -> None:
    @dramatiq.actor
    def sink() -> None:
        pass

    with pytest.raises(NonJSONPayload) as caught:
        sink.send_with_options(on_behalf_of={"since": datetime.date(2024, 1, 1)})
    assert caught.value.paths == ("options.on_behalf_of.since",)
    assert total_stored(stub_broker) == 0


def test_group_with_one_oversized_child_enqueues_nothing(stub_broker: StubBroker) -> None:
    @dramatiq.actor(max_message_bytes=1000)
    def small(blob: str) -> None:
        pass

    with pytest.raises(PayloadTooLarge):
        group([small.message("a"), small.message("b" * 2000)]).run()
    assert total_stored(stub_broker) == 0


def test_pipeline_later_steps_are_checked_when_the_pipeline_starts(stub_broker: StubBroker) -> None:
    @dramatiq.actor
    def first(x: int) -> int:
        return x

    @dramatiq.actor
    def second(x: int, y: int) -> None:
        pass

    # ``second`` gets ``first``'s result appended: one missing argument is fine...
    pipeline([first.message(1), second.message(2)]).run()
    assert len(stored(stub_broker)) == 1
    stub_broker.flush_all()
    # ...two are not, even when the message was built without the gateway's help.
    step = Message("default", "second", (), {}, {})
    with pytest.raises(PayloadInvalid) as caught:
        pipeline([first.message(1), step]).run()
    assert caught.value.paths == ("options.pipe_target.kwargs.y",)
    assert total_stored(stub_broker) == 0


def test_pipeline_continuations_are_canonicalised_when_enqueued(
    stub_broker: StubBroker, stub_worker: Worker
) -> None:
    results: list[Any] = []

    @dramatiq.actor
    def when_is_it(n: int) -> datetime.datetime:
        return datetime.datetime(2024, 1, n, tzinfo=UTC)

    @dramatiq.actor
    def report(label: str, when: datetime.datetime) -> None:
        results.append((label, when))

    # Bare Dramatiq would fail to encode the datetime result and drop the continuation.
    pipeline([when_is_it.message(3), report.message("x")]).run()
    stub_broker.join("default")
    assert results == [("x", datetime.datetime(2024, 1, 3, tzinfo=UTC))]  # stored as text, delivered typed


def test_group_completion_callbacks_and_results_work(stub_broker: StubBroker) -> None:
    from dramatiq.middleware import GroupCallbacks
    from dramatiq.rate_limits.backends import StubBackend as RateStub

    backend = StubBackend()
    stub_broker.add_middleware(Results(backend=backend))
    stub_broker.add_middleware(GroupCallbacks(RateStub()))
    done: list[int] = []

    @dramatiq.actor(store_results=True)
    def square(n: int) -> int:
        return n * n

    @dramatiq.actor
    def finished(count: int) -> None:
        done.append(count)

    jobs = group([square.message(i) for i in range(5)])
    jobs.add_completion_callback(finished.message(5))
    worker = Worker(stub_broker, worker_timeout=50)
    worker.start()
    try:
        jobs.run()
        stub_broker.join("default")
        assert sorted(jobs.get_results(block=True, timeout=5000)) == [0, 1, 4, 9, 16]
        assert done == [5]
    finally:
        worker.stop()


# -- size limits ----------------------------------------------------------------------


def measure(broker: StubBroker, send: Any) -> int:
    send()
    body = list(broker.queues["default"].queue)[-1]
    broker.flush_all()
    return len(body)


def test_size_limit_is_exact(stub_broker: StubBroker, gateway: PayloadGateway) -> None:
    @dramatiq.actor
    def blob(text: str) -> None:
        pass

    gateway.max_message_bytes = None
    size = measure(stub_broker, lambda: blob.send("x" * 1000))
    gateway.max_message_bytes = size
    blob.send("x" * 1000)
    assert len(next(iter(stub_broker.queues["default"].queue))) == size
    with pytest.raises(PayloadTooLarge) as caught:
        blob.send("x" * 1001)
    assert (caught.value.size, caught.value.limit, caught.value.limit_source) == (size + 1, size, "global")
    assert len(stored(stub_broker)) == 1


def test_size_counts_utf8_bytes_not_characters(stub_broker: StubBroker, gateway: PayloadGateway) -> None:
    @dramatiq.actor
    def blob(text: str) -> None:
        pass

    gateway.max_message_bytes = None
    ascii_size = measure(stub_broker, lambda: blob.send("x" * 100))
    euro_size = measure(stub_broker, lambda: blob.send("€" * 100))
    assert euro_size == ascii_size + 200  # three UTF-8 bytes each, stored unescaped


def test_limit_precedence_actor_then_queue_then_global(stub_broker: StubBroker) -> None:
    stub_broker.middleware.remove(next(m for m in stub_broker.middleware if isinstance(m, PayloadGateway)))
    stub_broker.add_middleware(PayloadGateway(max_message_bytes=5000, queue_limits={"tight": 1000}))

    @dramatiq.actor(queue_name="tight", max_message_bytes=3000)
    def actor_limited(text: str) -> None:
        pass

    @dramatiq.actor(queue_name="tight")
    def queue_limited(text: str) -> None:
        pass

    @dramatiq.actor
    def global_limited(text: str) -> None:
        pass

    @dramatiq.actor(max_message_bytes=None)
    def unlimited(text: str) -> None:
        pass

    actor_limited.send("x" * 2000)
    with pytest.raises(PayloadTooLarge) as by_actor:
        actor_limited.send("x" * 4000)
    with pytest.raises(PayloadTooLarge) as by_queue:
        queue_limited.send("x" * 2000)
    global_limited.send("x" * 4000)
    with pytest.raises(PayloadTooLarge) as by_global:
        global_limited.send("x" * 6000)
    unlimited.send("x" * 100_000)
    assert [e.value.limit_source for e in (by_actor, by_queue, by_global)] == ["actor", "queue", "global"]
    assert [e.value.limit for e in (by_actor, by_queue, by_global)] == [3000, 1000, 5000]


def test_too_large_names_the_largest_paths_and_the_advice(stub_broker: StubBroker) -> None:
    @dramatiq.actor(max_message_bytes=4096)
    def upload(meta: dict[str, Any], note: str = "") -> None:
        pass

    with pytest.raises(PayloadTooLarge) as caught:
        upload.send({"name": "a.bin", "body": {"bytes": "A" * 10_000}}, note="small")
    error = caught.value
    assert error.largest[0] == ("kwargs.meta", pytest.approx(10_040, abs=40))
    assert ("kwargs.meta.body.bytes", 10_002) in error.largest
    text = str(error)
    assert "upload" in text and "4,096" in text and "kwargs.meta.body.bytes" in text
    assert "send an id or a path" in text.replace("send instead: an id or a path", "send an id or a path")


def test_invalid_limits_are_refused() -> None:
    with pytest.raises(ValueError):
        PayloadGateway(max_message_bytes=0)
    with pytest.raises(ValueError):
        PayloadGateway(queue_limits={"q": -1})
    with pytest.raises(ValueError):
        PayloadGateway(mode="lenient")  # type: ignore[arg-type]


# -- warn mode ------------------------------------------------------------------------


def test_warn_mode_enqueues_unchanged_and_logs_one_structured_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    broker = StubBroker()
    broker.add_middleware(PayloadGateway(mode="warn", max_message_bytes=500))
    dramatiq.set_broker(broker)

    @dramatiq.actor
    def sink(value: Any) -> None:
        pass

    with caplog.at_level(logging.WARNING, logger="actorschema"):
        sink.send((1, 2))
        sink.send("x" * 1000)
        group([sink.message((3, 4))]).run()  # built, then enqueued: still one warning
    records = [r for r in caplog.records if r.name == "actorschema"]
    assert len(records) == 3
    first, second, third = (r.actorschema for r in records)  # type: ignore[attr-defined]
    assert first["actor"] == "sink" and first["paths"] == ["kwargs.value"]
    assert third["paths"] == ["kwargs.value"] and third["outcome"] == "enqueued unchanged (mode='warn')"
    assert second["size"] > 500 and second["limit"] == 500 and second["limit_source"] == "global"
    bodies = stored(broker)
    assert bodies[0]["args"] == [[1, 2]]  # unchanged: as Dramatiq would have sent it
    assert len(bodies) == 3


# -- the encoder ----------------------------------------------------------------------


class LateMutation(Middleware):
    """A middleware after the gateway that changes the message it already checked."""

    def __init__(self, extra: Any) -> None:
        self.extra = extra

    def before_enqueue(self, broker: Any, message: Any, delay: Any) -> None:
        message.options["late"] = self.extra


@pytest.mark.parametrize(("extra", "error"), [("x" * 5000, PayloadTooLarge), ({1, 2}, NonJSONPayload)])
def test_changes_after_the_gateway_are_checked_again(
    stub_broker: StubBroker, extra: Any, error: type
) -> None:
    stub_broker.add_middleware(LateMutation(extra))

    @dramatiq.actor(max_message_bytes=1000)
    def sink(n: int) -> None:
        pass

    with pytest.raises(error):
        sink.send(1)
    assert total_stored(stub_broker) == 0


def test_bytes_measured_are_bytes_stored(stub_broker: StubBroker) -> None:
    @dramatiq.actor
    def sink(text: str, n: float) -> None:
        pass

    message = sink.send("héllo ✓", 1.5)
    [body] = list(stub_broker.queues["default"].queue)
    assert "héllo ✓".encode() in body  # UTF-8, unescaped: what msgspec wrote
    assert json.loads(body)["kwargs"] == {"text": "héllo ✓", "n": 1.5}
    # The one-shot hand-over is gone: later encodes are Dramatiq's own again.
    assert "encode" not in vars(message)
    assert json.loads(message.encode()) == json.loads(body)


def test_the_global_encoder_is_left_alone() -> None:
    before = dramatiq.get_encoder()
    PayloadGateway()
    assert dramatiq.get_encoder() is before
    assert before.encode({"result": (1, 2)}) == b'{"result":[1,2]}'  # results keep Dramatiq's JSON


# -- never lose an accepted message ------------------------------------------------------


def test_retried_near_limit_message_with_long_exception_still_retries(stub_broker: StubBroker) -> None:
    attempts: list[int] = []

    @dramatiq.actor(max_message_bytes=2000, max_retries=3, min_backoff=10, max_backoff=20)
    def flaky(blob: str) -> None:
        attempts.append(len(blob))
        if len(attempts) == 1:
            raise ValueError("m" * 1_000_000)

    flaky.send("b" * 1700)
    worker = Worker(stub_broker, worker_timeout=50)
    worker.start()
    try:
        stub_broker.join("default")
    finally:
        worker.stop()
    assert attempts == [1700, 1700]
    assert not stub_broker.dead_letters


def test_worker_re_enqueue_of_an_invalid_continuation_is_logged_not_raised(
    stub_broker: StubBroker, stub_worker: Worker, caplog: pytest.LogCaptureFixture
) -> None:
    ran: list[Any] = []

    # No return annotation: with one (-> str), the send side refuses this pipeline at run()
    # (the next step cannot take the declared result); without, only the worker can know.
    @dramatiq.actor
    def produce():  # type: ignore[no-untyped-def]
        return "not a number"

    @dramatiq.actor
    def consume(n: int) -> None:
        ran.append(n)

    with caplog.at_level(logging.WARNING, logger="actorschema"):
        pipeline([produce.message(), consume.message()]).run()
        stub_broker.join("default", fail_fast=False)
    logged = [r for r in caplog.records if r.name == "actorschema"]
    assert logged and "re-enqueueing" in logged[0].getMessage()
    assert logged[0].actorschema["actor"] == "consume"  # type: ignore[attr-defined]


def test_sends_from_inside_an_actor_are_checked(stub_broker: StubBroker, stub_worker: Worker) -> None:
    errors: list[BaseException] = []

    @dramatiq.actor
    def target(n: int) -> None:
        pass

    @dramatiq.actor(max_retries=0)
    def source() -> None:
        try:
            target.send("bad")
        except PayloadInvalid as error:
            errors.append(error)

    source.send()
    stub_broker.join("default")
    assert len(errors) == 1 and stub_broker.queues["default"].qsize() == 0


# -- errors read well -----------------------------------------------------------------


def test_errors_name_actor_path_problem_and_what_to_send(stub_broker: StubBroker) -> None:
    @dramatiq.actor
    def notify(customer: dict[str, Any]) -> None:
        pass

    with pytest.raises(NonJSONPayload) as caught:
        notify.send({"tags": ["a", "b", "c", datetime.datetime(2024, 1, 1, tzinfo=UTC)]})
    text = str(caught.value)
    assert "'notify'" in text
    assert "kwargs.customer.tags[3]" in text
    assert "datetime" in text and "isoformat" in text
    assert caught.value.actor_name == "notify"


def test_deep_and_circular_values_are_rejected_not_crashing(stub_broker: StubBroker) -> None:
    @dramatiq.actor
    def sink(value: Any) -> None:
        pass

    deep: list[Any] = []
    node = deep
    for _ in range(10_000):
        node.append([])
        node = node[0]
    loop: dict[str, Any] = {}
    loop["self"] = loop
    for bad in (deep, loop):
        with pytest.raises(NonJSONPayload):
            sink.send(bad)
    assert total_stored(stub_broker) == 0


def test_messages_for_actors_declared_elsewhere_get_strict_json_and_size_checks(
    stub_broker: StubBroker, gateway: PayloadGateway
) -> None:
    stub_broker.declare_queue("remote")
    gateway.queue_limits = {"remote": 500}
    stub_broker.enqueue(Message("remote", "declared_in_the_worker", (1,), {"k": "v"}, {}))
    [body] = stored(stub_broker, "remote")
    assert (body["args"], body["kwargs"]) == ([1], {"k": "v"})  # cannot be bound here: left as sent
    with pytest.raises(NonJSONPayload) as caught:
        stub_broker.enqueue(Message("remote", "declared_in_the_worker", ((1, 2),), {}, {}))
    assert caught.value.paths == ("args[0]",)
    with pytest.raises(PayloadTooLarge):
        stub_broker.enqueue(Message("remote", "declared_in_the_worker", ("x" * 600,), {}, {}))
    assert len(stored(stub_broker, "remote")) == 1


def test_actors_with_unusable_hints_reject_every_send(stub_broker: StubBroker) -> None:
    @dramatiq.actor
    def broken(x: Undefined) -> None:  # type: ignore[name-defined]  # noqa: F821
        pass

    with pytest.raises(PayloadInvalid, match=r"(?s)type hint cannot be resolved.*payload_contract"):
        broken.send(1)
    assert total_stored(stub_broker) == 0


def test_a_custom_global_encoder_is_what_is_measured_and_stored(stub_broker: StubBroker) -> None:
    from dramatiq.encoder import JSONEncoder, PickleEncoder

    @dramatiq.actor(max_message_bytes=400)
    def sink(text: str) -> None:
        pass

    dramatiq.set_encoder(PickleEncoder())
    try:
        sink.send("x" * 100)
        [body] = list(stub_broker.queues["default"].queue)
        assert PickleEncoder().decode(body)["kwargs"] == {"text": "x" * 100}
        assert len(body) <= 400
        with pytest.raises(PayloadTooLarge) as caught:
            sink.send("x" * 400)
        assert caught.value.size > 400
    finally:
        dramatiq.set_encoder(JSONEncoder())


def test_a_send_is_checked_once_and_a_built_message_when_built(
    stub_broker: StubBroker, gateway: PayloadGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    @dramatiq.actor
    def sink(n: int) -> None:
        pass

    built: list[str] = []
    check_built = gateway._check_built
    monkeypatch.setattr(gateway, "_check_built", lambda a, m: built.append(m.actor_name) or check_built(a, m))
    sink.send(1)
    sink.send_with_options(args=(2,), delay=5)
    assert built == []  # the enqueue check follows at once: no second check
    sink.message(3)
    sink.message_with_options(args=(4,))
    assert built == ["sink", "sink"]


def test_custom_actor_classes_are_checked_too(stub_broker: StubBroker) -> None:
    class TaggingActor(dramatiq.Actor):  # type: ignore[type-arg]
        def send_with_options(self, **options: Any) -> Message[Any]:
            options.setdefault("source", "tagging")
            return super().send_with_options(**options)

    @dramatiq.actor(actor_class=TaggingActor)
    def tagged(n: int) -> None:
        pass

    tagged.send(1)
    with pytest.raises(PayloadInvalid):
        tagged.send("one")
    with pytest.raises(NonJSONPayload):
        tagged.send_with_options(args=(1,), source={"a", "set"})
    [body] = stored(stub_broker)
    assert body["kwargs"] == {"n": 1} and body["options"] == {"source": "tagging"}


def test_limits_are_validated_wherever_they_are_set(stub_broker: StubBroker, gateway: PayloadGateway) -> None:
    with pytest.raises(ValueError):
        gateway.max_message_bytes = -5
    with pytest.raises(ValueError):
        gateway.queue_limits = {"q": "big"}  # type: ignore[dict-item]

    @dramatiq.actor(max_message_bytes="4 KB")
    def misconfigured(n: int) -> None:
        pass

    with pytest.raises(PayloadInvalid, match="max_message_bytes must be a positive int"):
        misconfigured.send(1)
    assert total_stored(stub_broker) == 0

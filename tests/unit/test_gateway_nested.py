"""Nested messages: pipeline steps, group completion callbacks, success and failure callbacks.

Each is converted with its own actor's contract, exactly as a top-level message
(real StubBroker, real Worker, Dramatiq's own Pipelines, GroupCallbacks and
Callbacks middleware).
"""

from __future__ import annotations

import datetime
import decimal
import json
import uuid
from collections.abc import Iterator
from typing import Any

import dramatiq
import pytest
from dramatiq import Message, Worker, group, pipeline
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import GroupCallbacks
from dramatiq.rate_limits.backends import StubBackend as RateStub
from helpers.workers import drain
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from actorschema import PayloadGateway, PayloadInvalid

UTC = datetime.UTC


class Order(BaseModel):
    ident: uuid.UUID
    total: decimal.Decimal
    placed: datetime.datetime


def stored(broker: StubBroker, queue: str = "default") -> list[dict[str, Any]]:
    return [json.loads(body) for body in list(broker.queues[queue].queue)]


@pytest.fixture
def callbacks_broker(stub_broker: StubBroker) -> Iterator[StubBroker]:
    stub_broker.add_middleware(GroupCallbacks(RateStub()))
    yield stub_broker


# -- pipelines -------------------------------------------------------------------------


def test_a_typed_value_for_a_later_pipeline_step_is_converted_and_delivered_typed(
    stub_broker: StubBroker,
) -> None:
    seen: list[Any] = []

    @dramatiq.actor
    def first() -> int:
        return 7

    @dramatiq.actor
    def second(ident: uuid.UUID, previous: int) -> None:
        seen.append((ident, previous))

    ident = uuid.uuid4()
    # Refused as "not JSON" before nested messages were converted with their own contract.
    pipeline([first.message(), second.message(ident)]).run()
    (message,) = stored(stub_broker)
    step = message["options"]["pipe_target"]
    # Still positional: Dramatiq appends the previous result after it.
    assert step["args"] == [str(ident)] and step["kwargs"] == {}
    drain(stub_broker, fail_fast=True)
    assert seen == [(ident, 7)]
    assert type(seen[0][0]) is uuid.UUID


def test_a_step_that_ignores_the_result_is_put_in_canonical_form(stub_broker: StubBroker) -> None:
    seen: list[Any] = []

    @dramatiq.actor
    def first() -> None:
        pass

    @dramatiq.actor
    def second(ident: uuid.UUID, when: datetime.datetime) -> None:
        seen.append((ident, when))

    ident, when = uuid.uuid4(), datetime.datetime(2024, 5, 6, 7, 8, tzinfo=UTC)
    pipeline([first.message(), second.message_with_options(args=(ident, when), pipe_ignore=True)]).run()
    step = stored(stub_broker)[0]["options"]["pipe_target"]
    assert step["args"] == [] and step["kwargs"] == {"ident": str(ident), "when": "2024-05-06T07:08:00Z"}
    drain(stub_broker, fail_fast=True)
    assert seen == [(ident, when)]


def test_typed_steps_all_the_way_down_uuid_datetime_decimal_and_models(stub_broker: StubBroker) -> None:
    seen: list[Any] = []
    ident = uuid.uuid4()

    @dramatiq.actor
    def stamp(day: int) -> datetime.datetime:
        return datetime.datetime(2024, 1, day, tzinfo=UTC)

    @dramatiq.actor
    def price(total: decimal.Decimal, placed: datetime.datetime) -> Order:
        return Order(ident=ident, total=total, placed=placed)

    @dramatiq.actor
    def ship(tag: uuid.UUID, order: Order) -> None:
        seen.append((tag, order))

    tag = uuid.uuid4()
    pipeline([stamp.message(3), price.message(decimal.Decimal("12.50")), ship.message(tag)]).run()
    (message,) = stored(stub_broker)
    second = message["options"]["pipe_target"]
    third = second["options"]["pipe_target"]  # nested in the nested step: converted too
    assert second["args"] == ["12.50"] and third["args"] == [str(tag)]
    drain(stub_broker, fail_fast=True)
    assert seen == [(tag, Order(ident=ident, total=decimal.Decimal("12.50"), placed=stamp.fn(3)))]
    assert type(seen[0][1]) is Order and type(seen[0][1].total) is decimal.Decimal


def test_the_pipeline_object_is_left_as_built_and_runs_again(stub_broker: StubBroker) -> None:
    seen: list[uuid.UUID] = []

    @dramatiq.actor(pipe_ignore=True)  # Dramatiq appends nothing after this actor's steps
    def first() -> None:
        pass

    @dramatiq.actor
    def second(ident: uuid.UUID) -> None:
        seen.append(ident)

    ident = uuid.uuid4()
    jobs = pipeline([first.message(), second.message(ident)])
    jobs.run()
    jobs.run()
    # Dramatiq shares the nested dicts with the pipeline's later messages: replaced, not changed.
    assert jobs.messages[1].args == (ident,) and jobs.messages[1].kwargs == {}
    assert [m["options"]["pipe_target"]["kwargs"] for m in stored(stub_broker)] == [{"ident": str(ident)}] * 2


def test_pipe_ignore_is_read_as_dramatiq_reads_it(stub_broker: StubBroker) -> None:
    @dramatiq.actor(pipe_ignore=True)
    def first() -> None:
        pass

    @dramatiq.actor
    def second(ident: uuid.UUID) -> None:
        pass

    # Dramatiq's Pipelines reads pipe_ignore on the step's options or on the actor whose result it
    # is: first's option means nothing is appended, so second must get its argument now.
    with pytest.raises(PayloadInvalid) as caught:
        pipeline([first.message(), second.message()]).run()
    assert caught.value.paths == ("options.pipe_target.kwargs.ident",)
    pipeline([first.message(), second.message(uuid.uuid4())]).run()
    assert len(stored(stub_broker)) == 1


def test_a_bad_value_in_any_nested_step_is_refused_with_its_path_and_nothing_is_stored(
    stub_broker: StubBroker,
) -> None:
    @dramatiq.actor
    def first() -> int:
        return 1

    @dramatiq.actor
    def middle(when: datetime.datetime, previous: int) -> int:
        return previous

    @dramatiq.actor
    def last(ident: uuid.UUID, previous: int) -> None:
        pass

    # Built without the gateway's build-time check (which refuses middle.message("yesterday")).
    steps = [Message("default", "middle", ("yesterday",), {}, {}), Message("default", "last", ("x",), {}, {})]
    with pytest.raises(PayloadInvalid) as caught:
        pipeline([first.message(), *steps]).run()
    assert caught.value.paths == (
        "options.pipe_target.args[0]",
        "options.pipe_target.options.pipe_target.args[0]",
    )
    text = str(caught.value)
    assert "(actor 'middle')" in text and "(actor 'last')" in text and "UUID" in text
    assert stored(stub_broker) == []


hypothesis_settings = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
datetimes = st.datetimes(timezones=st.just(UTC))
decimals = st.decimals(allow_nan=False, allow_infinity=False, places=4)


def test_property_a_nested_step_is_stored_as_the_same_message_sent_alone_would_be(
    stub_broker: StubBroker,
) -> None:
    @dramatiq.actor
    def head() -> None:
        pass

    @dramatiq.actor
    def typed(
        ident: uuid.UUID, when: datetime.datetime, amount: decimal.Decimal, previous: Any = None
    ) -> None:
        pass

    @hypothesis_settings
    @given(ident=st.uuids(), when=datetimes, amount=decimals)
    def check(ident: uuid.UUID, when: datetime.datetime, amount: decimal.Decimal) -> None:
        stub_broker.flush_all()
        arguments = {"ident": ident, "when": when, "amount": amount}
        pipeline([head.message(), typed.message_with_options(kwargs=arguments, pipe_ignore=True)]).run()
        pipeline([head.message(), typed.message(ident, when, amount)]).run()  # awaits head's result
        typed.send(**arguments)
        ignoring, awaiting, alone = stored(stub_broker)
        step = ignoring["options"]["pipe_target"]
        assert (step["args"], step["kwargs"]) == (alone["args"], alone["kwargs"])
        # The same values, kept in place for the result Dramatiq appends after them.
        step = awaiting["options"]["pipe_target"]
        assert (step["args"], step["kwargs"]) == (list(alone["kwargs"].values()), {})

    check()


# -- groups ----------------------------------------------------------------------------


def test_a_group_completion_callback_with_typed_arguments_runs_typed(callbacks_broker: StubBroker) -> None:
    done: list[Any] = []

    @dramatiq.actor
    def square(n: int) -> int:
        return n * n

    @dramatiq.actor
    def finished(batch: uuid.UUID, at: datetime.datetime, order: Order) -> None:
        done.append((batch, at, order))

    batch, at = uuid.uuid4(), datetime.datetime(2024, 2, 2, tzinfo=UTC)
    order = Order(ident=uuid.uuid4(), total=decimal.Decimal("3.10"), placed=at)
    jobs = group([square.message(i) for i in range(3)])
    jobs.add_completion_callback(finished.message(batch, at, order))
    jobs.run()
    callbacks = [m["options"]["group_completion_callbacks"][0] for m in stored(callbacks_broker)]
    assert len(callbacks) == 3
    assert callbacks[0]["kwargs"] == {
        "batch": str(batch),
        "at": "2024-02-02T00:00:00Z",
        "order": order.model_dump(mode="json"),
    }
    assert jobs.completion_callbacks[0]["args"] == (batch, at, order)  # the group's own list: untouched
    drain(callbacks_broker, fail_fast=True)
    assert done == [(batch, at, order)]


def test_a_pipeline_inside_a_group_converts_its_steps_and_the_group_callback(
    callbacks_broker: StubBroker,
) -> None:
    seen: list[Any] = []

    @dramatiq.actor
    def start() -> datetime.datetime:
        return datetime.datetime(2024, 3, 4, tzinfo=UTC)

    @dramatiq.actor
    def follow(ident: uuid.UUID, when: datetime.datetime) -> None:
        seen.append(("follow", ident, when))

    @dramatiq.actor
    def other(n: int) -> None:
        seen.append(("other", n))

    @dramatiq.actor
    def finished(total: decimal.Decimal) -> None:
        seen.append(("finished", total))

    ident = uuid.uuid4()
    jobs = group([pipeline([start.message(), follow.message(ident)]), other.message(1)])
    jobs.add_completion_callback(finished.message(decimal.Decimal("9.99")))
    jobs.run()
    first = next(m for m in stored(callbacks_broker) if m["actor_name"] == "start")
    step = first["options"]["pipe_target"]
    assert step["args"] == [str(ident)]
    assert step["options"]["group_completion_callbacks"][0]["kwargs"] == {"total": "9.99"}
    drain(callbacks_broker, fail_fast=True)
    assert sorted(seen, key=str) == sorted(
        [
            ("follow", ident, datetime.datetime(2024, 3, 4, tzinfo=UTC)),
            ("other", 1),
            ("finished", decimal.Decimal("9.99")),
        ],
        key=str,
    )


def test_a_bad_group_callback_refuses_the_group_before_anything_is_enqueued(
    callbacks_broker: StubBroker,
) -> None:
    @dramatiq.actor
    def job(n: int) -> None:
        pass

    @dramatiq.actor
    def finished(batch: uuid.UUID) -> None:
        pass

    jobs = group([job.message(1), job.message(2)])
    jobs.add_completion_callback(Message("default", "finished", ("not-a-uuid",), {}, {}))
    with pytest.raises(PayloadInvalid) as caught:
        jobs.run()
    assert caught.value.paths == ("options.group_completion_callbacks[0].args[0]",)
    assert stored(callbacks_broker) == []


# -- success and failure callbacks -----------------------------------------------------


def test_success_and_failure_callbacks_receive_typed_results(stub_broker: StubBroker) -> None:
    seen: list[Any] = []

    @dramatiq.actor
    def on_ok(message_data: dict[str, Any], when: datetime.datetime) -> None:
        seen.append(("ok", message_data["actor_name"], when))

    @dramatiq.actor
    def on_error(message_data: dict[str, Any], error: dict[str, str]) -> None:
        seen.append(("error", message_data["actor_name"], error["type"]))

    @dramatiq.actor(max_retries=0)
    def stamp(day: int) -> datetime.datetime:
        if day < 1:
            raise ValueError("no such day")
        return datetime.datetime(2024, 1, day, tzinfo=UTC)

    stamp.send_with_options(args=(9,), on_success=on_ok, on_failure=on_error)
    stamp.send_with_options(args=(0,), on_success=on_ok, on_failure=on_error)
    worker = Worker(stub_broker, worker_timeout=20)
    worker.start()
    try:
        stub_broker.join("default", fail_fast=False)
        worker.join()
    finally:
        worker.stop()
    assert sorted(seen, key=str) == [
        ("error", "stamp", "ValueError"),
        ("ok", "stamp", datetime.datetime(2024, 1, 9, tzinfo=UTC)),
    ]


def test_a_callback_that_cannot_take_dramatiqs_two_arguments_is_refused_at_send(
    stub_broker: StubBroker,
) -> None:
    @dramatiq.actor
    def takes_one(message_data: dict[str, Any]) -> None:
        pass

    @dramatiq.actor
    def job() -> int:
        return 1

    with pytest.raises(PayloadInvalid) as caught:
        job.send_with_options(on_success=takes_one)
    assert caught.value.paths == ("options.on_success",)
    assert "takes_one" in str(caught.value) and "the result" in str(caught.value)
    with pytest.raises(PayloadInvalid) as caught:
        job.send_with_options(on_failure="takes_one")
    assert caught.value.paths == ("options.on_failure",)
    with pytest.raises(PayloadInvalid) as caught:
        job.send_with_options(on_retry_exhausted="takes_one")
    assert caught.value.paths == ("options.on_retry_exhausted",)
    assert "the retry counts" in str(caught.value)
    assert stored(stub_broker) == []


def test_warn_mode_leaves_a_bad_nested_step_unchanged_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    broker = StubBroker()
    broker.add_middleware(PayloadGateway(mode="warn"))
    dramatiq.set_broker(broker)

    @dramatiq.actor(pipe_ignore=True)
    def first() -> None:
        pass

    @dramatiq.actor
    def second(n: int) -> None:
        pass

    with caplog.at_level("WARNING", logger="actorschema"):
        pipeline([first.message(), second.message("x")]).run()
    (record,) = [r for r in caplog.records if r.name == "actorschema"]
    assert record.actorschema["paths"] == ["options.pipe_target.args[0]"]  # type: ignore[attr-defined]
    assert stored(broker)[0]["options"]["pipe_target"]["args"] == ["x"]
    broker.close()

"""The one options table (issue 9, item 5): send, schema and worker apply the same rules.

A message whose options the worker would dead-letter is refused at ``send()``
with the path ``options.<name>`` and what to send; the published schema says
the same; and the rules follow what Dramatiq itself does with the value
(``time_limit=0`` means "the default", so it runs).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import dramatiq
import jsonschema
import pytest
from dramatiq import Message, Worker
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actorschema import MessageMalformed, PayloadGateway
from actorschema.brokers import StubBroker
from actorschema.generate import app_actors
from actorschema.message import CONSUMED_OPTIONS, OPTIONS, WORKER_RULES, options_schema
from actorschema.schema import message_schema


@pytest.fixture
def broker() -> Iterator[StubBroker]:
    broker = StubBroker()
    broker.emit_after("process_boot")
    broker.add_middleware(PayloadGateway())
    dramatiq.set_broker(broker)
    yield broker
    broker.flush_all()
    broker.close()


def stored(broker: StubBroker) -> int:
    return sum(queue.qsize() for queue in broker.queues.values())


@pytest.mark.parametrize(
    ("options", "path", "hint"),
    [
        ({"max_retries": "3"}, "options.max_retries", "a number >= 0, or null for no limit"),
        ({"retries": -1}, "options.retries", "an integer >= 0"),
        ({"time_limit": "60000"}, "options.time_limit", "a number of milliseconds >= 0"),
        ({"max_age": -5}, "options.max_age", "a number of milliseconds >= 0"),
        # Retries reads the backoffs with .get(name, default) and takes min(max_backoff, 7 days): null raises.
        ({"min_backoff": None}, "options.min_backoff", "a number of milliseconds >= 0"),
        ({"max_backoff": -1}, "options.max_backoff", "a number of milliseconds >= 0"),
        ({"broker_priority": 300}, "options.broker_priority", "an integer from 0 to 255, or null"),
        ({"on_retry_exhausted": 3}, "options.on_retry_exhausted", "an actor name"),
        ({"pipe_ignore": "yes"}, "options.pipe_ignore", "true or false"),
    ],
)
def test_options_the_worker_would_dead_letter_are_refused_at_send(
    broker: StubBroker, options: dict[str, Any], path: str, hint: str
) -> None:
    @dramatiq.actor
    def task(n: int) -> None:
        pass

    with pytest.raises(MessageMalformed) as caught:
        task.send_with_options(args=(1,), **options)
    assert caught.value.paths == (path,)
    assert caught.value.violations[0].hint.startswith(hint)
    assert "task" in str(caught.value)
    assert stored(broker) == 0


def test_time_limit_zero_is_sent_and_run_as_dramatiq_runs_it(broker: StubBroker) -> None:
    ran: list[int] = []

    @dramatiq.actor
    def task(n: int) -> None:
        ran.append(n)

    task.send_with_options(args=(1,), time_limit=0, max_age=0, max_retries=None)
    worker = Worker(broker, worker_timeout=20, worker_threads=1)
    worker.start()
    try:
        broker.join("default", fail_fast=True)
    finally:
        worker.stop()
    assert ran == [1] and broker.dead_letters == []


def test_the_schema_and_the_worker_tables_are_the_one_table() -> None:
    assert options_schema()["properties"].keys() == OPTIONS.keys()
    assert CONSUMED_OPTIONS is WORKER_RULES
    # Where the worker is more tolerant, the table says why.
    for rule in OPTIONS.values():
        assert bool(rule.send_only) == (rule.worker is not None), rule.name


# -- send, worker and jsonschema agree on arbitrary values ------------------------------------------------

# Nested messages (pipe_target, group callbacks) are judged whole, not by this table alone.
_FLAT = sorted(name for name in OPTIONS if name not in ("pipe_target", "group_completion_callbacks"))

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-3, max_value=300),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(min_value=-10, max_value=1000, allow_nan=False, allow_infinity=False),
    st.sampled_from([0.0, 5.0, 2.5, -0.0, 255.0, 256.0]),
    st.text(max_size=4),
    st.sampled_from(["3", "60000", "", "default"]),
)
json_values = st.one_of(
    json_scalars,
    st.lists(json_scalars, max_size=2),
    st.dictionaries(st.text(max_size=3), json_scalars, max_size=2),
)


def _broker_with_probe(ran: list[str]) -> tuple[StubBroker, PayloadGateway]:
    broker = StubBroker()
    broker.emit_after("process_boot")
    gateway = PayloadGateway()
    broker.add_middleware(gateway)

    def probe(tag: str) -> None:
        ran.append(tag)

    dramatiq.actor(probe, broker=broker, max_retries=0)
    return broker, gateway


def test_send_worker_and_schema_agree_on_every_option_value() -> None:
    ran: list[str] = []
    # One broker to judge sends, one with a real worker to judge the same message consumed.
    sender, gateway = _broker_with_probe(ran)
    consumer, _ = _broker_with_probe(ran)
    schema = message_schema(gateway.contracts["probe"], app_actors(sender)[0].limit)
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    worker = Worker(consumer, worker_timeout=10, worker_threads=1)
    worker.start()
    try:

        @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(name=st.sampled_from(_FLAT), value=json_values)
        def check(name: str, value: Any) -> None:
            tag = uuid.uuid4().hex
            fields = {
                "queue_name": "default",
                "actor_name": "probe",
                "args": [],
                "kwargs": {"tag": tag},
                "options": {name: value},
                "message_id": str(uuid.uuid4()),
                "message_timestamp": 1_700_000_000_000,
            }
            schema_ok = validator.is_valid(fields)

            try:
                sender.enqueue(Message(**{**fields, "args": ()}))
                sent = True
            except MessageMalformed as rejection:
                assert rejection.paths == (f"options.{name}",)
                sent = False
            sender.flush_all()

            dead_before = len(consumer.dead_letters)
            consumer.queues["default"].put(json.dumps(fields).encode())
            consumer.join("default", fail_fast=False)
            refused = [
                m
                for m in consumer.dead_letters[dead_before:]
                if f"options.{name}" in getattr(getattr(m, "_actorschema_rejection", None), "paths", ())
            ]
            worker_ok = not refused

            rule = OPTIONS[name]
            assert sent == schema_ok, (name, value, sent, schema_ok)
            if rule.worker is None:
                assert worker_ok == sent, (name, value, worker_ok, sent)
            else:  # the send side is stricter there, and the table says why
                assert worker_ok or not sent, (name, value)
            if worker_ok and name != "max_age":  # AgeLimit skips an old message: Dramatiq's own verdict
                assert tag in ran, (name, value)

        check()
    finally:
        worker.stop()
        consumer.close()
        sender.close()


def test_options_of_nested_messages_and_group_children_are_checked_at_send(broker: StubBroker) -> None:
    """The worker checks a pipeline step's options inside the first message: so does the send."""

    @dramatiq.actor
    def step(n: int) -> int:
        return n

    with pytest.raises(MessageMalformed) as caught:  # built for a group: refused before any child goes
        step.message_with_options(args=(1,), max_retries="3")
    assert caught.value.paths == ("options.max_retries",)
    bad = step.message(1)
    bad.options["max_retries"] = "3"
    with pytest.raises(MessageMalformed) as caught:
        dramatiq.pipeline([step.message(1), bad]).run()
    assert caught.value.paths == ("options.pipe_target.options.max_retries",)
    assert stored(broker) == 0

"""A message built by hand and handed to ``broker.enqueue``: its own fields are held to the worker's rules.

``send()`` always builds a valid envelope; a hand-built ``Message`` may not. What
the worker would dead-letter for its ``message_id``, ``message_timestamp``,
``queue_name`` or ``actor_name`` is refused at enqueue, with the path, and
nothing is stored; what is stored the worker's envelope check accepts.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import dramatiq
import pytest
from dramatiq import Message
from dramatiq.brokers.stub import StubBroker
from hypothesis import given, settings
from hypothesis import strategies as st

from actorschema import MessageMalformed, PayloadGateway
from actorschema.consume.envelope import decode_strict_json
from actorschema.message import envelope_violations, message_fields

IDS = st.one_of(
    st.uuids().map(str),
    st.uuids().map(lambda u: str(u).upper()),
    st.text(max_size=40),
    st.integers(),
    st.none(),
)
TIMESTAMPS = st.one_of(
    st.integers(-(10**3), 2**53), st.floats(allow_nan=False), st.text(max_size=5), st.none()
)
# StubBroker refuses an undeclared queue (QueueNotFound) before any middleware runs.
QUEUES = st.sampled_from(["default", "default.DQ"])
OPTIONS = st.sampled_from([{}, {"eta": 1_700_000_000_000}, {"eta": "soon"}])


@pytest.fixture(scope="module")
def broker() -> Any:
    broker = StubBroker()
    broker.emit_after("process_boot")
    broker.add_middleware(PayloadGateway())
    dramatiq.set_broker(broker)
    broker.flush_all()

    @dramatiq.actor
    def notify(user_id: int) -> None:
        pass

    yield broker
    broker.flush_all()
    broker.close()


@settings(max_examples=150, deadline=None)
@given(message_id=IDS, timestamp=TIMESTAMPS, queue=QUEUES, options=OPTIONS)
def test_enqueue_accepts_exactly_the_envelopes_the_worker_accepts(
    broker: StubBroker, message_id: Any, timestamp: Any, queue: Any, options: dict[str, Any]
) -> None:
    message = Message(
        queue_name=queue,
        actor_name="notify",
        args=(7,),
        kwargs={},
        options=dict(options),
        message_id=message_id,
        message_timestamp=timestamp,
    )
    fields = message_fields(message, (7,), {})
    worker_verdict = envelope_violations(fields)
    # The send side's option rules are stricter in places (an "eta" that is not a number): never looser.
    send_verdict = envelope_violations(fields, side="send")
    before = sum(q.qsize() for q in broker.queues.values())
    try:
        broker.enqueue(message)
    except MessageMalformed as refusal:
        assert send_verdict, f"refused a message the send rules accept: {refusal}"
        assert {v.path for v in refusal.violations} <= {v.path for v in send_verdict}
        assert sum(q.qsize() for q in broker.queues.values()) == before  # nothing enqueued
        return
    assert not send_verdict and not worker_verdict, f"accepted what the worker dead-letters: {worker_verdict}"
    body = broker.queues[queue].get_nowait()
    assert envelope_violations(decode_strict_json(body), queue_name=queue) == []


def test_a_refusal_names_the_field_and_what_to_send(broker: StubBroker) -> None:
    dramatiq.set_broker(broker)
    broker.flush_all()
    message = Message(
        queue_name="default",
        actor_name="notify",
        args=(7,),
        kwargs={},
        options={},
        message_id="abc",
        message_timestamp=-5,
    )
    with pytest.raises(MessageMalformed) as refused:
        broker.enqueue(message)
    assert [(v.path, v.hint) for v in refused.value.violations] == [
        ("message_id", "a new UUID, e.g. str(uuid.uuid4())"),
        ("message_timestamp", "an integer: milliseconds since the epoch"),
    ]
    assert broker.queues["default"].qsize() == 0


def test_sends_and_delayed_sends_build_envelopes_that_pass(broker: StubBroker) -> None:
    dramatiq.set_broker(broker)
    broker.flush_all()
    notify = broker.get_actor("notify")
    notify.send(1)
    notify.send_with_options(args=(2,), delay=60_000)
    stored = broker.queues["default"].get_nowait(), broker.queues["default.DQ"].get_nowait()
    assert [json.loads(body)["kwargs"] for body in stored] == [{"user_id": 1}, {"user_id": 2}]
    assert uuid.UUID(json.loads(stored[0])["message_id"])

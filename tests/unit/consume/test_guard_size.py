"""The guard's size check reads the body's length first and works out the received size only above the limit.

The size that counts is the body's, less the options Dramatiq writes itself
(:func:`~actorschema.consume.envelope.received_size`); the body's length bounds
it from above, so a body within the limit is admitted without more. The
property: the verdict is always the one of measuring the received size.
"""

from __future__ import annotations

import functools
import json
from typing import Any

import dramatiq
import msgspec
from dramatiq.brokers.stub import StubBroker
from hypothesis import given, settings
from hypothesis import strategies as st

from actorschema import PayloadGateway
from actorschema.consume.envelope import decode_message, received_size
from actorschema.consume.guard import ConsumeGuard
from actorschema.errors import PayloadTooLarge

LIMITS = (200, 300, 450)


@functools.cache
def guarded() -> tuple[StubBroker, ConsumeGuard]:
    """A broker with one actor per limit (built once: hypothesis runs the test many times)."""
    broker = StubBroker()
    gateway = PayloadGateway()
    broker.add_middleware(gateway)
    for limit in LIMITS:
        dramatiq.actor(lambda text: None, broker=broker, actor_name=f"up_to_{limit}", max_message_bytes=limit)
    return broker, gateway.consume_guard


@settings(max_examples=150, deadline=None)
@given(
    limit=st.sampled_from(LIMITS),
    text=st.integers(0, 400),
    traceback=st.none() | st.integers(0, 300),
    others=st.dictionaries(
        st.sampled_from(["retries", "requeue_timestamp", "max_retries"]), st.integers(0, 10**6)
    ),
    compact=st.booleans(),
)
def test_the_verdict_is_the_received_sizes(
    limit: int, text: int, traceback: int | None, others: dict[str, Any], compact: bool
) -> None:
    broker, guard = guarded()
    options = {**others, "redis_message_id": "r"}
    if traceback is not None:
        options["traceback"] = "t" * traceback
    fields = {
        "queue_name": "default",
        "actor_name": f"up_to_{limit}",
        "args": [],
        "kwargs": {"text": "a" * text},
        "options": options,
        "message_id": "0b9e6a52-7d3c-4b8e-9f21-3c1e2f4a5b6c",
        "message_timestamp": 1,
    }
    body = msgspec.json.encode(fields) if compact else json.dumps(fields).encode()
    too_large = received_size(len(body), options) > limit
    try:
        guard.check(broker, decode_message(body, "default"))
        refused = False
    except PayloadTooLarge:
        refused = True
    assert refused == too_large


def test_both_sides_of_the_bound_are_reached() -> None:
    """Over the limit by the body alone but within it once the bookkeeping is left out; and truly over."""
    broker, guard = guarded()
    base = {
        "queue_name": "default",
        "actor_name": "up_to_200",
        "args": [],
        "message_id": "0b9e6a52-7d3c-4b8e-9f21-3c1e2f4a5b6c",
        "message_timestamp": 1,
    }
    within = {**base, "kwargs": {"text": "a"}, "options": {"traceback": "t" * 300, "redis_message_id": "r"}}
    body = msgspec.json.encode(within)
    assert len(body) > 200 and guard.check(broker, decode_message(body, "default")) is None
    over = {**base, "kwargs": {"text": "a" * 250}, "options": {"redis_message_id": "r"}}
    try:
        guard.check(broker, decode_message(msgspec.json.encode(over), "default"))
    except PayloadTooLarge as rejection:
        assert rejection.violations[0].path == "kwargs.text"
    else:
        raise AssertionError("a 250-character text passed a 200-byte limit")

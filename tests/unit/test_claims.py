"""The claim check on a StubBroker with a real Worker: the reference, the contract, each step of a blob's life.

Each step is a test: written before the enqueue, deleted when the enqueue fails,
reused by retries and delays, deleted when the message succeeds, kept when it is
dead-lettered, refused (dead-lettered, never run) when missing, truncated or
tampered with. The stores against real servers, gc and the brokers are in
``tests/brokers/test_claim_stores.py``; the Node.js producer in ``tests/interop/test_claims_node.py``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dramatiq
import pytest
from dramatiq import group, pipeline
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import Middleware, MiddlewareError
from helpers.claims import BIG, LIMIT, Counting, Events, claims_broker, recording
from helpers.workers import drain
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from pydantic import BaseModel
from servers import free_port

from actorschema import PayloadGateway, PayloadInvalid, PayloadTooLarge
from actorschema.claims import (
    MARKER,
    REFERENCE_SCHEMA,
    REFERENCE_SCHEMA_FILE,
    ClaimCheck,
    DirectoryStore,
    Reference,
)
from actorschema.consume.deadletters import dead_letter_reasons
from actorschema.contract import ActorContract
from actorschema.limits import SizeLimit
from actorschema.schema import message_schema
from actorschema.validate import check_message, load_schemas


@pytest.fixture
def events() -> Iterator[Events]:
    with recording() as recorder:
        yield recorder


reference_like = st.fixed_dictionaries(
    {MARKER: st.sampled_from([1, 2, "1", True])},
    optional={
        "store": st.sampled_from(["dir", "", "a/b", 3]),
        "key": st.sampled_from(["m.doc.1", "../x", "", None]),
        "sha256": st.sampled_from(["a" * 64, "A" * 64, "a" * 63]),
        "size": st.sampled_from([0, 5, -1, 1.5, True]),
        "content_type": st.sampled_from(["application/json", "text/plain"]),
        "extra": st.just(1),
    },
)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=20,
)


class Point(BaseModel):
    x: int
    y: int = 0


def kinds(
    anything: Any, mapping: dict[str, Any], maybe: str | None, point: Point, numbers: list[int]
) -> None: ...


@functools.cache
def kinds_validator() -> Draft202012Validator:
    contract = ActorContract.from_function(kinds, "kinds")
    return Draft202012Validator(message_schema(contract, SizeLimit(None, "global"), claims=True))


def test_reference_round_trips_and_its_schema_agrees() -> None:
    blob = b'"hello"'
    reference = Reference.for_blob("dir", "m.doc.1", blob)
    assert reference.sha256 == hashlib.sha256(blob).hexdigest() and reference.size == 7
    document = reference.as_json()
    assert Reference.parse(document) == reference
    validator = Draft202012Validator(REFERENCE_SCHEMA)
    assert validator.is_valid(document)
    assert document[MARKER] == 1 and document["content_type"] == "application/json"


@settings(max_examples=200, deadline=None)
@given(reference_like)
def test_the_parser_and_the_published_schema_agree_on_every_marked_object(value: dict[str, Any]) -> None:
    """What the worker accepts as a reference is exactly what claim-reference.json accepts."""
    validator = Draft202012Validator(REFERENCE_SCHEMA)
    assert (Reference.parse(value) is not None) == validator.is_valid(value)


def test_the_schema_offers_value_or_reference_and_refuses_a_marked_value() -> None:
    def ingest(document: str, count: int = 1) -> None: ...

    contract = ActorContract.from_function(ingest, "ingest")
    schema = message_schema(contract, SizeLimit(LIMIT, "global"), claims=True)
    validator = Draft202012Validator(schema)
    reference = Reference.for_blob("dir", "m.document.1", b'"abc"').as_json()
    message = {
        "queue_name": "default",
        "actor_name": "ingest",
        "args": [],
        "kwargs": {"document": "inline"},
        "options": {},
        "message_id": "9d7c3f8e-2f0c-4a5c-9d43-2d1f6f2b0c11",
        "message_timestamp": 1,
    }
    assert validator.is_valid(message)
    assert validator.is_valid({**message, "kwargs": {"document": reference, "count": reference}})
    assert not validator.is_valid({**message, "kwargs": {"document": {**reference, "size": -1}}})
    assert not validator.is_valid({**message, "kwargs": {"document": 5}})
    # Without the claim check, a reference is not a str.
    plain = Draft202012Validator(message_schema(contract, SizeLimit(LIMIT, "global")))
    assert not plain.is_valid({**message, "kwargs": {"document": reference}})


@settings(max_examples=30, deadline=None)
@given(marked=reference_like, inline=json_values)
def test_for_every_kind_of_parameter_a_marked_object_is_a_reference_and_nothing_else(
    marked: dict[str, Any], inline: Any
) -> None:
    """Whatever a parameter accepts inline, a top-level object with the marker is judged as a reference."""
    validator = kinds_validator()
    base = {"anything": 1, "mapping": {}, "maybe": None, "point": {"x": 1}, "numbers": [1]}
    message = {
        "queue_name": "default",
        "actor_name": "kinds",
        "args": [],
        "kwargs": base,
        "options": {},
        "message_id": "9d7c3f8e-2f0c-4a5c-9d43-2d1f6f2b0c11",
        "message_timestamp": 1,
    }
    assert validator.is_valid(message)
    valid = Reference.parse(marked) is not None
    for name in base:
        assert validator.is_valid({**message, "kwargs": {**base, name: marked}}) == valid, name
    # An inline value is judged by the parameter's own schema alone (when unmarked).
    if not (isinstance(inline, dict) and MARKER in inline):
        assert validator.is_valid({**message, "kwargs": {**base, "anything": inline}})
        expected = isinstance(inline, dict)
        assert validator.is_valid({**message, "kwargs": {**base, "mapping": inline}}) == expected


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=json_values, padding=st.integers(0, 3000))
def test_the_actor_receives_exactly_what_it_would_have_inline(
    tmp_path: Path, value: Any, padding: int
) -> None:
    """Any JSON value, offloaded or not, reaches the actor equal to what was sent; no blob stays."""
    store = DirectoryStore(tmp_path / f"c{os.urandom(4).hex()}")
    broker, _ = claims_broker(store)
    received: list[Any] = []

    @dramatiq.actor(claim_check=True, max_retries=0)
    def take(value: Any, pad: str) -> None:
        received.append((value, pad))

    sent = take.send(value, "p" * padding)
    total = len(json.dumps(sent.asdict(), separators=(",", ":")).encode())
    assert total <= LIMIT
    drain(broker)
    assert received == [(value, "p" * padding)]
    assert list(store.blobs()) == []


def test_offload_moves_the_largest_values_until_the_message_fits(tmp_path: Path, events: Events) -> None:
    store = Counting(DirectoryStore(tmp_path / "c"))
    broker, _ = claims_broker(store, offload=1_500)
    received: list[Any] = []

    @dramatiq.actor(queue_name="docs")
    def ingest(document: str, note: str, tags: list[str], count: int) -> None:
        received.append((len(document), len(note), tags, count))

    message = ingest.send(BIG, "n" * 300, ["a"] * 100, 3)
    kwargs = message.kwargs
    assert Reference.parse(kwargs["document"]) is not None  # the largest moved first
    assert Reference.parse(kwargs["note"]) is None and kwargs["count"] == 3  # it fits without moving more
    assert len(store.puts) == 1 and store.puts[0].startswith(message.message_id + ".document.")
    stored = broker.queues["docs"].queue[0]
    assert 1_000 < len(stored) <= 1_500
    assert events.offloaded == [("ingest", "docs", len(BIG) + 2)]
    drain(broker, "docs")
    assert received == [(len(BIG), 300, ["a"] * 100, 3)]
    assert list(store.blobs()) == []  # success deleted it


def test_settings_actor_over_queue_over_default(tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path / "c")
    _broker, _ = claims_broker(store, offload=False, queues={"bulk": True})

    @dramatiq.actor(queue_name="bulk")
    def bulk(document: str) -> None: ...

    @dramatiq.actor(queue_name="bulk", claim_check=False)
    def opted_out(document: str) -> None: ...

    @dramatiq.actor
    def plain(document: str) -> None: ...

    @dramatiq.actor(claim_check=500)
    def eager(document: str) -> None: ...

    assert Reference.parse(bulk.send(BIG).kwargs["document"]) is not None
    for actor in (opted_out, plain):
        with pytest.raises(PayloadTooLarge):
            actor.send(BIG)
    assert Reference.parse(eager.send("e" * 600).kwargs["document"]) is not None  # below the limit, above 500
    assert eager.send("e" * 300).kwargs["document"] == "e" * 300
    with pytest.raises(ValueError, match="claim-check setting"):
        ClaimCheck(store, offload=0)

    @dramatiq.actor(claim_check="yes")
    def vague(document: str) -> None: ...

    # Declared, and every message refused with the reason (the gateway never fails open).
    with pytest.raises(PayloadInvalid, match="claim_check must be True, False or a positive int"):
        vague.send("x")


def test_positional_values_offload_from_args_and_come_back_in_place(tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path / "c")
    broker, _ = claims_broker(store)
    received: list[Any] = []

    @dramatiq.actor(claim_check=True)
    def merge(first: str, /, *rest: list[int]) -> None:
        received.append((len(first), [len(r) for r in rest]))

    message = merge.send("f" * 3_000, [1] * 10, [2] * 2_000)
    # Positional-only and *args values travel in args: the two large ones moved, in place.
    assert [Reference.parse(value) is not None for value in message.args] == [True, False, True]
    drain(broker)
    assert received == [(3_000, [10, 2_000])]
    assert list(store.blobs()) == []


def test_nothing_is_written_when_even_offloading_cannot_fit(tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path / "c")
    _broker, _ = claims_broker(store)

    @dramatiq.actor(claim_check=True)
    def ingest(document: str) -> None: ...

    # The options never move: a message too large by its options is refused, nothing stored.
    with pytest.raises(PayloadTooLarge):
        ingest.send_with_options(args=(BIG,), on_failure="x" * 3000)
    assert list(store.blobs()) == []


def test_a_child_that_cannot_fit_even_offloaded_is_refused_when_built_before_its_group_runs(
    tmp_path: Path,
) -> None:
    store = DirectoryStore(tmp_path / "c")
    broker, _ = claims_broker(store)

    @dramatiq.actor(claim_check=True)
    def ingest(document: str) -> None: ...

    fits = ingest.message(BIG)  # built: checked, nothing written yet
    with pytest.raises(PayloadTooLarge):
        ingest.message_with_options(args=(BIG,), on_failure="x" * 3000)  # its options alone are too large
    group([fits]).run()
    assert broker.queues["default"].qsize() == 1 and len(list(store.blobs())) == 1


class Refuse(Middleware):
    """Stands after the gateway and refuses every enqueue (an enqueue that fails after the check)."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.seen: list[str] = []

    def before_enqueue(self, broker: Any, message: Any, delay: Any) -> None:
        reference = Reference.parse(message.kwargs["document"])
        assert reference is not None
        self.seen.append(reference.key)
        # The blob is in the store before the message reaches the broker.
        assert self.store.get(reference.key) is not None
        raise MiddlewareError("broker said no")


def test_blob_written_before_enqueue_and_deleted_when_the_enqueue_fails(tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path / "c")
    broker, _ = claims_broker(store)
    refuse = Refuse(store)
    broker.add_middleware(refuse)

    @dramatiq.actor(claim_check=True)
    def ingest(document: str) -> None: ...

    with pytest.raises(MiddlewareError, match="broker said no"):
        ingest.send(BIG)
    assert len(refuse.seen) == 1
    assert list(store.blobs()) == []
    broker.middleware.remove(refuse)
    ingest.send(BIG)
    assert len(list(store.blobs())) == 1


def test_blob_deleted_when_the_broker_itself_cannot_enqueue(tmp_path: Path) -> None:
    from dramatiq.brokers.redis import RedisBroker

    store = Counting(DirectoryStore(tmp_path / "c"))
    broker = RedisBroker(url=f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    broker.add_middleware(PayloadGateway(max_message_bytes=LIMIT, claim_check=ClaimCheck(store)))

    @dramatiq.actor(claim_check=True, broker=broker)
    def ingest(document: str) -> None: ...

    import redis

    with pytest.raises(redis.ConnectionError):
        ingest.send(BIG)
    assert len(store.puts) == 1  # written before the enqueue was tried...
    assert list(store.blobs()) == []  # ...and deleted when it failed
    broker.close()


def test_retries_and_delays_reuse_the_blob_and_success_deletes_it(tmp_path: Path) -> None:
    store = Counting(DirectoryStore(tmp_path / "c"))
    broker, _ = claims_broker(store)
    attempts: list[int] = []

    @dramatiq.actor(claim_check=True, max_retries=3, min_backoff=10, max_backoff=20)
    def flaky(document: str) -> None:
        attempts.append(len(document))
        if len(attempts) < 3:
            raise RuntimeError("not yet")

    flaky.send_with_options(args=(BIG,), delay=50)
    drain(broker, "default")
    assert attempts == [len(BIG)] * 3
    assert len(store.puts) == 1  # written once, read three times
    assert list(store.blobs()) == []


def test_a_dead_lettered_message_keeps_its_blob(tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path / "c")
    broker, _ = claims_broker(store)

    @dramatiq.actor(claim_check=True, max_retries=0)
    def fails(document: str) -> None:
        raise RuntimeError("boom")

    message = fails.send(BIG)
    drain(broker)
    (dead,) = broker.dead_letters
    assert dead.message_id == message.message_id
    reference = Reference.parse(dead.kwargs["document"])
    assert reference is not None and store.get(reference.key) is not None  # kept for a replay


@pytest.mark.parametrize("damage", ["missing", "truncated", "tampered", "unknown store"])
def test_a_bad_blob_dead_letters_the_message_with_its_reason(
    tmp_path: Path, events: Events, damage: str
) -> None:
    store = DirectoryStore(tmp_path / "c")
    broker, _ = claims_broker(store)
    ran: list[str] = []

    @dramatiq.actor(claim_check=True, max_retries=3)
    def ingest(document: str, count: int) -> None:
        ran.append(document)

    message = ingest.send(BIG, 1)
    reference = Reference.parse(message.kwargs["document"])
    assert reference is not None
    path = store.path / reference.key
    if damage == "missing":
        path.unlink()
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:-10])
    elif damage == "tampered":
        path.write_bytes(path.read_bytes().replace(b"x", b"y", 1))
    else:
        stored = json.loads(broker.queues["default"].queue[0])
        stored["kwargs"]["document"]["store"] = "elsewhere"
        broker.queues["default"].queue[0] = json.dumps(stored).encode()
    drain(broker)
    assert ran == []  # never a run with part of its data, never retried
    (_dead,) = broker.dead_letters
    (record,) = dead_letter_reasons(broker, "default").values()
    assert record["reason"] == "an offloaded (claim-checked) value could not be fetched"
    (violation,) = record["violations"]
    assert violation["path"] == "kwargs.document"
    expected = {
        "missing": "which is missing",
        "truncated": f"which is truncated: {len(BIG) + 2 - 10} bytes of {len(BIG) + 2}",
        "tampered": "does not match its reference's size and SHA-256",
        "unknown store": "in store 'elsewhere', which this worker does not have",
    }
    assert expected[damage] in violation["problem"]
    assert events.failed == [("ingest", "default", damage)]


def test_warn_mode_never_runs_an_actor_with_references_in_place_of_its_values(tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path / "c")
    broker = StubBroker()
    broker.emit_after("process_boot")
    broker.add_middleware(PayloadGateway(max_message_bytes=LIMIT, mode="warn", claim_check=ClaimCheck(store)))
    dramatiq.set_broker(broker)
    ran: list[Any] = []

    @dramatiq.actor(claim_check=True, max_retries=0)
    def ingest(document: str, count: int) -> None:
        ran.append(count)

    good = ingest.send(BIG, 1)
    bad = ingest.send(BIG, 2)
    bad_reference = Reference.parse(bad.kwargs["document"])
    assert bad_reference is not None
    store.delete(bad_reference.key)
    broker.enqueue(ingest.message_with_options(kwargs={"document": "inline", "count": "three"}))
    drain(broker)
    # The plain message that breaks the contract runs as it arrived (warn); the one whose blob is
    # gone is dead-lettered: it could only run with the reference in place of the value.
    assert sorted(ran, key=str) == [1, "three"]
    assert [m.message_id for m in broker.dead_letters] == [bad.message_id]
    assert good.message_id != bad.message_id


def test_a_real_argument_holding_the_marker_is_refused(tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path / "c")
    claims_broker(store)

    @dramatiq.actor(claim_check=True)
    def takes_dict(data: dict[str, Any]) -> None: ...

    @dramatiq.actor(claim_check=False)
    def unclaimed(data: dict[str, Any]) -> None: ...

    with pytest.raises(PayloadInvalid, match="claim-reference key") as caught:
        takes_dict.send({MARKER: 1, "store": "dir"})
    assert caught.value.paths == ("kwargs.data",)
    # Only an actor with the claim check gives the key its meaning.
    assert unclaimed.send({MARKER: 1}).kwargs == {"data": {MARKER: 1}}


def test_a_producer_that_offloaded_itself_is_accepted_and_fetched(tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path / "c")
    broker, _ = claims_broker(store)
    received: list[Any] = []

    @dramatiq.actor(claim_check=True)
    def ingest(document: dict[str, int], count: int) -> None:
        received.append((document, count))

    blob = json.dumps({"a": 1}).encode()
    store.put("mine.1", blob)
    reference = Reference.for_blob("dir", "mine.1", blob).as_json()
    broker.enqueue(ingest.message_with_options(kwargs={"document": reference, "count": "2"}))
    drain(broker)
    assert received == [({"a": 1}, 2)]  # inline values still converted; the reference fetched


def test_pipelines_groups_and_callbacks_work_with_offloaded_arguments(tmp_path: Path) -> None:
    store = Counting(DirectoryStore(tmp_path / "c"))
    broker, _ = claims_broker(store)
    seen: list[Any] = []

    @dramatiq.actor(claim_check=True)
    def measure(document: str) -> str:
        return "m" * (len(document) // 2)  # a large result: the next step's message offloads it

    @dramatiq.actor(claim_check=True)
    def record(size: str) -> None:
        seen.append(("record", len(size)))

    @dramatiq.actor
    def done(message: dict[str, Any], result: Any) -> None:
        seen.append(("done", Reference.parse(message["kwargs"]["document"]) is not None))

    @dramatiq.actor
    def all_done() -> None:
        seen.append(("group",))

    from dramatiq.middleware import GroupCallbacks
    from dramatiq.rate_limits.backends import StubBackend

    broker.add_middleware(GroupCallbacks(StubBackend()))
    pipeline([measure.message(BIG), record.message()]).run()
    both = group([measure.message_with_options(args=(BIG,), on_success=done) for _ in range(2)])
    both.add_completion_callback(all_done.message())
    both.run()
    drain(broker)
    assert sorted(seen, key=str) == sorted(
        [("record", len(BIG) // 2), ("done", True), ("done", True), ("group",)], key=str
    )
    # The first step and the group's two children; the continuation carrying the large result; the
    # two on_success calls, whose result is large too.
    slots = sorted(key.split(".")[1] for key in store.puts)
    assert slots == ["document", "document", "document", "result", "result", "size"]
    assert list(store.blobs()) == []


def test_generate_publishes_the_reference_and_validate_counts_it(tmp_path: Path) -> None:
    from actorschema.catalogue import write
    from actorschema.generate import render

    store = DirectoryStore(tmp_path / "c")
    broker, _ = claims_broker(store)

    @dramatiq.actor(claim_check=True)
    def ingest(document: str) -> None: ...

    @dramatiq.actor(claim_check=False)
    def other(document: str) -> None: ...

    folder = tmp_path / "schemas"
    write(folder, render(broker))
    assert json.loads((folder / REFERENCE_SCHEMA_FILE).read_text()) == REFERENCE_SCHEMA
    index = json.loads((folder / "index.json").read_text())["actors"]
    assert index["ingest"]["claim_check"] is True and "claim_check" not in index["other"]
    catalogue = load_schemas(folder)
    raw = json.dumps(ingest.send(BIG).asdict()).encode()
    message = json.loads(raw)
    verdict = check_message(catalogue, message, len(raw))
    assert verdict.findings == []  # the limit counts the reference, not the 20 kB blob
    assert verdict.offloaded == (("$.kwargs.document", len(BIG) + 2),)
    inline = {**message, "actor_name": "other", "kwargs": {"document": BIG}}
    assert "over the" in check_message(catalogue, inline, None).findings[0].reason

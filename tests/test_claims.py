"""The claim check, for real: every store, a real Worker, a real Redis broker, an S3-protocol server.

Each step of a blob's life is a test: written before the enqueue, deleted when
the enqueue fails, reused by retries and delays, deleted when the message
succeeds, kept when it is dead-lettered, refused (dead-lettered, never run)
when missing, truncated or tampered with, and removed by gc only when no
queued message references it. The stores are a temporary directory, a real
``redis-server`` and moto's S3 server, each on loopback.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dramatiq
import pytest
from conftest import free_port
from dramatiq import Worker, group, pipeline
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import Middleware, MiddlewareError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from pydantic import BaseModel
from typer.testing import CliRunner

from actorschema import PayloadGateway, PayloadInvalid, PayloadTooLarge, observe
from actorschema.claims import (
    MARKER,
    REFERENCE_SCHEMA,
    REFERENCE_SCHEMA_FILE,
    ClaimCheck,
    DirectoryStore,
    RedisStore,
    Reference,
    Store,
)
from actorschema.claims.gc import collect, queued_bodies, referenced_keys
from actorschema.cli import app as cli_app
from actorschema.contract import ActorContract
from actorschema.deadletters import dead_letter_reasons
from actorschema.limits import SizeLimit
from actorschema.schema import message_schema
from actorschema.validate import check_message, load_schemas

runner = CliRunner()
LIMIT = 2_000
BIG = "x" * 20_000


class Events(observe.NullObserver):
    """Records the claim-check events the gateway and the guard report."""

    def __init__(self) -> None:
        self.offloaded: list[tuple[str, str, int]] = []
        self.failed: list[tuple[str, str, str]] = []
        self.dead: list[tuple[str, str, str]] = []

    def claim_offloaded(self, actor_name: str, queue_name: str, size: int) -> None:
        self.offloaded.append((actor_name, queue_name, size))

    def claim_fetch_failed(self, actor_name: str, queue_name: str, reason: str) -> None:
        self.failed.append((actor_name, queue_name, reason))


class Counting:
    """A store that counts writes, around a real one."""

    def __init__(self, store: Any) -> None:
        self.inner = store
        self.name = store.name
        self.puts: list[str] = []

    def put(self, key: str, blob: bytes) -> None:
        self.puts.append(key)
        self.inner.put(key, blob)

    def get(self, key: str) -> bytes | None:
        return self.inner.get(key)  # type: ignore[no-any-return]

    def delete(self, key: str) -> None:
        self.inner.delete(key)

    def expire(self, key: str, ttl_ms: int) -> None:
        self.inner.expire(key, ttl_ms)

    def blobs(self) -> Iterator[tuple[str, float]]:
        return self.inner.blobs()  # type: ignore[no-any-return]


@pytest.fixture
def events() -> Iterator[Events]:
    recorder = Events()
    observe.add_observer(recorder)
    yield recorder
    observe.remove_observer(recorder)


# -- stores ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """moto's S3-protocol server on a free loopback port, for this module."""
    pytest.importorskip("boto3")
    server_module = pytest.importorskip("moto.server")
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    port = free_port()
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def s3_store(endpoint: str, bucket: str) -> Any:
    import boto3

    from actorschema.claims.s3 import S3Store

    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_bucket(Bucket=bucket)
    return S3Store(bucket, client=client, prefix="claims/")


@pytest.fixture(params=["dir", "redis", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """Each store for real: a directory, a redis-server, moto's S3 server."""
    if request.param == "dir":
        return DirectoryStore(tmp_path / "claims")
    if request.param == "redis":
        client = request.getfixturevalue("redis_client")
        return RedisStore(client)
    endpoint = request.getfixturevalue("s3_endpoint")
    return s3_store(endpoint, f"b{os.urandom(4).hex()}")


def test_every_store_keeps_gets_lists_and_deletes_blobs(store: Any) -> None:
    assert isinstance(store, Store)
    blob = os.urandom(3000) + b"\x00end"
    store.put("m1.doc.abc", blob)
    store.put("m2.doc.def", b"")
    assert store.get("m1.doc.abc") == blob
    assert store.get("m2.doc.def") == b""
    assert store.get("absent") is None
    listed = dict(store.blobs())
    assert set(listed) == {"m1.doc.abc", "m2.doc.def"}
    assert all(abs(written - time.time()) < 60 for written in listed.values())
    store.delete("m1.doc.abc")
    store.delete("m1.doc.abc")  # deleting what is gone is not an error
    assert store.get("m1.doc.abc") is None
    assert set(dict(store.blobs())) == {"m2.doc.def"}
    for bad in ("../etc", "a/b", "", ".hidden", "x" * 201):
        with pytest.raises(ValueError, match="blob key"):
            store.put(bad, b"1")


def test_every_store_carries_a_value_through_a_worker(store: Any, events: Events) -> None:
    broker, _ = claims_broker(store)
    received: list[Any] = []

    @dramatiq.actor(claim_check=True)
    def ingest(document: dict[str, list[int]], tag: str) -> None:
        received.append((document, tag))

    value = {"rows": list(range(5_000))}
    message = ingest.send(value, "t")
    reference = Reference.parse(message.kwargs["document"])
    assert reference is not None and reference.store == store.name
    assert store.get(reference.key) == json.dumps(value, separators=(",", ":")).encode()
    drain(broker)
    assert received == [(value, "t")]
    assert store.get(reference.key) is None and list(store.blobs()) == []
    assert [size for _, _, size in events.offloaded] == [reference.size]


def test_redis_store_expires_a_blob(redis_client: Any) -> None:
    store = RedisStore(redis_client, prefix="t")
    store.put("k", b"v")
    store.expire("k", 60_000)
    assert 0 < redis_client.pttl("t:blob:k") <= 60_000


# -- the reference and the contract -------------------------------------------------------------


def test_reference_round_trips_and_its_schema_agrees() -> None:
    blob = b'"hello"'
    reference = Reference.for_blob("dir", "m.doc.1", blob)
    assert reference.sha256 == hashlib.sha256(blob).hexdigest() and reference.size == 7
    document = reference.as_json()
    assert Reference.parse(document) == reference
    validator = Draft202012Validator(REFERENCE_SCHEMA)
    assert validator.is_valid(document)
    assert document[MARKER] == 1 and document["content_type"] == "application/json"


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


@settings(max_examples=200, deadline=None)
@given(reference_like)
def test_the_parser_and_the_published_schema_agree_on_every_marked_object(value: dict[str, Any]) -> None:
    """What the worker accepts as a reference is exactly what claim-reference.schema.json accepts."""
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


# -- a Stub broker with a real Worker -------------------------------------------------------------


def claims_broker(store: Any, **options: Any) -> tuple[StubBroker, PayloadGateway]:
    broker = StubBroker()
    broker.emit_after("process_boot")
    gateway = PayloadGateway(max_message_bytes=LIMIT, claim_check=ClaimCheck(store, **options))
    broker.add_middleware(gateway)
    dramatiq.set_broker(broker)
    return broker, gateway


def drain(broker: StubBroker, *queues: str) -> None:
    worker = Worker(broker, worker_timeout=20, worker_threads=2)
    worker.start()
    try:
        for queue in queues or ("default",):
            broker.join(queue, fail_fast=False)
        worker.join()
    finally:
        worker.stop()


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


# -- a real Redis broker ----------------------------------------------------------------------------


@pytest.fixture
def redis_broker(redis_server: Any, redis_client: Any) -> Iterator[Any]:
    from dramatiq.brokers.redis import RedisBroker

    broker = RedisBroker(url=redis_server.url, dead_message_ttl=120_000)
    broker.emit_after("process_boot")
    yield broker
    broker.close()


@pytest.mark.redis
def test_on_redis_the_queue_holds_a_reference_and_a_dead_letter_keeps_its_blob_for_the_ttl(
    redis_broker: Any, redis_client: Any
) -> None:
    store = RedisStore(redis_client)
    redis_broker.add_middleware(PayloadGateway(max_message_bytes=LIMIT, claim_check=ClaimCheck(store)))
    dramatiq.set_broker(redis_broker)
    received: list[int] = []

    @dramatiq.actor(claim_check=True, max_retries=0)
    def ingest(document: str, fail: bool) -> None:
        received.append(len(document))
        if fail:
            raise RuntimeError("boom")

    ok, bad = ingest.send(BIG, False), ingest.send(BIG, True)
    bodies = redis_client.hvals("dramatiq:default.msgs")
    assert len(bodies) == 2 and all(len(body) < 700 for body in bodies)
    worker = Worker(redis_broker, worker_timeout=50, worker_threads=1)
    worker.start()
    try:
        redis_broker.join("default")
        worker.join()
    finally:
        worker.stop()
    assert received == [len(BIG)] * 2
    ok_ref = Reference.parse(ok.kwargs["document"])
    bad_ref = Reference.parse(bad.kwargs["document"])
    assert ok_ref is not None and bad_ref is not None
    assert store.get(ok_ref.key) is None
    assert store.get(bad_ref.key) is not None
    assert 0 < redis_client.pttl(f"actorschema:claims:blob:{bad_ref.key}") <= 120_000


@pytest.mark.redis
def test_gc_removes_orphans_and_never_a_blob_a_queued_message_references(
    redis_broker: Any, redis_client: Any, tmp_path: Path
) -> None:
    store = DirectoryStore(tmp_path / "c")
    redis_broker.add_middleware(PayloadGateway(max_message_bytes=LIMIT, claim_check=ClaimCheck(store)))
    dramatiq.set_broker(redis_broker)

    @dramatiq.actor(claim_check=True)
    def ingest(document: str) -> None: ...

    queued = Reference.parse(ingest.send(BIG).kwargs["document"])
    delayed = Reference.parse(ingest.send_with_options(args=(BIG,), delay=3_600_000).kwargs["document"])
    assert queued is not None and delayed is not None
    store.put("orphan.document.1", b'"lost"')
    store.put("young.document.1", b'"on its way"')
    old = time.time() - 7200
    for key in (queued.key, delayed.key, "orphan.document.1"):
        os.utime(store.path / key, (old, old))
    assert referenced_keys(json.loads(queued_bodies(redis_broker)[0])) <= {queued.key, delayed.key}

    dry = collect(redis_broker, [store], dry_run=True)
    assert [key for _, key, _ in dry.orphans] == ["orphan.document.1"] and dry.deleted == 0
    report = collect(redis_broker, [store])
    assert report.messages == 2 and report.referenced == {queued.key, delayed.key}
    assert report.deleted == 1 and report.kept_young == 1
    assert sorted(key for key, _ in store.blobs()) == sorted([queued.key, delayed.key, "young.document.1"])


@pytest.mark.redis
def test_the_gc_command_on_a_redis_app(redis_server: Any, redis_client: Any, tmp_path: Path) -> None:
    app = tmp_path / "claims_app.py"
    app.write_text(
        textwrap.dedent(
            f"""
            import dramatiq
            from dramatiq.brokers.redis import RedisBroker
            from actorschema import PayloadGateway
            from actorschema.claims import ClaimCheck, DirectoryStore

            broker = RedisBroker(url={redis_server.url!r})
            broker.add_middleware(PayloadGateway(claim_check=ClaimCheck(DirectoryStore({str(tmp_path / "c")!r}))))
            dramatiq.set_broker(broker)

            @dramatiq.actor(claim_check=True)
            def ingest(document: str) -> None: ...
            """
        )
    )
    store = DirectoryStore(tmp_path / "c")
    store.put("orphan.x.1", b"1")
    old = time.time() - 7200
    os.utime(store.path / "orphan.x.1", (old, old))
    command = ["claims", "gc", str(app), "--json"]
    dry = runner.invoke(cli_app, [*command, "--dry-run"])
    assert dry.exit_code == 1, dry.output
    assert [o["key"] for o in json.loads(dry.stdout)["orphans"]] == ["orphan.x.1"]
    real = runner.invoke(cli_app, command)
    assert real.exit_code == 0, real.output
    assert json.loads(real.stdout)["deleted"] == 1 and list(store.blobs()) == []
    unconfigured = tmp_path / "plain_app.py"
    unconfigured.write_text(
        "import dramatiq\nfrom dramatiq.brokers.stub import StubBroker\ndramatiq.set_broker(StubBroker())\n"
    )
    refused = runner.invoke(cli_app, ["claims", "gc", str(unconfigured)])
    assert refused.exit_code == 2 and "has no claim check" in refused.stderr


# -- the schema folder and validate ---------------------------------------------------------------


def test_generate_publishes_the_reference_and_validate_counts_it(tmp_path: Path) -> None:
    from actorschema.export import render, write

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


# -- a producer in another language offloads itself -------------------------------------------------


@pytest.mark.redis
@pytest.mark.parametrize("where", ["dir", "redis"])
def test_the_node_producer_offloads_and_a_python_worker_gets_the_value(
    redis_server: Any, redis_client: Any, tmp_path: Path, where: str
) -> None:
    from dramatiq.brokers.redis import RedisBroker
    from test_node_producer import run_node

    from actorschema.export import render, write

    broker = RedisBroker(url=redis_server.url)
    broker.emit_after("process_boot")
    store: Any = DirectoryStore(tmp_path / "c") if where == "dir" else RedisStore(broker.client)
    broker.add_middleware(PayloadGateway(max_message_bytes=LIMIT, claim_check=ClaimCheck(store)))
    dramatiq.set_broker(broker)
    received: list[Any] = []

    @dramatiq.actor(claim_check=True, queue_name="ingest_q")
    def ingest(document: str, tag: str) -> None:
        received.append((len(document), tag))

    write(tmp_path / "schemas", render(broker))
    target = ["--claims-dir", str(tmp_path / "c")] if where == "dir" else ["--claims-redis"]
    request = {"actor": "ingest", "kwargs": {"document": BIG, "tag": "t"}}
    done = run_node(
        "produce.js",
        "--redis",
        redis_server.url,
        "--schemas",
        str(tmp_path / "schemas"),
        *target,
        "--batch",
        stdin=json.dumps(request) + "\n",
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["ok"] and result["bytes"] <= LIMIT
    reference = Reference.parse(result["message"]["kwargs"]["document"])
    assert reference is not None and reference.store == store.name and reference.size == len(BIG) + 2
    assert store.get(reference.key) == json.dumps(BIG).encode()
    worker = Worker(broker, worker_timeout=50, worker_threads=1)
    worker.start()
    try:
        broker.join("ingest_q")
        worker.join()
    finally:
        worker.stop()
        broker.close()
    assert received == [(len(BIG), "t")]
    assert store.get(reference.key) is None  # the message succeeded: its blob is gone


# -- RabbitMQ: gc reads the queues with basic_get, and refuses while a consumer holds messages ------


def test_gc_on_rabbitmq_keeps_queued_blobs_and_refuses_while_workers_consume(
    rabbitmq_server: Any, tmp_path: Path
) -> None:
    from dramatiq.brokers.rabbitmq import RabbitmqBroker

    from actorschema.claims.gc import GcRefused

    broker = RabbitmqBroker(url=rabbitmq_server.url, confirm_delivery=True)
    broker.emit_after("process_boot")
    store = DirectoryStore(tmp_path / "c")
    broker.add_middleware(PayloadGateway(max_message_bytes=LIMIT, claim_check=ClaimCheck(store)))
    dramatiq.set_broker(broker)
    queue = f"claims_{os.urandom(4).hex()}"

    @dramatiq.actor(claim_check=True, queue_name=queue)
    def ingest(document: str) -> None: ...

    try:
        queued = Reference.parse(ingest.send(BIG).kwargs["document"])
        assert queued is not None
        store.put("orphan.document.1", b'"lost"')
        old = time.time() - 7200
        for key in (queued.key, "orphan.document.1"):
            os.utime(store.path / key, (old, old))
        report = collect(broker, [store])
        assert report.messages == 1 and report.deleted == 1
        assert [key for key, _ in store.blobs()] == [queued.key]
        assert collect(broker, [store]).messages == 1  # read, and put back
        worker = Worker(broker, worker_timeout=100, worker_threads=1)
        worker.start()
        try:
            broker.join(queue)
            store.put("orphan.document.2", b"1")
            with pytest.raises(GcRefused, match="consumer"):
                collect(broker, [store], min_age=0)
            assert store.get("orphan.document.2") is not None
        finally:
            worker.stop()
    finally:
        broker.close()

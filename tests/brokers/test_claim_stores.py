"""The claim check's stores and gc for real: a directory, a redis-server, moto's S3 server, Redis and RabbitMQ brokers.

Every store keeps, lists and deletes blobs and carries a value through a real
worker; on a real Redis broker the queue holds a reference and a dead letter
keeps its blob for the TTL; gc reads Redis and RabbitMQ queues without
consuming them and never removes a blob a queued message references.
"""

from __future__ import annotations

import json
import os
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dramatiq
import pytest
from dramatiq import Worker
from helpers.claims import BIG, LIMIT, Events, claims_broker, recording
from helpers.workers import drain
from servers import free_port
from typer.testing import CliRunner

from actorschema import PayloadGateway
from actorschema.claims import (
    ClaimCheck,
    DirectoryStore,
    RedisStore,
    Reference,
    Store,
)
from actorschema.claims.gc import collect, queued_bodies, referenced_keys
from actorschema.cli.app import app as cli_app

runner = CliRunner()


@pytest.fixture
def events() -> Iterator[Events]:
    with recording() as recorder:
        yield recorder


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


@pytest.fixture(params=["dir", pytest.param("redis", marks=pytest.mark.redis), "s3"])
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


@pytest.fixture
def redis_broker(redis_server: Any, redis_client: Any) -> Iterator[Any]:
    from dramatiq.brokers.redis import RedisBroker

    broker = RedisBroker(url=redis_server.url, dead_message_ttl=120_000)
    broker.emit_after("process_boot")
    yield broker
    broker.close()


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

"""The claim check against bare Dramatiq, for a 5 MB and a 50 MB argument on a real Redis broker.

Run it from the repository root::

    python benchmarks/claim_benchmark.py           # 3 rounds (5 MB), 2 rounds (50 MB)
    python benchmarks/claim_benchmark.py --quick   # 1 round each
    python benchmarks/claim_benchmark.py --json    # machine-readable results on stdout
    python benchmarks/claim_benchmark.py --sizes 5 # only the 5 MB argument

Sides, each on Dramatiq's ``RedisBroker`` on a private ``redis-server``:

* ``bare``: bare Dramatiq, the value inline in the message (no gateway);
* ``dir``, ``redis``, ``s3``: ``PayloadGateway`` with a ``ClaimCheck`` whose
  store is a temporary directory, the same redis-server, or moto's S3 server
  on loopback (``boto3``; the extra ``actorschema[s3]`` and ``moto[server]``).

What is measured, per side and size (medians of the rounds):

* ``enqueue``: ``actor.send(value)`` until it returns, after one small warm-up
  send (for the claim check: check, encode, write the blob, enqueue the reference);
* ``delivered``: from the start of ``send()`` until the actor's first line has
  the value, with a warm worker (1 thread, 10 ms poll) already running;
* ``queue bytes``: what the broker holds for the message: the length of its
  body in ``<ns>:<queue>.msgs``, read before any worker runs.

The value is a ``str`` of base64 text (the actor is typed ``document: str``,
so the gateway side also validates it on arrival).
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import os
import platform
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import dramatiq
from dramatiq import Worker
from dramatiq.brokers.redis import RedisBroker

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
# The test suite's server launcher (tests/servers.py): one way to start a private redis-server.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))

from servers import RedisServer

from actorschema import PayloadGateway
from actorschema.claims import ClaimCheck, DirectoryStore, RedisStore

SIDES = ("bare", "dir", "redis", "s3")
QUEUE = "claims_bench"


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


@contextmanager
def s3_server() -> Iterator[Any]:
    """moto's S3-protocol server on a free loopback port, and a boto3 client for it."""
    import socket

    import boto3
    from moto.server import ThreadedMotoServer

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        client = boto3.client(
            "s3",
            endpoint_url=f"http://127.0.0.1:{port}",
            region_name="us-east-1",
            aws_access_key_id="bench",
            aws_secret_access_key="bench",
        )
        client.create_bucket(Bucket="claims")
        yield client
    finally:
        server.stop()


def make_store(side: str, url: str, s3_client: Any, folder: str) -> Any:
    if side == "dir":
        return DirectoryStore(folder)
    if side == "redis":
        import redis

        return RedisStore(redis.Redis.from_url(url))
    from actorschema.claims.s3 import S3Store

    return S3Store("claims", client=s3_client, prefix="bench/")


def build(side: str, url: str, s3_client: Any, folder: str) -> tuple[RedisBroker, Any, dict[str, Any]]:
    """A broker for ``side``, its actor, and what the actor records (the time it had the value)."""
    broker = RedisBroker(url=url, namespace=f"bench-{side}")
    if side != "bare":
        store = make_store(side, url, s3_client, folder)
        broker.add_middleware(PayloadGateway(claim_check=ClaimCheck(store)))
    seen: dict[str, Any] = {"event": threading.Event()}

    def ingest(document: str) -> None:
        seen["at"] = time.perf_counter()
        seen["size"] = len(document)
        seen["event"].set()

    actor = dramatiq.actor(ingest, broker=broker, queue_name=QUEUE, max_retries=0)
    return broker, actor, seen


def queue_bytes(broker: RedisBroker) -> int:
    values = broker.client.hvals(f"{broker.namespace}:{QUEUE}.msgs")
    return sum(map(len, values))


def one_round(side: str, value: str, url: str, s3_client: Any) -> dict[str, float]:
    folder = tempfile.mkdtemp(prefix="actorschema-claim-bench-")
    broker, actor, seen = build(side, url, s3_client, folder)
    try:
        broker.client.flushall()
        actor.send("warm-up")  # first-send costs (connections, scripts) are not what is measured
        broker.flush_all()
        start = time.perf_counter()
        actor.send(value)
        enqueue = time.perf_counter() - start
        held = queue_bytes(broker)
        broker.flush_all()
        worker = Worker(broker, worker_threads=1, worker_timeout=10)
        worker.start()
        try:
            time.sleep(0.2)  # a warm worker, polling
            start = time.perf_counter()
            actor.send(value)
            if not seen["event"].wait(120):
                raise RuntimeError(f"{side}: the actor never ran")
            delivered = seen["at"] - start
            assert seen["size"] == len(value)
            broker.join(QUEUE)
        finally:
            worker.stop()
        return {"enqueue_s": enqueue, "delivered_s": delivered, "queue_bytes": held}
    finally:
        broker.close()
        shutil.rmtree(folder, ignore_errors=True)


def run(sizes: list[int], rounds: Callable[[int], int], sides: tuple[str, ...]) -> dict[str, Any]:
    results: dict[str, Any] = {}
    redis_server = RedisServer()
    try:
        with s3_server() as s3_client:
            for megabytes in sizes:
                raw = os.urandom(megabytes * 1_000_000 * 3 // 4)
                value = base64.b64encode(raw).decode()
                log(f"{megabytes} MB argument ({len(value):,} characters)")
                for side in sides:
                    runs = [
                        one_round(side, value, redis_server.url, s3_client) for _ in range(rounds(megabytes))
                    ]
                    summary = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
                    results.setdefault(f"{megabytes}MB", {})[side] = summary
                    log(
                        f"  {side:>5}: enqueue {summary['enqueue_s'] * 1000:8.1f} ms   "
                        f"delivered {summary['delivered_s'] * 1000:8.1f} ms   "
                        f"queue holds {summary['queue_bytes']:>12,.0f} B"
                    )
    finally:
        redis_server.stop()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one round per side and size")
    parser.add_argument("--json", action="store_true", help="results as JSON on stdout")
    parser.add_argument("--sizes", default="5,50", help="argument sizes in MB, comma-separated")
    options = parser.parse_args(argv)
    sizes = [int(size) for size in options.sizes.split(",")]

    def rounds(megabytes: int) -> int:
        return 1 if options.quick else (3 if megabytes <= 5 else 2)

    results = run(sizes, rounds, SIDES)
    if options.json:
        machine = {"python": platform.python_version(), "cpus": os.cpu_count()}
        print(json.dumps({"machine": machine, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What ``actorschema audit`` holds in memory, and how fast it reads, on a long Redis queue.

Run it from the repository root::

    python benchmarks/audit_benchmark.py                     # 20,000 and 200,000 messages
    python benchmarks/audit_benchmark.py --counts 1000000    # any lengths
    python benchmarks/audit_benchmark.py --json              # machine-readable results on stdout
    python benchmarks/audit_benchmark.py --rabbitmq 20000    # also the RabbitMQ reader's rate

For each length N, a private redis-server is filled with N messages of the
example shop's ``place_order`` (about 700 bytes each: an order of three lines,
one in ten of them invalid so that the report keeps reasons and examples), then
the audit reads the queue with the app's contracts, the way the command does
(:func:`actorschema.audit.broker_messages` into :class:`actorschema.audit.Audit`).

Two figures per length, from two passes:

* the **peak of Python allocations** during the audit (``tracemalloc``, which
  counts every object the reader, the judge and the report allocate, and
  slows the pass down, so it is not timed);
* **messages per second**, in a second pass without tracing, and the peak RSS
  of the process at the end (``ru_maxrss``, which also holds the app's
  imports).

Memory is bounded when the peak does not grow with N: the reader holds one
page of bodies (about ``REDIS_PAGE_BYTES``), the report a few thousand size
counters and at most ``MAX_REASONS`` reasons per actor and queue.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import sys
import time
import tracemalloc
from typing import Any

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
# The test suite's server launchers (tests/servers.py).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))

from servers import RabbitmqServer, RedisServer


def fill(broker: Any, count: int) -> None:
    """Store ``count`` place_order messages on ``orders``, as Dramatiq's enqueue leaves them."""
    from examples import shop

    good = shop.place_order.message_with_options(
        kwargs={
            "order": {
                "order_id": "7f1d6a3e-9c2b-4b8e-a7d5-3c1e2f4a5b6c",
                "customer_id": 42,
                "placed_at": "2024-05-01T09:30:00+02:00",
                "items": [{"sku": f"SKU-{n}", "quantity": n + 1, "unit_price": "9.90"} for n in range(3)],
                "note": "leave it at the door, please",
            }
        }
    ).asdict()
    chunk = 5_000
    for start in range(0, count, chunk):
        with broker.client.pipeline(transaction=False) as pipe:
            for n in range(start, min(count, start + chunk)):
                rid = f"r{n}"
                message = {
                    **good,
                    "options": {"redis_message_id": rid},
                    "message_id": f"{n:08x}-0000-4000-8000-000000000000",
                }
                if n % 10 == 0:  # one in ten would be refused: a quantity of 0
                    order = message["kwargs"]["order"]
                    message["kwargs"] = {"order": {**order, "items": [{**order["items"][0], "quantity": 0}]}}
                pipe.hset("dramatiq:orders.msgs", rid, json.dumps(message, separators=(",", ":")))
                pipe.rpush("dramatiq:orders", rid)
            pipe.execute()


def audit_once(broker: Any) -> Any:
    from actorschema.audit import Audit, ContractJudge, broker_messages

    report = Audit(ContractJudge(broker))
    report.read(broker_messages(broker, "orders"))
    return report


def measure(broker: Any, count: int) -> dict[str, Any]:
    broker.client.flushall()
    fill(broker, count)
    used = broker.client.info("memory")["used_memory"]
    gc.collect()
    tracemalloc.start()
    report = audit_once(broker)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert report.messages == count and report.refused == -(-count // 10), (report.messages, report.refused)
    gc.collect()
    started = time.perf_counter()
    audit_once(broker)
    elapsed = time.perf_counter() - started
    return {
        "messages": count,
        "redis_used_memory_bytes": used,
        "peak_traced_bytes": peak,
        "seconds": round(elapsed, 2),
        "messages_per_second": round(count / elapsed),
        "max_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }


def rabbitmq_read(count: int) -> dict[str, Any]:
    """Messages per second the RabbitMQ reader takes and puts back (no judging), and its traced peak."""
    import pika

    from actorschema.audit import rabbitmq_messages

    server = RabbitmqServer()
    try:
        parameters = pika.URLParameters(server.url + "/%2F")
        connection = pika.BlockingConnection(parameters)
        channel = connection.channel()
        channel.queue_declare("orders", durable=True)
        body = b'{"payload": "' + b"x" * 600 + b'"}'
        for _ in range(count):
            channel.basic_publish("", "orders", body, pika.BasicProperties(delivery_mode=2))
        while channel.queue_declare("orders", passive=True).method.message_count < count:
            time.sleep(0.1)
        tracemalloc.start()
        read = sum(1 for _ in rabbitmq_messages(parameters, "orders", states=("ready",)))
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        started = time.perf_counter()
        again = sum(1 for _ in rabbitmq_messages(parameters, "orders", states=("ready",)))
        elapsed = time.perf_counter() - started
        left = channel.queue_declare("orders", passive=True).method.message_count
        connection.close()
        assert read == again == left == count, (read, again, left)
        return {
            "messages": count,
            "peak_traced_bytes": peak,
            "seconds": round(elapsed, 2),
            "messages_per_second": round(count / elapsed),
        }
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[20_000, 200_000])
    parser.add_argument("--json", action="store_true", help="print the results as JSON on stdout")
    parser.add_argument(
        "--rabbitmq",
        type=int,
        metavar="N",
        help="also time the RabbitMQ reader on N messages (boots a server)",
    )
    options = parser.parse_args()
    if options.rabbitmq:
        read = rabbitmq_read(options.rabbitmq)
        print(
            f"rabbitmq {read['messages']:,} messages read and put back: {read['messages_per_second']:,} msg/s, "
            f"peak traced {read['peak_traced_bytes'] / 2**20:.1f} MiB",
            file=sys.stderr,
        )
    server = RedisServer()
    results = []
    try:
        os.environ["SHOP_REDIS_URL"] = server.url
        from examples import shop

        for count in options.counts:
            results.append(measure(shop.broker, count))
    finally:
        server.stop()
    for result in results:
        count = result["messages"]
        print(
            f"{count:>9,} messages: peak traced {result['peak_traced_bytes'] / 2**20:6.1f} MiB, "
            f"{result['messages_per_second']:>6,} msg/s ({result['seconds']} s), "
            f"max RSS {result['max_rss_bytes'] / 2**20:,.0f} MiB, "
            f"redis holds {result['redis_used_memory_bytes'] / 2**20:,.0f} MiB",
            file=sys.stderr,
        )
    if options.json:
        print(json.dumps({"redis": results, "rabbitmq": read if options.rabbitmq else None}, indent=2))


if __name__ == "__main__":
    main()

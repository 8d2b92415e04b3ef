"""What the worker-side check costs per consumed message: bare Dramatiq against Dramatiq with the gateway.

Run it from the repository root::

    python benchmarks/consume_benchmark.py           # 20 rounds per side
    python benchmarks/consume_benchmark.py --quick   # 6 rounds
    python benchmarks/consume_benchmark.py --json    # machine-readable results on stdout

What one consumed message costs the worker, from stored bytes to the actor's
return, timed the way Dramatiq's worker does it, on one thread (no polling or
queue hand-offs to blur the figure): decode the body (the gateway side with
``actorschema.brokers``' strict decoder and envelope check), run every
middleware's ``before_process_message`` (the gateway's check comes first
there), call the actor, run ``after_process_message``.

Fairness: a bare actor receives JSON, so to work with a pydantic model or a
``datetime`` it must convert them itself; the bare actors below do exactly
that (``Order.model_validate(order)``), and the conversion is timed. The
gateway side gets them converted (typed delivery) and checked with JSON
semantics (``jsonschema`` on the actor's published schema).

Rounds alternate bare, gateway, bare... each timing every message one by one
with ``perf_counter_ns``; the median per side is reported, and gateway/bare.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import dramatiq
from dramatiq import Message
from dramatiq.broker import MessageProxy

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from send_benchmark import Order, make_order  # the send benchmark's ~5 KB model

from actorschema import PayloadGateway
from actorschema.brokers import StubBroker
from actorschema.envelope import decode_message


def build(with_gateway: bool) -> tuple[StubBroker, dict[str, Any]]:
    broker = StubBroker()
    if with_gateway:
        broker.add_middleware(PayloadGateway(max_message_bytes=1_048_576))
        broker.middleware.insert(0, broker.middleware[-1].consume_guard)  # as at worker boot
    sink: list[Any] = []

    if with_gateway:

        @dramatiq.actor(broker=broker)
        def small(user_id: int, name: str, score: float) -> None:
            sink.append(user_id)

        @dramatiq.actor(broker=broker)
        def medium(order: Order) -> None:  # type: ignore[valid-type]
            sink.append(order.items[0].sku)

        @dramatiq.actor(broker=broker, max_message_bytes=1_048_576)
        def large(rows: list) -> None:  # type: ignore[type-arg]
            sink.append(len(rows))

    else:

        @dramatiq.actor(broker=broker)
        def small(user_id: int, name: str, score: float) -> None:
            sink.append(user_id)

        @dramatiq.actor(broker=broker)
        def medium(order: dict) -> None:  # type: ignore[type-arg]
            sink.append(Order.model_validate(order).items[0].sku)  # what a bare actor must do

        @dramatiq.actor(broker=broker)
        def large(rows: list) -> None:  # type: ignore[type-arg]
            sink.append(len(rows))

    return broker, {"small": small, "medium": medium, "large": large}


def bodies() -> dict[str, bytes]:
    def message(actor: str, kwargs: dict[str, Any]) -> bytes:
        return json.dumps(
            {
                "queue_name": "default",
                "actor_name": actor,
                "args": [],
                "kwargs": kwargs,
                "options": {"redis_message_id": "r"},
                "message_id": "7f1d6a3e-9c2b-4b8e-a7d5-3c1e2f4a5b6c",
                "message_timestamp": 1_700_000_000_000,
            }
        ).encode()

    rows = [{"id": i, "name": f"row {i}", "score": i / 3, "tags": ["a", "b"]} for i in range(10_000)]
    return {
        "small": message("small", {"user_id": 42, "name": "Ada Lovelace", "score": 97.5}),
        "medium": message("medium", {"order": make_order().model_dump(mode="json")}),
        "large": message("large", {"rows": rows}),
    }


def consume_one(broker: StubBroker, decode: Callable[[bytes], Message[Any]], body: bytes) -> None:
    """Dramatiq's worker path for one message, on this thread."""
    proxy = MessageProxy(decode(body))
    broker.emit_before("process_message", proxy)
    actor = broker.get_actor(proxy.actor_name)
    result = actor(*proxy.args, **proxy.kwargs)
    broker.emit_after("process_message", proxy, result=result)


def run(rounds: int, count: dict[str, int]) -> dict[str, Any]:
    sides = {"bare": build(False), "gateway": build(True)}
    decoders: dict[str, Callable[[bytes], Message[Any]]] = {
        "bare": Message.decode,
        "gateway": lambda body: decode_message(body, "default"),
    }
    results: dict[str, Any] = {}
    for name, body in bodies().items():
        times: dict[str, list[int]] = {"bare": [], "gateway": []}
        for _ in range(rounds):
            for side in ("bare", "gateway"):
                broker, _actors = sides[side]
                gc.collect()
                for _ in range(count[name]):
                    start = time.perf_counter_ns()
                    consume_one(broker, decoders[side], body)
                    times[side].append(time.perf_counter_ns() - start)
        bare, gateway = statistics.median(times["bare"]) / 1000, statistics.median(times["gateway"]) / 1000
        results[name] = {
            "size": len(body),
            "bare_us": round(bare, 1),
            "gateway_us": round(gateway, 1),
            "ratio": round(gateway / bare, 2),
        }
        print(f"  {name}: done", file=sys.stderr)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="6 rounds instead of 20")
    parser.add_argument("--json", action="store_true", help="results as JSON on stdout")
    options = parser.parse_args()
    rounds = 6 if options.quick else 20
    results = run(rounds, {"small": 200, "medium": 40, "large": 2})
    if options.json:
        print(
            json.dumps({"python": platform.python_version(), "rounds": rounds, "results": results}, indent=2)
        )
        return
    print(f"consume path per message, {rounds} rounds per side, Python {platform.python_version()}")
    print(f"{'message':8} {'size':>9} {'bare us':>9} {'gateway us':>11} {'gw/bare':>8}")
    for name, row in results.items():
        print(f"{name:8} {row['size']:>9,} {row['bare_us']:>9} {row['gateway_us']:>11} {row['ratio']:>8}")


if __name__ == "__main__":
    main()

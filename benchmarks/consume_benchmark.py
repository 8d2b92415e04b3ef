"""What the worker-side check costs per consumed message: bare Dramatiq against Dramatiq with the gateway.

Run it from the repository root::

    python benchmarks/consume_benchmark.py           # 20 rounds per side
    python benchmarks/consume_benchmark.py --quick   # 6 rounds
    python benchmarks/consume_benchmark.py --json    # machine-readable results on stdout
    python benchmarks/consume_benchmark.py --redis   # also: worker throughput on a real Redis
    python benchmarks/consume_benchmark.py --check   # exit status 1 if a target is missed
    python benchmarks/consume_benchmark.py --producer gateway   # bodies as the gateway stores them (msgspec)
    python benchmarks/consume_benchmark.py --producer spaced    # json.dumps's default ", " and ": " separators

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
with ``perf_counter_ns``; the median per side is reported, and gateway/bare,
beside the lowest and highest of the rounds' own ratios (each gateway round's
median over the bare round's just before it): how far one run spreads.

``--redis`` adds what a user sees: a real ``dramatiq.Worker`` (4 threads)
draining 5,000 stored messages from a private redis-server, Dramatiq's
``RedisBroker`` against ``actorschema.brokers.RedisBroker`` with the gateway,
in alternating rounds; reported as messages per second, medians.
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
import msgspec
from dramatiq import Message
from dramatiq.broker import MessageProxy
from dramatiq.encoder import JSONEncoder

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# The test suite's server launcher (tests/servers.py).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))

from send_benchmark import Order, make_order  # the send benchmark's ~5 KB model

from actorschema import PayloadGateway
from actorschema.brokers import StubBroker
from actorschema.consume.envelope import decode_message

#: The targets, gateway/bare (issue 9, item 9).
TARGETS = {"small": 1.3, "medium": 1.0, "large": 0.7}


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


#: Who wrote a stored body, and how.
PRODUCERS: dict[str, Callable[[Any], bytes]] = {
    # Bare Dramatiq's own JSONEncoder: json.dumps(data, separators=(",", ":")), text ASCII-escaped.
    "dramatiq": JSONEncoder().encode,
    # A producer with the gateway: msgspec's compact JSON, text as UTF-8.
    "gateway": msgspec.json.encode,
    # Another producer (a script, another language's encoder) that writes json.dumps's default
    # ", " and ": " separators: the bodies the worker's duplicate-key proof costs most on.
    "spaced": lambda value: json.dumps(value).encode(),
}


def bodies(producer: str = "dramatiq") -> dict[str, bytes]:
    """The three stored messages, as ``producer`` writes them (see :data:`PRODUCERS`).

    Parameters:
      producer: ``"dramatiq"``, ``"gateway"`` or ``"spaced"``.
    """
    dumps = PRODUCERS[producer]

    def message(actor: str, kwargs: dict[str, Any]) -> bytes:
        return dumps(
            {
                "queue_name": "default",
                "actor_name": actor,
                "args": [],
                "kwargs": kwargs,
                "options": {"redis_message_id": "r"},
                "message_id": "7f1d6a3e-9c2b-4b8e-a7d5-3c1e2f4a5b6c",
                "message_timestamp": 1_700_000_000_000,
            }
        )

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


def run(rounds: int, count: dict[str, int], producer: str = "dramatiq") -> dict[str, Any]:
    sides = {"bare": build(False), "gateway": build(True)}
    decoders: dict[str, Callable[[bytes], Message[Any]]] = {
        "bare": Message.decode,
        "gateway": lambda body: decode_message(body, "default"),
    }
    results: dict[str, Any] = {}
    for name, body in bodies(producer).items():
        times: dict[str, list[int]] = {"bare": [], "gateway": []}
        per_round: list[float] = []  # each round's gateway median over the bare median just before it
        for _ in range(rounds):
            medians = {}
            for side in ("bare", "gateway"):
                broker, _actors = sides[side]
                gc.collect()
                this_round = []
                for _ in range(count[name]):
                    start = time.perf_counter_ns()
                    consume_one(broker, decoders[side], body)
                    this_round.append(time.perf_counter_ns() - start)
                times[side] += this_round
                medians[side] = statistics.median(this_round)
            per_round.append(medians["gateway"] / medians["bare"])
        bare, gateway = statistics.median(times["bare"]) / 1000, statistics.median(times["gateway"]) / 1000
        results[name] = {
            "size": len(body),
            "bare_us": round(bare, 1),
            "gateway_us": round(gateway, 1),
            "ratio": round(gateway / bare, 2),
            "rounds_min": round(min(per_round), 2),
            "rounds_max": round(max(per_round), 2),
        }
        print(f"  {name}: done", file=sys.stderr)
    return results


def counting_actor(broker: Any, count: int) -> tuple[Any, Any]:
    """The ``small`` actor on queue ``bench``, and an Event set once it has run ``count`` times."""
    import itertools
    import threading

    done = threading.Event()
    calls = itertools.count(1)  # next() on it is atomic under the GIL

    def small(user_id: int, name: str, score: float) -> None:
        if next(calls) >= count:
            done.set()

    return dramatiq.actor(small, broker=broker, queue_name="bench"), done


def redis_throughput(rounds: int, count: int = 5_000) -> dict[str, Any]:
    """Messages per second a 4-thread Worker drains from Redis: bare against gateway."""
    from dramatiq import Worker
    from dramatiq.brokers.redis import RedisBroker as BareRedisBroker
    from servers import RedisServer

    from actorschema.brokers import RedisBroker

    server = RedisServer()
    rates: dict[str, list[float]] = {"bare": [], "gateway": []}
    try:
        for _ in range(rounds):
            for side in ("bare", "gateway"):
                broker: Any = (RedisBroker if side == "gateway" else BareRedisBroker)(url=server.url)
                if side == "gateway":
                    broker.add_middleware(PayloadGateway())
                actor, done = counting_actor(broker, count)
                broker.client.flushall()
                with broker.client.pipeline(transaction=False) as pipe:
                    for n in range(count):
                        rid = f"r{n}"
                        message = actor.message(user_id=n, name="Ada Lovelace", score=97.5)
                        message = message.copy(options={"redis_message_id": rid})
                        pipe.hset("dramatiq:bench.msgs", rid, message.encode())
                        pipe.rpush("dramatiq:bench", rid)
                    pipe.execute()
                gc.collect()
                worker = Worker(broker, worker_threads=4, worker_timeout=50)
                start = time.perf_counter()
                worker.start()
                finished = done.wait(120)
                elapsed = time.perf_counter() - start
                worker.stop()
                broker.close()
                if not finished:
                    raise RuntimeError(f"{side}: the worker did not drain {count} messages in 120 s")
                rates[side].append(count / elapsed)
                print(f"  redis {side}: {count / elapsed:,.0f} msg/s", file=sys.stderr)
    finally:
        server.stop()
    bare, gateway = statistics.median(rates["bare"]), statistics.median(rates["gateway"])
    return {
        "messages": count,
        "bare_per_s": round(bare),
        "gateway_per_s": round(gateway),
        "ratio": round(gateway / bare, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="6 rounds instead of 20")
    parser.add_argument("--json", action="store_true", help="results as JSON on stdout")
    parser.add_argument("--redis", action="store_true", help="also time a real worker draining Redis")
    parser.add_argument("--check", action="store_true", help="exit with status 1 if a target is missed")
    parser.add_argument(
        "--producer",
        choices=sorted(PRODUCERS),
        default="dramatiq",
        help=(
            "who wrote the stored bodies: bare Dramatiq's JSONEncoder (the default), the gateway "
            "(msgspec), or another producer with json.dumps's spaced separators"
        ),
    )
    options = parser.parse_args()
    rounds = 6 if options.quick else 20
    results = run(rounds, {"small": 200, "medium": 40, "large": 2}, options.producer)
    throughput = redis_throughput(3 if options.quick else 5) if options.redis else None
    missed = [name for name, row in results.items() if row["ratio"] > TARGETS[name]]
    if options.json:
        report = {
            "python": platform.python_version(),
            "rounds": rounds,
            "producer": options.producer,
            "results": results,
            "redis": throughput,
        }
        print(json.dumps(report, indent=2))
        sys.exit(1 if options.check and missed else 0)
    print(
        f"consume path per message, {rounds} rounds per side, bodies written by {options.producer}, "
        f"Python {platform.python_version()}"
    )
    print(
        f"{'message':8} {'size':>9} {'bare us':>9} {'gateway us':>11} {'gw/bare':>8} {'rounds min-max':>15} "
        f"{'target':>10}"
    )
    for name, row in results.items():
        verdict = f"<={TARGETS[name]} {'MISS' if name in missed else 'ok'}"
        spread = f"{row['rounds_min']:.2f}-{row['rounds_max']:.2f}"
        print(
            f"{name:8} {row['size']:>9,} {row['bare_us']:>9} {row['gateway_us']:>11} {row['ratio']:>8} "
            f"{spread:>15} {verdict:>10}"
        )
    if throughput is not None:
        print(
            f"redis worker, 4 threads, {throughput['messages']:,} small messages: "
            f"bare {throughput['bare_per_s']:,}/s, gateway {throughput['gateway_per_s']:,}/s, "
            f"gw/bare {throughput['ratio']}"
        )
    sys.exit(1 if options.check and missed else 0)


if __name__ == "__main__":
    main()

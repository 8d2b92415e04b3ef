"""What the gateway costs per ``actor.send()``: bare Dramatiq against Dramatiq with ``PayloadGateway``.

Run it from the repository root::

    python benchmarks/send_benchmark.py            # StubBroker, then Redis (a private redis-server)
    python benchmarks/send_benchmark.py --quick    # fewer rounds and sends, for a quick look
    python benchmarks/send_benchmark.py --json     # machine-readable results on stdout
    python benchmarks/send_benchmark.py --redis redis://127.0.0.1:6379/0   # an existing server
    python benchmarks/send_benchmark.py --no-redis --profile               # where the gateway's time goes

Two brokers of the same kind are built side by side: a bare one (Dramatiq's
default middleware) and one with the gateway added; each declares its own
actors. Rounds alternate, bare then gateway then bare..., each round timing
many sends one by one, so drift on the machine (frequency, other processes)
hits both sides alike. The median of all per-send times of each side is
reported, with gateway/bare as the ratio.

Fairness:

* Both sides run with Dramatiq's own global ``JSONEncoder``: the gateway
  leaves it alone and hands the broker the bytes it encoded itself (msgspec),
  so each side pays exactly for its own encoding.
* Bare Dramatiq cannot send a pydantic model; the bare side of "medium"
  sends ``model.model_dump(mode="json")``, and that dump is timed, since a
  user has to do it.
* Queues are drained after every round (untimed) so memory does not grow,
  and the garbage collector is run before every round.

Messages:

* small: three typed scalar parameters (int, str, float): ~150 B.
* medium: one pydantic model parameter, ~50 fields and a nested list of 20
  items: ~5 KB.
* large: a list of 10,000 small dicts to an untyped parameter: ~500 KB. The
  gateway's default 256 KiB limit would reject it, so that actor carries
  ``max_message_bytes=1_048_576``.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import datetime
import gc
import io
import json
import os
import platform
import pstats
import shutil
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import dramatiq
import pydantic
from dramatiq.broker import Broker
from dramatiq.brokers.stub import StubBroker

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
# The test suite's server launcher (tests/servers.py): one way to start a private redis-server.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))

from servers import RedisServer

import actorschema
from actorschema import PayloadGateway

#: Gateway/bare ratios the StubBroker figures should stay under.
TARGETS = {"small": 1.0, "medium": 1.0, "large": 0.6}

# -- the messages ----------------------------------------------------------------------


class LineItem(pydantic.BaseModel):
    sku: str
    name: str
    quantity: int
    unit_price: float
    discount: float
    gift: bool
    description: str
    tags: list[str]


def _order_fields() -> dict[str, Any]:
    """~50 fields of the usual kinds: text, numbers, flags, times, optional values."""
    fields: dict[str, Any] = {}
    for index in range(14):
        fields[f"text_{index:02d}"] = (str, ...)
    for index in range(12):
        fields[f"count_{index:02d}"] = (int, ...)
    for index in range(10):
        fields[f"amount_{index:02d}"] = (float, ...)
    for index in range(6):
        fields[f"flag_{index:02d}"] = (bool, ...)
    for index in range(4):
        fields[f"note_{index:02d}"] = (str | None, None)
    for index in range(3):
        fields[f"time_{index:02d}"] = (datetime.datetime, ...)
    fields["items"] = (list[LineItem], ...)
    return fields


Order = pydantic.create_model("Order", **_order_fields())  # 49 scalar fields and 20 nested items


def make_order() -> Any:
    when = datetime.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=datetime.UTC)
    values: dict[str, Any] = {}
    for name, (kind, _) in _order_fields().items():
        if kind is str:
            values[name] = f"{name} value with some text"
        elif kind is int:
            values[name] = 1_000_000 + len(name)
        elif kind is float:
            values[name] = 1234.5678
        elif kind is bool:
            values[name] = True
        elif kind is datetime.datetime:
            values[name] = when
        elif name.startswith("note_"):
            values[name] = "a short note" if name.endswith("0") else None
    values["items"] = [
        LineItem(
            sku=f"SKU-{i:06d}",
            name=f"Item number {i}",
            quantity=i + 1,
            unit_price=9.99 + i,
            discount=0.1,
            gift=i % 2 == 0,
            description="Blue cotton shirt, long sleeves, size L",
            tags=["red", "large"],
        )
        for i in range(20)
    ]
    return Order(**values)


def make_rows() -> list[dict[str, Any]]:
    return [{"id": i, "name": f"row-{i:05d}", "score": i * 0.5, "ok": i % 3 == 0} for i in range(10_000)]


@dataclass
class Scenario:
    """One kind of message: how each side sends it, and how many sends per round."""

    name: str
    description: str
    sends_per_round: int
    bare_send: Callable[[], Any] = field(repr=False)
    gateway_send: Callable[[], Any] = field(repr=False)


def declare(bare: Broker, gated: Broker) -> list[Scenario]:
    """Declare the same actors on both brokers and return the three scenarios."""
    order = make_order()
    rows = make_rows()

    # small: three typed scalars, as a user writes them; identical on both sides.
    def notify(user_id: int, name: str, score: float) -> None: ...

    bare_notify = dramatiq.actor(notify, broker=bare, actor_name="notify")
    gated_notify = dramatiq.actor(notify, broker=gated, actor_name="notify")

    # medium: bare Dramatiq takes plain JSON, so the user dumps the model first.
    def ingest_dict(order):  # type: ignore[no-untyped-def]
        ...

    def ingest(order: Order) -> None:  # type: ignore[valid-type]
        ...

    bare_ingest = dramatiq.actor(ingest_dict, broker=bare, actor_name="ingest")
    gated_ingest = dramatiq.actor(ingest, broker=gated, actor_name="ingest")

    # large: 10,000 small dicts to an untyped parameter.
    def load(rows):  # type: ignore[no-untyped-def]
        ...

    bare_load = dramatiq.actor(load, broker=bare, actor_name="load")
    gated_load = dramatiq.actor(load, broker=gated, actor_name="load", max_message_bytes=1_048_576)

    return [
        Scenario(
            "small",
            "3 typed scalars (int, str, float)",
            2_000,
            lambda: bare_notify.send(123_456, "alice", 98.25),
            lambda: gated_notify.send(123_456, "alice", 98.25),
        ),
        Scenario(
            "medium",
            "pydantic model: 49 fields + 20 nested items",
            400,
            lambda: bare_ingest.send(order.model_dump(mode="json")),
            lambda: gated_ingest.send(order),
        ),
        Scenario(
            "large",
            "10,000 small dicts, untyped parameter",
            8,
            lambda: bare_load.send(rows),
            lambda: gated_load.send(rows),
        ),
    ]


# -- brokers -----------------------------------------------------------------------------


@dataclass
class Backend:
    """A pair of brokers of one kind, and how to drain them."""

    name: str
    bare: Broker
    gated: Broker
    gateway: PayloadGateway
    drain: Callable[[], None]
    close: Callable[[], None]
    #: Returns the bytes last stored by a broker for an actor (to report message sizes).
    last_stored: Callable[[Broker, str], bytes]
    #: Sends per round are divided by this (network round trips are slower).
    slowdown: int = 1


def stub_backend() -> Backend:
    bare = StubBroker()
    gated = StubBroker()
    gateway = PayloadGateway()
    gated.add_middleware(gateway)

    def drain() -> None:
        bare.flush_all()
        gated.flush_all()

    def last_stored(broker: Broker, actor_name: str) -> bytes:
        assert isinstance(broker, StubBroker)
        queue = broker.queues[broker.get_actor(actor_name).queue_name]
        body: bytes = queue.queue[-1]
        return body

    def close() -> None:
        drain()
        bare.close()
        gated.close()

    return Backend("stub", bare, gated, gateway, drain, close, last_stored)


def redis_backend(url: str) -> Backend:
    from dramatiq.brokers.redis import RedisBroker

    run = uuid.uuid4().hex[:8]
    bare = RedisBroker(url=url, namespace=f"bench-{run}-bare")
    gated = RedisBroker(url=url, namespace=f"bench-{run}-gateway")
    gateway = PayloadGateway()
    gated.add_middleware(gateway)

    def drain() -> None:
        bare.flush_all()
        gated.flush_all()

    def last_stored(broker: Broker, actor_name: str) -> bytes:
        assert isinstance(broker, RedisBroker)
        queue = broker.get_actor(actor_name).queue_name
        last_id = broker.client.lindex(f"{broker.namespace}:{queue}", -1)
        body: bytes = broker.client.hget(f"{broker.namespace}:{queue}.msgs", last_id)
        return body

    def close() -> None:
        drain()
        for broker in (bare, gated):
            keys = list(broker.client.scan_iter(match=f"{broker.namespace}:*"))
            if keys:
                broker.client.delete(*keys)
            broker.close()

    return Backend("redis", bare, gated, gateway, drain, close, last_stored, slowdown=4)


# -- measuring -----------------------------------------------------------------------------


def time_sends(send: Callable[[], Any], count: int) -> list[int]:
    """Nanoseconds of each of ``count`` sends."""
    clock = time.perf_counter_ns
    times = [0] * count
    for index in range(count):
        start = clock()
        send()
        times[index] = clock() - start
    return times


@dataclass
class Result:
    broker: str
    message: str
    description: str
    rounds: int
    sends_per_side: int
    bare_median_us: float
    gateway_median_us: float
    ratio: float
    round_ratio_min: float
    round_ratio_max: float
    size_bare_bytes: int
    size_gateway_bytes: int
    target: float | None
    meets_target: bool | None


def measure(backend: Backend, scenario: Scenario, rounds: int, scale: float) -> Result:
    sends = max(1, int(scenario.sends_per_round * scale) // backend.slowdown)
    sides = (("bare", scenario.bare_send), ("gateway", scenario.gateway_send))

    # Warm up both sides (imports, pydantic and msgspec caches, Redis scripts) and check them.
    sizes: dict[str, int] = {}
    stored: dict[str, Any] = {}
    for side, send in sides:
        time_sends(send, max(2, sends // 10))
        broker = backend.bare if side == "bare" else backend.gated
        body = backend.last_stored(broker, _actor_of(scenario))
        stored[side] = json.loads(body)  # what is stored is plain JSON on both sides
        sizes[side] = len(body)
        backend.drain()
    # Both sides carry the same values: bare positionally, the gateway by name.
    assert stored["bare"]["args"] == list(stored["gateway"]["kwargs"].values()), scenario.name
    assert stored["gateway"]["args"] == [] and stored["bare"]["kwargs"] == {}, scenario.name

    times: dict[str, list[int]] = {"bare": [], "gateway": []}
    round_medians: dict[str, list[float]] = {"bare": [], "gateway": []}
    for _ in range(rounds):
        for side, send in sides:
            gc.collect()
            taken = time_sends(send, sends)
            backend.drain()
            times[side].extend(taken)
            round_medians[side].append(statistics.median(taken))

    bare_median = statistics.median(times["bare"]) / 1000
    gateway_median = statistics.median(times["gateway"]) / 1000
    ratio = gateway_median / bare_median
    round_ratios = [g / b for g, b in zip(round_medians["gateway"], round_medians["bare"], strict=True)]
    target = TARGETS[scenario.name] if backend.name == "stub" else None
    return Result(
        broker=backend.name,
        message=scenario.name,
        description=scenario.description,
        rounds=rounds,
        sends_per_side=len(times["bare"]),
        bare_median_us=round(bare_median, 2),
        gateway_median_us=round(gateway_median, 2),
        ratio=round(ratio, 3),
        round_ratio_min=round(min(round_ratios), 3),
        round_ratio_max=round(max(round_ratios), 3),
        size_bare_bytes=sizes["bare"],
        size_gateway_bytes=sizes["gateway"],
        target=target,
        meets_target=None if target is None else ratio <= target,
    )


def _actor_of(scenario: Scenario) -> str:
    return {"small": "notify", "medium": "ingest", "large": "load"}[scenario.name]


def profile_gateway(backend: Backend, scenario: Scenario, sends: int, top: int) -> str:
    """cProfile the gateway side of one scenario; return the top functions by own time."""
    profiler = cProfile.Profile()
    scenario.gateway_send()  # warm
    backend.drain()
    gc.collect()
    profiler.enable()
    for _ in range(sends):
        scenario.gateway_send()
    profiler.disable()
    backend.drain()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.strip_dirs().sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return out.getvalue()


# -- output ---------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    model = platform.processor() or platform.machine()
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    import msgspec

    return {
        "cpu": model,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "dramatiq": dramatiq.__version__,
        "pydantic": pydantic.VERSION,
        "msgspec": msgspec.__version__,
        "actorschema": actorschema.__version__,
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def table(results: list[Result]) -> str:
    header = (
        f"{'broker':<6} {'message':<7} {'size bare':>10} {'size gw':>10} {'bare µs':>10} {'gateway µs':>11}"
        f" {'gw/bare':>8} {'rounds min-max':>15} {'target':>7}  sends/side"
    )
    lines = [header, "-" * len(header)]
    for r in results:
        verdict = "" if r.target is None else f"<={r.target:g} {'ok' if r.meets_target else 'MISS'}"
        lines.append(
            f"{r.broker:<6} {r.message:<7} {r.size_bare_bytes:>10,} {r.size_gateway_bytes:>10,}"
            f" {r.bare_median_us:>10,.1f} {r.gateway_median_us:>11,.1f} {r.ratio:>8.2f}"
            f" {f'{r.round_ratio_min:.2f}-{r.round_ratio_max:.2f}':>15} {verdict:>7}  {r.sends_per_side:,}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="fewer rounds and sends (a rough figure in seconds)"
    )
    parser.add_argument("--rounds", type=int, help="rounds per side (default 20, or 6 with --quick)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--redis", metavar="URL", help="use this Redis server instead of starting one")
    parser.add_argument("--no-redis", action="store_true", help="StubBroker only")
    parser.add_argument(
        "--messages", default="small,medium,large", help="comma-separated: small,medium,large"
    )
    parser.add_argument("--profile", action="store_true", help="also cProfile the gateway side (StubBroker)")
    parser.add_argument(
        "--check", action="store_true", help="exit with status 1 if a StubBroker target is missed"
    )
    args = parser.parse_args(argv)

    rounds = args.rounds or (6 if args.quick else 20)
    scale = 0.25 if args.quick else 1.0
    wanted = [name.strip() for name in args.messages.split(",") if name.strip()]
    unknown = set(wanted) - set(TARGETS)
    if unknown:
        parser.error(f"unknown messages: {', '.join(sorted(unknown))}")

    def log(text: str) -> None:
        print(text, file=sys.stderr if args.json else sys.stdout, flush=True)

    info = machine()
    log(
        f"{info['cpu']} ({info['cpus']} CPUs), Python {info['python']}, Dramatiq {info['dramatiq']}, {info['date']}"
    )
    results: list[Result] = []
    profiles: dict[str, str] = {}

    backends: list[Callable[[], Backend]] = [stub_backend]
    server: RedisServer | None = None
    if not args.no_redis:
        if args.redis:
            url = args.redis
        else:
            if shutil.which("redis-server") is None:
                raise RuntimeError(
                    "redis-server is not on PATH (install it, or pass --redis URL, or --no-redis)"
                )
            server = RedisServer()
            url = server.url
            log(f"started redis-server on {url}")
        backends.append(lambda: redis_backend(url))

    try:
        for make in backends:
            backend = make()
            try:
                scenarios = {s.name: s for s in declare(backend.bare, backend.gated)}
                for name in wanted:
                    started = time.monotonic()
                    result = measure(backend, scenarios[name], rounds, scale)
                    results.append(result)
                    log(
                        f"  {backend.name}/{name}: bare {result.bare_median_us:,.1f} µs,"
                        f" gateway {result.gateway_median_us:,.1f} µs, ratio {result.ratio:.2f}"
                        f" ({time.monotonic() - started:.1f} s)"
                    )
                    if args.profile and backend.name == "stub":
                        sends = max(5, scenarios[name].sends_per_round // 4)
                        profiles[name] = profile_gateway(backend, scenarios[name], sends, top=25)
            finally:
                backend.close()
    finally:
        if server is not None:
            server.stop()

    if args.json:
        print(
            json.dumps(
                {"machine": info, "results": [asdict(r) for r in results], "profiles": profiles}, indent=2
            )
        )
    else:
        print()
        print(table(results))
        for name, text in profiles.items():
            print(f"\n== cProfile, gateway side, {name} (StubBroker) ==\n{text}")
    missed = [r for r in results if r.meets_target is False]
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())

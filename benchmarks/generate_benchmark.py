"""How long ``actorschema generate`` takes for a large app: 1,000 actors (target: under 3 s).

Run with ``python benchmarks/generate_benchmark.py [--actors N]``. It builds an
app of N actors on a StubBroker with the gateway, a quarter of them taking a
pydantic model (a few shared, nested models), the rest scalars, datetimes,
UUIDs, unions, lists and dicts, then times the whole job as the command does
it: declaring the actors (contracts are built at declare time), rendering every
schema and the index, and writing the files. It prints the median of 5 runs.
"""

from __future__ import annotations

import argparse
import datetime
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Annotated, Any, Literal

import dramatiq
from dramatiq.brokers.stub import StubBroker
from pydantic import BaseModel, Field

from actorschema import PayloadGateway
from actorschema.catalogue import write
from actorschema.generate import render


class Item(BaseModel):
    sku: str
    quantity: Annotated[int, Field(ge=1)]


class Order(BaseModel):
    order_id: uuid.UUID
    placed_at: datetime.datetime
    items: list[Item]
    note: str | None = None


def _fn_for(index: int) -> Any:
    kind = index % 4
    if kind == 0:

        def fn(order: Order, notify: bool = True) -> None: ...

    elif kind == 1:

        def fn(user_id: int, at: datetime.datetime, tags: list[str] | None = None) -> None: ...  # type: ignore[misc]

    elif kind == 2:

        def fn(
            key: uuid.UUID, mode: Literal["a", "b"] = "a", extra: dict[str, float] | None = None
        ) -> None: ...  # type: ignore[misc]

    else:

        def fn(path: str, size: Annotated[int, Field(gt=0)] = 1, *rest: int) -> None: ...  # type: ignore[misc]

    fn.__name__ = f"actor_{index:04d}"
    return fn


def run_once(actors: int) -> tuple[float, float]:
    start = time.perf_counter()
    broker = StubBroker()
    broker.add_middleware(PayloadGateway())
    for index in range(actors):
        dramatiq.actor(_fn_for(index), broker=broker, queue_name=f"q{index % 20}")
    declared = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        write(Path(folder), render(broker))
    return declared - start, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--actors", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    options = parser.parse_args()
    results = [run_once(options.actors) for _ in range(options.runs)]
    declare = statistics.median(r[0] for r in results)
    total = statistics.median(r[1] for r in results)
    print(
        f"{options.actors} actors: declare {declare:.2f} s, declare + generate + write {total:.2f} s (median of {options.runs})"
    )


if __name__ == "__main__":
    main()

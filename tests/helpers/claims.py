"""What the claim check's tests share: a gateway with a claim check on a StubBroker, a worker, recorders."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import dramatiq
from dramatiq.brokers.stub import StubBroker

from actorschema import PayloadGateway, observe
from actorschema.claims import ClaimCheck

#: The size limit of the test gateways: BIG does not fit inline.
LIMIT = 2_000
BIG = "x" * 20_000


class Events(observe.NullObserver):
    """Records the claim-check events the gateway and the guard report."""

    def __init__(self) -> None:
        self.offloaded: list[tuple[str, str, int]] = []
        self.failed: list[tuple[str, str, str]] = []

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


def claims_broker(store: Any, **options: Any) -> tuple[StubBroker, PayloadGateway]:
    broker = StubBroker()
    broker.emit_after("process_boot")
    gateway = PayloadGateway(max_message_bytes=LIMIT, claim_check=ClaimCheck(store, **options))
    broker.add_middleware(gateway)
    dramatiq.set_broker(broker)
    return broker, gateway


@contextmanager
def recording() -> Iterator[Events]:
    """Hear the claim-check events while the block runs."""
    recorder = Events()
    observe.add_observer(recorder)
    try:
        yield recorder
    finally:
        observe.remove_observer(recorder)

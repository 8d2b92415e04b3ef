"""actorschema in one file, on Dramatiq's in-memory StubBroker (no server needed).

Run it with ``python examples/quickstart.py``. It shows a valid send (and the
canonical message that is stored), a rejected non-JSON send and a rejected
oversized send, then runs a real Dramatiq worker on what was accepted.
"""

from __future__ import annotations

import datetime

import dramatiq
from dramatiq import Worker
from dramatiq.brokers.stub import StubBroker
from pydantic import BaseModel

from actorschema import NonJSONPayload, PayloadGateway, PayloadTooLarge

broker = StubBroker()
broker.add_middleware(PayloadGateway())  # before declaring actors that use max_message_bytes
dramatiq.set_broker(broker)


class ResizeJob(BaseModel):
    source: str  # a path or an object-store key, not the image itself
    width: int
    requested_at: datetime.datetime


@dramatiq.actor
def resize(job: ResizeJob, quality: int = 80) -> None:
    print(f"  worker: resizing {job['source']} to {job['width']}px at quality {quality}")


@dramatiq.actor
def audit(event: dict) -> None:  # type: ignore[type-arg]
    print(f"  worker: audit {event}")


@dramatiq.actor(max_message_bytes=1024)
def notify(user_id: int, text: str) -> None:
    print(f"  worker: notify user {user_id}: {text}")


def main() -> None:
    now = datetime.datetime(2024, 5, 1, 12, 0, tzinfo=datetime.UTC)

    print("1. a valid send is stored in canonical form: arguments by name, JSON values")
    resize.send(ResizeJob(source="s3://photos/cat.png", width=640, requested_at=now), 90)
    print("  stored:", next(iter(broker.queues["default"].queue)).decode())

    print("2. a datetime in an untyped parameter is rejected, with its path and what to send instead")
    try:
        audit.send({"user": 7, "at": now})
    except NonJSONPayload as error:
        print(f"  rejected: {type(error).__name__}\n{error}")

    print("3. a message over its actor's 1,024-byte limit is rejected before it reaches the broker")
    try:
        notify.send(7, "x" * 5000)
    except PayloadTooLarge as error:
        print(f"  rejected: {type(error).__name__}\n{error}")

    print(f"queued: {broker.queues['default'].qsize()} message(s); running a worker on them")
    worker = Worker(broker, worker_timeout=100)
    worker.start()
    broker.join("default")
    worker.stop()
    print("done")


if __name__ == "__main__":
    main()

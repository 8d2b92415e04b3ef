"""actorschema in one file, on Dramatiq's in-memory StubBroker (no server needed).

Run it with ``python examples/quickstart.py``. It shows a valid send (and the
canonical message that is stored), a rejected non-JSON send and a rejected
oversized send, then runs a real Dramatiq worker: the accepted message arrives
with its declared types, and a malformed message written straight into the
queue by some other producer is dead-lettered with its reason, not run.
"""

from __future__ import annotations

import datetime
import json

import dramatiq
from dramatiq import Worker
from pydantic import BaseModel

from actorschema import NonJSONPayload, PayloadGateway, PayloadTooLarge, dead_letter_reasons
from actorschema.brokers import StubBroker  # Dramatiq's, with a consumer that dead-letters malformed bodies

broker = StubBroker()
broker.add_middleware(PayloadGateway())  # before declaring actors that use max_message_bytes
dramatiq.set_broker(broker)


class ResizeJob(BaseModel):
    source: str  # a path or an object-store key, not the image itself
    width: int
    requested_at: datetime.datetime


@dramatiq.actor
def resize(job: ResizeJob, quality: int = 80) -> None:
    # Typed delivery: a ResizeJob with a datetime inside, not the dict that was stored.
    print(
        f"  worker: resizing {job.source} to {job.width}px at quality {quality} ({job.requested_at:%Y-%m-%d})"
    )


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

    print("4. another producer writes a message straight into the queue, with a width that is not an int")
    stored = json.loads(next(iter(broker.queues["default"].queue)))
    stored["kwargs"]["job"]["width"] = "wide"
    broker.queues["default"].put(json.dumps(stored).encode())

    print(f"queued: {broker.queues['default'].qsize()} message(s); running a worker on them")
    worker = Worker(broker, worker_timeout=100)
    worker.start()
    broker.join("default", fail_fast=False)
    worker.stop()
    for reason in dead_letter_reasons(broker, "default").values():
        print(
            f"  dead-lettered, not run: {reason['violations'][0]['path']}: {reason['violations'][0]['problem']}"
        )
    print("done")


if __name__ == "__main__":
    main()

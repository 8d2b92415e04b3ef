"""The app the fault tests run under Dramatiq's own CLI: ``dramatiq fault_app:setup``.

One actor, ``typed(n, when, item)`` (the actor of ``tests/helpers/malformed.py``), on
a drop-in broker of :mod:`actorschema.brokers` with the gateway. Each run
appends one JSON line to a side store (a file opened with ``O_APPEND``, so
the lines of several worker processes never interleave): the message id, its
``n``, the pid and broker id of the worker that ran it, whether the broker
said it was a redelivery, and whether the arguments arrived typed. The tests
count by message id from that file, so a worker killed with SIGKILL loses
nothing it had already recorded.

Configured by the environment (``setup`` reads it; the test process calls
``build`` and ``declare`` directly):

* ``FAULT_BROKER``: ``redis`` or ``rabbitmq``;
* ``FAULT_URL``: the server's URL;
* ``FAULT_QUEUE``: the queue;
* ``FAULT_STORE``: the side store's path;
* ``FAULT_WORK_SECONDS``: how long each run takes (so that a batch is in flight).
"""

from __future__ import annotations

import datetime
import json
import os
import time
from typing import Any

import dramatiq
from dramatiq.middleware import CurrentMessage
from helpers.malformed import Item

from actorschema import PayloadGateway

#: On Redis, how soon (ms) a worker that stopped fetching counts as dead and its
#: unacked messages go back to the queue. Dramatiq's default is 60 s: a real
#: deployment waits that long for the messages of a killed worker.
HEARTBEAT_TIMEOUT_MS = 1_500


def build(kind: str, url: str) -> dramatiq.Broker:
    """A drop-in broker of ``kind`` at ``url``, with CurrentMessage and the gateway.

    Parameters:
      kind: ``redis`` or ``rabbitmq``.
      url: The server's URL.
    """
    broker: dramatiq.Broker
    if kind == "redis":
        from actorschema.brokers import RedisBroker

        # Maintenance (requeueing a dead worker's messages) on every fetch, not 0.1% of them.
        broker = RedisBroker(url=url, heartbeat_timeout=HEARTBEAT_TIMEOUT_MS, maintenance_chance=1_000_000)
    elif kind == "rabbitmq":
        from actorschema.brokers import RabbitmqBroker

        # Confirmed publishes: a send that returned is on the broker's disk (persistent, durable).
        broker = RabbitmqBroker(url=url, confirm_delivery=True)
    else:
        raise ValueError(f"FAULT_BROKER must be redis or rabbitmq, not {kind!r}")
    broker.add_middleware(CurrentMessage())
    broker.add_middleware(PayloadGateway())
    return broker


def declare(broker: dramatiq.Broker, queue: str, store: str, work_seconds: float) -> Any:
    """Declare ``typed`` on ``broker``: it records each run in ``store``, then sleeps ``work_seconds``.

    ``max_retries=0``: a run that raises is dead-lettered at once, so a test sees it.
    """
    broker_id = getattr(broker, "broker_id", None)

    def typed(n: int, when: datetime.datetime, item: Item) -> None:
        message: Any = CurrentMessage.get_current_message()
        record = {
            "id": message.message_id,
            "n": n,
            "pid": os.getpid(),
            "broker": broker_id,
            "redelivered": bool(getattr(message, "redelivered", False)),
            "typed": isinstance(when, datetime.datetime) and isinstance(item, Item),
        }
        time.sleep(work_seconds)
        line = (json.dumps(record) + "\n").encode()
        descriptor = os.open(store, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(descriptor, line)
        finally:
            os.close(descriptor)

    return dramatiq.actor(typed, broker=broker, queue_name=queue, max_retries=0)


def setup() -> None:
    """Dramatiq's CLI calls this (``dramatiq fault_app:setup``): build the broker the environment names."""
    broker = build(os.environ["FAULT_BROKER"], os.environ["FAULT_URL"])
    dramatiq.set_broker(broker)
    declare(
        broker, os.environ["FAULT_QUEUE"], os.environ["FAULT_STORE"], float(os.environ["FAULT_WORK_SECONDS"])
    )

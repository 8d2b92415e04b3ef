"""Running a real Dramatiq Worker over a StubBroker in a test."""

from __future__ import annotations

from dramatiq import Worker
from dramatiq.brokers.stub import StubBroker


def drain(broker: StubBroker, *queues: str, threads: int = 2, fail_fast: bool = False) -> None:
    """Run a real Worker until every message of ``queues`` (``"default"`` when none) is done, then stop it.

    Parameters:
      broker: The broker whose queues to work off.
      queues: The queues to wait for (their delay queues are joined with them).
      threads: Worker threads: 1 where a test needs the messages run one after the other.
      fail_fast: Raise the first failed message's exception from the join.
    """
    worker = Worker(broker, worker_timeout=20, worker_threads=threads)
    worker.start()
    try:
        for queue in queues or ("default",):
            broker.join(queue, fail_fast=fail_fast, timeout=20_000)
        worker.join()
    finally:
        worker.stop()

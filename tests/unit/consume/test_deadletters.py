"""actorschema.consume.deadletters: the reason kept beside each dead letter, and reading the reasons back."""

from __future__ import annotations

import json
import time
from typing import Any

import dramatiq
import pytest
from dramatiq.brokers.redis import RedisBroker
from hypothesis import given
from hypothesis import strategies as st

from actorschema import PayloadGateway
from actorschema.brokers import StubBroker
from actorschema.consume.deadletters import (
    REJECTION_ATTRIBUTE,
    dead_letter_reasons,
    reason_record,
    reasons_key,
    store_redis_reason,
    text_of,
)
from actorschema.errors import MessageMalformed, NonJSONPayload, PayloadInvalid, Violation

QUEUES = st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True)


def test_the_record_says_which_actor_which_message_what_was_wrong_and_what_to_send() -> None:
    rejection = PayloadInvalid(
        "resize", [Violation("kwargs.width", "'wide' is not an int", "a value of type int")]
    )
    before = int(time.time() * 1000)
    record = reason_record(rejection, message_id="m-1", queue_name="images")
    after = int(time.time() * 1000)
    assert before <= record.pop("dead_lettered_at") <= after
    assert record == {
        "actor": "resize",
        "message_id": "m-1",
        "queue": "images",
        "reason": PayloadInvalid.title,
        "violations": [
            {"path": "kwargs.width", "problem": "'wide' is not an int", "hint": "a value of type int"}
        ],
        "error": str(rejection),
    }
    assert json.loads(json.dumps(record)) == {**record}


@given(QUEUES, st.sampled_from(["", ".DQ", ".XQ"]))
def test_a_queue_and_its_delay_queue_keep_their_reasons_beside_one_dead_letter_queue(
    queue: str, suffix: str
) -> None:
    assert reasons_key("dramatiq", queue + suffix) == f"dramatiq:{queue}.XQ.reasons"


def test_reasons_are_read_back_from_the_stub_brokers_dead_letters_by_message_id() -> None:
    broker = StubBroker()
    broker.add_middleware(PayloadGateway())
    dramatiq.set_broker(broker)

    @dramatiq.actor(broker=broker, queue_name="jobs")
    def job(n: int) -> None:
        pass

    good = job.message(1)
    broker.enqueue(good)
    bad = job.message().copy(kwargs={"n": "two"})
    broker.queues["jobs"].put(bad.encode())
    broker.queues["jobs"].put(b"not json")
    worker = dramatiq.Worker(broker, worker_timeout=50, worker_threads=1)
    worker.start()
    try:
        broker.join("jobs", fail_fast=False)
        worker.join()
    finally:
        worker.stop()
    reasons = dead_letter_reasons(broker, "jobs")
    # An undecodable body has no message id: it is listed by its place among the dead letters.
    dead = broker.dead_letters_by_queue["jobs"]
    [index] = [i for i, letter in enumerate(dead) if not isinstance(getattr(letter, "message_id", None), str)]
    assert len(dead) == 2
    assert set(reasons) == {bad.message_id, f"undecodable:{index}"}
    assert reasons[f"undecodable:{index}"]["reason"] == MessageMalformed.title
    assert reasons[bad.message_id]["violations"][0]["path"] == "kwargs.n"
    assert reasons[bad.message_id]["actor"] == "job"
    assert dead_letter_reasons(broker, "other") == {}
    broker.close()


def test_a_dead_letter_without_a_rejection_has_no_reason() -> None:
    broker = StubBroker()
    broker.dead_letters_by_queue["jobs"].append(object())
    marked = type("Proxy", (), {"message_id": "m-9"})()
    setattr(marked, REJECTION_ATTRIBUTE, NonJSONPayload("job", [Violation("args[0]", "NaN")]))
    broker.dead_letters_by_queue["jobs"].append(marked)
    assert list(dead_letter_reasons(broker, "jobs")) == ["m-9"]
    broker.close()


def test_a_broker_without_dead_letter_reasons_is_named() -> None:
    with pytest.raises(TypeError, match="cannot read dead-letter reasons from a object"):
        dead_letter_reasons(object(), "jobs")


def test_on_redis_a_stored_reason_reads_back_and_expires_with_the_dead_letters(redis_server: Any) -> None:
    broker = RedisBroker(url=redis_server.url, namespace="deadletters-test", dead_message_ttl=60_000)
    try:
        broker.client.delete(reasons_key("deadletters-test", "jobs"))
        text = json.dumps({"actor": "job", "message_id": "m-1", "violations": []})
        store_redis_reason(broker, "jobs.DQ", "rid-1", text)
        assert dead_letter_reasons(broker, "jobs") == {"rid-1": json.loads(text)}
        assert 0 < broker.client.pttl(reasons_key("deadletters-test", "jobs")) <= 60_000
    finally:
        broker.client.delete(reasons_key("deadletters-test", "jobs"))
        broker.close()


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",))))
def test_redis_replies_read_as_text_decoded_or_not(text: str) -> None:
    assert text_of(text) == text
    assert text_of(text.encode()) == text

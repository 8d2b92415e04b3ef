"""The envelope's fields: one rule each, applied alike by the schema, the worker and ``validate``.

For ``message_id``, ``message_timestamp``, ``queue_name``, ``actor_name``,
``args``, ``kwargs`` and ``options`` (as a whole) of a ``refund`` message (examples/shop.py), each value is judged by
the committed schema (``jsonschema``, formats asserted and not), by the worker
(its real decoding of the stored bytes, then its whole consume check) and by
``actorschema validate``; all three must agree.

What the schema cannot know, it cannot state: which queue a producer pushed
to. The worker requires ``queue_name`` to be the queue it consumed the message
from; the schema allows the actor's queue and its delay queue, so each message
here is consumed from the queue it names. The worker also reads the legacy
positional form (arguments in ``args``), which the schema does not describe:
a producer that follows the schema never sends it, and the tests of that form
are in test_differential.py. And an ``actor_name`` no schema describes is not
the envelope's business: ``validate`` reports the unknown actor, and the
worker leaves it to Dramatiq (its actor may be declared in another process).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

import examples.shop as shop
from actorschema import PayloadGateway, PayloadRejected
from actorschema.consume.envelope import decode_message
from actorschema.validate import load_schemas, validate_message

ROOT = Path(__file__).resolve().parents[3]
CATALOGUE = load_schemas(ROOT / "schemas")
SCHEMA = CATALOGUE.actors["refund"].schema
GATEWAY = next(m for m in shop.broker.middleware if isinstance(m, PayloadGateway))

UUID_TEXT = "0b9e6a52-7d3c-4b8e-9f21-3c1e2f4a5b6c"
VALID: dict[str, Any] = {
    "queue_name": "orders",
    "actor_name": "refund",
    "args": [],
    "kwargs": {
        "order_id": UUID_TEXT,
        "amount": "1.50",
        "reason": "damaged",
        "requested_at": "2024-05-01T00:00:00Z",
    },
    "options": {},
    "message_id": UUID_TEXT,
    "message_timestamp": 1_714_555_800_000,
}

#: (field, value, the one verdict expected of all three)
CASES: list[tuple[str, Any, bool]] = [
    ("message_id", "9c2edf6b-ab4a-4d4d-8b15-a03a0d0f63ca", True),
    ("message_id", UUID_TEXT.upper(), True),
    ("message_id", "00000000-0000-0000-0000-000000000000", True),
    ("message_id", "id", False),
    ("message_id", "", False),
    ("message_id", "urn:uuid:" + UUID_TEXT, False),
    ("message_id", "{" + UUID_TEXT + "}", False),
    ("message_id", UUID_TEXT.replace("-", ""), False),
    ("message_id", UUID_TEXT + "\n", False),
    ("message_id", " " + UUID_TEXT, False),
    ("message_id", 5, False),
    ("message_id", None, False),
    ("message_timestamp", 0, True),
    ("message_timestamp", 1_714_555_800_000.0, True),  # JSON semantics: an integer written as a float
    ("message_timestamp", 2**63, True),
    ("message_timestamp", -1, False),
    ("message_timestamp", 1.5, False),
    ("message_timestamp", "1714555800000", False),
    ("message_timestamp", True, False),
    ("message_timestamp", None, False),
    ("queue_name", "orders", True),
    ("queue_name", "", False),
    ("queue_name", 5, False),
    ("queue_name", "orders.DQ", False),  # a delayed message says when it is due: options.eta
    ("actor_name", "", False),
    ("actor_name", 5, False),
    ("actor_name", None, False),
    ("actor_name", "place_order", False),  # another actor: its contract, which these kwargs break
    ("args", [], True),
    ("args", {}, False),
    ("args", "x", False),
    ("kwargs", [], False),
    ("kwargs", {}, False),
    ("options", [], False),
]


def worker_accepts(message: dict[str, Any]) -> bool:
    """The worker's real decoding of the stored bytes, from the queue they name, then its consume check."""
    body = json.dumps(message).encode()
    queue = message["queue_name"] if type(message["queue_name"]) is str else "orders"
    try:
        decoded = decode_message(body, queue)
        GATEWAY.consume_guard.check(shop.broker, decoded)
    except PayloadRejected:
        return False
    return True


@pytest.mark.parametrize(("field", "value", "expected"), CASES, ids=[f"{f}={v!r}" for f, v, _ in CASES])
def test_schema_worker_and_validate_agree_on_each_envelope_field(
    field: str, value: Any, expected: bool
) -> None:
    message = copy.deepcopy(VALID)
    message[field] = value
    verdicts = {
        "schema, formats asserted": Draft202012Validator(
            SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER
        ).is_valid(message),
        "schema, formats as annotations": Draft202012Validator(SCHEMA).is_valid(message),
        "worker": worker_accepts(message),
        "actorschema validate": validate_message(CATALOGUE, message, None) == [],
    }
    assert verdicts == dict.fromkeys(verdicts, expected)


def test_a_delayed_message_is_judged_alike_on_its_delay_queue() -> None:
    message = {**copy.deepcopy(VALID), "queue_name": "orders.DQ", "options": {"eta": 1_714_555_900_000}}
    assert Draft202012Validator(SCHEMA).is_valid(message)
    assert worker_accepts(message)
    assert validate_message(CATALOGUE, message, None) == []


def test_the_worker_says_what_message_id_to_send() -> None:
    message = {**copy.deepcopy(VALID), "message_id": "order-7"}
    with pytest.raises(PayloadRejected) as caught:
        decode_message(json.dumps(message).encode(), "orders")
    [violation] = caught.value.violations
    assert violation.path == "message_id"
    assert "uuid" in violation.hint.lower()
    [finding] = validate_message(CATALOGUE, message, None)
    assert finding.path == "$.message_id" and "uuid" in finding.reason


message_ids = st.one_of(
    st.uuids().map(str),
    st.uuids().map(lambda value: str(value).upper()),
    st.uuids().map(lambda value: value.hex),
    st.uuids().map(lambda value: value.urn),
    st.uuids().map(lambda value: "{" + str(value) + "}"),
    st.uuids().map(lambda value: str(value) + "\n"),
    st.text(alphabet="0123456789abcdefABCDEF-g \n", min_size=30, max_size=40),
    st.text(max_size=10),
)
timestamps = st.one_of(
    st.integers(-(2**64), 2**64), st.floats(allow_nan=False, allow_infinity=False), st.booleans(), st.none()
)


@settings(max_examples=300, deadline=None)
@given(message_id=message_ids, timestamp=timestamps)
def test_schema_worker_and_validate_agree_on_generated_ids_and_timestamps(
    message_id: str, timestamp: Any
) -> None:
    message = {**copy.deepcopy(VALID), "message_id": message_id, "message_timestamp": timestamp}
    verdicts = {
        "schema, formats asserted": Draft202012Validator(
            SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER
        ).is_valid(message),
        "schema, formats as annotations": Draft202012Validator(SCHEMA).is_valid(message),
        "worker": worker_accepts(message),
        "actorschema validate": validate_message(CATALOGUE, message, None) == [],
    }
    assert len(set(verdicts.values())) == 1, verdicts

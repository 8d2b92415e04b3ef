"""actorschema.app_encoder: what the gateway does with the app's own Dramatiq encoder.

The start-up line (what is and is not supported, per kind of encoder), and the
worker's two readings of a message an app's encoder decoded, on any value: see
``tests/brokers/test_redis_app_encoders.py`` for old producers' messages on a real Redis.
"""

from __future__ import annotations

import datetime
import logging
import uuid
from typing import Any

import dramatiq
import pytest
from dramatiq import Message, Worker
from dramatiq.brokers.stub import StubBroker
from dramatiq.encoder import JSONEncoder, PickleEncoder
from helpers.app_encoders import ENCODERS, Customer, IsoEncoder, TaggedEncoder
from helpers.hint_corpus import aware, json_values, keys
from hypothesis import given, settings
from hypothesis import strategies as st

from actorschema import PayloadGateway
from actorschema.app_encoder import describe, encoder_kind


@pytest.mark.parametrize(
    ("encoder", "kind"),
    [
        (JSONEncoder(), "json"),
        (TaggedEncoder(), "custom-json"),
        (IsoEncoder(), "custom-json"),
        (PickleEncoder(), "opaque"),
    ],
)
def test_the_start_up_line_says_what_is_and_is_not_supported(encoder: Any, kind: str) -> None:
    assert encoder_kind(encoder) == kind
    text = describe(encoder)
    if kind == "json":
        assert text is None
    elif kind == "custom-json":
        assert text is not None and "JSON on the wire" in text and type(encoder).__qualname__ in text
    else:
        assert text is not None and "Not supported" in text and "Existing encoders" in text


# -- any value, through each encoder, on the worker's check ----------------------------

_PROPERTY_BROKER = StubBroker()
_PROPERTY_GATEWAY = PayloadGateway()
_PROPERTY_BROKER.add_middleware(_PROPERTY_GATEWAY)


def _property_book(
    when: datetime.datetime, who: Customer, ref: uuid.UUID, extra: dict[str, Any] | None = None
) -> None:
    pass


_PROPERTY_ACTOR = dramatiq.actor(_property_book, broker=_PROPERTY_BROKER)
_BARE = StubBroker()  # an old producer: no gateway
_BARE_ACTOR = dramatiq.actor(_property_book, broker=_BARE)


@given(
    encoder=st.sampled_from(sorted(ENCODERS)),
    when=aware,
    who=st.builds(Customer, id=st.integers(-(2**53), 2**53), name=st.text(max_size=5)),
    ref=st.uuids(),
    # Keys like "__datetime__" would be the app encoder's own tags: not what a user sends.
    extra=st.none()
    | st.dictionaries(keys.filter(lambda key: not key.startswith("__")), json_values, max_size=3),
    positional=st.booleans(),
)
@settings(max_examples=60, deadline=None)
def test_what_an_old_producer_sent_reaches_the_actor_as_it_was_sent(
    encoder: str, when: datetime.datetime, who: Customer, ref: uuid.UUID, extra: Any, positional: bool
) -> None:
    dramatiq.set_encoder(ENCODERS[encoder]())
    try:
        values = {"when": when, "who": who, "ref": ref, "extra": extra}
        sent = _BARE_ACTOR.message(*values.values()) if positional else _BARE_ACTOR.message(**values)
        # As Dramatiq's consumer reads it: the app's decode() of the bytes the old producer stored.
        consumed = Message(**dramatiq.get_encoder().decode(sent.encode()))
        delivery = _PROPERTY_GATEWAY.consume_guard.check(_PROPERTY_BROKER, consumed)
    finally:
        dramatiq.set_encoder(JSONEncoder())
    assert delivery is not None
    names = list(values)
    got = {**dict(zip(names, delivery.args, strict=False)), **delivery.kwargs}
    assert got["when"] == when and type(got["when"]) is datetime.datetime
    assert got["who"] == who and got["ref"] == ref
    # The untyped parameter gets what the app's decode() gave, as before the upgrade.
    decoded_extra = consumed.args[3] if positional else consumed.kwargs["extra"]
    assert got["extra"] == decoded_extra


def test_the_line_is_said_once_at_declare_and_again_at_worker_boot_if_the_encoder_changed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    broker = StubBroker()
    gateway = PayloadGateway()
    broker.add_middleware(gateway)
    caplog.set_level(logging.INFO, logger="actorschema")
    try:
        dramatiq.set_encoder(TaggedEncoder())
        for name in ("one", "two"):
            dramatiq.actor(_property_book, broker=broker, actor_name=name)
        dramatiq.set_encoder(PickleEncoder())  # set after the actors were imported
        worker = Worker(broker, worker_timeout=50, worker_threads=1)
        worker.start()
        worker.stop()
    finally:
        dramatiq.set_encoder(JSONEncoder())
    said = [
        (r.levelno, r.getMessage().split(":")[0])
        for r in caplog.records
        if "global encoder is" in r.getMessage()
    ]
    assert said == [(logging.INFO, "actorschema (declare)"), (logging.WARNING, "actorschema (worker boot)")]

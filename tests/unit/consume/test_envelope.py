"""The envelope check: its fast path for the common case never accepts what the full check refuses."""

from __future__ import annotations

import copy
import json
from typing import Any

import msgspec
import pytest
from dramatiq import Message
from hypothesis import given, settings
from hypothesis import strategies as st

import actorschema._dramatiq as coupling
import actorschema.message as envelope  # the envelope rules live with the message format
from actorschema.consume.envelope import STRICTLY_DECODED, decode_message, decode_strict_json, received_size
from actorschema.errors import MessageMalformed
from actorschema.message import CONSUMED_OPTIONS, envelope_violations

VALID = {
    "queue_name": "q",
    "actor_name": "a",
    "args": [],
    "kwargs": {"n": 1},
    "options": {"redis_message_id": "r", "retries": 1},
    "message_id": "0b9e6a52-7d3c-4b8e-9f21-3c1e2f4a5b6c",
    "message_timestamp": 1,
}
VALID_ID = VALID["message_id"]
values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 5)
    | st.floats(-5, 5)
    | st.sampled_from(
        ["", "q", "a", "x", "q.DQ", VALID_ID, VALID_ID.upper(), VALID_ID + "\n", "urn:uuid:" + VALID_ID]
    ),
    lambda children: (
        st.lists(children, max_size=2) | st.dictionaries(st.sampled_from(["q", "x"]), children, max_size=2)
    ),
    max_leaves=4,
)
names = st.sampled_from([*VALID, *CONSUMED_OPTIONS, "pipe_target", "eta", "extra"])


@st.composite
def envelopes(draw: st.DrawFn) -> dict[str, Any]:
    fields = copy.deepcopy(VALID)
    for _ in range(draw(st.integers(0, 3))):
        where = draw(st.sampled_from(["top", "options"]))
        target = fields if where == "top" or type(fields.get("options")) is not dict else fields["options"]
        name = draw(names)
        if draw(st.booleans()) and name in target:
            del target[name]
        else:
            target[name] = copy.deepcopy(draw(values))
    return fields


@pytest.mark.slow
@settings(max_examples=1500, deadline=None)
@given(fields=envelopes(), consumed_from=st.sampled_from([None, "q", "q.DQ", "other"]))
def test_the_fast_path_agrees_with_the_full_check(fields: dict[str, Any], consumed_from: str | None) -> None:
    fast = envelope_violations(fields, queue_name=consumed_from)
    with pytest.MonkeyPatch.context() as patched:
        patched.setattr(envelope, "_plainly_valid", lambda fields, queue_name: False)
        full = envelope_violations(fields, queue_name=consumed_from)
    assert fast == full


@pytest.mark.parametrize(
    ("body", "path"),
    [
        (b"\xff", "$"),
        (b"[]", "$"),
        (b'{"queue_name": "q"}', "actor_name"),
        (b'"\\ud800"', "$"),
        (b"1e400", "$"),
    ],
)
def test_undecodable_bodies_name_where_they_break(body: bytes, path: str) -> None:
    with pytest.raises(MessageMalformed) as caught:
        decode_message(body, "q")
    assert path in caught.value.paths


def test_the_fast_path_takes_the_valid_envelope() -> None:
    """Else the agreement test above would only ever compare the full check with itself."""
    assert envelope._plainly_valid(VALID, "q")
    assert not envelope._plainly_valid({**VALID, "message_id": "id"}, "q")
    assert not envelope._plainly_valid({**VALID, "queue_name": "q.DQ"}, "q.DQ")  # no eta


_OPTION_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=8)
)


@settings(max_examples=100, deadline=None)
@given(
    options=st.dictionaries(
        st.sampled_from([*sorted(envelope.BOOKKEEPING_OPTIONS), "max_retries", "x", "é:"]),
        _OPTION_VALUES,
        max_size=6,
    ),
    size=st.integers(0, 10**6),
)
def test_the_received_size_leaves_out_exactly_the_options_dramatiq_writes(
    options: dict[str, Any], size: int
) -> None:
    # The definition: the body less what writing the bookkeeping options adds to the options object.
    own = {k: v for k, v in options.items() if k not in envelope.BOOKKEEPING_OPTIONS}
    expected = size - (len(msgspec.json.encode(options)) - len(msgspec.json.encode(own)))
    assert received_size(size, options) == expected


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=100, deadline=None)
@given(
    args=st.lists(_JSON, max_size=3),
    kwargs=st.dictionaries(st.text(max_size=6), _JSON, max_size=3),
    options=st.dictionaries(st.sampled_from(["redis_message_id", "x", "max_retries"]), st.integers(0, 9)),
    order=st.permutations(list(VALID)),
    compact=st.booleans(),
)
def test_a_decoded_message_is_the_one_dramatiqs_constructor_builds(
    args: list[Any], kwargs: dict[str, Any], options: dict[str, Any], order: list[str], compact: bool
) -> None:
    """decode_message fills the Message's __dict__ instead of running its __init__: the very same message."""
    fields = {**VALID, "args": args, "kwargs": kwargs, "options": {**options, "redis_message_id": "r"}}
    fields = {name: fields[name] for name in order}  # the body's field order is the producer's
    body = msgspec.json.encode(fields) if compact else json.dumps(fields).encode()
    built: Message[Any] = Message(**copy.deepcopy(fields))
    decoded = decode_message(body, "q")
    with pytest.MonkeyPatch.context() as patched:
        patched.setattr(coupling, "_FIELDS_AS_GIVEN", False)  # another Dramatiq: the constructor
        constructed = decode_message(body, "q")
    for message in (decoded, constructed):
        assert type(message) is Message and message == built and type(message.args) is tuple
        assert vars(message) == {**vars(built), STRICTLY_DECODED: len(body)}
        assert message.asdict() == built.asdict() and message.copy().asdict() == built.copy().asdict()


def test_the_pinned_dramatiq_takes_the_fast_construction() -> None:
    """Else the test above would only ever compare the constructor with itself."""
    assert coupling._FIELDS_AS_GIVEN


@settings(max_examples=60, deadline=None)
@given(
    escapes=st.lists(st.sampled_from(["\\u003a", "\\u003A"]), min_size=1, max_size=3),
    text=st.lists(st.sampled_from(["a", "b c", "\\n", "\\u0041"]), max_size=4),
    spaced=st.booleans(),
)
def test_a_duplicate_hidden_by_as_many_escaped_colons_is_refused(
    escapes: list[str], text: list[str], spaced: bool
) -> None:
    """The colon counts of the body and of its re-encoding agree here: only the escape search finds it.

    Each dropped member takes one colon out of the re-encoding; each ``\\u003a`` in the value
    that survives puts one back (msgspec writes it as a plain colon).
    """
    colon = ": " if spaced else ":"
    value = "".join(text + escapes)
    members = [f'"k"{colon}{n}' for n in range(len(escapes))] + [f'"k"{colon}"{value}"']
    body = ("{" + (", " if spaced else ",").join(members) + "}").encode()
    again = msgspec.json.encode(json.loads(body))
    assert body.count(b":") == again.count(b":")  # the counts alone cannot tell
    with pytest.raises(ValueError, match="duplicate key 'k'"):
        decode_strict_json(body)

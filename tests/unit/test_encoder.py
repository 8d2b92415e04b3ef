"""actorschema.encoder: encode once, strictly, and hand exactly the measured bytes to the broker.

``encode_strict`` returns the bytes when the sent values are strict JSON and raises
``NonJSONPayload`` with every violation, by path, when they are not. Its soundness is a
property over every value, JSON or not: bytes imply no violation, a refusal names exactly
what ``find_violations`` finds, and the bytes decode to the data. ``PreparedEncoding`` stands in for one ``message.encode()``: it returns the
measured bytes once, and asks for a new check if the message changed in between.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Mapping
from typing import Any

import dramatiq
import pytest
from dramatiq import Message
from dramatiq.encoder import JSONEncoder, PickleEncoder
from hypothesis import given, settings
from hypothesis import strategies as st

from actorschema.encoder import PreparedEncoding, _surely_finite, encode_message, encode_strict
from actorschema.errors import NonJSONPayload
from actorschema.message import message_fields
from actorschema.strict_json import find_violations, has_non_finite_float

JSON_SCALARS = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text()
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
# Anything a user may pass: non-finite floats, lone surrogates, non-str keys, tuples, sets, bytes.
ANY_VALUES = st.recursive(
    JSON_SCALARS
    | st.floats()
    | st.text(alphabet=st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1, max_size=2)
    | st.binary(max_size=4)
    | st.builds(object),
    lambda children: (
        st.lists(children, max_size=3)
        | st.tuples(children, children)
        | st.frozensets(st.integers(), max_size=2)
        | st.dictionaries(st.integers() | st.text(max_size=4), children, max_size=3)
    ),
    max_leaves=12,
)


def message(args: tuple[Any, ...] = (), kwargs: dict[str, Any] | None = None, **options: Any) -> Message[Any]:
    return Message(queue_name="q", actor_name="act", args=args, kwargs=kwargs or {}, options=options)


def data_of(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    return message_fields(message(), args, kwargs)


@settings(max_examples=60, deadline=None)
@given(st.lists(JSON_VALUES, max_size=3), st.dictionaries(st.text(max_size=8), JSON_VALUES, max_size=3))
def test_strict_json_is_encoded_to_json_that_decodes_to_the_data(
    args: list[Any], kwargs: dict[str, Any]
) -> None:
    data = data_of(tuple(args), kwargs)
    body = encode_strict("act", data)
    # Tuples (Dramatiq's args) become arrays; everything else reads back as it was.
    assert json.loads(body) == {**data, "args": args}


@settings(max_examples=120, deadline=None)
@given(st.lists(ANY_VALUES, max_size=3), st.dictionaries(st.text(max_size=4), ANY_VALUES, max_size=3))
def test_bytes_only_for_values_without_a_violation(args: list[Any], kwargs: dict[str, Any]) -> None:
    found = [*find_violations(list(args), ("args",)), *find_violations(kwargs, ("kwargs",))]
    try:
        encode_strict("act", data_of(tuple(args), kwargs))
    except NonJSONPayload as error:
        assert error.actor_name == "act"
        assert list(error.violations) == found != []
    else:
        assert found == []


@pytest.mark.parametrize(
    "value",
    [
        math.nan,
        math.inf,
        -math.inf,
        [1.0, {"x": math.nan}],
        "\ud800",
        {1: "int key"},
        b"bytes",
        {1, 2},
        object(),
    ],
    ids=["nan", "inf", "-inf", "nested-nan", "lone-surrogate", "int-key", "bytes", "set", "object"],
)
def test_values_json_cannot_hold_are_refused_with_their_path(value: Any) -> None:
    with pytest.raises(NonJSONPayload) as positional:
        encode_strict("act", data_of((value,), {}))
    assert positional.value.paths[0].startswith("args[0]")
    with pytest.raises(NonJSONPayload) as keyword:
        encode_strict("act", data_of((), {"v": value}))
    assert keyword.value.paths[0].startswith("kwargs.v")


class AllTyped:
    """A contract whose hints converted every keyword value: none of them is walked for shape."""

    def untyped(self, kwargs: Mapping[str, Any]) -> dict[str, Any]:
        return {}


def test_a_value_known_to_be_of_json_shape_is_not_walked_but_its_floats_are_still_checked() -> None:
    # The contract says ``v`` was converted (so of JSON shape); a NaN in it is still found
    # through the ``null`` msgspec wrote for it.
    with pytest.raises(NonJSONPayload) as error:
        encode_strict("act", data_of((), {"v": [1.5, math.nan]}), AllTyped())
    assert error.value.paths == ("kwargs.v[1]",)
    data = data_of((), {"v": "null"})
    assert encode_strict("act", data, AllTyped()) == encode_strict("act", data)


#: Every float there is, by its 64 bits: NaNs with any payload and sign, infinities, the largest finite ones.
EVERY_FLOAT = st.floats() | st.integers(0, 2**64 - 1).map(
    lambda bits: struct.unpack("<d", struct.pack("<Q", bits))[0]
)
FLOAT_VALUES = st.recursive(
    JSON_SCALARS | EVERY_FLOAT,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=4), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(st.lists(FLOAT_VALUES, max_size=3))
def test_values_are_cleared_of_non_finite_floats_only_when_they_hold_none(values: list[Any]) -> None:
    if _surely_finite(values):
        assert not any(map(has_non_finite_float, values))


@pytest.mark.parametrize(
    "bad", [math.nan, -math.nan, math.inf, -math.inf], ids=["nan", "-nan", "inf", "-inf"]
)
def test_a_non_finite_float_among_nulls_is_never_cleared_and_is_refused(bad: float) -> None:
    value = {"a": None, "b": [1.5, None, {"c": bad}], "d": "null"}
    assert not _surely_finite((value,))
    with pytest.raises(NonJSONPayload) as error:
        encode_strict("act", data_of((), {"v": value}), AllTyped())
    assert error.value.paths == ("kwargs.v.b[2].c",)


def test_nulls_beside_finite_floats_are_cleared_without_the_walk() -> None:
    # The common case the check is for: a model dump with optional fields left None.
    assert _surely_finite(({"note": None, "price": 12.5, "items": [{"w": 0.25, "tag": None}] * 20}, {}))


def test_encode_message_uses_a_custom_global_encoder() -> None:
    data = data_of((1, "two"), {"three": 3.0})
    assert type(dramatiq.get_encoder()) is JSONEncoder
    assert json.loads(encode_message(data)) == {**data, "args": [1, "two"]}
    pickle = PickleEncoder()
    dramatiq.set_encoder(pickle)
    try:
        assert encode_message(data) == pickle.encode(data)
    finally:
        dramatiq.set_encoder(JSONEncoder())


def test_the_prepared_bytes_are_returned_once_then_dramatiq_encodes_again() -> None:
    sent = message((1,), {"a": "b"})
    calls: list[Any] = []
    prepared = PreparedEncoding(sent, b"MEASURED", lambda *call: calls.append(call) or b"RECHECKED", ("ctx",))
    prepared.attach()
    assert sent.encode() == b"MEASURED"
    # One use: the next encode is Dramatiq's own, of the message as it stands.
    assert json.loads(sent.encode())["kwargs"] == {"a": "b"}
    assert calls == []


@pytest.mark.parametrize(
    "change",
    [
        lambda m: m.options.__setitem__("added", 1),
        lambda m: vars(m).__setitem__("kwargs", {"a": "changed"}),
        lambda m: vars(m).__setitem__("args", (2,)),
        lambda m: vars(m).__setitem__("queue_name", "other"),
    ],
    ids=["option-added", "kwargs-replaced", "args-replaced", "queue-renamed"],
)
def test_a_message_changed_after_the_check_is_checked_again(change: Any) -> None:
    sent = message((1,), {"a": "b"}, existing=True)
    calls: list[tuple[Any, ...]] = []

    def recheck(changed: Message[Any], *context: Any) -> bytes:
        calls.append((changed, *context))
        return b"RECHECKED"

    PreparedEncoding(sent, b"MEASURED", recheck, ("gateway", 7)).attach()
    change(sent)
    assert sent.encode() == b"RECHECKED"
    assert calls == [(sent, "gateway", 7)]


class Unequal:
    def __eq__(self, other: object) -> bool:
        raise RuntimeError("no comparing me")

    __hash__ = object.__hash__


def test_an_option_whose_comparison_raises_is_checked_again_never_skipped() -> None:
    sent = message(flag=Unequal())
    PreparedEncoding(sent, b"MEASURED", lambda *_: b"RECHECKED").attach()
    sent.options["flag"] = Unequal()  # another middleware replaced it: comparing it raises
    assert sent.encode() == b"RECHECKED"

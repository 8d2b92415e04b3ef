"""actorschema.encoder: encode once, strictly, and hand exactly the measured bytes to the broker.

``encode_strict`` is a shortcut: it returns bytes only when it is certain the sent values are
strict JSON, and ``None`` otherwise (the caller then asks ``find_violations``). Its soundness
is a property over every value, JSON or not: bytes imply no violation, and the bytes decode
to the data. ``PreparedEncoding`` stands in for one ``message.encode()``: it returns the
measured bytes once, and asks for a new check if the message changed in between.
"""

from __future__ import annotations

import json
import math
from typing import Any

import dramatiq
import pytest
from dramatiq import Message
from dramatiq.encoder import JSONEncoder, PickleEncoder
from hypothesis import given, settings
from hypothesis import strategies as st

from actorschema.encoder import PreparedEncoding, encode_message, encode_strict
from actorschema.message import message_fields
from actorschema.strict_json import find_violations

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
    body = encode_strict(data, [*args, *kwargs.values()], [*args, *kwargs.values()])
    assert body is not None
    # Tuples (Dramatiq's args) become arrays; everything else reads back as it was.
    assert json.loads(body) == {**data, "args": args}


@settings(max_examples=120, deadline=None)
@given(st.lists(ANY_VALUES, max_size=3), st.dictionaries(st.text(max_size=4), ANY_VALUES, max_size=3))
def test_bytes_only_for_values_without_a_violation(args: list[Any], kwargs: dict[str, Any]) -> None:
    values = [*args, *kwargs.values()]
    body = encode_strict(data_of(tuple(args), kwargs), values, values)
    if body is not None:
        assert find_violations(list(args), ("args",)) == []
        assert find_violations(kwargs, ("kwargs",)) == []


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
def test_values_json_cannot_hold_give_no_bytes(value: Any) -> None:
    assert encode_strict(data_of((value,), {}), [value], [value]) is None
    assert encode_strict(data_of((), {"v": value}), [value], [value]) is None


def test_a_value_known_to_be_of_json_shape_is_not_walked_but_its_floats_are_still_checked() -> None:
    # ``unshaped`` leaves out values already known to be of JSON shape; ``values`` still holds
    # every sent value, so a NaN among the known ones is found through the ``null`` it became.
    assert encode_strict(data_of((math.nan,), {}), [], [math.nan]) is None
    data = data_of(("null",), {})
    assert encode_strict(data, [], ["null"]) == encode_strict(data, ["null"], ["null"]) is not None


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

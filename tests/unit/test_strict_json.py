"""The strict JSON check: what it rejects, where it says the problem is, and that its two halves agree.

``find_violations`` is the definition (an empty list means strict JSON);
``is_strict_json`` is the fast, conservative pre-check (True means certainly
strict JSON). Every rejected kind is checked at a deep position so the path is
part of the assertion, and property tests plant one bad node anywhere in an
arbitrary strict JSON value and expect exactly that node's path back.
"""

from __future__ import annotations

import collections
import contextlib
import copy
import dataclasses
import datetime
import decimal
import enum
import json
import re
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import msgspec
import pydantic
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actorschema.errors import Violation
from actorschema.message import MESSAGE_FIELDS
from actorschema.paths import Path, render_path
from actorschema.strict_json import MAX_DEPTH, MAX_VIOLATIONS, find_violations, is_strict_json

PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# -- sample values of every rejected kind ---------------------------------------------------------------


class Color(str, enum.Enum):
    RED = "red"


class Priority(enum.IntEnum):
    HIGH = 1


class Shape(enum.Enum):
    SQUARE = "square"


class Tag(str):
    pass


class Count(int):
    pass


class Ratio(float):
    pass


class Row(dict):  # type: ignore[type-arg]
    pass


class Items(list):  # type: ignore[type-arg]
    pass


Point = collections.namedtuple("Point", "x y")


@dataclasses.dataclass
class Box:
    width: int = 1


class Opaque:
    pass


class Model(pydantic.BaseModel):
    x: int = 1


def violations(value: Any, path: Path = ()) -> list[tuple[str, str]]:
    return [(v.path, v.problem) for v in find_violations(value, path)]


def text_of(found: list[Violation]) -> str:
    return " ".join(f"{v.problem} {v.hint}" for v in found).lower()


# (value, words the problem or hint must mention, lower case)
REJECTED_VALUES = [
    pytest.param(
        datetime.datetime(2024, 5, 6, 7, 8, 9), ["datetime", "not json", "isoformat"], id="datetime"
    ),
    pytest.param(
        datetime.datetime(2024, 5, 6, tzinfo=datetime.UTC), ["datetime", "isoformat"], id="aware-datetime"
    ),
    pytest.param(datetime.date(2024, 5, 6), ["date", "not json", "isoformat"], id="date"),
    pytest.param(datetime.time(7, 8), ["time", "not json", "isoformat"], id="time"),
    pytest.param(datetime.timedelta(seconds=5), ["timedelta", "total_seconds"], id="timedelta"),
    pytest.param(uuid.UUID(int=7), ["uuid", "not json", "str(value)"], id="uuid"),
    pytest.param(decimal.Decimal("1.10"), ["decimal", "not json", "str(value)"], id="decimal"),
    pytest.param(b"\x00\xff", ["bytes", "not json", "base64"], id="bytes"),
    pytest.param(bytearray(b"ab"), ["bytearray", "not json", "base64"], id="bytearray"),
    pytest.param(memoryview(b"ab"), ["memoryview", "not json"], id="memoryview"),
    pytest.param({1, 2}, ["set", "not json", "list"], id="set"),
    pytest.param(frozenset({"a"}), ["frozenset", "not json", "list"], id="frozenset"),
    pytest.param(1 + 2j, ["complex", "not json"], id="complex"),
    pytest.param(Shape.SQUARE, ["enum member", "square", "value.value"], id="plain-enum"),
    pytest.param(Box(), ["box", "not json", "asdict"], id="dataclass"),
    pytest.param(Opaque(), ["opaque", "not json"], id="object"),
    pytest.param(Model(), ["model", "not json", "model_dump"], id="pydantic-model"),
    pytest.param(len, ["builtin_function_or_method", "not json"], id="function"),
    pytest.param((1, "a"), ["tuple", "arrives as a list"], id="tuple"),
    pytest.param((), ["tuple", "arrives as a list"], id="empty-tuple"),
    pytest.param(Point(1, 2), ["namedtuple", "point", "arrives as a list", "_asdict"], id="namedtuple"),
    pytest.param(Color.RED, ["enum member", "'red'", "bare value"], id="str-enum"),
    pytest.param(Priority.HIGH, ["enum member", "bare value 1"], id="int-enum"),
    pytest.param(Tag("x"), ["tag", "str subclass", "plain str"], id="str-subclass"),
    pytest.param(Count(3), ["count", "int subclass", "plain int"], id="int-subclass"),
    pytest.param(Ratio(0.5), ["ratio", "float subclass", "plain float"], id="float-subclass"),
    pytest.param(Row(a=1), ["row", "dict subclass", "plain dict"], id="dict-subclass"),
    pytest.param(collections.OrderedDict(a=1), ["ordereddict", "dict subclass"], id="ordereddict"),
    pytest.param(collections.defaultdict(list), ["defaultdict", "dict subclass"], id="defaultdict"),
    pytest.param(collections.Counter("ab"), ["counter", "dict subclass"], id="counter"),
    pytest.param(Items([1]), ["items", "list subclass", "plain list"], id="list-subclass"),
    pytest.param(float("nan"), ["nan", "cannot represent"], id="nan"),
    pytest.param(float("inf"), ["inf", "cannot represent"], id="infinity"),
    pytest.param(float("-inf"), ["-inf", "cannot represent"], id="-infinity"),
    pytest.param("\ud800", ["lone surrogate", "unicode"], id="lone-high-surrogate"),
    pytest.param("ok \udfff", ["lone surrogate"], id="lone-low-surrogate"),
    pytest.param("\ud800\udc00", ["lone surrogate"], id="surrogate-pair-as-two-code-points"),
]


@pytest.mark.parametrize(("bad", "words"), REJECTED_VALUES)
def test_rejected_value_reports_its_exact_path_and_what_is_wrong(bad: Any, words: list[str]) -> None:
    value = {"customer": {"name": "Ada", "tags": ["vip", 1, None, bad, 2.5]}}
    found = find_violations(value, ("kwargs",))
    assert [v.path for v in found] == ["kwargs.customer.tags[3]"]
    message = text_of(found)
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"
    assert found[0].hint, "every violation says what to send instead"
    assert is_strict_json(value) is False


@pytest.mark.parametrize(("bad", "words"), REJECTED_VALUES)
def test_rejected_value_at_the_root(bad: Any, words: list[str]) -> None:
    assert [v.path for v in find_violations(bad)] == ["$"]
    assert [v.path for v in find_violations(bad, ("args", 0))] == ["args[0]"]
    assert is_strict_json(bad) is False


@pytest.mark.parametrize(("bad", "words"), REJECTED_VALUES)
def test_rejected_value_as_a_dict_value_and_in_a_list(bad: Any, words: list[str]) -> None:
    assert [v.path for v in find_violations({"a": [{"b": bad}]}, ("kwargs",))] == ["kwargs.a[0].b"]
    assert [v.path for v in find_violations([[0, [1, bad]]], ("args",))] == ["args[0][1][1]"]


def test_violation_str_shows_path_problem_and_hint() -> None:
    (found,) = find_violations({"when": datetime.date(2024, 1, 1)}, ("kwargs",))
    text = str(found)
    assert text.startswith("kwargs.when: is a datetime.date, which is not JSON")
    assert "send instead:" in text


# -- exact types that are accepted -----------------------------------------------------------------------

ACCEPTED = [
    None,
    True,
    False,
    0,
    -(2**70),
    0.0,
    -0.0,
    1.5e300,
    5e-324,
    "",
    "plain",
    "héllo wörld ✓ 𝄞 \U0010ffff",
    "\x00 control \n",
    [],
    {},
    {"": None, "a b": [1, 2.5, "x"], "日本": {"nested": [[], {}]}},
    [None, True, 1, 1.0, "s", [], {}],
]


@pytest.mark.parametrize("value", ACCEPTED, ids=repr)
def test_plain_json_values_are_accepted(value: Any) -> None:
    assert find_violations(value) == []
    assert is_strict_json(value) is True
    assert json.loads(json.dumps(value, allow_nan=False)) == value


def test_shared_references_are_not_cycles() -> None:
    shared = {"id": 1, "tags": ["a"]}
    value = {"first": shared, "second": shared, "list": [shared, shared]}
    assert find_violations(value) == []
    assert is_strict_json(value) is True


# -- dict keys ---------------------------------------------------------------------------------------------

# (key, words the problem must mention)
BAD_KEYS = [
    pytest.param(1, ["key 1", "int", "'1'"], id="int"),
    pytest.param(-7, ["key -7", "'-7'"], id="negative-int"),
    pytest.param(1.5, ["key 1.5", "float", "'1.5'"], id="float"),
    pytest.param(True, ["key true", "bool", "'true'"], id="true"),
    pytest.param(False, ["'false'"], id="false"),
    pytest.param(None, ["key none", "'null'"], id="none"),
    pytest.param((1, 2), ["key (1, 2)", "tuple", "must be strings"], id="tuple"),
    pytest.param(frozenset({1}), ["frozenset", "must be strings"], id="frozenset"),
    pytest.param(Priority.HIGH, ["priority", "'1'"], id="int-enum"),
    pytest.param(Color.RED, ["color"], id="str-enum"),
    pytest.param(Tag("k"), ["tag"], id="str-subclass"),
    pytest.param(datetime.date(2024, 1, 1), ["date", "must be strings"], id="date"),
    pytest.param(uuid.UUID(int=1), ["uuid", "must be strings"], id="uuid"),
]


@pytest.mark.parametrize(("key", "words"), BAD_KEYS)
def test_non_str_key_is_reported_at_the_dict(key: Any, words: list[str]) -> None:
    value = {"customer": {"tags": [{"ok": 1, key: "v"}]}}
    found = find_violations(value, ("kwargs",))
    assert [v.path for v in found] == ["kwargs.customer.tags[0]"]
    message = text_of(found)
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"
    assert "str keys" in found[0].hint
    assert is_strict_json(value) is False


@pytest.mark.parametrize(
    ("key", "text"),
    [
        pytest.param(1, "1", id="int"),
        pytest.param(True, "true", id="true"),
        pytest.param(False, "false", id="false"),
        pytest.param(None, "null", id="none"),
        pytest.param(1.5, "1.5", id="float"),
        pytest.param(-0.0, "-0.0", id="negative-zero"),
        pytest.param(Priority.HIGH, "1", id="int-enum"),
    ],
)
def test_key_collision_is_reported(key: Any, text: str) -> None:
    value = {"a": {key: "lost", text: "kept"}}
    assert json.loads(json.dumps(value["a"])) == {text: "kept"}  # what JSON would do: one value is lost
    found = find_violations(value, ("kwargs",))
    assert {v.path for v in found} == {"kwargs.a"}
    collisions = [v for v in found if "collide" in v.problem]
    assert len(collisions) == 1
    assert repr(text) in collisions[0].problem
    assert "lost" in collisions[0].problem


@pytest.mark.parametrize(("key", "text"), [(float("inf"), "Infinity"), (float("-inf"), "-Infinity")])
def test_key_collision_with_non_finite_float_keys(key: float, text: str) -> None:
    assert list(json.loads(json.dumps({key: 1}))) == [text]
    found = find_violations({key: "lost", text: "kept"})
    assert any("collide" in v.problem for v in found)
    assert all("'inf'" not in v.problem for v in found)


@pytest.mark.parametrize("key", [None, 1.5, (1, 2), frozenset({1})], ids=repr)
def test_bad_value_under_a_non_str_key_is_reported(key: Any) -> None:
    found = find_violations({"a": {key: (1, 2)}}, ("kwargs",))
    assert len(found) == 2
    assert found[0].path == "kwargs.a"
    assert found[1].path.startswith("kwargs.a[")
    assert "tuple" in found[1].problem


def test_bad_value_under_an_int_key_is_reported() -> None:
    found = find_violations({"a": {3: (1, 2)}}, ("kwargs",))
    assert [v.path for v in found] == ["kwargs.a", "kwargs.a[3]"]


def test_key_collision_and_bad_values_in_the_same_dict_are_all_reported() -> None:
    value = {1: "a", "1": "b", "x": {1, 2}}
    found = find_violations(value, ("kwargs",))
    assert [v.path for v in found] == ["kwargs", "kwargs", "kwargs.x"]


@pytest.mark.parametrize("key", ["\ud800", "ok\udfff", "\udc00\ud800"])
def test_key_with_a_lone_surrogate_is_reported_at_the_key(key: str) -> None:
    value = {"customer": {key: 1}}
    found = find_violations(value, ("kwargs",))
    assert [v.path for v in found] == [render_path(("kwargs", "customer", key))]
    assert found[0].path.startswith('kwargs.customer["')
    assert "surrogate" in found[0].problem
    assert is_strict_json(value) is False


def test_lone_surrogate_key_path_is_escaped() -> None:
    found = find_violations({"headers": {"\ud800": "v"}}, ("kwargs",))
    assert [v.path for v in found] == ['kwargs.headers["\\ud800"]']
    found[0].path.encode("utf-8")  # the path itself can be logged


def test_surrogates_split_across_strings_are_not_joined_into_a_pair() -> None:
    # is_strict_json checks a whole level at once: two lone halves in
    # neighbouring strings must not pass as one valid pair.
    for value in (["\ud83d", "\ude00"], dict([("\ud83d", 1), ("\ude00", 2)]), {"a": "\ud83d", "b": "\ude00"}):
        assert is_strict_json(value) is False
        assert len(find_violations(value)) == 2


# -- paths -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ((), "$"),
        (("kwargs",), "kwargs"),
        (("args", 0), "args[0]"),
        ((0,), "[0]"),
        ((0, 1), "[0][1]"),
        ((-1,), "[-1]"),
        (("kwargs", "customer", "tags", 3), "kwargs.customer.tags[3]"),
        (("kwargs", "a", 0, "b"), "kwargs.a[0].b"),
        (("kwargs", "headers", "content-type"), 'kwargs.headers["content-type"]'),
        (("kwargs", "a.b"), 'kwargs["a.b"]'),
        (("kwargs", "a b"), 'kwargs["a b"]'),
        (("kwargs", ""), 'kwargs[""]'),
        (("kwargs", "0"), 'kwargs["0"]'),
        (("kwargs", "1st"), 'kwargs["1st"]'),
        (("kwargs", 'say "hi"'), 'kwargs["say \\"hi\\""]'),
        (("kwargs", "_private", "__dunder__"), "kwargs._private.__dunder__"),
        (("kwargs", "class"), "kwargs.class"),
        (("kwargs", "naïve"), "kwargs.naïve"),
        (("content-type",), '["content-type"]'),
        (("$",), '["$"]'),
        (("options", "pipe_target", "args", 1), "options.pipe_target.args[1]"),
    ],
)
def test_render_path(path: Path, text: str) -> None:
    assert render_path(path) == text


def test_render_path_accepts_any_iterable() -> None:
    assert render_path(iter(["kwargs", "x", 2])) == "kwargs.x[2]"
    assert render_path(["args", 0]) == "args[0]"


_TOKEN = re.compile(r'(\.?)([^.\[]+)|\[(-?\d+)\]|\[("(?:[^"\\]|\\.)*")\]')


def parse_path(text: str) -> Path:
    """The inverse of render_path, to show rendering loses nothing."""
    if text == "$":
        return ()
    parsed: list[str | int] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        assert match is not None, f"cannot parse {text!r} at {position}"
        dot, identifier, index, quoted = match.groups()
        if identifier is not None:
            assert identifier.isidentifier()
            assert bool(dot) == bool(parsed), "a dot before every identifier but the first"
            parsed.append(identifier)
        elif index is not None:
            parsed.append(int(index))
        else:
            parsed.append(json.loads(quoted))
        position = match.end()
    return tuple(parsed)


segments = st.one_of(st.integers(min_value=0, max_value=10**6), st.text(max_size=6))


@PROPERTY
@given(st.lists(segments, max_size=6))
def test_render_path_is_unambiguous(path: list[str | int]) -> None:
    text = render_path(path)
    assert parse_path(text) == tuple(path)


# -- cycles and depth --------------------------------------------------------------------------------------


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Raise TimeoutError in the main thread if the block runs longer than ``seconds``."""

    def on_alarm(signum: int, frame: Any) -> None:
        raise TimeoutError(f"still running after {seconds}s")

    previous_handler = signal.signal(signal.SIGALRM, on_alarm)
    previous_delay, previous_interval = signal.setitimer(signal.ITIMER_REAL, seconds)
    started = time.monotonic()
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous_handler)
        if previous_delay:  # give pytest-timeout's alarm back
            remaining = max(previous_delay - (time.monotonic() - started), 0.001)
            signal.setitimer(signal.ITIMER_REAL, remaining, previous_interval)


def test_dict_that_contains_itself() -> None:
    value: dict[str, Any] = {"name": "loop"}
    value["self"] = value
    with deadline(5):
        found = find_violations({"job": value}, ("kwargs",))
        assert is_strict_json(value) is False
    assert [v.path for v in found] == ["kwargs.job.self"]
    assert "circular" in found[0].problem


def test_list_that_contains_itself() -> None:
    value: list[Any] = [1, 2]
    value.append(value)
    with deadline(5):
        found = find_violations(value, ("args",))
        assert is_strict_json(value) is False
    assert [v.path for v in found] == ["args[2]"]
    assert "circular" in found[0].problem
    assert "ids" in found[0].hint


def test_indirect_cycle_through_dicts_and_lists() -> None:
    customer: dict[str, Any] = {"name": "Ada", "orders": []}
    order = {"id": 1, "customer": customer}
    customer["orders"].append(order)
    with deadline(5):
        found = find_violations({"customer": customer}, ("kwargs",))
        assert is_strict_json(customer) is False
    assert [v.path for v in found] == ["kwargs.customer.orders[0].customer"]


def test_several_back_links_are_each_reported() -> None:
    value: list[Any] = []
    value.extend([value, value])
    with deadline(5):
        found = find_violations(value)
    assert [v.path for v in found] == ["[0]", "[1]"]


def test_is_strict_json_on_a_branching_cycle_returns_promptly() -> None:
    value: list[Any] = []
    value.extend([value, value])
    with deadline(2):
        assert is_strict_json(value) is False


def nest_lists(levels: int) -> list[Any]:
    """``levels`` nested lists: nest_lists(1) == [], nest_lists(2) == [[]]."""
    value: list[Any] = []
    for _ in range(levels - 1):
        value = [value]
    return value


def nest_dicts(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": 1}
    for _ in range(levels - 1):
        value = {"k": value}
    return value


def test_depth_up_to_max_depth_is_accepted() -> None:
    for value in (nest_lists(MAX_DEPTH), nest_dicts(MAX_DEPTH)):
        assert find_violations(value) == []
        assert is_strict_json(value) is True
        assert json.loads(json.dumps(value)) == value


def test_depth_one_past_max_depth_is_rejected_at_the_deepest_container() -> None:
    found = find_violations(nest_lists(MAX_DEPTH + 1), ("args",))
    assert [v.path for v in found] == [render_path(("args", *[0] * MAX_DEPTH))]
    assert str(MAX_DEPTH) in found[0].problem
    assert "deeper" in found[0].problem
    assert is_strict_json(nest_lists(MAX_DEPTH + 1)) is False

    found = find_violations(nest_dicts(MAX_DEPTH + 1), ("kwargs",))
    assert [v.path for v in found] == [render_path(("kwargs", *["k"] * MAX_DEPTH))]
    assert is_strict_json(nest_dicts(MAX_DEPTH + 1)) is False


def test_mixed_nesting_counts_every_container() -> None:
    value: Any = 1
    for level in range(MAX_DEPTH):
        value = [value] if level % 2 else {"k": value}
    assert find_violations(value) == []
    assert is_strict_json(value) is True
    assert len(find_violations([value])) == 1
    assert is_strict_json([value]) is False


def test_very_deep_value_gives_a_violation_not_a_recursion_error() -> None:
    value = nest_lists(100_000)
    with deadline(10):
        found = find_violations(value, ("kwargs", "tree"))
        assert is_strict_json(value) is False
    assert len(found) == 1
    assert "deeper" in found[0].problem


def test_scalars_in_a_too_deep_container_are_not_reached() -> None:
    value: Any = [float("nan")]
    for _ in range(MAX_DEPTH):
        value = [value]
    found = find_violations(value)
    assert len(found) == 1
    assert "deeper" in found[0].problem


# -- the message-shaped exception -----------------------------------------------------------------------


def message(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "queue_name": "default",
        "actor_name": "step",
        "args": (1, "two"),
        "kwargs": {},
        "options": {},
        "message_id": "0f1e2d3c-0000-0000-0000-000000000000",
        "message_timestamp": 1700000000000,
    }
    data.update(overrides)
    return data


def test_message_fields_are_dramatiqs() -> None:
    import dramatiq

    assert set(
        dramatiq.Message(queue_name="q", actor_name="a", args=(), kwargs={}, options={}).asdict()
    ) == set(MESSAGE_FIELDS)


def test_args_tuple_is_accepted_in_a_nested_message() -> None:
    options = {"pipe_target": message(), "group_completion_callbacks": [message(args=())]}
    assert find_violations(options, ("options",)) == []
    assert find_violations(message()) == []


def test_values_inside_a_message_args_tuple_are_still_checked() -> None:
    options = {"pipe_target": message(args=(1, {2, 3}, (4,)))}
    found = find_violations(options, ("options",))
    assert [v.path for v in found] == ["options.pipe_target.args[1]", "options.pipe_target.args[2]"]


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(message(kwargs=(1,)), id="tuple-under-kwargs"),
        pytest.param(message(options={"x": (1,)}), id="tuple-in-options"),
        pytest.param(message(args=Point(1, 2)), id="namedtuple-args"),
        pytest.param({k: v for k, v in message().items() if k != "message_timestamp"}, id="missing-field"),
        pytest.param({**message(), "extra": 1}, id="extra-field"),
        pytest.param({"args": (1, 2)}, id="args-alone"),
    ],
)
def test_tuples_outside_the_args_of_an_exact_message_are_rejected(data: dict[str, Any]) -> None:
    found = find_violations({"pipe_target": data}, ("options",))
    assert len(found) == 1
    assert "tuple" in found[0].problem


def test_message_shaped_args_exception_does_not_leak_into_args_items() -> None:
    found = find_violations(message(args=((1, 2),)), ("options", "pipe_target"))
    assert [v.path for v in found] == ["options.pipe_target.args[0]"]


def test_nested_message_verdict_comes_from_find_violations() -> None:
    # The fast check may say "not sure" about the args tuple (it is conservative);
    # find_violations gives the verdict. With args as a list both accept it.
    assert find_violations({"pipe_target": message()}) == []
    assert is_strict_json({"pipe_target": message(args=[1, "two"])}) is True
    assert find_violations({"pipe_target": message(args=[1, "two"])}) == []


def test_a_long_pipeline_is_not_limited_by_max_depth() -> None:
    options: dict[str, Any] = {}
    for index in range(MAX_DEPTH * 2):
        options = {"pipe_target": message(args=(index,), options=options)}
    assert find_violations(options, ("options",)) == []


def test_a_cycle_through_nested_messages_is_reported() -> None:
    step = message()
    step["options"] = {"pipe_target": step}
    with deadline(5):
        found = find_violations({"pipe_target": step}, ("options",))
    assert [v.path for v in found] == ["options.pipe_target.options.pipe_target"]


# -- ordering and limits ---------------------------------------------------------------------------------


def test_violations_come_in_message_order() -> None:
    value = {"a": {1}, "b": [float("nan"), "ok", b""], "c": {"d": Color.RED}, 5: None}
    assert [v.path for v in find_violations(value, ("kwargs",))] == [
        "kwargs",
        "kwargs.a",
        "kwargs.b[0]",
        "kwargs.b[2]",
        "kwargs.c.d",
    ]


def test_at_most_max_violations_are_reported() -> None:
    value = [{i} for i in range(MAX_VIOLATIONS * 5)]
    found = find_violations(value, ("args",))
    assert [v.path for v in found] == [f"args[{i}]" for i in range(MAX_VIOLATIONS)]


def test_find_violations_does_not_mutate_its_input() -> None:
    value = {"a": [1, {2}], 3: (4,)}
    before = copy.deepcopy(value)
    find_violations(value)
    is_strict_json(value)
    assert value == before


# -- property tests ----------------------------------------------------------------------------------------

json_text = st.text(st.characters(codec="utf-8"), max_size=8)
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    json_text,
)
strict_json = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(json_text, inner, max_size=5),
    max_leaves=30,
)


@pytest.mark.slow
@PROPERTY
@given(strict_json)
def test_property_strict_json_is_accepted_and_survives_a_round_trip(value: Any) -> None:
    assert find_violations(value) == []
    assert is_strict_json(value) is True
    assert json.loads(json.dumps(value, allow_nan=False)) == value
    assert msgspec.json.decode(msgspec.json.encode(value)) == value


surrogate = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
surrogate_text = st.builds(lambda a, s, b: a + s + b, json_text, surrogate, json_text)

bad_values = st.one_of(
    st.datetimes(),
    st.dates(),
    st.times(),
    st.timedeltas(),
    st.sets(st.integers(), max_size=3),
    st.frozensets(json_text, max_size=3),
    st.tuples(json_scalars),
    st.lists(json_scalars, max_size=3).map(tuple),
    st.builds(Point, json_scalars, json_scalars),
    st.sampled_from([float("nan"), float("inf"), float("-inf")]),
    st.decimals(),
    st.uuids(),
    st.binary(max_size=8),
    st.binary(max_size=8).map(bytearray),
    st.sampled_from([Color.RED, Priority.HIGH, Shape.SQUARE]),
    st.dictionaries(json_text, json_scalars, max_size=3).map(collections.OrderedDict),
    st.lists(json_scalars, max_size=3).map(Items),
    st.text(max_size=3).map(Tag),
    st.integers().map(Count),
    surrogate_text,
    st.builds(Box),
    st.builds(Opaque),
    st.complex_numbers(),
)


@dataclasses.dataclass(frozen=True)
class Plant:
    """How to plant one bad node: replace the node at a position, or wrap it under a bad key."""

    kind: str  # "value", "key" (non-str key) or "surrogate-key"
    bad: Any

    def apply(self, old: Any) -> Any:
        return self.bad if self.kind == "value" else {self.bad: old}

    def offset(self) -> Path:
        return (self.bad,) if self.kind == "surrogate-key" else ()


plants = st.one_of(
    st.builds(Plant, st.just("value"), bad_values),
    st.builds(
        Plant,
        st.just("key"),
        st.one_of(st.integers(), st.none(), st.booleans(), st.floats(), st.tuples(st.integers())),
    ),
    st.builds(Plant, st.just("surrogate-key"), surrogate_text),
)


def positions(value: Any, path: Path = ()) -> Iterator[Path]:
    yield path
    if type(value) is dict:
        for key, item in value.items():
            yield from positions(item, (*path, key))
    elif type(value) is list:
        for index, item in enumerate(value):
            yield from positions(item, (*path, index))


def replaced(root: Any, path: Path, make: Callable[[Any], Any]) -> Any:
    if not path:
        return make(root)
    parent = root
    for segment in path[:-1]:
        parent = parent[segment]
    parent[path[-1]] = make(parent[path[-1]])
    return root


@pytest.mark.slow
@PROPERTY
@given(strict_json, plants, st.data(), st.sampled_from([(), ("kwargs",), ("args", 0)]))
def test_property_one_planted_node_is_found_at_its_exact_path(
    value: Any, plant: Plant, data: st.DataObject, prefix: Path
) -> None:
    where = data.draw(st.sampled_from(list(positions(value))), label="position")
    planted = replaced(copy.deepcopy(value), where, plant.apply)
    expected = render_path((*prefix, *where, *plant.offset()))
    assert is_strict_json(planted) is False
    assert [v.path for v in find_violations(planted, prefix)] == [expected]


bad_keys = st.one_of(st.integers(), st.none(), st.booleans(), st.floats(), surrogate_text, json_text)
# Keys that render_path can put in a path; a bad value under any other key
# crashes find_violations (see test_bad_value_under_a_non_str_key_is_reported).
renderable_keys = st.one_of(st.integers(), st.booleans(), surrogate_text, json_text)
mixed = st.recursive(
    json_scalars | bad_values | surrogate_text,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(json_text, inner, max_size=4),
        st.dictionaries(bad_keys, json_scalars, max_size=4),
        st.dictionaries(renderable_keys, inner, max_size=4),
        st.lists(inner, max_size=3).map(tuple),
        st.dictionaries(json_text, inner, max_size=3).map(collections.OrderedDict),
    ),
    max_leaves=20,
)


@pytest.mark.slow
@PROPERTY
@given(st.one_of(strict_json, mixed))
def test_property_the_fast_check_agrees_with_the_definition(value: Any) -> None:
    found = find_violations(value)
    fast = is_strict_json(value)
    if fast:
        assert found == []
    # Without nested Dramatiq messages the fast check is also exact: no strict value is sent
    # down the slow path (a performance property, stronger than the documented contract).
    assert fast is (found == [])
    assert len(found) <= MAX_VIOLATIONS
    if not found:
        assert json.loads(json.dumps(value, allow_nan=False)) == value
        assert msgspec.json.decode(msgspec.json.encode(value)) == value


@PROPERTY
@given(mixed)
def test_property_every_rejected_value_changes_or_fails_in_json(value: Any) -> None:
    """What find_violations rejects really is not plain JSON: encoding fails or the value changes."""
    if find_violations(value):
        try:
            text = json.dumps(value, allow_nan=False, ensure_ascii=False)
            text.encode("utf-8")
            again = json.loads(text)
        except (TypeError, ValueError):  # UnicodeEncodeError is a ValueError
            return
        assert not json_identical(again, value)


def json_identical(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if type(a) is dict:
        return list(a) == list(b) and all(json_identical(a[k], b[k]) for k in a)
    if type(a) is list:
        return len(a) == len(b) and all(json_identical(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def test_int_too_long_for_json_is_rejected() -> None:
    huge = 10**5000
    with pytest.raises(ValueError):
        json.dumps(huge)
    assert find_violations({"n": huge}) != []

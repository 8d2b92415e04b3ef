"""actorschema.limits: which size limit applies to a message, and what made a message large."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from actorschema.limits import (
    ACTOR_OPTION,
    DEFAULT_MAX_MESSAGE_BYTES,
    SizeLimit,
    largest_paths,
    resolve_limit,
)
from actorschema.paths import render_path

LIMITS = st.none() | st.integers(min_value=0, max_value=10**9)


def size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def test_the_default_is_256_kib() -> None:
    assert DEFAULT_MAX_MESSAGE_BYTES == 256 * 1024


@given(
    actor=st.none() | st.tuples(LIMITS),
    queue=st.none() | st.tuples(LIMITS),
    global_limit=LIMITS,
    suffix=st.sampled_from(["", ".DQ", ".XQ"]),
)
def test_the_actor_then_the_queue_then_the_global_limit_applies(
    actor: tuple[int | None] | None, queue: tuple[int | None] | None, global_limit: int | None, suffix: str
) -> None:
    # A level that is set applies even when it says None ("no limit"); an unset level does not.
    actor_options = {ACTOR_OPTION: actor[0]} if actor is not None else {"max_retries": 3}
    queue_limits = {"orders": queue[0]} if queue is not None else {"other": 1}
    found = resolve_limit(actor_options, "orders" + suffix, queue_limits, global_limit)
    if actor is not None:
        assert found == SizeLimit(actor[0], "actor")
    elif queue is not None:
        # The delay and dead-letter queues have their queue's limit.
        assert found == SizeLimit(queue[0], "queue")
    else:
        assert found == SizeLimit(global_limit, "global")


def test_a_blob_deep_in_a_model_is_named_by_its_own_path() -> None:
    blob = "x" * 5_000
    pieces = {
        "args": [1],
        "kwargs": {"order": {"id": 7, "lines": [{"sku": "A"}, {"sku": "B", "photo": blob}]}, "note": "hi"},
        "options": {},
    }
    found = largest_paths(pieces, size)
    assert found[0] == ("kwargs.order", size(pieces["kwargs"]["order"]))
    # The small values (a tenth of the largest or less) are not listed as causes.
    assert ("kwargs.note", size("hi")) not in found and ("args[0]", 1) not in found
    assert found[-1] == ("kwargs.order.lines[1].photo", size(blob))
    assert [path for path, _ in found] == [
        "kwargs.order",
        "kwargs.order.lines",
        "kwargs.order.lines[1]",
        "kwargs.order.lines[1].photo",
    ]


def test_drilling_stops_where_no_single_child_holds_most_of_the_size() -> None:
    halves = {"left": "l" * 1_000, "right": "r" * 1_000}
    found = largest_paths({"args": [], "kwargs": {"both": halves}, "options": {}}, size)
    assert found == [("kwargs.both", size(halves))]


def test_no_pieces_name_nothing() -> None:
    assert largest_paths({"args": [], "kwargs": {}, "options": {}}, size) == []


def value_at(pieces: dict[str, Any], steps: list[str | int]) -> Any:
    value: Any = pieces
    for step in steps:
        value = value[step]
    return value


JSON = st.recursive(
    st.integers() | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.sampled_from("abcd"), children, max_size=4)
    ),
    max_leaves=25,
)


@settings(max_examples=80, deadline=None)
@given(
    st.lists(JSON, max_size=4),
    st.dictionaries(st.sampled_from(["x", "y", "z"]), JSON, max_size=3),
    st.integers(min_value=1, max_value=4),
)
def test_every_named_path_exists_and_its_size_is_measured(
    args: list[Any], kwargs: dict[str, Any], top: int
) -> None:
    pieces = {"args": args, "kwargs": kwargs, "options": {}}
    found = largest_paths(pieces, size, top=top)
    everything = {}

    def walk(value: Any, steps: list[str | int]) -> None:
        everything[render_path(tuple(steps))] = size(value)
        children = (
            value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else []
        )
        for key, child in children:
            walk(child, [*steps, key])

    for root in ("args", "kwargs"):
        for key, child in pieces[root].items() if isinstance(pieces[root], dict) else enumerate(pieces[root]):
            walk(child, [root, key])
    for path, measured in found:
        assert everything[path] == measured
    tops = sorted((s for p, s in everything.items() if p.count(".") + p.count("[") == 1), reverse=True)
    if tops:
        # The first is the largest top-level value, and at most ``top`` top-level values are listed.
        assert found[0][1] == tops[0]
        assert sum(1 for path, _ in found if path.count(".") + path.count("[") == 1) <= top
    else:
        assert found == []

"""The per-thread state the guard and the gateway's wrapper share: one object per thread, taken once."""

from __future__ import annotations

import threading
from typing import Any

from actorschema.delivery import Delivery, ThreadState, here


def test_each_thread_has_its_own_state_and_keeps_it() -> None:
    mine = here()
    assert type(mine) is ThreadState and here() is mine
    mine.actor_depth, mine.in_worker = 1, True
    seen: list[Any] = []

    def other() -> None:
        state = here()
        seen.append((state is mine, state is here(), state.actor_depth, state.in_worker, state.delivery))

    try:
        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
    finally:
        mine.actor_depth, mine.in_worker = 0, False
    assert seen == [(False, True, 0, False, None)]


def test_a_delivery_is_taken_once_and_only_by_the_call_it_was_made_for() -> None:
    raw_kwargs = {"when": "2024-01-01T00:00:00Z"}
    delivery = Delivery("book", (), raw_kwargs, (), {"when": object()})
    state = here()
    try:
        state.delivery = delivery
        assert state.take_delivery("book", (), dict(raw_kwargs)) is delivery  # equal values, the same objects
        assert state.take_delivery("book", (), raw_kwargs) is None  # taken: a nested call gets nothing
        state.delivery = delivery
        assert state.take_delivery("other", (), raw_kwargs) is None  # another actor's call
        assert state.delivery is None  # and it is gone all the same
    finally:
        state.delivery = None

"""What ``actorschema generate`` writes (actorschema.generate and actorschema.catalogue), and how ``check`` compares.

The folder is a pure function of the app: the same actors give the same bytes, the index
names each file with its hash, ``write`` touches only what changed and removes only schema
files of actors that are gone, and ``compare`` finds every way a folder differs.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import dramatiq
from dramatiq.brokers.stub import StubBroker
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actorschema import PayloadGateway
from actorschema.catalogue import INDEX, RESULT_SUFFIX, SUFFIX, compare, write
from actorschema.generate import render

NAMES = ("alpha", "beta", "gamma", "delta")


def app(names: tuple[str, ...] | list[str], **gateway_options: Any) -> StubBroker:
    """A StubBroker with the gateway and one actor per name, each with a different signature."""
    broker = StubBroker()
    broker.add_middleware(PayloadGateway(**gateway_options))
    for index, name in enumerate(names):

        def fn(n: int, text: str = "", *, flag: bool = False) -> int:
            return n

        fn.__annotations__["n"] = [int, str, float, bool][index % 4]
        dramatiq.actor(fn, broker=broker, actor_name=name, queue_name=f"q{index % 2}")
    return broker


def test_the_index_names_each_file_with_its_hash_queue_and_limit() -> None:
    broker = app(["alpha", "beta"], queue_limits={"q1": 1_000})
    files = render(broker)
    assert sorted(files) == sorted(
        [
            INDEX,
            "alpha" + RESULT_SUFFIX,
            "alpha" + SUFFIX,
            "beta" + RESULT_SUFFIX,
            "beta" + SUFFIX,
        ]
    )
    index = json.loads(files[INDEX])
    assert index["generator"] == "actorschema" and index["format"] == 1
    for name, queue, limit, source in [("alpha", "q0", 262_144, "global"), ("beta", "q1", 1_000, "queue")]:
        entry = index["actors"][name]
        assert entry["queue"] == queue
        assert (entry["max_message_bytes"], entry["limit_source"]) == (limit, source)
        assert entry["schema"] == name + SUFFIX
        assert entry["sha256"] == hashlib.sha256(files[name + SUFFIX].encode()).hexdigest()
        assert entry["result_sha256"] == hashlib.sha256(files[entry["result_schema"]].encode()).hexdigest()
    # Deterministic text: sorted keys, two-space indent, a trailing newline.
    for text in files.values():
        assert text == json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def test_the_same_app_gives_the_same_bytes() -> None:
    assert render(app(NAMES)) == render(app(NAMES))


def test_write_touches_only_what_changed_and_compare_sees_it(tmp_path: Path) -> None:
    out = tmp_path / "schemas"
    files = render(app(["alpha", "beta"]))
    assert sorted(write(out, files)) == sorted(files)
    assert write(out, files) == []
    assert compare(out, files) == []
    # A hand edit is stale, a deleted file missing, an unknown schema file extra.
    (out / ("alpha" + SUFFIX)).write_text("{}\n")
    (out / ("beta" + SUFFIX)).unlink()
    (out / ("ghost" + SUFFIX)).write_text("{}\n")
    found = {(d.name, d.kind) for d in compare(out, files)}
    assert found == {("alpha" + SUFFIX, "stale"), ("beta" + SUFFIX, "missing"), ("ghost" + SUFFIX, "extra")}
    stale = next(d for d in compare(out, files) if d.kind == "stale")
    assert stale.diff.startswith(f"--- alpha{SUFFIX} (committed)\n+++ alpha{SUFFIX} (generated)\n")
    assert sorted(write(out, files)) == sorted(["alpha" + SUFFIX, "beta" + SUFFIX, "ghost" + SUFFIX])
    assert compare(out, files) == []


def test_write_removes_only_schema_files_of_actors_that_are_gone(tmp_path: Path) -> None:
    out = tmp_path / "schemas"
    write(out, render(app(["alpha", "beta", "gamma"])))
    (out / "README.md").write_text("kept\n")
    (out / "notes.json").write_text("{}\n")
    touched = write(out, render(app(["alpha"])), keep=frozenset({"gamma" + SUFFIX}))
    assert sorted(touched) == sorted(
        [INDEX, "beta" + SUFFIX, "beta" + RESULT_SUFFIX, "gamma" + RESULT_SUFFIX]
    )
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [INDEX, "README.md", "notes.json", "alpha" + SUFFIX, "alpha" + RESULT_SUFFIX, "gamma" + SUFFIX]
    )


def test_compare_on_a_folder_that_does_not_exist_lists_every_file_missing(tmp_path: Path) -> None:
    files = render(app(["alpha"]))
    assert sorted((d.name, d.kind) for d in compare(tmp_path / "none", files)) == sorted(
        (name, "missing") for name in files
    )


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(NAMES), unique=True), st.lists(st.sampled_from(NAMES), unique=True))
def test_after_write_the_folder_holds_exactly_the_apps_files(
    tmp_path: Path, before: list[str], after: list[str]
) -> None:
    out = tmp_path / "-".join(["x", *before, "to", *after])
    write(out, render(app(before)))
    files = render(app(after))
    write(out, files)
    assert compare(out, files) == []
    assert {p.name: p.read_text() for p in out.iterdir()} == files

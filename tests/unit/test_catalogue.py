"""actorschema.catalogue: the schema folder, read by one strict loader that validate and diff share.

The two readers (``validate``'s catalogue and ``diff``'s folders) once had a
loader each and disagreed: these tests hold every reader to the stricter rule
of the two, and check that they accept and refuse the same folders.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers.generated import generate
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from servers import need

from actorschema.catalogue import INDEX, CatalogueError, digest, dump, load_folder
from actorschema.compat import CompatError, diff, diff_transitive
from actorschema.validate import load_schemas

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "schemas"


def copy(tmp_path: Path) -> Path:
    folder = tmp_path / "schemas"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(SCHEMAS, folder)
    return folder


def edit(folder: Path, actor: str, file_key: str, text: str) -> None:
    """Write ``text`` as ``actor``'s ``file_key`` file, with its hash updated: only the content is wrong."""
    index = json.loads((folder / INDEX).read_text())
    entry = index["actors"][actor]
    (folder / entry[file_key]).write_text(text)
    entry["sha256" if file_key == "schema" else "result_sha256"] = digest(text)
    (folder / INDEX).write_text(dump(index))


def refused_by_both(folder: Path, match: str) -> None:
    with pytest.raises(CatalogueError, match=match):
        load_folder(folder)
    with pytest.raises(CatalogueError, match=match):
        load_schemas(folder)


def test_the_committed_folder_reads_the_same_for_every_reader() -> None:
    folder = load_folder(SCHEMAS)
    catalogue = load_schemas(SCHEMAS)
    assert (
        sorted(folder)
        == sorted(catalogue.actors)
        == ["make_thumbnail", "place_order", "refund", "send_email"]
    )
    for name, entry in catalogue.actors.items():
        assert (
            entry.schema
            == folder[name]["schema"]
            == json.loads((SCHEMAS / f"{name}.schema.json").read_text())
        )
        assert entry.max_message_bytes == folder[name]["max_message_bytes"]
        assert list(entry.positional) == folder[name].get("positional", [])
    thumbnail = json.loads((SCHEMAS / "make_thumbnail.result-schema.json").read_text())
    assert folder["make_thumbnail"]["result_schema"] == thumbnail
    assert CompatError is CatalogueError  # diff's error is the catalogue's


def test_stricter_of_the_two_old_loaders(tmp_path: Path) -> None:
    folder = copy(tmp_path)
    schema = (folder / "refund.schema.json").read_text()
    # diff read schemas with json.loads: a duplicate key (the last wins) was accepted.
    assert '\n  "type": "object"' in schema
    edit(folder, "refund", "schema", schema.replace("{", '{"type": "array",', 1))
    refused_by_both(folder, "refund.schema.json is not strict JSON: .*duplicate")
    # diff checked draft 2020-12 validity in the CLI only; validate did it in its loader.
    edit(folder, "refund", "schema", '{"type": 12}\n')
    refused_by_both(folder, "refund.schema.json: not a valid draft 2020-12 schema")
    edit(folder, "refund", "schema", "[1, 2]\n")
    refused_by_both(folder, "refund.schema.json is not a JSON object")

    folder = copy(tmp_path)
    # validate did not read result schemas: an edited one went unnoticed.
    path = folder / "make_thumbnail.result-schema.json"
    path.write_text(path.read_text().replace('"type"', '"type" ', 1))
    refused_by_both(folder, "make_thumbnail.result-schema.json does not match its sha256")

    folder = copy(tmp_path)
    index = json.loads((folder / INDEX).read_text())
    index["actors"]["refund"]["positional_only"] = -1  # diff did not look at the binding fields
    (folder / INDEX).write_text(dump(index))
    refused_by_both(folder, "'positional_only' is not a count")
    index["actors"]["refund"]["positional_only"] = 0
    index["actors"]["refund"]["schema"] = "../refund.schema.json"  # diff followed any path
    shutil.copy(folder / "refund.schema.json", tmp_path / "refund.schema.json")
    (folder / INDEX).write_text(dump(index))
    refused_by_both(folder, "'schema' names no file of the folder")


def test_a_file_that_is_not_utf8_is_refused_not_a_traceback(tmp_path: Path) -> None:
    folder = copy(tmp_path)
    (folder / "refund.schema.json").write_bytes(b'{"title": "\xff"}')
    index = json.loads((folder / INDEX).read_text())
    index["actors"]["refund"].pop("sha256")
    (folder / INDEX).write_text(dump(index))
    refused_by_both(folder, "refund.schema.json is not strict JSON")


ENTRY_VALUES = (
    st.none()
    | st.booleans()
    | st.integers(-2, 300_000)
    | st.sampled_from(
        ["refund.schema.json", "orders", "x.schema.json", "../refund.schema.json", "", "a/b.json"]
    )
)
FIELDS = [
    "queue",
    "schema",
    "sha256",
    "max_message_bytes",
    "limit_source",
    "positional",
    "positional_only",
    "var_positional",
    "result_schema",
    "result_sha256",
]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    changes=st.dictionaries(
        st.sampled_from(FIELDS), ENTRY_VALUES | st.lists(ENTRY_VALUES, max_size=3), max_size=3
    ),
    removed=st.sets(st.sampled_from(FIELDS), max_size=2),
)
def test_validate_and_diff_accept_and_refuse_the_same_folders(
    tmp_path: Path, changes: dict[str, Any], removed: set[str]
) -> None:
    folder = tmp_path / "one"
    folder.mkdir(exist_ok=True)
    shutil.copy(SCHEMAS / "refund.schema.json", folder)
    index = json.loads((SCHEMAS / INDEX).read_text())
    index["actors"] = {"refund": index["actors"]["refund"]}  # one actor: cheap to read twice per example
    entry = index["actors"]["refund"]
    for key in removed:
        entry.pop(key, None)
    entry.update(changes)
    (folder / INDEX).write_text(dump(index))
    outcomes = []
    for reader in (load_folder, load_schemas):
        try:
            reader(folder)
        except CatalogueError as error:
            assert str(error).count("\n") == 0
            outcomes.append("refused")
        else:
            outcomes.append("read")
    assert outcomes[0] == outcomes[1], (changes, removed, outcomes)
    if outcomes[0] == "read":  # what was read is what generate could have written
        read = load_folder(folder)["refund"]
        assert isinstance(read["schema"], dict) and read["schema_file"] == entry["schema"]
        assert read.get("max_message_bytes") is None or type(read["max_message_bytes"]) is int


def test_no_library_module_imports_the_cli() -> None:
    """The command line's dependencies (typer, rich) load only when a command runs."""
    program = """
import importlib, json, pathlib, sys
import actorschema
package = pathlib.Path(actorschema.__file__).parent
# Found on disk: pkgutil.walk_packages would import every subpackage, the CLI's included, to list it.
files = [p.relative_to(package.parent).with_suffix("") for p in sorted(package.rglob("*.py"))]
names = [".".join(f.parts[:-1] if f.name == "__init__" else f.parts) for f in files]
names = [n for n in names if n.split(".")[1:2] not in (["cli"], ["__main__"])]
for name in names:
    importlib.import_module(name)
print(json.dumps({"modules": names, "loaded": sorted(n for n in ("actorschema.cli", "typer", "rich") if n in sys.modules)}))
"""
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True, timeout=120, cwd=ROOT
    )
    report = json.loads(done.stdout)
    assert {"actorschema.catalogue", "actorschema.compat.compare", "actorschema.generate"} <= set(
        report["modules"]
    )
    assert report["loaded"] == []


# -- folders in git and broken folders, as `actorschema diff` reads them ------------------------------------


def one(order_id: int) -> None: ...
def one_required(order_id: int, note: str) -> None: ...
def renamed(order: int) -> None: ...


def git(repo: Path, *args: str) -> str:
    command = [
        "git",
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@example.com",
        "-c",
        "commit.gpgsign=false",
        *args,
    ]
    return subprocess.run(command, cwd=repo, check=True, capture_output=True, text=True).stdout


def test_git_ref_folders(tmp_path: Path) -> None:
    need("git")
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    generate({"task": one}, repo / "app" / "schemas")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "v1")
    generate({"task": one_required}, repo / "app" / "schemas")
    git(repo, "commit", "-q", "-am", "v2")
    generate({"task": renamed}, repo / "app" / "schemas")  # not committed

    v1 = load_folder("git:HEAD~1:app/schemas", cwd=repo)
    v2 = load_folder("git:HEAD:app/schemas", cwd=repo)
    working = load_folder("app/schemas", cwd=repo)
    assert v1["task"]["schema"]["properties"]["kwargs"]["required"] == ["order_id"]
    assert v1["task"]["queue"] == "default" and v1["task"]["schema_file"] == "task.schema.json"
    assert v2 != working and v1 != v2
    assert [c.rule for c in diff(v1, v2)] == ["PARAMETER_ADDED_REQUIRED"]
    assert {c.rule for c in diff(v2, working)} == {"PARAMETER_REMOVED", "PARAMETER_ADDED_REQUIRED"}
    # Relative to the working directory, like a plain path.
    assert load_folder("git:HEAD:./schemas", cwd=repo / "app") == v2
    assert diff_transitive([v1, v2], working) == diff(v1, working) + [
        c for c in diff(v2, working) if c not in diff(v1, working)
    ]
    with pytest.raises(CompatError, match=r"cannot read index\.json"):
        load_folder("git:no-such-ref:app/schemas", cwd=repo)
    with pytest.raises(CompatError, match="expected git:REF:path"):
        load_folder("git:HEAD", cwd=repo)


def test_folder_errors(tmp_path: Path) -> None:
    with pytest.raises(CompatError, match=r"cannot read index\.json"):
        load_folder(str(tmp_path / "nowhere"))
    folder = tmp_path / "schemas"
    generate({"task": one}, folder)
    schema_file = folder / "task.schema.json"
    schema_file.write_text(schema_file.read_text().replace('"order_id"', '"order"'))
    with pytest.raises(CompatError, match="does not match its sha256"):
        load_folder(str(folder))
    (folder / "index.json").write_text("[]")
    with pytest.raises(CompatError, match="no 'actors' object"):
        load_folder(str(folder))

"""The CLI never destroys and never shows a traceback: real ``python -m actorschema`` runs.

Exit codes: 0 all is well, 1 the check failed, 2 usage (a target without actors,
an actor without a contract, a folder or file that cannot be used). Whatever the
input, the output is findings or one line with the cause, never a traceback.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest
from helpers.cli import run_cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from actorschema import validate as validate_module
from actorschema.cli import app

# Real ``python -m actorschema`` runs, a new interpreter each, and hypothesis over them: minutes.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[3]
runner = CliRunner()

GOOD = '''
import dramatiq
from dramatiq.brokers.stub import StubBroker
from actorschema import PayloadGateway

broker = StubBroker()
broker.add_middleware(PayloadGateway())

@dramatiq.actor(broker=broker)
def greet(name: str, times: int = 1) -> None:
    """Say hello."""

@dramatiq.actor(broker=broker)
def lock_it(key: str) -> None:
    """Lock a key."""

@dramatiq.actor(broker=broker)
def later(when: int) -> None:
    """Run later."""
'''

# The same app after a bad edit: two actors whose hints make no contract.
BROKEN = GOOD.replace("def lock_it(key: str)", "def lock_it(key: threading.Lock)").replace(
    "def later(when: int)", 'def later(when: "NotDefinedAnywhere")'
)
BROKEN = "import threading\n" + BROKEN


def no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    assert 'File "' not in result.stderr, result.stderr


def error_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("error:")]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


# -- generate never destroys ----------------------------------------------------------------


def test_generate_on_a_package_instead_of_its_module_refuses_and_deletes_nothing(tmp_path: Path) -> None:
    # The issue's own case: ``examples`` (the package) for ``examples.shop``.
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    shutil.copytree(ROOT / "schemas", tmp_path / "schemas")
    before = snapshot(tmp_path / "schemas")
    result = run_cli("generate", "examples", "--out", "schemas", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    no_traceback(result)
    assert snapshot(tmp_path / "schemas") == before
    [line] = error_lines(result)
    assert "examples" in line and "no Dramatiq broker" in line


def test_generate_on_a_broker_without_actors_refuses_and_deletes_nothing(tmp_path: Path) -> None:
    (tmp_path / "empty_app.py").write_text(
        "from dramatiq.brokers.stub import StubBroker\nbroker = StubBroker()\n"
    )
    shutil.copytree(ROOT / "schemas", tmp_path / "schemas")
    before = snapshot(tmp_path / "schemas")
    for command in (
        ["generate", "empty_app", "--out", "schemas"],
        ["check", "empty_app", "--out", "schemas"],
    ):
        result = run_cli(*command, cwd=tmp_path)
        assert result.returncode == 2, result.stderr
        no_traceback(result)
        assert "declares no actors" in result.stderr
    assert snapshot(tmp_path / "schemas") == before


def test_actors_without_a_contract_are_named_one_line_each_and_the_others_still_reported(
    tmp_path: Path,
) -> None:
    app_file = tmp_path / "tasks.py"
    app_file.write_text(textwrap.dedent(GOOD))
    assert run_cli("generate", "tasks.py", "--out", "schemas", cwd=tmp_path).returncode == 0
    last_good = snapshot(tmp_path / "schemas")
    assert set(last_good) == {"greet.schema.json", "lock_it.schema.json", "later.schema.json", "index.json"}

    app_file.write_text(textwrap.dedent(BROKEN).replace('"""Say hello."""', '"""Say hello, loudly."""'))
    result = run_cli("generate", "tasks.py", "--out", "schemas", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    no_traceback(result)
    lines = error_lines(result)
    assert len(lines) == 2, result.stderr
    by_actor = {("lock_it" if "'lock_it'" in line else "later"): line for line in lines}
    assert "parameter 'key'" in by_actor["lock_it"] and "parameter 'when'" in by_actor["later"]
    assert "cannot be resolved" in by_actor["later"]
    for line in lines:
        assert '@dramatiq.actor(payload_contract="json")' in line
    after = snapshot(tmp_path / "schemas")
    # The good actor is written (its docstring changed); the broken ones keep their last good schema.
    assert after["greet.schema.json"] != last_good["greet.schema.json"]
    assert after["lock_it.schema.json"] == last_good["lock_it.schema.json"]
    assert after["later.schema.json"] == last_good["later.schema.json"]
    index = json.loads(after["index.json"])
    assert sorted(index["actors"]) == ["greet", "later", "lock_it"]
    assert index["actors"]["later"] == json.loads(last_good["index.json"])["actors"]["later"]

    inspected = run_cli("inspect", "tasks.py", "--json", cwd=tmp_path)
    assert inspected.returncode == 2
    no_traceback(inspected)
    report = json.loads(inspected.stdout)
    assert [row["actor"] for row in report["actors"]] == ["greet"]
    assert sorted(e["actor"] for e in report["errors"]) == ["later", "lock_it"]
    assert all("payload_contract" in e["fix"] for e in report["errors"])
    assert len(error_lines(inspected)) == 2
    # Named once each: the gateway's own log of them while the app was imported is not repeated.
    assert [line for line in inspected.stderr.splitlines() if line.strip()] == error_lines(inspected)

    table = run_cli("inspect", "tasks.py", cwd=tmp_path)
    assert table.returncode == 2 and "greet" in table.stdout and len(error_lines(table)) == 2

    checked = run_cli("check", "tasks.py", "--out", "schemas", cwd=tmp_path)
    assert checked.returncode == 2 and len(error_lines(checked)) == 2
    no_traceback(checked)
    asyncapi = run_cli("asyncapi", "tasks.py", cwd=tmp_path)
    assert asyncapi.returncode == 2 and asyncapi.stdout == ""
    no_traceback(asyncapi)


def test_a_first_generate_with_a_broken_actor_writes_the_others(tmp_path: Path) -> None:
    (tmp_path / "tasks.py").write_text(textwrap.dedent(BROKEN))
    result = run_cli("generate", "tasks.py", "--out", "schemas", "--json", cwd=tmp_path)
    assert result.returncode == 2
    no_traceback(result)
    report = json.loads(result.stdout)
    assert sorted(e["actor"] for e in report["errors"]) == ["later", "lock_it"]
    assert sorted(p.name for p in (tmp_path / "schemas").iterdir()) == ["greet.schema.json", "index.json"]


# -- targets: every form Dramatiq's own CLI takes ------------------------------------------------

SETUP_APP = """
import dramatiq
from dramatiq.brokers.stub import StubBroker
from actorschema import PayloadGateway

class Holder:
    pass

holder = Holder()
holder.broker = StubBroker()
holder.broker.add_middleware(PayloadGateway())

@dramatiq.actor(broker=holder.broker)
def held(n: int) -> None: ...

def setup() -> None:
    broker = StubBroker()
    broker.add_middleware(PayloadGateway())
    dramatiq.set_broker(broker)

    @dramatiq.actor
    def made_in_setup(text: str) -> None: ...
"""


@pytest.mark.parametrize(
    ("target", "actor"),
    [
        ("setup_app:holder.broker", "held"),  # module:attr.broker
        ("setup_app:setup", "made_in_setup"),  # module:setup_callable
        ("pkg.tasks", "sibling_task"),  # a module of a package
        ("pkg/tasks.py", "sibling_task"),  # a file path that imports its siblings
        ("pkg/tasks.py:broker", "sibling_task"),
    ],
)
def test_targets_take_every_form_dramatiqs_cli_takes(tmp_path: Path, target: str, actor: str) -> None:
    (tmp_path / "setup_app.py").write_text(textwrap.dedent(SETUP_APP))
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "helpers.py").write_text("LIMIT = 4096\n")
    (package / "tasks.py").write_text(
        textwrap.dedent(
            """
            import dramatiq
            from dramatiq.brokers.stub import StubBroker
            from actorschema import PayloadGateway
            try:
                from helpers import LIMIT  # run as a file: its folder is on the path
            except ImportError:
                from pkg.helpers import LIMIT
            broker = StubBroker()
            broker.add_middleware(PayloadGateway())

            @dramatiq.actor(broker=broker, max_message_bytes=LIMIT)
            def sibling_task(n: int) -> None: ...
            """
        )
    )
    result = run_cli("inspect", target, "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert [row["actor"] for row in json.loads(result.stdout)["actors"]] == [actor]
    generated = run_cli("generate", target, "--out", "schemas", cwd=tmp_path)
    assert generated.returncode == 0, generated.stderr
    assert (tmp_path / "schemas" / f"{actor}.schema.json").is_file()


def test_a_file_target_imports_its_sibling_modules(tmp_path: Path) -> None:
    folder = tmp_path / "app"
    folder.mkdir()
    (folder / "models.py").write_text("from pydantic import BaseModel\nclass Job(BaseModel):\n    id: int\n")
    (folder / "tasks.py").write_text(
        "import dramatiq\nfrom dramatiq.brokers.stub import StubBroker\nfrom models import Job\n"
        "broker = StubBroker()\n@dramatiq.actor(broker=broker)\ndef work(job: Job) -> None: ...\n"
    )
    result = run_cli("inspect", "app/tasks.py", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    [row] = json.loads(result.stdout)["actors"]
    assert row["parameters"][0]["type"] == "Job"


@pytest.mark.parametrize(
    ("source", "cause"),
    [
        ("import sys\nsys.exit(3)\n", "called sys.exit(3)"),
        ("raise RuntimeError('no DATABASE_URL\\nset')\n", "RuntimeError: no DATABASE_URL set"),
        ("import not_installed_anywhere_xyz\n", "not_installed_anywhere_xyz"),
        ("def broken(:\n", "SyntaxError"),
    ],
)
def test_an_app_that_fails_at_import_is_one_line_exit_2(tmp_path: Path, source: str, cause: str) -> None:
    (tmp_path / "exits.py").write_text(source)
    for target in ("exits", "exits.py"):
        result = run_cli("inspect", target, cwd=tmp_path)
        assert result.returncode == 2, (target, result.stderr)
        no_traceback(result)
        [line] = error_lines(result)
        assert cause in line


def test_a_setup_callable_that_exits_is_one_line_exit_2(tmp_path: Path) -> None:
    (tmp_path / "cb.py").write_text("import sys\ndef setup():\n    sys.exit(4)\nnot_a_broker = 5\n")
    result = run_cli("generate", "cb:setup", "--out", "schemas", cwd=tmp_path)
    assert result.returncode == 2 and "called sys.exit(4)" in result.stderr
    assert not (tmp_path / "schemas").exists()
    other = run_cli("generate", "cb:not_a_broker", cwd=tmp_path)
    assert other.returncode == 2 and "not a Dramatiq broker nor a callable" in other.stderr
    no_traceback(other)


# -- hostile input: diff and validate ------------------------------------------------------------


def folder_with(tmp_path: Path, name: str, schema_text: str) -> Path:
    folder = tmp_path / name
    shutil.copytree(ROOT / "schemas", folder)
    index = json.loads((folder / "index.json").read_text())
    (folder / "refund.schema.json").write_text(schema_text)
    index["actors"]["refund"].pop("sha256")
    (folder / "index.json").write_text(json.dumps(index))
    return folder


@pytest.mark.parametrize(
    ("schema_text", "refused"),
    [
        ("{not json", True),
        ("[1, 2]", True),
        ('{"type": 12}', True),  # not a valid draft 2020-12 schema
        ('{"properties": {"kwargs": {"properties": {"amount": 5}}}}', True),
        ('{"properties": {"kwargs": true, "args": false}}', False),  # valid, if not what generate writes
    ],
)
def test_diff_on_a_malformed_schema_is_one_line_exit_2(
    tmp_path: Path, schema_text: str, refused: bool
) -> None:
    broken = folder_with(tmp_path, "broken", schema_text)
    for old, new in ((str(ROOT / "schemas"), str(broken)), (str(broken), str(ROOT / "schemas"))):
        result = run_cli("diff", old, new, cwd=tmp_path)
        no_traceback(result)
        if refused:
            assert result.returncode == 2, result.stdout
            [line] = error_lines(result)
            assert "refund.schema.json" in line
        else:
            assert result.returncode in (0, 1, 2)
            assert result.returncode != 2 or len(error_lines(result)) == 1


def test_diff_of_a_folder_whose_index_is_garbage_is_exit_2(tmp_path: Path) -> None:
    folder = tmp_path / "garbage"
    folder.mkdir()
    (folder / "index.json").write_text('{"actors": {"x": 5}}')
    result = run_cli("diff", str(ROOT / "schemas"), str(folder), cwd=tmp_path)
    assert result.returncode == 2 and len(error_lines(result)) == 1
    no_traceback(result)


REFUND = {
    "order_id": "1b4e28ba-2fa1-41d2-883f-0016d3cca427",
    "amount": "10.00",
    "reason": "damaged",
    "requested_at": "2024-05-01T12:00:00Z",
}


def message(**changes: object) -> dict[str, object]:
    base: dict[str, object] = {
        "queue_name": "orders",
        "actor_name": "refund",
        "args": [],
        "kwargs": REFUND,
        "options": {},
        "message_id": "8a5b6f5e-4c0e-4a3b-9d1c-1f2e3d4c5b6a",
        "message_timestamp": 1700000000000,
    }
    base.update(changes)
    return base


def test_validate_turns_deep_nesting_and_hostile_bytes_into_findings(tmp_path: Path) -> None:
    deep = b'{"actor_name": "refund", "kwargs": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    (tmp_path / "deep.json").write_bytes(deep)
    medium = json.dumps(message(kwargs={**REFUND, "x": [[[[[[[[1]]]]]]]]}))
    medium = medium.replace("[[[[[[[[1]]]]]]]]", "[" * 500 + "1" + "]" * 500)
    (tmp_path / "medium.json").write_text(medium)
    (tmp_path / "latin1.json").write_bytes(b'{"actor_name": "refund\xe9"}')
    (tmp_path / "empty.json").write_bytes(b"")
    for name in ("deep.json", "medium.json", "latin1.json"):
        result = run_cli("validate", name, "--schemas", str(ROOT / "schemas"), "--json", cwd=tmp_path)
        assert result.returncode == 1, (name, result.stderr)
        no_traceback(result)
        [verdict] = json.loads(result.stdout)["messages"]
        assert verdict["findings"] and not verdict["valid"]
    empty = run_cli("validate", "empty.json", "--schemas", str(ROOT / "schemas"), cwd=tmp_path)
    assert empty.returncode == 0 and "0 message(s)" in empty.stdout


def test_a_whole_document_over_the_bound_is_one_line_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(validate_module, "MAX_DOCUMENT_BYTES", 1000)
    (tmp_path / "big.json").write_text(json.dumps([message()] * 10))
    result = runner.invoke(app, ["validate", str(tmp_path / "big.json"), "--schemas", str(ROOT / "schemas")])
    assert result.exit_code == 2
    assert "too large for one JSON document" in result.output and ".jsonl" in result.output
    # JSON Lines are read a line at a time, whatever the file's size.
    (tmp_path / "big.jsonl").write_text("\n".join(json.dumps(message()) for _ in range(50)) + "\n")
    lines = runner.invoke(app, ["validate", str(tmp_path / "big.jsonl"), "--schemas", str(ROOT / "schemas")])
    assert lines.exit_code == 0, lines.output
    assert "50 message(s), 0 invalid" in lines.output


@pytest.mark.parametrize("suffix", [".jsonl", ".txt"])
def test_json_lines_with_a_broken_first_line_are_judged_line_by_line(tmp_path: Path, suffix: str) -> None:
    bad_amount = message(kwargs={**REFUND, "amount": "ten"})
    text = "\n".join(['{"actor_name": "refund", ', json.dumps(message()), "", json.dumps(bad_amount)])
    (tmp_path / f"m{suffix}").write_text(text + "\n")
    result = run_cli("validate", f"m{suffix}", "--schemas", str(ROOT / "schemas"), "--json", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    report = {m["message"]: m for m in json.loads(result.stdout)["messages"]}
    assert sorted(report) == [f"m{suffix}:1", f"m{suffix}:2", f"m{suffix}:4"]
    assert report[f"m{suffix}:1"]["findings"][0]["reason"].startswith("invalid JSON")
    assert report[f"m{suffix}:2"]["valid"] is True
    assert [f["path"] for f in report[f"m{suffix}:4"]["findings"]] == ["$.kwargs.amount"]


def test_a_pretty_printed_broken_document_is_one_finding(tmp_path: Path) -> None:
    text = json.dumps(message(), indent=2)[:-2] + "\n"  # the closing brace lost
    (tmp_path / "pretty.json").write_text(text)
    result = run_cli("validate", "pretty.json", "--schemas", str(ROOT / "schemas"), "--json", cwd=tmp_path)
    assert result.returncode == 1
    [verdict] = json.loads(result.stdout)["messages"]
    assert verdict["message"] == "pretty.json"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    data=st.binary(max_size=400)
    | st.text(alphabet='{}[]":,0123456789e.-\\u ntrfalsxd\n', max_size=300).map(str.encode)
)
def test_validate_reads_any_bytes_into_findings_never_an_exception(tmp_path: Path, data: bytes) -> None:
    catalogue = validate_module.load_schemas(ROOT / "schemas")
    path = tmp_path / "any.jsonl"
    for target in (path, tmp_path / "any.json"):
        target.write_bytes(data)
        for _label, decoded, raw in validate_module.read_messages(target):
            verdict = validate_module.check_message(catalogue, decoded, None if raw is None else len(raw))
            assert all(f.path.startswith("$") and f.reason for f in verdict.findings)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    schema=st.recursive(
        st.none() | st.booleans() | st.integers(-5, 5) | st.sampled_from(["string", "object", "kwargs", "x"]),
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(
                st.sampled_from(
                    ["type", "properties", "kwargs", "args", "required", "anyOf", "$ref", "items", "enum"]
                ),
                inner,
                max_size=4,
            )
        ),
        max_leaves=12,
    )
)
def test_diff_on_any_schema_exits_0_1_or_2_without_a_traceback(tmp_path: Path, schema: object) -> None:
    broken = folder_with(tmp_path, "any", json.dumps(schema))
    for old, new in ((str(ROOT / "schemas"), str(broken)), (str(broken), str(ROOT / "schemas"))):
        result = runner.invoke(app, ["diff", old, new])
        assert result.exit_code in (0, 1, 2)
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    shutil.rmtree(broken)


def test_a_schema_folder_that_is_a_file_is_one_line_exit_2(tmp_path: Path) -> None:
    (tmp_path / "tasks.py").write_text(textwrap.dedent(GOOD))
    (tmp_path / "schemas").write_text("not a folder")
    result = run_cli("generate", "tasks.py", "--out", "schemas", cwd=tmp_path)
    assert result.returncode == 2
    no_traceback(result)
    [line] = error_lines(result)
    assert "schemas" in line and "exists" in line.lower()
    assert (tmp_path / "schemas").read_text() == "not a folder"


INDEX_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-3, 3)
    | st.sampled_from(["refund.schema.json", "x", "../index.json", ""]),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                ["actors", "refund", "schema", "sha256", "positional", "positional_only", "max_message_bytes"]
            ),
            inner,
            max_size=4,
        )
    ),
    max_leaves=10,
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(index=INDEX_VALUES)
def test_validate_with_any_index_exits_0_1_or_2_without_a_traceback(tmp_path: Path, index: object) -> None:
    folder = tmp_path / "schemas"
    folder.mkdir(exist_ok=True)
    shutil.copy(ROOT / "schemas" / "refund.schema.json", folder)
    (folder / "index.json").write_text(json.dumps(index))
    (tmp_path / "m.json").write_text(json.dumps(message()))
    result = runner.invoke(app, ["validate", str(tmp_path / "m.json"), "--schemas", str(folder)])
    assert result.exit_code in (0, 1, 2)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception

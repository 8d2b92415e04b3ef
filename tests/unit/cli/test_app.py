"""The command line: generate, check, inspect; exit codes 0 (ok), 1 (check failed), 2 (usage)."""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest
from helpers.cli import run_cli
from typer.testing import CliRunner

from actorschema.cli import app

ROOT = Path(__file__).resolve().parents[3]
runner = CliRunner()

APP = '''
import dramatiq
from dramatiq.brokers.stub import StubBroker
from actorschema import PayloadGateway

tasks_broker = StubBroker()
tasks_broker.add_middleware(PayloadGateway())

@dramatiq.actor(broker=tasks_broker, max_message_bytes=2048)
def greet(name: str, times: int = 1) -> None:
    """Say hello."""
'''


def write_app(folder: Path, body: str = APP, name: str = "tasks_app") -> Path:
    path = folder / f"{name}.py"
    path.write_text(textwrap.dedent(body))
    return path


def test_the_committed_example_schemas_are_current() -> None:
    result = runner.invoke(app, ["check", "examples.shop", "--out", str(ROOT / "schemas")])
    assert result.exit_code == 0, result.output


def test_generate_then_check_passes_and_a_change_fails_with_a_diff(tmp_path: Path) -> None:
    target = str(write_app(tmp_path))
    out = tmp_path / "schemas"
    generated = runner.invoke(app, ["generate", target, "--out", str(out)])
    assert generated.exit_code == 0, generated.output
    assert sorted(p.name for p in out.iterdir()) == ["greet.schema.json", "index.json"]
    assert runner.invoke(app, ["check", target, "--out", str(out)]).exit_code == 0

    schema = out / "greet.schema.json"
    schema.write_text(schema.read_text().replace('"times"', '"count"'))
    stale = runner.invoke(app, ["check", target, "--out", str(out)])
    assert stale.exit_code == 1
    assert (
        "stale" in stale.output
        and '-        "count"' in stale.output
        and "actorschema generate" in stale.output
    )

    again = runner.invoke(app, ["generate", target, "--out", str(out)])
    assert "greet.schema.json" in again.output
    assert runner.invoke(app, ["check", target, "--out", str(out)]).exit_code == 0


def test_check_reports_missing_and_extra_files_as_json(tmp_path: Path) -> None:
    target = str(write_app(tmp_path))
    out = tmp_path / "schemas"
    out.mkdir()
    (out / "gone.schema.json").write_text("{}\n")
    result = runner.invoke(app, ["check", target, "--out", str(out), "--json"])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    problems = {d["file"]: d["problem"] for d in report["differences"]}
    assert problems == {"greet.schema.json": "missing", "index.json": "missing", "gone.schema.json": "extra"}
    assert report["current"] is False


def test_generate_removes_the_schema_of_a_removed_actor(tmp_path: Path) -> None:
    out = tmp_path / "schemas"
    out.mkdir()
    (out / "old_actor.schema.json").write_text("{}\n")
    result = runner.invoke(app, ["generate", str(write_app(tmp_path)), "--out", str(out), "--json"])
    assert result.exit_code == 0
    assert "old_actor.schema.json" in json.loads(result.stdout)["changed"]
    assert not (out / "old_actor.schema.json").exists()


@pytest.mark.parametrize("form", ["module", "module:attribute", "file"])
def test_targets_name_the_app_like_dramatiq_does(
    tmp_path: Path, form: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_app(tmp_path, name=f"app_{form.replace(':', '_')}")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    target = {"module": path.stem, "module:attribute": f"{path.stem}:tasks_broker", "file": str(path)}[form]
    result = runner.invoke(app, ["inspect", target, "--json"])
    assert result.exit_code == 0, result.output
    actors = json.loads(result.stdout)["actors"]
    greet = next(a for a in actors if a["actor"] == "greet")
    assert greet["max_message_bytes"] == 2048 and greet["limit_source"] == "actor"
    assert [p["name"] for p in greet["parameters"]] == ["name", "times"]


def test_inspect_prints_a_table(tmp_path: Path) -> None:
    result = runner.invoke(app, ["inspect", str(write_app(tmp_path))], terminal_width=120)
    assert result.exit_code == 0
    assert (
        "greet" in result.output and "times: int = 1" in result.output and "2,048 B (actor)" in result.output
    )


@pytest.mark.parametrize(
    ("args", "cause"),
    [
        (["check", "no_such_module_here"], "cannot import"),
        (["generate", "missing/app.py"], "no such file"),
        (["inspect", "examples.shop:not_a_broker"], "has no attribute 'not_a_broker'"),
    ],
)
def test_usage_errors_exit_2_with_a_cause_and_a_hint(args: list[str], cause: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert cause in result.output and "hint:" in result.output


def test_an_app_that_fails_to_import_is_a_usage_error(tmp_path: Path) -> None:
    broken = write_app(tmp_path, "raise RuntimeError('boom')\n", name="broken_app")
    result = runner.invoke(app, ["generate", str(broken), "--out", str(tmp_path / "s")])
    assert result.exit_code == 2 and "boom" in result.output


def test_unknown_options_are_usage_errors() -> None:
    assert runner.invoke(app, ["generate", "examples.shop", "--frobnicate"]).exit_code == 2


def test_help_teaches_each_command() -> None:
    top = runner.invoke(app, ["--help"])
    assert top.exit_code == 0
    for command in ("generate", "check", "inspect"):
        assert command in top.output
        text = runner.invoke(app, [command, "--help"]).output
        assert "module:broker" in text and "file path" in text


def test_the_console_script_runs() -> None:
    result = run_cli("check", "examples.shop", "--out", "schemas")
    assert result.returncode == 0, result.stderr
    assert "current" in result.stdout


def test_a_module_with_several_brokers_must_name_one(tmp_path: Path) -> None:
    two = write_app(tmp_path, APP + "\nother_broker = StubBroker()\n", name="two_brokers")
    result = runner.invoke(app, ["inspect", str(two)])
    assert result.exit_code == 2
    assert "two_brokers.py:other_broker" in result.output and "two_brokers.py:tasks_broker" in result.output


def test_the_pre_commit_hook_runs_the_check() -> None:
    import shlex

    import yaml

    [hook] = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "actorschema-check" and hook["pass_filenames"] is False
    command = [*shlex.split(hook["entry"]), "examples.shop", "--out", "schemas/"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def shop_message(**changes: Any) -> bytes:
    """A refund message exactly as the gateway stores it, with ``changes`` applied to its kwargs."""
    import datetime
    import uuid
    from decimal import Decimal

    import examples.shop as shop

    shop.broker.flush_all()
    shop.refund.send(
        uuid.uuid4(), Decimal("10.50"), "damaged", datetime.datetime(2024, 5, 1, tzinfo=datetime.UTC)
    )
    body: bytes = next(iter(shop.broker.queues["orders"].queue))
    shop.broker.flush_all()
    if not changes:
        return body
    message = json.loads(body)
    message["kwargs"].update(changes)
    return json.dumps(message).encode()


def test_validate_reports_each_invalid_message_with_its_paths(tmp_path: Path) -> None:
    lines = tmp_path / "messages.jsonl"
    lines.write_bytes(b"\n".join([shop_message(), shop_message(amount="ten", extra=1), b'{"broken": ']))
    result = runner.invoke(app, ["validate", "--schemas", str(ROOT / "schemas"), str(lines)])
    assert result.exit_code == 1
    assert f"invalid {lines}:2" in result.output and f"invalid {lines}:3" in result.output
    assert "$.kwargs.amount:" in result.output and "'extra' was unexpected" in result.output
    assert "3 message(s), 2 invalid" in result.output

    as_json = runner.invoke(app, ["validate", "--schemas", str(ROOT / "schemas"), str(lines), "--json"])
    report = json.loads(as_json.stdout)
    assert [m["valid"] for m in report["messages"]] == [True, False, False]


def test_validate_reads_stdin_and_passes_valid_messages() -> None:
    result = runner.invoke(app, ["validate", "--schemas", str(ROOT / "schemas"), "-"], input=shop_message())
    assert result.exit_code == 0, result.output
    assert "1 message(s), 0 invalid" in result.output


def test_validate_without_a_schema_folder_is_a_usage_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", "--schemas", str(tmp_path / "none"), "-"], input=b"{}")
    assert result.exit_code == 2 and "hint:" in result.output


def test_asyncapi_writes_a_deterministic_document(tmp_path: Path) -> None:
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    assert runner.invoke(app, ["asyncapi", "examples.shop", "--out", str(first)]).exit_code == 0
    assert runner.invoke(app, ["asyncapi", "examples.shop", "--out", str(second)]).exit_code == 0
    assert first.read_bytes() == second.read_bytes()
    document = json.loads(first.read_text())
    assert document["asyncapi"] == "3.0.0"
    assert set(document["channels"]) == {"orders", "emails", "images"}
    summary = runner.invoke(app, ["asyncapi", "examples.shop", "--out", str(first), "--json"])
    assert json.loads(summary.stdout)["channels"] == ["emails", "images", "orders"]
    to_stdout = runner.invoke(app, ["asyncapi", "examples.shop"])
    assert json.loads(to_stdout.stdout) == document


OLD_APP = """
import dramatiq
from dramatiq.brokers.stub import StubBroker
broker = StubBroker()

@dramatiq.actor(broker=broker)
def resize(path: str, quality: int = 80) -> None: ...
"""
NEW_APP = OLD_APP.replace("quality: int = 80", "quality: int = 80, *, width: int")


def generated(folder: Path, body: str, name: str) -> Path:
    out = folder / f"{name}_schemas"
    result = runner.invoke(app, ["generate", str(write_app(folder, body, name=name)), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_diff_names_the_rule_and_exits_1_when_the_mode_breaks(tmp_path: Path) -> None:
    old = generated(tmp_path, OLD_APP, "old_app")
    new = generated(tmp_path, NEW_APP, "new_app")
    backward = runner.invoke(app, ["diff", str(old), str(new)])
    assert backward.exit_code == 1
    assert "resize kwargs.width: PARAMETER_ADDED_REQUIRED" in backward.output
    assert runner.invoke(app, ["diff", str(old), str(old)]).exit_code == 0
    # Removing the new required parameter again is backward compatible, not forward.
    assert runner.invoke(app, ["diff", str(new), str(old), "--mode", "backward"]).exit_code == 1
    report = json.loads(runner.invoke(app, ["diff", str(old), str(new), "--json", "--mode", "full"]).stdout)
    assert report["compatible"] is False
    assert [c["rule"] for c in report["changes"]] == ["PARAMETER_ADDED_REQUIRED"]


def test_diff_transitive_checks_every_committed_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    git("config", "user.email", "t@example.invalid")
    git("config", "user.name", "t")
    out = tmp_path / "schemas"
    first = OLD_APP.replace("path: str", "path: str, legacy: int = 0")
    for version, body in enumerate([first, OLD_APP]):
        runner.invoke(
            app, ["generate", str(write_app(tmp_path, body, name=f"v{version}")), "--out", str(out)]
        )
        git("add", "-A")
        git("commit", "-qm", f"v{version}")
    monkeypatch.chdir(tmp_path)
    # Against the last version only, nothing changed...
    latest = generated(tmp_path, OLD_APP, "latest")
    assert runner.invoke(app, ["diff", "git:HEAD:schemas", str(latest)]).exit_code == 0
    # ...but against every version, dropping ``legacy`` breaks the messages v0 wrote.
    transitive = runner.invoke(app, ["diff", "git:HEAD:schemas", str(latest), "--transitive"])
    assert transitive.exit_code == 1 and "legacy" in transitive.output


def test_diff_usage_errors_exit_2(tmp_path: Path) -> None:
    assert runner.invoke(app, ["diff", str(tmp_path), str(tmp_path)]).exit_code == 2
    assert runner.invoke(app, ["diff", "schemas", "schemas", "--transitive"]).exit_code == 2
    assert runner.invoke(app, ["diff", "schemas", "schemas", "--mode", "sideways"]).exit_code == 2

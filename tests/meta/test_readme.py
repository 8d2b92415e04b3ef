"""The README cannot rot: every code block and command in it is run or checked here.

* ``python`` blocks run as scripts; a ``text`` block right after one must match
  lines that block printed.
* ``console`` blocks: each ``$ command`` is looked up in ``COMMANDS``, which says
  how it is exercised; a command the table does not know fails the test.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers.readme import BLOCK, README, ROOT, blocks

import actorschema

# Each README command runs in a new process (one pip-installs the package): minutes on two cores.
pytestmark = pytest.mark.slow


def shown_output(index: int) -> str | None:
    """The ``text`` block that directly follows python block ``index``, if any."""
    matches = list(BLOCK.finditer(README))
    pythons = [i for i, match in enumerate(matches) if match.group(1) == "python"]
    following = pythons[index] + 1
    if following < len(matches) and matches[following].group(1) == "text":
        return matches[following].group(2)
    return None


def run(command: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", command], cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )


def test_readme_has_the_blocks_this_file_checks() -> None:
    assert len(blocks("python")) >= 1
    assert len(blocks("console")) >= 3
    # promql blocks: their metric and label names are checked against a real worker's
    # endpoint in tests/interop/test_metrics_worker.py.
    assert set(lang for lang, _ in BLOCK.findall(README)) <= {"python", "console", "text", "yaml", "promql"}


@pytest.mark.parametrize("index", range(len(blocks("python"))))
def test_python_block_runs_and_prints_what_the_readme_shows(index: int, tmp_path: Path) -> None:
    source = blocks("python")[index]
    script = tmp_path / f"readme_block_{index}.py"
    script.write_text(source)
    result = subprocess.run(
        [sys.executable, str(script)], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    shown = shown_output(index)
    if shown is not None:
        printed = result.stdout.splitlines()
        for line in shown.splitlines():
            assert line in printed, f"README shows {line!r}; the block printed:\n{result.stdout}"


def check_main_job(command: str) -> None:
    result = run(command)
    assert result.returncode == 0, result.stderr
    assert "4 actor schema(s) in schemas/" in result.stdout
    # It regenerates the committed files, byte for byte.
    assert run("git status --porcelain schemas/").stdout == ""


def check_schema_command(command: str) -> None:
    result = run(command)
    assert result.returncode == 0, result.stderr
    assert "place_order" in result.stdout or "is current" in result.stdout


def check_diff(command: str) -> None:
    result = run(command)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "compatible" in result.stdout


def check_validate(command: str) -> None:
    result = run(command)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 invalid" in result.stdout


def check_asyncapi(command: str) -> None:
    # Run where it cannot leave a file in the repository: the app is found through PYTHONPATH.
    with tempfile.TemporaryDirectory() as folder:
        result = subprocess.run(
            ["bash", "-c", command],
            cwd=folder,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        document = json.loads((Path(folder) / "asyncapi.json").read_text())
    assert document["asyncapi"] == "3.0.0" and "place_order" in document["components"]["messages"]


def test_yaml_blocks_configure_hooks_this_repository_defines() -> None:
    import yaml

    defined = {hook["id"] for hook in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
    for block in blocks("yaml"):
        [repo] = yaml.safe_load(block)
        assert {hook["id"] for hook in repo["hooks"]} <= defined
        for hook in repo["hooks"]:
            assert run(f"actorschema check {' '.join(hook['args'])}").returncode == 0


def check_quickstart(command: str) -> None:
    result = run(command)
    assert result.returncode == 0, result.stderr
    assert "rejected: NonJSONPayload" in result.stdout
    assert "rejected: PayloadTooLarge" in result.stdout
    assert "worker: resizing s3://photos/cat.png to 640px at quality 90 (2024-05-01)" in result.stdout
    assert "dead-lettered, not run: kwargs.job.width: 'wide' is not of type 'integer'" in result.stdout
    assert result.stdout.rstrip().endswith("done")


TEST_SCRIPT = ROOT / "scripts" / "test.sh"


def script_steps() -> list[str]:
    """The commands of scripts/test.sh, one a line, without comments and blank lines."""
    lines = (line.strip() for line in TEST_SCRIPT.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def check_test_command(command: str) -> None:
    # Running the whole suite from inside itself would recurse: check CI runs exactly this, and
    # that the script's steps are the ones the README lists (its text above the command).
    ci = (ROOT / ".ci" / "run").read_text()
    assert f"exec {command}" in ci.splitlines()
    assert TEST_SCRIPT.stat().st_mode & 0o111
    steps = script_steps()
    for step in (
        'PIP_ROOT_USER_ACTION=ignore python3 -m pip install -q -c constraints.txt -e ".[test]" uv',
        "npm ci --prefix tests/node --no-audit --no-fund --loglevel=error",
        "npm ci --prefix examples/producers/node --no-audit --no-fund --loglevel=error",
        "actorschema check examples.shop --out schemas/",
        "python3 -m ruff check actorschema tests benchmarks examples",
        "python3 -m ruff format --check actorschema tests benchmarks examples",
        "python3 -m mypy --strict actorschema",
        "./scripts/versions.sh",
    ):
        assert step in steps, f"scripts/test.sh no longer runs {step!r}, which the README describes"
    for words in ("constraints.txt", "`schemas/` is current", "runs ruff and mypy", "scripts/versions.sh"):
        assert words in README, words
    # Then pytest, last, with the script's arguments.
    assert steps[-1].startswith("python3 -m pytest") and steps[-1].endswith('"$@"'), steps[-1]


def check_partial_test_command(command: str) -> None:
    # The script's arguments go to pytest, and only the run without arguments has the version
    # matrix: checked on the script's text. Its install, npm, ruff and mypy steps are the ones
    # check_test_command checks; the pytest step is run here, with the README's arguments.
    steps = script_steps()
    matrix = steps.index("./scripts/versions.sh")
    assert steps[matrix - 1] == "if [ $# -eq 0 ]; then"
    # Only the run without arguments is spread over two workers.
    assert steps[matrix + 1 : matrix + 3] == ["set -- -n 2 --dist loadfile", "fi"]
    arguments = command.removeprefix("./scripts/test.sh ")
    assert arguments != command
    pytest_step = steps[-1].replace('"$@"', f"{arguments} -q -p no:cacheprovider")
    result = run(pytest_step)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert re.search(r"\d+ passed", result.stdout), result.stdout[-3000:]


#: What the quick loop must leave out (by file) and keep (a redis test stays in it).
QUICK_LOOP_LEAVES_OUT = (
    "tests/brokers/test_rabbitmq.py::",
    "tests/interop/test_node_producer.py::",
    "tests/meta/test_dramatiq_suite.py::",
    "tests/brokers/test_redis_soak.py::",
)


def check_quick_loop(command: str) -> None:
    # Running the loop here would run most of the suite twice: collect what it selects instead
    # (in this process: -n 0 after the README's -n 2, so the listing is pytest's own).
    result = run(f"{command} -n 0 --collect-only -q -p no:cacheprovider")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    selected = [line for line in result.stdout.splitlines() if "::" in line]
    assert re.search(r"\d+ deselected", result.stdout), result.stdout[-3000:]
    assert any(test.startswith("tests/brokers/test_redis.py::") for test in selected)
    assert any(test.startswith("tests/unit/test_gateway.py::") for test in selected)
    left_in = [test for test in selected if test.startswith(QUICK_LOOP_LEAVES_OUT)]
    assert not left_in, left_in[:10]


def check_dead_letters(command: str) -> None:
    # On the example app's StubBroker nothing was dead-lettered: exit 0. On Redis, with reasons,
    # tests/interop/test_shop_worker.py runs the same command against a real worker's dead letters.
    result = run(command)
    assert result.returncode == 0, result.stderr
    assert "no dead letters with a reason in emails, images, orders" in result.stdout


NODE_PRODUCER_COMMANDS = [
    "npm ci --prefix examples/producers/node",
    "node examples/producers/node/produce.js --redis redis://127.0.0.1:6379/0 send_email "
    '\'{"user_id": 7, "template": "welcome"}\'',
    "node examples/producers/node/produce.js --amqp amqp://guest:guest@127.0.0.1:5672 --delay-ms 60000 "
    'make_thumbnail \'{"source": "s3://img/cat.png"}\'',
    'node examples/producers/node/produce.js --dry-run place_order \'{"order": {"order_id": '
    '"7f1d6a3e-9c2b-4b8e-a7d5-3c1e2f4a5b6c", "customer_id": 42, "placed_at": '
    '"2024-05-01T09:30:00+02:00", "items": [{"sku": "MUG-1", "quantity": 0, '
    '"unit_price": "9.90"}]}}\'',
]


def check_claims_gc(command: str) -> None:
    # The example app's stub queues are empty here; tests/brokers/test_claim_stores.py runs the command on real
    # Redis, with queued, delayed and orphaned blobs.
    result = run(command)
    assert result.returncode in (0, 1), result.stderr
    assert re.search(r"\d+ blob\(s\), 0 queued message\(s\)", result.stdout), result.stdout


def check_version(command: str) -> None:
    result = run(command)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"actorschema {actorschema.__version__}"


def check_node_producer_command(command: str) -> None:
    # Needs real Redis and RabbitMQ servers: tests/interop/test_node_producer.py runs these very commands
    # (read from this README) against the session's servers, one test each.
    from interop import test_node_producer

    tests = {
        "npm ci ": test_node_producer.test_docs_npm_ci_installs_the_lockfile,
        "node examples/producers/node/produce.js --redis": test_node_producer.test_docs_redis_command_enqueues,
        "node examples/producers/node/produce.js --amqp": (
            test_node_producer.test_docs_amqp_command_enqueues_a_delayed_message
        ),
        "node examples/producers/node/produce.js --dry-run": (
            test_node_producer.test_docs_refusal_prints_what_the_docs_show
        ),
    }
    assert [prefix for prefix in tests if command.startswith(prefix)], command
    assert command in test_node_producer.doc_commands()


def check_audit_command(command: str) -> None:
    # Needs a real Redis: tests/unit/test_audit.py runs these very commands (read from this README)
    # on the example shop's queues there, and compares the output with the README's text block.
    from unit import test_audit

    assert command in test_audit.doc_commands()


COMMANDS: dict[str, Callable[[str], None]] = {
    "python3 -m pip install -q -e . && actorschema generate examples.shop --out schemas/": check_main_job,
    "python3 examples/quickstart.py": check_quickstart,
    "actorschema inspect examples.shop": check_schema_command,
    "actorschema check examples.shop --out schemas/": check_schema_command,
    "actorschema diff git:HEAD:schemas schemas/": check_diff,
    "actorschema validate --schemas schemas/ examples/messages.jsonl": check_validate,
    "actorschema asyncapi examples.shop --out asyncapi.json": check_asyncapi,
    "./scripts/test.sh": check_test_command,
    "./scripts/test.sh tests/unit/test_gateway.py": check_partial_test_command,
    'python3 -m pytest -m "not slow and not rabbitmq and not node" -n 2': check_quick_loop,
    "actorschema --version": check_version,
    "actorschema dead-letters examples.shop": check_dead_letters,
    "actorschema claims gc examples.claims_app --dry-run": check_claims_gc,
    "actorschema audit examples.shop": check_audit_command,
    "actorschema audit examples.shop --against schemas/": check_audit_command,
    **{command: check_node_producer_command for command in NODE_PRODUCER_COMMANDS},
}


def readme_commands() -> list[str]:
    return [
        line.removeprefix("$ ").strip()
        for block in blocks("console")
        for line in block.splitlines()
        if line.startswith("$ ")
    ]


@pytest.mark.parametrize("command", readme_commands())
def test_readme_command_works(command: str) -> None:
    assert command in COMMANDS, f"README command {command!r} is not exercised by any test"
    COMMANDS[command](command)


def test_every_exercised_command_is_still_in_the_readme() -> None:
    assert set(COMMANDS) == set(readme_commands())

"""Dramatiq keeps working: its own StubBroker tests pass with the gateway on every broker.

The test files come from the sdist of the *installed* Dramatiq (``pip download``), cached
in ``.dramatiq-tests/`` at the repository root (git-ignored). The sdist ships
``tests/test_*.py`` but not the ``conftest.py`` and ``common.py`` they need, so
``tests/meta/dramatiq_suite/`` supplies stand-ins, StubBroker and stub backends only; the
files are copied with them into a temporary tree and run in a subprocess, with
``-p gateway_plugin`` (every broker gets ``PayloadGateway()``) and, for the listed
tests, without it as the baseline.

Deselected, by node id, each with its reason:

* ``NEEDS_SERVER``: the test asks for a server-backed fixture the stand-in conftest
  does not define (upstream's conftest skips such tests without a server).
* ``DELIBERATE_REJECTIONS``: the test sends on purpose what the gateway exists to
  reject. Checked: each passes without the gateway and fails with it on a
  ``PayloadRejected`` subclass.
* ``BY_DESIGN``: the test depends on a behaviour the gateway changes on purpose
  (messages are stored with their arguments by name); checked like the above, with the
  recorded symptom instead of a rejection, so a change makes this test fail until the
  entry goes.

Without network access the download fails: the tests skip, except with ``CI=true``,
where they fail.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import NoReturn

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

DRAMATIQ_VERSION = importlib.metadata.version("dramatiq")
REPO_ROOT = Path(__file__).resolve().parents[2]
SDIST_CACHE = REPO_ROOT / ".dramatiq-tests"
SUITE_DIR = Path(__file__).resolve().parent / "dramatiq_suite"

#: Dramatiq's test files that run on the StubBroker (and stub result/rate-limit backends).
TEST_FILES = (
    "test_actors.py",
    "test_messages.py",
    "test_composition.py",
    "test_callbacks.py",
    "test_generic_actors.py",
    "test_results.py",
    "test_worker.py",
    "test_stub_broker.py",
    "test_encoders.py",
)

NEEDS_SERVER = {
    "tests/test_results.py::test_messages_without_actor_not_crashing_lookup_options": (
        "uses redis_result_backend (a Redis server on localhost:6379), not a StubBroker variant"
    ),
}

#: node id -> reason.
DELIBERATE_REJECTIONS: dict[str, str] = {
    "tests/test_actors.py::test_worker_handles_non_numeric_eta_and_logs_warning": (
        "builds record.message_with_options(eta='not-a-number') to play a foreign producer: the options "
        "table refuses a non-integer eta when a message is built (the worker still runs one, as Dramatiq does)"
    ),
    "tests/test_actors.py::test_worker_handles_none_eta": (
        "builds record.message_with_options(eta=None): refused when built, as above"
    ),
}

#: node id -> (reason, text the failure shows with the gateway).
BY_DESIGN = {
    "tests/test_actors.py::test_currrent_message_middleware_exposes_the_current_message": (
        "sorts the Message objects send() returns; canonical messages carry arguments by name "
        "(args=(), kwargs={'x': 1}), so Message.__lt__ reaches the kwargs dicts, which Python cannot "
        "order: plain Dramatiq raises the same TypeError for messages sent by keyword",
        "TypeError: '<' not supported between instances of 'dict' and 'dict'",
    ),
    "tests/test_composition.py::test_pipeline_does_not_continue_to_next_actor_when_message_is_marked_as_failed": (
        "pipes into should_never_run(), which takes no parameter for the result Dramatiq appends: had "
        "the first step succeeded, the call would raise TypeError (and be retried 20 times). The gateway "
        "refuses such a pipeline at run(), pointing to pipe_ignore=True",
        "has no room for the previous step's result",
    ),
}

#: 99 tests collected with Dramatiq 2.2.1, 96 run; a small margin for other versions.
MIN_PASSED = 92

_REJECTION = re.compile(
    r"actorschema\.errors\.(PayloadRejected|PayloadInvalid|NonJSONPayload|PayloadTooLarge|MessageMalformed)\b"
)
_GATEWAY_COUNTS = re.compile(r"actorschema: gateway on (\d+) brokers, (\d+) enqueues checked, (\d+) rejected")

pytestmark = pytest.mark.slow


def _unavailable(message: str) -> NoReturn:
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


def _download_sdist() -> Path:
    """The cached sdist of the installed Dramatiq, downloaded on first use."""
    sdist = SDIST_CACHE / f"dramatiq-{DRAMATIQ_VERSION}.tar.gz"
    if sdist.is_file() and tarfile.is_tarfile(sdist):
        return sdist
    SDIST_CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=SDIST_CACHE) as download_dir:
        command = [
            *(sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:"),
            *(f"dramatiq=={DRAMATIQ_VERSION}", "-d", download_dir),
        ]
        try:
            proc = subprocess.run(command, capture_output=True, text=True, timeout=300)
        except subprocess.TimeoutExpired:
            _unavailable(f"pip download of dramatiq=={DRAMATIQ_VERSION} timed out")
        found = sorted(Path(download_dir).glob("*.tar.gz"))
        if proc.returncode != 0 or len(found) != 1 or not tarfile.is_tarfile(found[0]):
            _unavailable(
                f"could not download the dramatiq=={DRAMATIQ_VERSION} sdist "
                f"(pip exited {proc.returncode}, files {[p.name for p in found]}):\n{proc.stderr[-3000:]}"
            )
        os.replace(found[0], sdist)
    return sdist


@pytest.fixture(scope="session")
def dramatiq_tests(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tree with Dramatiq's test files, the stand-in conftest and common, and a pytest.ini."""
    sdist = _download_sdist()
    root = tmp_path_factory.mktemp(f"dramatiq-{DRAMATIQ_VERSION}-tests")
    tests = root / "tests"
    tests.mkdir()
    with tarfile.open(sdist) as tar:
        for member in tar.getmembers():
            parts = PurePosixPath(member.name).parts
            if member.isfile() and len(parts) == 3 and parts[1] == "tests" and parts[2].startswith("test_"):
                extracted = tar.extractfile(member)
                assert extracted is not None
                (tests / parts[2]).write_bytes(extracted.read())
    missing = [name for name in TEST_FILES if not (tests / name).is_file()]
    assert not missing, f"the dramatiq {DRAMATIQ_VERSION} sdist has no tests/{missing}: update TEST_FILES"
    (tests / "__init__.py").write_text("")
    shutil.copyfile(SUITE_DIR / "dramatiq_conftest.py", tests / "conftest.py")
    shutil.copyfile(SUITE_DIR / "dramatiq_common.py", tests / "common.py")
    (root / "pytest.ini").write_text("[pytest]\naddopts = -p no:cacheprovider\ntimeout = 60\n")
    return root


@dataclass
class SuiteRun:
    returncode: int
    output: str
    #: node id -> ("passed" | "failed" | "error" | "skipped", failure text)
    outcomes: dict[str, tuple[str, str]]
    #: from the summary line: "passed", "failed", "deselected", ...
    counts: dict[str, int]

    def explain(self) -> str:
        return f"exit code {self.returncode}; last output:\n{self.output[-6000:]}"


def _run_suite(root: Path, targets: list[str], *, gateway: bool, deselect: Sequence[str] = ()) -> SuiteRun:
    junit = root / f"junit-{'gateway' if gateway else 'baseline'}-{len(targets)}.xml"
    command = [sys.executable, "-m", "pytest", "-c", "pytest.ini", "--rootdir", ".", "-q", "-rfEs"]
    command += ["--junitxml", str(junit)]
    junit.unlink(missing_ok=True)
    if gateway:
        command += ["-p", "gateway_plugin"]
    for node_id in deselect:
        command += ["--deselect", node_id]
    env = {key: value for key, value in os.environ.items() if key != "PYTEST_ADDOPTS"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SUITE_DIR), env.get("PYTHONPATH")]))
    proc = subprocess.run(
        [*command, *targets], cwd=root, env=env, capture_output=True, text=True, timeout=240
    )
    output = proc.stdout + proc.stderr
    outcomes: dict[str, tuple[str, str]] = {}
    if junit.is_file():
        for case in ET.parse(junit).getroot().iter("testcase"):
            module, _, name = case.get("classname", "").rpartition(".")
            node_id = f"{module.replace('.', '/')}/{name}.py::{case.get('name')}"
            outcome, text = "passed", ""
            for tag in ("failure", "error", "skipped"):
                element = case.find(tag)
                if element is not None:
                    outcome = "failed" if tag == "failure" else tag
                    text = f"{element.get('message', '')}\n{element.text or ''}"
            outcomes[node_id] = (outcome, text)
    summary = [
        line for line in output.splitlines() if re.search(r"\d+ (passed|failed|deselected|error)", line)
    ]
    counts = {word: int(n) for n, word in re.findall(r"(\d+) (\w+)", summary[-1])} if summary else {}
    return SuiteRun(proc.returncode, output, outcomes, counts)


def test_dramatiq_suite_passes_with_the_gateway(dramatiq_tests: Path) -> None:
    deselected = [*NEEDS_SERVER, *DELIBERATE_REJECTIONS, *BY_DESIGN]
    run = _run_suite(
        dramatiq_tests, [f"tests/{name}" for name in TEST_FILES], gateway=True, deselect=deselected
    )

    not_passed = {node: outcome for node, (outcome, _) in run.outcomes.items() if outcome != "passed"}
    assert run.returncode == 0 and not not_passed, f"{not_passed}\n{run.explain()}"
    # Meaningful: enough tests ran, none skipped, and every deselected node id still exists.
    assert run.counts.get("passed", 0) >= MIN_PASSED, run.explain()
    assert len(run.outcomes) == run.counts["passed"], run.explain()
    assert run.counts.get("deselected", 0) == len(deselected), f"a listed node id is gone?\n{run.explain()}"
    # And the gateway really was there: on every broker, checking every enqueue, rejecting none.
    counts = _GATEWAY_COUNTS.search(run.output)
    assert counts is not None, run.explain()
    brokers, checked, rejected = map(int, counts.groups())
    assert brokers >= 80 and checked >= 200 and rejected == 0, counts.group(0)


def test_listed_tests_fail_only_because_of_the_gateway(dramatiq_tests: Path) -> None:
    listed = [*DELIBERATE_REJECTIONS, *BY_DESIGN]
    baseline = _run_suite(dramatiq_tests, listed, gateway=False)
    with_gateway = _run_suite(dramatiq_tests, listed, gateway=True)

    missing = [node_id for node_id in listed if node_id not in baseline.outcomes]
    assert not missing, f"listed node ids did not run (renamed?): {missing}\n{baseline.explain()}"
    for node_id in listed:
        assert baseline.outcomes[node_id][0] == "passed", (
            f"{node_id} does not pass on plain Dramatiq: not the gateway's doing\n{baseline.explain()}"
        )
        outcome, text = with_gateway.outcomes.get(node_id, ("missing", ""))
        assert outcome == "failed", f"{node_id} is {outcome} with the gateway: drop it from the list"
        if node_id in DELIBERATE_REJECTIONS:
            assert _REJECTION.search(text), f"{node_id} fails, but not on a PayloadRejected:\n{text[-3000:]}"
        else:
            symptom = BY_DESIGN[node_id][1]
            assert symptom in text, f"{node_id} fails differently than recorded:\n{text[-3000:]}"

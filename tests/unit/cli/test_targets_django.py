"""The commands on a real (minimal) Django project that uses django_dramatiq.

django_dramatiq builds the broker from ``settings.DRAMATIQ_BROKER`` when the app
registry loads, and a tasks module typically imports the project's models: both
need ``django.setup()`` first. With ``DJANGO_SETTINGS_MODULE`` set (as
``manage.py`` sets it) the CLI runs it; without, the cause is one line.
"""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path

import pytest
from helpers.cli import run_cli

pytest.importorskip("django")
pytest.importorskip("django_dramatiq")

ROOT = Path(__file__).resolve().parents[3]

SETTINGS = """
SECRET_KEY = "test-only"
USE_TZ = True
INSTALLED_APPS = ["django.contrib.contenttypes", "django_dramatiq", "notes"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
DRAMATIQ_BROKER = {
    "BROKER": "actorschema.brokers.StubBroker",
    "OPTIONS": {},
    "MIDDLEWARE": ["actorschema.PayloadGateway"],
}
"""

MODELS = """
from django.db import models


class Note(models.Model):
    text = models.CharField(max_length=200)
"""

TASKS = """
import datetime

import dramatiq

from notes.models import Note  # needs the app registry: django.setup() first


@dramatiq.actor(max_message_bytes=2048)
def remind(note_id: int, at: datetime.datetime) -> None:
    \"\"\"Remind the owner of a note.\"\"\"
    Note.objects.filter(pk=note_id).exists()
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "project_settings.py").write_text(textwrap.dedent(SETTINGS))
    app = tmp_path / "notes"
    app.mkdir()
    (app / "__init__.py").write_text("")
    (app / "models.py").write_text(textwrap.dedent(MODELS))
    (app / "tasks.py").write_text(textwrap.dedent(TASKS))
    return tmp_path


def run(project: Path, *args: str, django: bool = True) -> subprocess.CompletedProcess[str]:
    """The command run in ``project``, with its Django settings unless ``django`` is False."""
    return run_cli(*args, cwd=project, env={"DJANGO_SETTINGS_MODULE": "project_settings"} if django else None)


@pytest.mark.slow
def test_every_command_works_on_a_django_dramatiq_project(project: Path) -> None:
    generated = run(project, "generate", "notes.tasks", "--out", "schemas")
    assert generated.returncode == 0, generated.stderr
    index = json.loads((project / "schemas" / "index.json").read_text())
    assert index["actors"]["remind"]["max_message_bytes"] == 2048
    assert index["actors"]["remind"]["positional"] == ["note_id", "at"]

    checked = run(project, "check", "notes.tasks", "--out", "schemas")
    assert checked.returncode == 0, checked.stderr
    inspected = run(project, "inspect", "notes.tasks", "--json")
    assert inspected.returncode == 0, inspected.stderr
    [row] = json.loads(inspected.stdout)["actors"]
    assert [p["type"] for p in row["parameters"]] == ["int", "datetime"]
    asyncapi = run(project, "asyncapi", "notes.tasks")
    assert asyncapi.returncode == 0 and "remind" in json.loads(asyncapi.stdout)["components"]["messages"]

    message = {
        "queue_name": "default",
        "actor_name": "remind",
        "args": [7, "2024-05-01T12:00:00Z"],  # the legacy positional form
        "kwargs": {},
        "options": {},
        "message_id": "1b4e28ba-2fa1-41d2-883f-0016d3cca427",
        "message_timestamp": 1_700_000_000_000,
    }
    (project / "message.json").write_text(json.dumps(message))
    validated = run(project, "validate", "message.json", "--json", django=False)  # needs no app
    assert validated.returncode == 0, validated.stdout
    [verdict] = json.loads(validated.stdout)["messages"]
    assert verdict["valid"] and verdict["legacy"]


def test_without_the_settings_the_cause_is_one_line(project: Path) -> None:
    result = run(project, "generate", "notes.tasks", "--out", "schemas", django=False)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    [line] = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert "notes.tasks" in line and ("Apps aren't loaded" in line or "settings are not configured" in line)
    assert not (project / "schemas").exists()


def test_settings_that_fail_are_one_line(project: Path) -> None:
    (project / "project_settings.py").write_text("raise RuntimeError('DATABASE_URL is not set')\n")
    result = run(project, "inspect", "notes.tasks")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    [line] = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert "Django settings project_settings" in line and "DATABASE_URL is not set" in line

"""The ``actorschema`` command line: the console script, and ``python -m actorschema``.

:mod:`actorschema.cli.app` is the typer app and its commands;
:mod:`actorschema.cli.targets` finds an app's broker from a command-line
target (as Dramatiq's own CLI does, Django included). The library never
imports this package, so typer and rich load only when a command runs.
"""

from .app import app, main

__all__ = ["app", "main"]

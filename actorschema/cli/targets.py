"""Finding a Dramatiq app's broker from a command-line target, the way Dramatiq's CLI does.

``TARGET`` takes every form ``dramatiq`` itself takes (``dramatiq/cli.py``,
``import_broker``): a module (``examples.shop``), ``module:broker`` or
``module:attr.broker`` naming a broker, ``module:setup`` naming a callable
that sets the global broker up, and also a file path (``app/tasks.py``), whose
folder is put on ``sys.path`` so that it imports its siblings as it does when
run. The module is imported (which declares its actors); without an attribute
the broker is the module's one broker attribute, else Dramatiq's global
broker, if the import set one.

Under Django (``DJANGO_SETTINGS_MODULE`` set, as ``manage.py`` and
``django_dramatiq`` expect), ``django.setup()`` runs first, so the app
registry is loaded before the tasks module declares its actors.

Importing an app runs its code: whatever it raises, or a ``sys.exit()`` at
import, becomes an :class:`AppNotFound` with a one-line cause.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

import dramatiq
import dramatiq.broker
from dramatiq.broker import Broker

__all__ = ["AppNotFound", "load_broker"]


class AppNotFound(Exception):
    """The target cannot be imported, or names no broker.

    Parameters:
      cause: What went wrong, in one line.
      hint: What to do about it.
    """

    def __init__(
        self,
        cause: str,
        hint: str = "run from the folder that holds the app, or give a file path (app/tasks.py)",
    ) -> None:
        super().__init__(cause)
        self.hint = hint


_RUNS_CODE = (
    "importing the app runs its code: fix that error, or give it what it needs (environment, settings)"
)


def load_broker(target: str) -> Broker:
    """Import ``target`` and return its broker.

    Parameters:
      target: ``module``, ``module:attr``, ``module:attr.attr...`` or a file path, optionally with ``:attr``.

    Raises:
      AppNotFound: With a one-line cause a user can act on.
    """
    module_name, _, attribute = _split(target)
    _setup_django()
    if module_name.endswith(".py") or "/" in module_name or os.sep in module_name:
        module = _import_file(Path(module_name))
    else:
        if str(Path.cwd()) not in sys.path:
            sys.path.insert(0, str(Path.cwd()))  # as ``python -m`` would: the app lives here
        module = _guarded(module_name, lambda: importlib.import_module(module_name))
    if attribute:
        return _named_broker(module, module_name, attribute)
    found = {name: value for name, value in vars(module).items() if isinstance(value, Broker)}
    if len(found) > 1:
        names = ", ".join(f"{module_name}:{name}" for name in sorted(found))
        raise AppNotFound(f"{module_name} holds several brokers; name one: {names}")
    if found:
        return next(iter(found.values()))
    return _global_broker(module_name)


def _split(target: str) -> tuple[str, str, str]:
    # A Windows drive letter (C:\app\tasks.py) is not an attribute separator.
    if len(target) > 2 and target[1] == ":" and target[2] in "\\/":
        head, sep, attribute = target[2:].partition(":")
        return target[:2] + head, sep, attribute
    return target.partition(":")


def _named_broker(module: object, module_name: str, attribute: str) -> Broker:
    try:
        value = functools.reduce(getattr, attribute.split("."), module)
    except AttributeError:
        raise AppNotFound(f"{module_name} has no attribute {attribute!r}") from None
    if isinstance(value, Broker):
        return value
    if callable(value):
        # Dramatiq's ``module:setup_function``: it sets the global broker up (and may declare actors).
        _guarded(f"{module_name}:{attribute}", value, calling=True)
        return _global_broker(f"{module_name}:{attribute}")
    raise AppNotFound(
        f"{module_name}:{attribute} is not a Dramatiq broker nor a callable that sets one up "
        f"({type(value).__name__})"
    )


def _global_broker(where: str) -> Broker:
    # dramatiq.get_broker() would make a fresh default broker (with no actors): that is "no broker".
    broker = dramatiq.broker.global_broker
    if broker is None:
        raise AppNotFound(
            f"{where} sets up no Dramatiq broker (no broker attribute, and no global broker after importing it); "
            "name the module that declares the actors, e.g. examples.shop, or module:broker"
        )
    return broker


def _setup_django() -> None:
    """``django.setup()`` when a Django project is configured, as ``manage.py`` would run it."""
    if not os.environ.get("DJANGO_SETTINGS_MODULE"):
        return
    if str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))  # where manage.py lives, and the settings with it
    try:
        django = importlib.import_module("django")
    except ImportError:
        raise AppNotFound(
            "DJANGO_SETTINGS_MODULE is set but Django is not installed here; unset it for a non-Django app"
        ) from None
    name = os.environ["DJANGO_SETTINGS_MODULE"]
    _guarded(f"Django settings {name}", django.setup, calling=True)


def _guarded(what: str, run: Any, *, calling: bool = False) -> Any:
    """Run the app's code; anything it raises (``sys.exit`` too) is a one-line AppNotFound."""
    verb = "calling" if calling else "importing"
    try:
        return run()
    except SystemExit as error:
        raise AppNotFound(
            f"{verb} {what} called sys.exit({error.code!r})",
            "give the module that declares the actors, not a script that exits when imported",
        ) from None
    except KeyboardInterrupt:
        raise
    except ModuleNotFoundError as error:
        if not calling and error.name is not None and what.startswith(error.name):
            raise AppNotFound(f"cannot import {what!r}: no module named {error.name!r}") from None
        raise AppNotFound(f"{verb} {what} failed: {type(error).__name__}: {error}", _RUNS_CODE) from None
    except BaseException as error:
        raise AppNotFound(
            f"{verb} {what} failed: {type(error).__name__}: {_one_line(error)}", _RUNS_CODE
        ) from None


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text if len(text) <= 300 else text[:297] + "..."


def _import_file(path: Path) -> object:
    if not path.is_file():
        raise AppNotFound(f"no such file: {path}")
    folder = str(path.resolve().parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)  # as ``python path/to/tasks.py`` would: its siblings import
    name = path.stem
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise AppNotFound(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader = spec.loader
    try:
        _guarded(str(path), lambda: loader.exec_module(module))
    except AppNotFound:
        del sys.modules[name]
        raise
    return module

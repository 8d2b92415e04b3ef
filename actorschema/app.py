"""Finding a Dramatiq app's broker from a command-line target, the way Dramatiq's CLI does.

``TARGET`` is a module (``examples.shop``), ``module:attribute`` naming a
broker, or a file path (``examples/shop.py``). The module is imported (which
declares its actors); the broker is the named attribute, else the module's
one broker attribute, else Dramatiq's global broker.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

import dramatiq
from dramatiq.broker import Broker

__all__ = ["AppNotFound", "load_broker"]


class AppNotFound(Exception):
    """The target cannot be imported, or names no broker."""


def load_broker(target: str) -> Broker:
    """Import ``target`` and return its broker.

    Raises:
      AppNotFound: With a one-line cause a user can act on.
    """
    module_name, _, attribute = target.partition(":")
    if module_name.endswith(".py") or "/" in module_name:
        module = _import_file(Path(module_name))
    else:
        if str(Path.cwd()) not in sys.path:
            sys.path.insert(0, str(Path.cwd()))  # as ``python -m`` would: the app lives here
        try:
            module = importlib.import_module(module_name)
        except ImportError as error:
            raise AppNotFound(f"cannot import {module_name!r}: {error}") from error
        except Exception as error:
            raise AppNotFound(f"importing {module_name!r} failed: {type(error).__name__}: {error}") from error
    if attribute:
        broker = getattr(module, attribute, None)
        if not isinstance(broker, Broker):
            raise AppNotFound(f"{module_name}:{attribute} is not a Dramatiq broker ({type(broker).__name__})")
        return broker
    found = {name: value for name, value in vars(module).items() if isinstance(value, Broker)}
    if len(found) > 1:
        names = ", ".join(f"{module_name}:{name}" for name in sorted(found))
        raise AppNotFound(f"{module_name} holds several brokers; name one: {names}")
    if found:
        return next(iter(found.values()))
    return dramatiq.get_broker()


def _import_file(path: Path) -> object:
    if not path.is_file():
        raise AppNotFound(f"no such file: {path}")
    name = path.stem
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise AppNotFound(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        del sys.modules[name]
        raise AppNotFound(f"importing {path} failed: {type(error).__name__}: {error}") from error
    return module

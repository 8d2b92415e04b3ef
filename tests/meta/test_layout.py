"""The package's layout holds: no import cycle, the worker side apart, Dramatiq's private names in one module.

Read from the source with ``ast`` (module-level imports only: an import inside
a function or under ``TYPE_CHECKING`` runs later or never), except the first
test, which imports actorschema in a fresh interpreter as a producer would.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import dramatiq
import pytest
from dramatiq.middleware import MiddlewareError

from actorschema import PayloadGateway
from actorschema.brokers import StubBroker

PACKAGE = Path(__file__).resolve().parents[2] / "actorschema"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def top_level_imports(path: Path) -> set[str]:
    """The actorschema modules ``path`` imports when it is imported (not in functions, not for the type checker)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    statements = list(tree.body)
    while statements:
        node = statements.pop()
        if isinstance(node, ast.If) and "TYPE_CHECKING" not in ast.unparse(node.test):
            statements.extend(node.body + node.orelse)
        elif isinstance(node, ast.Try):
            statements.extend(node.body)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("actorschema"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if not target.startswith("actorschema"):
                continue
            for alias in node.names:  # ``from . import x`` may name a submodule (a package or a module)
                candidate = f"{target}.{alias.name}"
                where = PACKAGE.parent / candidate.replace(".", "/")
                found.add(candidate if where.exists() or where.with_suffix(".py").exists() else target)
    found.discard(name)
    return found


GRAPH = {module_name(path): top_level_imports(path) for path in sorted(PACKAGE.rglob("*.py"))}


def test_importing_actorschema_loads_neither_the_worker_side_nor_jsonschema() -> None:
    code = (
        "import sys, actorschema\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('jsonschema', 'jsonschema_rs')"
        " or m.startswith('actorschema.consume'))\n"
        "print(loaded)\n"
        "actorschema.PayloadGateway().consume_guard\n"
        "print('actorschema.consume.guard' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=PACKAGE.parent
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["[]", "True"]  # the guard loads when a worker asks for it


def test_a_worker_whose_check_cannot_load_does_not_start(monkeypatch: pytest.MonkeyPatch) -> None:
    # Loaded lazily, the worker side may fail to import where the producer side did not: the
    # worker must refuse to boot rather than consume unchecked (Dramatiq ignores other errors).
    broker = StubBroker()
    broker.add_middleware(PayloadGateway())
    monkeypatch.setitem(sys.modules, "actorschema.consume.guard", None)  # import fails
    worker = dramatiq.Worker(broker, worker_timeout=100)
    with pytest.raises(MiddlewareError, match="does not start without it"):
        worker.start()
    worker.stop()
    broker.close()


def test_the_package_has_no_import_cycle() -> None:
    assert GRAPH["actorschema.gateway"]  # the reading works: the gateway imports its helpers
    state: dict[str, int] = {}  # 1 on the current path, 2 done

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for imported in sorted(GRAPH.get(module, ())):
            assert state.get(imported) != 1, "import cycle: " + " -> ".join([*path, module, imported])
            if imported not in state:
                visit(imported, [*path, module])
        state[module] = 2

    for module in GRAPH:
        if module not in state:
            visit(module, [])


def test_the_worker_side_and_the_brokers_never_import_the_gateway() -> None:
    def reaches(module: str, seen: set[str]) -> set[str]:
        for imported in GRAPH.get(module, ()):
            if imported not in seen:
                seen.add(imported)
                reaches(imported, seen)
        return seen

    for module in GRAPH:
        if (
            module.startswith(("actorschema.consume", "actorschema.brokers"))
            or module == "actorschema.delivery"
        ):
            assert "actorschema.gateway" not in reaches(module, set()), module
    assert "actorschema.consume.guard" not in reaches("actorschema.gateway", set())


#: A private Dramatiq name: imported from dramatiq, or one of the private attributes actorschema reads.
PRIVATE_DRAMATIQ = re.compile(
    r"from dramatiq[\w.]* import \(?\s*(?:\w+(?: as \w+)?,\s*)*_[A-Za-z]|"
    r"\._(message|tag|max_unpack_size|should_do_maintenance|StubConsumer|StubMessageProxy|RedisConsumer|RabbitmqConsumer|RabbitmqMessage)\b|"
    r"send_with_options\.__code__"
)


def test_only_the_coupling_module_names_dramatiqs_private_parts() -> None:
    coupling = PACKAGE / "_dramatiq.py"
    assert PRIVATE_DRAMATIQ.search(coupling.read_text(encoding="utf-8"))  # the pattern sees them there
    for path in PACKAGE.rglob("*.py"):
        if path != coupling:
            found = PRIVATE_DRAMATIQ.search(path.read_text(encoding="utf-8"))
            assert found is None, f"{path.relative_to(PACKAGE.parent)}: {found and found.group()}"


def test_only_the_message_module_names_dramatiqs_options() -> None:
    """Every option with a rule is named in message.py and read through its constants and functions."""
    from actorschema.message import OPTIONS

    named = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "message.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and node.body
            and isinstance(node.body[0], ast.Expr)
        }
        named += [
            f"{module_name(path)}:{node.lineno} {node.value!r}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and node.value in OPTIONS and id(node) not in docstrings
        ]
    assert named == []

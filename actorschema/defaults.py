"""What the source code says: which defaults, texts and examples may be published.

A schema is committed, diffed in review and compared byte for byte by
``actorschema check``, so it may only hold what the source code fixes. A
parameter's default such as ``os.environ.get("DATABASE_URL", ...)``,
``settings.TIMEOUT``, ``datetime.now()`` or ``uuid4()`` is evaluated when the
app is imported: its value differs between machines and may be a secret. This
module decides, from the ``ast`` of the function or class (read through the
module's source file, never from the value a default happens to have), whether
a default is a **literal**: a constant, ``None``, a negative number, arithmetic
on numbers, a list/tuple/set/dict of literals, or an Enum member written as
``Color.RED``. The live value must also be exactly that literal (a default
reassigned at run time, ``fn.__defaults__ = ...``, is not).

Everything else is "computed at run time": the parameter or field stays
optional, and the schema says so in a ``$comment`` (:data:`COMPUTED`) instead
of showing the value. Texts (``description``, ``title``) are published only
when they are a string literal of the module that defines the function or
class (a docstring, ``Field(description="...")``), so a description built
with an f-string or assigned to ``__doc__`` at run time never reaches a file;
``examples`` only when they are literals at the field that declares them.
Without source (a lambda, a ``functools.partial``, a module compiled without
its ``.py``), nothing is literal: nothing is published.
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import enum
import functools
import hashlib
import inspect
import linecache
import operator
import sys
import threading
import weakref
from collections.abc import Callable, Iterator
from typing import Any, TypeGuard

from pydantic.json_schema import GenerateJsonSchema, JsonRef, JsonSchemaValue
from pydantic_core import PydanticUndefined

__all__ = [
    "COMPUTED",
    "PublishedJsonSchema",
    "SourceFacts",
    "class_facts",
    "function_facts",
    "published_text",
    "scrub_field",
    "scrub_texts",
]

#: What a schema says, in ``$comment``, of a default it does not show.
COMPUTED = "actorschema: optional; its default is computed at run time and not published"

#: Keywords that copy text or values from the live app into a schema.
_TEXT_KEYWORDS = ("description", "title")
_FIELD_CALLS = frozenset(("Field", "field"))


@dataclasses.dataclass(frozen=True)
class _Declared:
    """One parameter or field as its source declares it.

    Parameters:
      default: The expression of its default, or None when the source gives none.
      factory: Its default comes from a ``default_factory``: computed.
      keywords: ``Field(...)`` keywords (``examples``...) written at the declaration.
    """

    default: ast.expr | None = None
    factory: bool = False
    keywords: dict[str, ast.expr] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class SourceFacts:
    """What the source of one function or class lets a schema publish.

    Parameters:
      declared: Each parameter's or field's declaration, by name.
      texts: Every string literal of the defining module, as written and as
        ``inspect.cleandoc`` cleans docstrings: the texts a schema may carry.
    """

    declared: dict[str, _Declared] = dataclasses.field(default_factory=dict)
    texts: frozenset[str] = frozenset()

    def literal_default(self, name: str, live: Any) -> bool:
        """Is ``live``, the default of ``name``, the literal its source declares?"""
        declared = self.declared.get(name)
        if declared is None or declared.factory or declared.default is None:
            return False
        return _matches(declared.default, live)

    def literal_keyword(self, name: str, keyword: str, live: Any) -> bool:
        """Is ``live`` the literal that ``Field(keyword=...)`` of ``name`` declares?"""
        declared = self.declared.get(name)
        node = None if declared is None else declared.keywords.get(keyword)
        return node is not None and _matches(node, live)

    def literal_text(self, text: Any) -> bool:
        """Is ``text`` a string literal of the source (or a docstring of it, cleaned)?"""
        return isinstance(text, str) and text in self.texts


_NOTHING = SourceFacts()


def published_text(facts: SourceFacts, text: str | None) -> str | None:
    """``text`` when the source writes it as a literal, else None (a docstring set at run time).

    Parameters:
      facts: The source facts of the function or class the text belongs to.
      text: The live text (``inspect.getdoc(fn)``...).
    """
    return text if text is not None and facts.literal_text(text) else None


_function_cache: weakref.WeakKeyDictionary[Any, SourceFacts] = weakref.WeakKeyDictionary()
_class_cache: weakref.WeakKeyDictionary[type, SourceFacts] = weakref.WeakKeyDictionary()


def function_facts(fn: Any) -> SourceFacts:
    """The source facts of a function's parameters (found from its code object; cached).

    Parameters:
      fn: A function, ``async def``, method, bound method or callable instance.
        Decorated functions count from their first decorator line, as Python does.
        None (a contract built without its function) has no source: nothing is literal.
    """
    if fn is None:
        return _NOTHING
    fn = inspect.unwrap(fn) if callable(fn) else fn
    fn = getattr(fn, "__func__", fn)
    if not inspect.isfunction(fn):
        call = vars(type(fn)).get("__call__") if callable(fn) else None  # a callable instance
        fn = getattr(call, "__func__", call)
        if not inspect.isfunction(fn):
            return _NOTHING
    try:
        return _function_cache[fn]
    except (KeyError, TypeError):
        pass
    facts = _function_facts(fn)
    _function_cache[fn] = facts
    return facts


def _function_facts(fn: Any) -> SourceFacts:
    code = fn.__code__
    module = _module(code.co_filename, fn.__globals__)
    if module is None or code.co_name == "<lambda>":
        return _NOTHING
    tree, texts = module
    found = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.name == code.co_name
        and min([node.lineno, *(d.lineno for d in node.decorator_list)]) == code.co_firstlineno
    ]
    if len(found) != 1:
        return _NOTHING
    arguments = found[0].args
    declared: dict[str, _Declared] = {}
    positional = [*arguments.posonlyargs, *arguments.args]
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(arguments.defaults))
    defaults += arguments.defaults
    for argument, default in [
        *zip(positional, defaults, strict=True),
        *zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True),
    ]:
        declared[argument.arg] = _declaration(default, argument.annotation)
    return SourceFacts(declared, texts)


def class_facts(cls: type) -> SourceFacts:
    """The source facts of a model's, dataclass's, TypedDict's or Enum's fields (cached).

    Fields inherited from a base class are read from that base's source; a
    field declared again in a subclass counts from the subclass.

    Parameters:
      cls: The class.
    """
    try:
        return _class_cache[cls]
    except (KeyError, TypeError):
        pass
    declared: dict[str, _Declared] = {}
    texts: set[str] = set()
    for base in reversed(cls.__mro__):
        if base.__module__ in _LIBRARY or base.__module__.startswith("pydantic"):
            continue
        node, module_texts = _class_node(base)
        texts |= module_texts
        if node is None:
            # A class without source: its own fields are not literal, whatever a base said.
            for name in getattr(base, "__annotations__", {}):
                declared[name] = _Declared()
            continue
        for statement in node.body:
            if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
                declared[statement.target.id] = _declaration(statement.value, statement.annotation)
            config = _config_keywords(statement)
            if config is not None:
                # pydantic merges a subclass's config into its bases': so do their declarations.
                inherited = declared.get(_CONFIG, _Declared()).keywords
                declared[_CONFIG] = _Declared(keywords={**inherited, **config})
    facts = SourceFacts(declared, frozenset(texts))
    with contextlib.suppress(TypeError):  # a class that takes no weak references is not cached
        _class_cache[cls] = facts
    return facts


#: Modules of base classes that declare no fields of the app's (object, BaseModel, Generic...).
_LIBRARY = frozenset(("builtins", "typing", "typing_extensions", "enum", "abc", "collections"))


def _class_node(cls: type) -> tuple[ast.ClassDef | None, frozenset[str]]:
    """The one ``class`` statement that defines ``cls``, found by its qualified name."""
    module = sys.modules.get(cls.__module__)
    filename = getattr(module, "__file__", None)
    parsed = _module(filename, vars(module)) if module is not None and filename else None
    if parsed is None:
        return None, frozenset()
    tree, texts = parsed
    scopes: list[ast.AST] = [tree]
    parts = cls.__qualname__.split(".")
    for index, part in enumerate(parts):
        if part == "<locals>":
            continue
        # After "<locals>" the next name may sit anywhere in the function's body.
        local = index > 0 and parts[index - 1] == "<locals>"
        last = index == len(parts) - 1
        wanted = ast.ClassDef if last else (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
        found = [
            node
            for scope in scopes
            for node in (_nested(scope) if local else _children(scope))
            if isinstance(node, wanted) and node.name == part
        ]
        if not found:
            return None, texts
        scopes = list(found)
    if len(scopes) != 1 or not isinstance(scopes[0], ast.ClassDef):
        return None, texts  # defined twice (under an if, say): which one ran is not in the source
    return scopes[0], texts


#: Where a class's ``model_config`` keywords are kept among its declarations (not a field name).
_CONFIG = "<model_config>"


def _config_keywords(statement: ast.stmt) -> dict[str, ast.expr] | None:
    """The keywords of ``model_config = ConfigDict(...)`` or ``= {...}``; None for other statements."""
    if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
        target, value = statement.targets[0], statement.value
    elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
        target, value = statement.target, statement.value
    else:
        return None
    if not (isinstance(target, ast.Name) and target.id == "model_config"):
        return None
    if isinstance(value, ast.Call):
        return {k.arg: k.value for k in value.keywords if k.arg is not None}
    if isinstance(value, ast.Dict):
        return {
            k.value: v
            for k, v in zip(value.keys, value.values, strict=True)
            if isinstance(k, ast.Constant) and isinstance(k.value, str)
        }
    return {}


def _children(scope: ast.AST) -> Iterator[ast.AST]:
    """Statements directly in ``scope``'s body, looking through if/elif/else, try and with blocks."""
    blocks = [getattr(scope, "body", [])]
    if isinstance(scope, ast.If | ast.Try):
        blocks += [scope.orelse, *([scope.finalbody] if isinstance(scope, ast.Try) else [])]
        blocks += [handler.body for handler in getattr(scope, "handlers", [])]
    for block in blocks:
        for node in block:
            yield node
            if isinstance(node, ast.If | ast.Try | ast.With | ast.AsyncWith):
                yield from _children(node)


def _nested(scope: ast.AST) -> Iterator[ast.AST]:
    for node in ast.walk(scope):
        if node is not scope:
            yield node


def _declaration(value: ast.expr | None, annotation: ast.expr | None) -> _Declared:
    """Read a declaration: ``= literal``, ``= Field(default=..., examples=...)`` or ``field(default_factory=...)``.

    Parameters:
      value: What is assigned (a parameter's default, a field's value), if anything.
      annotation: Its annotation, whose ``Annotated[T, Field(...)]`` may also declare a default.
    """
    keywords: dict[str, ast.expr] = {}
    default: ast.expr | None = None
    factory = False
    calls = _annotated_fields(annotation)  # first: what is assigned overrides it, as in pydantic
    if value is not None and _is_field_call(value):
        calls.append(value)
    for call in calls:
        for keyword in call.keywords:
            if keyword.arg == "default":
                default, factory = keyword.value, False
            elif keyword.arg == "default_factory":
                default, factory = None, True
            elif keyword.arg is not None:
                keywords[keyword.arg] = keyword.value
        if call.args and not (isinstance(call.args[0], ast.Constant) and call.args[0].value is ...):
            default, factory = call.args[0], False
    if value is not None and not _is_field_call(value):
        default, factory = value, False
    return _Declared(default, factory, keywords)


def _annotated_fields(annotation: ast.expr | None) -> list[ast.Call]:
    """The ``Field(...)`` calls of ``Annotated[T, Field(...)]``: the declaration's own, not any inside ``T``."""
    if not isinstance(annotation, ast.Subscript) or not isinstance(annotation.slice, ast.Tuple):
        return []
    head = annotation.value
    name = head.id if isinstance(head, ast.Name) else getattr(head, "attr", None)
    if name != "Annotated":
        return []
    return [node for node in annotation.slice.elts[1:] if isinstance(node, ast.Call) and _is_field_call(node)]


def _is_field_call(node: ast.AST) -> TypeGuard[ast.Call]:
    if not isinstance(node, ast.Call):
        return False
    function = node.func
    name = function.id if isinstance(function, ast.Name) else getattr(function, "attr", None)
    return name in _FIELD_CALLS


_PARSE_LOCK = threading.Lock()


@functools.lru_cache(maxsize=256)
def _parse(filename: str, digest: str, source: str) -> tuple[ast.Module, frozenset[str]] | None:
    del filename, digest  # part of the cache key only
    try:
        # One parse at a time: CPython 3.11's AST conversion keeps its recursion depth in
        # process-global state, and two worker threads parsing at once raise SystemError.
        with _PARSE_LOCK:
            tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    texts: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            texts.add(node.value)
            texts.add(inspect.cleandoc(node.value))
    return tree, frozenset(texts)


def _module(filename: str | None, module_globals: dict[str, Any]) -> tuple[ast.Module, frozenset[str]] | None:
    """The parsed source file and its string literals; None when there is no source."""
    if not filename or filename.startswith("<"):
        return None
    linecache.checkcache(filename)
    source = "".join(linecache.getlines(filename, module_globals))
    if not source:
        return None
    return _parse(filename, hashlib.sha256(source.encode()).hexdigest(), source)


_ARITHMETIC: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
}
_NUMBERS = (int, float)


def _matches(node: ast.expr, live: Any) -> bool:
    """Is ``live`` exactly the value the literal ``node`` writes (same types all the way down)?"""
    if isinstance(node, ast.Attribute):
        # An Enum member named by its class: Color.RED (or module.Color.RED).
        owner = node.value
        owner_name = owner.id if isinstance(owner, ast.Name) else getattr(owner, "attr", None)
        return (
            isinstance(live, enum.Enum)
            and type(live).__name__ == owner_name
            and type(live).__members__.get(node.attr) is live
        )
    if isinstance(node, ast.List | ast.Tuple):
        kind = list if isinstance(node, ast.List) else tuple
        return type(live) is kind and len(live) == len(node.elts) and all(map(_matches, node.elts, live))
    if isinstance(node, ast.Dict):
        if type(live) is not dict or len(live) != len(node.keys) or None in node.keys:
            return False
        for key_node, value_node in zip(node.keys, node.values, strict=True):
            assert key_node is not None
            key = _number_or_constant(key_node)
            live_key = next((k for k in live if _same(key, k)), _NOT_LITERAL)
            if key is _NOT_LITERAL or live_key is _NOT_LITERAL or not _matches(value_node, live[live_key]):
                return False
        return True
    if isinstance(node, ast.Set):
        items = [_number_or_constant(element) for element in node.elts]
        return (
            type(live) is set
            and _NOT_LITERAL not in items
            and len(live) == len(items)
            and all(any(_same(item, value) for value in live) for item in items)
        )
    value = _number_or_constant(node)
    return value is not _NOT_LITERAL and _same(value, live)


_NOT_LITERAL: Any = object()


def _number_or_constant(node: ast.expr) -> Any:
    """The value of a constant, a signed number or arithmetic on numbers; else ``_NOT_LITERAL``."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        operand = _number_or_constant(node.operand)
        if type(operand) in _NUMBERS:
            return -operand if isinstance(node.op, ast.USub) else +operand
    if isinstance(node, ast.BinOp) and type(node.op) in _ARITHMETIC:
        left, right = _number_or_constant(node.left), _number_or_constant(node.right)
        if type(left) in _NUMBERS and type(right) in _NUMBERS:
            try:
                return _ARITHMETIC[type(node.op)](left, right)
            except (ArithmeticError, ValueError):
                return _NOT_LITERAL
    return _NOT_LITERAL


def _same(expected: Any, live: Any) -> bool:
    # Strict: 1, 1.0 and True are equal in Python but three different defaults in JSON.
    return type(expected) is type(live) and (expected == live or (expected != expected and live != live))


class PublishedJsonSchema(GenerateJsonSchema):
    """pydantic's JSON Schema generator, publishing only what the source code fixes.

    Each model, dataclass, TypedDict, NamedTuple and Enum schema keeps a
    field's ``default`` only when it is a literal in the class's source (else
    the field gets :data:`COMPUTED` in ``$comment``), its ``examples`` and
    ``json_schema_extra`` only when they are literals where the field (or
    ``model_config``) declares them, and texts (``description``, ``title``)
    only when they are string literals of the defining module or titles
    pydantic derives from names.

    The class's schema is judged when :meth:`generate_inner` has finished it:
    pydantic versions differ in where they add a class's docstring and
    config (inside ``model_schema``, or after it, in the model's own
    ``__get_pydantic_json_schema__``).
    """

    def generate_inner(self, schema: Any) -> JsonSchemaValue:  # a core schema, or one of its fields
        json_schema = super().generate_inner(schema)
        cls = _class_of(schema)
        if cls is None:
            return json_schema
        target: JsonSchemaValue | None = json_schema
        ref = json_schema.get("$ref")
        if isinstance(ref, str) and len(json_schema) == 1:
            target = self.get_schema_from_definitions(JsonRef(ref))  # the class's entry in $defs
        if target is not None:
            published = _published(target, cls)
            target.clear()
            target.update(published)
        return json_schema


def _class_of(schema: Any) -> type | None:
    """The class whose fields a core schema describes (a model, dataclass, TypedDict, Enum, NamedTuple)."""
    kind = schema.get("type")
    # "named-tuple": pydantic 2.14 and later; before, a NamedTuple is a "call" schema (below).
    if kind in ("model", "dataclass", "typed-dict", "enum", "named-tuple"):
        cls = schema.get("cls")
        return cls if isinstance(cls, type) else None
    if kind == "call":
        cls = schema.get("function")
        if isinstance(cls, type) and issubclass(cls, tuple) and hasattr(cls, "_fields"):
            return cls
    return None


def _published(json_schema: dict[str, Any], cls: type) -> dict[str, Any]:
    """A class's finished schema, judged against its source (idempotent: a class may be met twice)."""
    facts = class_facts(cls)
    names = {cls.__name__}
    config = getattr(cls, "model_config", None) or getattr(cls, "__pydantic_config__", None) or {}
    extra = config.get("json_schema_extra")
    if extra is not None and not facts.literal_keyword(_CONFIG, "json_schema_extra", extra):
        _drop_copied(json_schema, "json_schema_extra", extra)
    properties = json_schema.get("properties")
    if isinstance(properties, dict):
        names.update(properties)
        for name, (keys, default, keywords) in _fields_of(cls).items():
            key = next((k for k in keys if k in properties), None)
            if key is not None:
                properties[key] = scrub_field(properties[key], facts, name, default, keywords)
    items = json_schema.get("prefixItems")
    if isinstance(items, list) and hasattr(cls, "_fields"):
        # A NamedTuple travels as an array: its fields are the prefixItems, in order.
        names.update(cls._fields)
        for index, name in enumerate(cls._fields[: len(items)]):
            default = getattr(cls, "_field_defaults", {}).get(name, dataclasses.MISSING)
            items[index] = scrub_field(items[index], facts, name, default, {})
    published: dict[str, Any] = scrub_texts(json_schema, facts, names)
    return published


def scrub_field(schema: Any, facts: SourceFacts, name: str, default: Any, keywords: dict[str, Any]) -> Any:
    """One field's or parameter's schema, without the values its source does not write as literals.

    Parameters:
      schema: The generated schema of the field.
      facts: The source facts of the function or class that declares it.
      name: The parameter's or field's name in the source.
      default: Its live default: a value, ``inspect.Parameter.empty``,
        ``PydanticUndefined``, ``dataclasses.MISSING``, or :data:`FACTORY`.
      keywords: Its live ``examples`` and ``json_schema_extra`` (None when unset).
    """
    if not isinstance(schema, dict):
        return schema
    # Below the field's own keywords, a default or examples come from a Field(...) inside a
    # generic (list[Annotated[int, Field(default=...)]]): no declaration to trace them to.
    schema = {key: value if key in _DATA else _without_data(value) for key, value in schema.items()}
    has_default = not any(
        default is none for none in (inspect.Parameter.empty, PydanticUndefined, dataclasses.MISSING)
    )
    if not has_default:
        # Python has no default here (an Annotated Field's default is not one): claim none.
        schema.pop("default", None)
    elif not facts.literal_default(name, default):
        schema.pop("default", None)
        comment = schema.get("$comment")
        if not comment:
            schema["$comment"] = COMPUTED
        elif COMPUTED not in comment:
            schema["$comment"] = f"{comment}; {COMPUTED}"
    for keyword, live in keywords.items():
        if live is not None and not facts.literal_keyword(name, keyword, live):
            _drop_copied(schema, keyword, live)
    return schema


#: Keywords whose values are data, not schemas.
_DATA = frozenset(("const", "enum", "default", "examples"))
#: Keywords whose values map names (of properties, definitions) to schemas.
_NAMED_SCHEMAS = frozenset(("properties", "patternProperties", "dependentSchemas", "$defs"))


def _without_data(node: Any) -> Any:
    """A subschema without ``default`` and ``examples`` at any depth (``const`` and ``enum`` stay)."""
    if isinstance(node, list):
        return [_without_data(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("default", "examples"):
            continue
        if key in _DATA:
            out[key] = value
        elif key in _NAMED_SCHEMAS and isinstance(value, dict):
            out[key] = {name: _without_data(item) for name, item in value.items()}
        else:
            out[key] = _without_data(value)
    return out


def _drop_copied(schema: dict[str, Any], keyword: str, live: Any) -> None:
    """Remove what ``Field(keyword=live)`` (or a class's config) copied into ``schema``."""
    if keyword == "examples":
        schema.pop("examples", None)
    elif isinstance(live, dict):
        # json_schema_extra: its keys were merged into the schema; a callable is code, read from source.
        for key in live:
            if key not in _STRUCTURE:
                schema.pop(key, None)


#: Keywords that shape what validates: never dropped, even when a ``json_schema_extra`` wrote them.
_STRUCTURE = frozenset(("type", "properties", "required", "additionalProperties", "items", "$ref", "anyOf"))


#: A default that a ``default_factory`` makes: computed whatever the factory is.
FACTORY: Any = object()


def scrub_texts(node: Any, facts: SourceFacts, names: set[str]) -> Any:
    """``node`` with every text the source does not write dropped, at any depth (not into data).

    Parameters:
      node: A schema.
      facts: The source facts of its function or class.
      names: The names whose derived titles pydantic writes (class and field names).
    """
    if isinstance(node, list):
        return [scrub_texts(item, facts, names) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DATA:
            out[key] = value  # data, not schemas (their values were judged by scrub_field)
        elif key in _TEXT_KEYWORDS and isinstance(value, str):
            if facts.literal_text(value) or (key == "title" and _derived_title(value, names)):
                out[key] = value
        elif key in _NAMED_SCHEMAS and isinstance(value, dict):
            out[key] = {name: scrub_texts(item, facts, names) for name, item in value.items()}
        else:
            out[key] = scrub_texts(value, facts, names)
    return out


def _derived_title(title: str, names: set[str]) -> bool:
    """A title pydantic writes from a name: the class name, or ``user_id`` as ``User Id``."""
    return any(title in (name, name.title().replace("_", " ")) for name in names)


_Fields = dict[str, tuple[tuple[str, ...], Any, dict[str, Any]]]


def _fields_of(cls: type) -> _Fields:
    """Each field of a model or dataclass: (its keys in the schema, its live default, its live keywords)."""
    fields = getattr(cls, "__pydantic_fields__", None)  # models (pydantic 2.10+) and pydantic dataclasses
    if not isinstance(fields, dict):
        fields = getattr(cls, "model_fields", None)  # models on older pydantic
    if isinstance(fields, dict):
        out: _Fields = {}
        for name, info in fields.items():
            keys = tuple(k for k in (info.validation_alias, info.alias, name) if isinstance(k, str))
            default = FACTORY if info.default_factory is not None else info.default
            out[name] = (
                keys,
                default,
                {"examples": info.examples, "json_schema_extra": info.json_schema_extra},
            )
        return out
    return _dataclass_fields(cls)


def _dataclass_fields(cls: type) -> _Fields:
    if not dataclasses.is_dataclass(cls):
        return {}
    out: _Fields = {}
    for field in dataclasses.fields(cls):
        default = FACTORY if field.default_factory is not dataclasses.MISSING else field.default
        out[field.name] = ((field.name,), default, {})
    return out

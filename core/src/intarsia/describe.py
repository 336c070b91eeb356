"""What a component accepts: every option of its config dataclass with its type, default and docstring,
nested sections included. ``intarsia show KIND NAME`` prints it; the plugin contract checks that every
field has its documentation.

A field's documentation is the string literal right under it (the house style) or, failing that, a
``#`` comment at the end of its line or on the lines just above it.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import inspect
import json
import textwrap
from dataclasses import dataclass
from typing import Any

from .registry import CORE_KINDS, Registry


@dataclass
class Option:
    """One line of ``intarsia show``: a field, or a section header for a nested dataclass."""

    path: str
    """dotted key, as written in an override (``model.stoch``)"""
    type: str
    """the annotation as written in the source"""
    default: Any
    """the default as plain data (``"(required)"`` when there is none)"""
    doc: str
    """the field's documentation ("" when it has none)"""
    section: bool = False
    """a nested dataclass (its fields follow, one level deeper)"""
    component: str | None = None
    """registry kind, for fields that hold a component section (``env``, ``policy``, ``rewards``)"""
    required: bool = False
    """no default: a config must set it"""


@functools.cache
def field_docs(cls: type) -> dict[str, str]:
    """Field name -> documentation, read from the class source (empty when the source is unavailable)."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):  # a subclass's documentation wins over its base's
        if not dataclasses.is_dataclass(klass):
            continue
        try:
            lines, _ = inspect.getsourcelines(klass)
        except (OSError, TypeError):
            continue
        source = textwrap.dedent("".join(lines))
        src_lines = source.splitlines()
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
        for i, node in enumerate(body):
            if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
                continue
            doc = ""
            nxt = body[i + 1] if i + 1 < len(body) else None
            if isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant) and isinstance(nxt.value.value, str):
                doc = inspect.cleandoc(nxt.value.value)
            if not doc:
                doc = _trailing_comment(src_lines[node.end_lineno - 1])
            if not doc:
                doc = _comment_above(src_lines, node.lineno - 1)
            if doc or node.target.id not in docs:  # a subclass re-declaring a default keeps the base's doc
                docs[node.target.id] = " ".join(doc.split())
    return docs


def _trailing_comment(line: str) -> str:
    """The ``# ...`` ending a line of code (a ``#`` inside a string literal is not a comment)."""
    import io
    import tokenize

    try:
        for tok in tokenize.generate_tokens(io.StringIO(line.strip() + "\n").readline):
            if tok.type == tokenize.COMMENT:
                return tok.string.lstrip("#").strip()
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return ""


def _comment_above(lines: list[str], index: int) -> str:
    out: list[str] = []
    j = index - 1
    while j >= 0 and lines[j].strip().startswith("#"):
        out.insert(0, lines[j].strip().lstrip("#").strip())
        j -= 1
    return " ".join(out)


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        return f.default_factory()  # type: ignore[misc]
    return dataclasses.MISSING


def _type_name(annotation: Any) -> str:
    if isinstance(annotation, str):
        return annotation
    return getattr(annotation, "__name__", None) or repr(annotation).replace("typing.", "")


def options(cls: type, prefix: str = "", registry: Registry | None = None) -> list[Option]:
    """Every option of dataclass ``cls`` (nested dataclasses as a section header followed by their fields).
    ``registry`` names the kinds of component sections (a kind a plugin declared is named by its kind
    without it)."""
    from .config import _plain

    docs = field_docs(cls)
    out: list[Option] = []
    for f in dataclasses.fields(cls):
        path = f"{prefix}{f.name}"
        doc = docs.get(f.name, "")
        if "component" in f.metadata:
            kind = f.metadata["component"]
            many = f.metadata.get("many")
            noun = registry.singular(kind) if registry is not None else CORE_KINDS.get(kind, kind)
            shape = f"list of {noun} sections" if many else f"{noun} section"
            required = bool(f.metadata.get("required"))
            out.append(Option(path, shape, [] if many else None, doc, component=kind, required=required))
            continue
        default = _default(f)
        if dataclasses.is_dataclass(default) and not isinstance(default, type):
            out.append(Option(path, _type_name(f.type), None, doc or class_doc(type(default)), section=True))
            out.extend(options(type(default), prefix=f"{path}.", registry=registry))
            continue
        missing = default is dataclasses.MISSING
        out.append(Option(path, _type_name(f.type), None if missing else _plain(default), doc, required=missing))
    return out


def class_doc(cls: type) -> str:
    """The class's own docstring (not the signature that ``dataclass`` generates when there is none)."""
    doc = cls.__dict__.get("__doc__") or ""
    if not doc or doc.startswith(f"{cls.__name__}("):
        return ""
    return " ".join(inspect.cleandoc(doc).split())


def undocumented(cls: type) -> list[str]:
    """Dotted paths of the fields of ``cls`` (nested sections included) that have no documentation."""
    return [o.path for o in options(cls) if not o.doc]


def without_docstring(cls: type, prefix: str = "") -> list[str]:
    """Dotted paths of the fields of ``cls`` (nested sections included) whose documentation is not a string
    literal right under the field: the house style, which a ``#`` comment does not meet."""
    out: list[str] = []
    for f in dataclasses.fields(cls):
        if not any(_has_docstring(klass, f.name) for klass in cls.__mro__ if dataclasses.is_dataclass(klass)):
            out.append(f"{prefix}{f.name}")
        default = _default(f)
        if dataclasses.is_dataclass(default) and not isinstance(default, type):
            out.extend(without_docstring(type(default), prefix=f"{prefix}{f.name}."))
    return out


@functools.cache
def _docstrings(cls: type) -> frozenset[str]:
    """Names of the fields that ``cls``'s own body declares with a string literal right under them."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    except (OSError, TypeError, SyntaxError):
        return frozenset()
    body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
    return frozenset(node.target.id for node, nxt in zip(body, body[1:] + [None])
                     if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
                     and isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant)
                     and isinstance(nxt.value.value, str) and nxt.value.value.strip())


def _has_docstring(klass: type, name: str) -> bool:
    return name in _docstrings(klass)


def describe(registry: Registry, kind: str, name: str) -> dict:
    """Everything ``intarsia show`` says about one component, as plain data (``--json``)."""
    comp = registry.get(kind, name)
    info: dict[str, Any] = {"kind": kind, "singular": registry.singular(kind), "name": comp.name,
                            "distribution": comp.distribution, "summary": comp.summary,
                            "factory": _spec_text(comp.factory), "config": _spec_text(comp.config)}
    if kind == "recipes":
        info["file"] = str(comp.file)
        return info
    cls = comp.load_config_class()
    info["options"] = [dataclasses.asdict(o) for o in options(cls, registry=registry)] if cls is not None else []
    for o in info["options"]:
        if o["component"]:
            o["component_singular"] = registry.singular(o["component"])
    return info


def _spec_text(spec: Any) -> str | None:
    if spec is None or isinstance(spec, str):
        return spec
    return f"{getattr(spec, '__module__', '?')}:{getattr(spec, '__qualname__', repr(spec))}"


def render(info: dict, width: int = 100) -> str:
    """The text ``intarsia show`` prints: a header, then one entry per option (type, default, docstring)."""
    kind, name = info["kind"], info["name"]
    lines = [f"{info.get('singular', kind)} {name!r} (from {info['distribution']})"]
    if info.get("summary"):
        lines.append(f"  {info['summary']}")
    if info.get("factory"):
        lines.append(f"  factory: {info['factory']}")
    if info.get("config"):
        lines.append(f"  config:  {info['config']}")
    opts = info.get("options")
    if kind == "recipes":
        return "\n".join(lines)
    if not opts:
        lines.append("")
        lines.append(f"It takes no options: a section naming it holds only `name: {name}`.")
        return "\n".join(lines)
    lines.append("")
    lines.append(_usage(kind, name))
    lines.append("")
    for o in opts:
        depth = o["path"].count(".")
        pad = "  " * (depth + 1)
        if o["section"]:
            lines.append(f"{pad}{o['path']}:  ({o['type']}, a nested section)")
        else:
            default = "(required)" if o["required"] else json.dumps(o["default"], default=str)
            lines.append(f"{pad}{o['path']}: {o['type']} = {default}")
        doc = o["doc"] or "(undocumented)"
        if o["component"]:
            doc += f"  [any registered {o.get('component_singular', o['component'])}: `intarsia list {o['component']}`]"
        lines.extend(textwrap.wrap(doc, width=width, initial_indent=pad + "    ", subsequent_indent=pad + "    "))
    return "\n".join(lines)


def _usage(kind: str, name: str) -> str:
    if kind == "loggers":
        return f"Named in a run config's `log.loggers: [csv, {name}]` (or the override `log.loggers=[csv,{name}]`); no options."
    if kind == "jobs":
        return f"Top-level keys of a run config whose job is {name!r} (in YAML, or as overrides `KEY=VALUE`, `a.b=VALUE`):"
    key = {"envs": "env", "policies": "policy", "rewards": "rewards.N"}.get(kind)
    if key is None:
        return (f"Options, as passed to `intarsia.build.build({kind!r}, {name!r}, {{...}})` or in the section "
                "of a job config that names it:")
    section = f"rewards: [{{name: {name}, coef: 1.0, ...}}]" if kind == "rewards" else f"{key}: {{name: {name}, ...}}"
    return f"Options, set in a run config as `{section}` or as overrides `{key}.KEY=VALUE`:"


def find(registry: Registry, name: str) -> tuple[str, str]:
    """``intarsia show train``: a component named without its kind (the name must be unique across kinds)."""
    from .errors import UnknownComponentError, did_you_mean

    hits = [(comp.kind, comp.name) for comp in registry if comp.name == name]
    if len(hits) == 1:
        return hits[0]
    if hits:
        kinds = " or ".join(f"`intarsia show {kind} {name}`" for kind, _ in hits)
        raise UnknownComponentError(f"{name!r} names components of several kinds: use {kinds}")
    if name in registry.components:
        raise UnknownComponentError(f"show {name}: name one of them, e.g. `intarsia show {name} NAME`"
                                    f" ({', '.join(registry.names(name)) or 'none installed'})")
    every = sorted({comp.name for comp in registry} | set(registry.components))
    raise UnknownComponentError(f"nothing is registered as {name!r}.{did_you_mean(name, every)}"
                                " `intarsia list` shows every component")


__all__ = ["Option", "describe", "field_docs", "find", "options", "render", "undocumented", "without_docstring"]

"""The rules the project keeps with files that others may have made, held by a scan of the source (core,
plugins, benchmarks; tests are left out, as they hold these patterns on purpose): ``torch.load`` only with
``weights_only=True``, ``yaml.load`` only with a safe loader, no ``pickle``, no ``eval(`` / ``exec(``."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _sources():
    roots = [REPO / "core" / "src", REPO / "benchmarks", *sorted((REPO / "plugins").glob("*/src"))]
    for root in roots:
        yield from (p for p in root.rglob("*.py") if "tests" not in p.relative_to(root).parts)


def _name(node) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_name(node.value)}.{node.attr}"
    return ""


def _kw(call: ast.Call, name: str):
    return next((k.value for k in call.keywords if k.arg == name), None)


def violations(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, f"import {a.name}") for a in node.names if a.name.split(".")[0] in ("pickle", "cPickle", "dill")]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in ("pickle", "cPickle", "dill"):
            found.append((node.lineno, f"from {node.module} import"))
        elif isinstance(node, ast.Call):
            name = _name(node.func)
            if isinstance(node.func, ast.Name) and name in ("eval", "exec"):  # the builtins, not .eval() methods
                found.append((node.lineno, f"{name}("))
            elif name.endswith("torch.load"):
                wo = _kw(node, "weights_only")
                if not (isinstance(wo, ast.Constant) and wo.value is True):
                    found.append((node.lineno, "torch.load without weights_only=True"))
            elif name in ("yaml.load", "yaml.load_all", "yaml.unsafe_load", "yaml.full_load"):
                loader = _kw(node, "Loader") or (node.args[1] if len(node.args) > 1 else None)
                if name != "yaml.load" and name != "yaml.load_all" or "Safe" not in _name(loader):
                    found.append((node.lineno, f"{name} without a safe loader"))
            elif name.startswith("pickle.") or name.startswith("dill."):
                found.append((node.lineno, name))
    return found


def test_the_scanner_finds_each_pattern():
    bad = ("import pickle\nx = pickle.loads(b'')\ntorch.load('f')\ntorch.load('f', weights_only=False)\n"
           "yaml.load(s)\nyaml.load(s, Loader=yaml.Loader)\neval('1')\nexec('x=1')\n")
    assert len(violations(ast.parse(bad))) == 8
    ok = ("torch.load('f', weights_only=True)\nyaml.load(s, Loader=yaml.SafeLoader)\nmodel.eval()\n"
          "yaml.safe_load(s)\nnet.eval().cpu()\n")
    assert violations(ast.parse(ok)) == []


def test_the_source_keeps_the_rules():
    problems = []
    files = list(_sources())
    assert len(files) > 50
    for path in files:
        for line, what in violations(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            problems.append(f"{path.relative_to(REPO)}:{line}: {what}")
    assert problems == [], "\n".join(problems)

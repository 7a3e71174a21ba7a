"""Every public module, class, function and method of messplus_core/ has a docstring.

Public means reachable without a leading underscore: module-level functions and classes, and the methods and
nested classes of public classes (functions nested inside functions are not API). Exempt by rule, because Python
already finds their documentation elsewhere (`inspect.getdoc`, `help`):
- a method that overrides a method of the same name that a base class defined in messplus_core documents
  (`inspect.getdoc` follows the MRO);
- a property's setter or deleter (the getter carries the property's docstring);
- a `typing.overload` signature.
Anything else without a docstring is listed, `path:line qualified.name`, and fails the test; `ALLOWED` takes an
entry only where a docstring would add nothing, each with its reason.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

from helpers.config import REPO

PACKAGE = REPO / "messplus_core"

#: "path relative to the repository:qualified.name" -> why a docstring would add nothing there.
ALLOWED: dict[str, str] = {}


@dataclass
class _ClassInfo:
    bases: list[str]
    documented: set[str] = field(default_factory=set)  # methods with a docstring


def _base_name(node: ast.expr) -> str | None:
    """`Router`, `base.Router` -> "Router"; `Generic[T]` -> "Generic"."""
    if isinstance(node, ast.Subscript):
        node = node.value
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _decorator_names(node: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    names = []
    for dec in node.decorator_list:
        target = dec.func if isinstance(dec, ast.Call) else dec
        if isinstance(target, ast.Name):
            names.append(target.id)
        elif isinstance(target, ast.Attribute):
            names.append(target.attr)
    return names


def _classes(trees: dict[str, ast.Module]) -> dict[str, list[_ClassInfo]]:
    """Every class defined in the given modules, by name, with its base names and documented methods."""
    found: dict[str, list[_ClassInfo]] = {}
    for tree in trees.values():
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                info = _ClassInfo([b for b in map(_base_name, node.bases) if b])
                info.documented = {f.name for f in node.body if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
                                   and ast.get_docstring(f) is not None}
                found.setdefault(node.name, []).append(info)
    return found


def _inherits_doc(method: str, bases: list[str], classes: dict[str, list[_ClassInfo]], seen: set[str]) -> bool:
    for base in bases:
        if base in seen:
            continue
        seen.add(base)
        for info in classes.get(base, []):
            if method in info.documented or _inherits_doc(method, info.bases, classes, seen):
                return True
    return False


def missing_docstrings(trees: dict[str, ast.Module]) -> list[str]:
    """`path:line name` for every public definition in `trees` (path -> parsed module) without a docstring."""
    classes = _classes(trees)
    missing: list[str] = []

    def visit(body: list[ast.stmt], path: str, prefix: str, bases: list[str] | None) -> None:
        for node in body:
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) or node.name.startswith("_"):
                continue
            name = prefix + node.name
            if ast.get_docstring(node) is None and f"{path}:{name}" not in ALLOWED:
                exempt = False
                if not isinstance(node, ast.ClassDef):
                    decorators = _decorator_names(node)
                    exempt = ("setter" in decorators or "deleter" in decorators or "overload" in decorators
                              or (bases is not None and _inherits_doc(node.name, bases, classes, set())))
                if not exempt:
                    missing.append(f"{path}:{node.lineno} {name}")
            if isinstance(node, ast.ClassDef):
                visit(node.body, path, name + ".", [b for b in map(_base_name, node.bases) if b])

    for path, tree in trees.items():
        if ast.get_docstring(tree) is None:
            missing.append(f"{path}:1 (module)")
        visit(tree.body, path, "", None)
    return missing


def _package_trees() -> dict[str, ast.Module]:
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) >= 60, f"expected messplus_core's modules under {PACKAGE}, found {len(files)}"
    return {str(f.relative_to(REPO)): ast.parse(f.read_text(), filename=str(f)) for f in files}


def test_every_public_definition_has_a_docstring():
    missing = missing_docstrings(_package_trees())
    assert not missing, (f"{len(missing)} public definitions without a docstring (say shapes, units, errors and the "
                         "source; or add to ALLOWED with a reason):\n" + "\n".join(missing))


def test_allow_list_names_existing_definitions():
    """A stale ALLOWED entry (renamed or removed definition) would silently exempt its successor."""
    trees = _package_trees()
    for entry in ALLOWED:
        path, qualname = entry.split(":")
        body: list[ast.stmt] = trees[path].body
        for part in qualname.split("."):
            node = next((n for n in body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                         and n.name == part), None)
            assert node is not None, f"ALLOWED names {entry}, which no longer exists"
            body = node.body


def test_checker_reports_each_missing_kind_and_honours_the_exemptions():
    """The checker itself: what it must flag, and what it must let pass."""
    source = '''
"""Module."""
from typing import overload

def undocumented(x): pass
def _private(): pass
def documented():
    """Yes."""
    def nested(): pass

class Base:
    """Base."""
    def step(self):
        """Documented here: overrides inherit it."""

class Child(Base):
    def step(self): pass
    def extra(self): pass
    @property
    def size(self):
        """The size."""
    @size.setter
    def size(self, v): pass
    @overload
    def pick(self, x: int) -> int: ...
    def pick(self, x):
        """Pick."""

class _Hidden:
    def method(self): pass
'''
    got = missing_docstrings({"m.py": ast.parse(source), "empty.py": ast.parse("x = 1\n")})
    assert got == ["m.py:5 undocumented", "m.py:16 Child", "m.py:18 Child.extra", "empty.py:1 (module)"]

"""The pure half of the library (core/, routers/, predictors/) imports neither pandas nor Hydra and does no file I/O.

Routing must run inside a live gateway and in unit tests without the evaluate stage's stack, so these three
packages may use numpy and scipy only; data loading lives in messplus_core/data, orchestration in
messplus_core/evaluate.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.config import REPO

PURE = ("messplus_core.core", "messplus_core.routers", "messplus_core.predictors")
FORBIDDEN_MODULES = ("pandas", "hydra", "omegaconf")
ROOT = REPO
#: Calls that read or write files: the builtin open, pathlib's readers/writers, numpy's and json's file forms.
IO_ATTRIBUTES = {"read_text", "write_text", "read_bytes", "write_bytes", "open", "load", "save", "savez", "loadtxt",
                 "savetxt", "dump", "mkdir", "unlink", "replace", "rename"}
IO_OWNERS = {"np", "numpy", "json", "os", "shutil", "Path", "pathlib", "pickle", "io"}


def _pure_files() -> list[Path]:
    files = [f for pkg in PURE for f in sorted((ROOT / pkg.replace(".", "/")).rglob("*.py"))]
    assert len(files) >= 15, f"expected the pure packages' modules under {ROOT}, found {files}"
    return files


def test_pure_packages_import_no_pandas_or_hydra():
    """Import every module of the pure packages in a fresh interpreter and list what came with them."""
    modules = [".".join(f.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__") for f in _pure_files()]
    code = ("import importlib, json, sys\n"
            f"for m in {modules!r}: importlib.import_module(m)\n"
            f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN_MODULES!r})))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []


def _io_calls(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id == "open":
            found.append(f"line {node.lineno}: open(...)")
        elif isinstance(func, ast.Attribute) and func.attr in {"read_text", "write_text", "read_bytes", "write_bytes"}:
            found.append(f"line {node.lineno}: .{func.attr}(...)")
        elif (isinstance(func, ast.Attribute) and func.attr in IO_ATTRIBUTES and isinstance(func.value, ast.Name)
              and func.value.id in IO_OWNERS):
            found.append(f"line {node.lineno}: {func.value.id}.{func.attr}(...)")
    return found


@pytest.mark.parametrize("path", _pure_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_pure_module_does_no_file_io(path: Path):
    assert _io_calls(ast.parse(path.read_text())) == []


def test_io_check_sees_file_access():
    """The AST check itself: each form of file access it guards against is reported."""
    source = ("open('x')\nPath('x').read_text()\np.write_bytes(b'')\nnp.save('x', a)\njson.dump(d, f)\n"
              "os.replace('a', 'b')\nnp.sum(a)\nx.load_state(s)\n")
    assert len(_io_calls(ast.parse(source))) == 6

"""The house rules of issue 14 that a reviewer would otherwise have to remember.

Sizes (modules, functions), model names below geomm.models, and that the
import-linter contracts in pyproject.toml really fail on a layer violation.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "geomm"
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 60


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _function_lines(node: ast.FunctionDef | ast.AsyncFunctionDef, *, cli: bool) -> int:
    """Lines of a function; a CLI command's option declarations and docstring do not count."""
    if not cli:
        return node.end_lineno - node.lineno + 1  # type: ignore[operator]
    body = node.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:] or body
    return node.end_lineno - body[0].lineno + 1  # type: ignore[operator]


def test_no_module_is_over_the_size_limit() -> None:
    long = {
        str(p.relative_to(ROOT)): n
        for p in _modules()
        if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}


def test_no_function_is_over_the_size_limit() -> None:
    long = {}
    for path in _modules():
        cli = path.relative_to(PACKAGE).parts[0] == "cli"
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = _function_lines(node, cli=cli)
                if lines > MAX_FUNCTION_LINES:
                    long[f"{path.relative_to(ROOT)}:{node.lineno} {node.name}"] = lines
    assert long == {}


@pytest.mark.parametrize("package", ["cube", "chips", "embed", "stac"])
def test_layers_below_the_models_name_no_model(package: str) -> None:
    hits = [
        f"{p.relative_to(ROOT)}:{i}"
        for p in sorted((PACKAGE / package).rglob("*.py"))
        for i, line in enumerate(p.read_text().splitlines(), 1)
        if re.search("croma", line, flags=re.I)
    ]
    assert hits == []


def _lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("lint-imports")  # the test extra installs it
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(exe), str(tree / "pyproject.toml")],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_layer_contract_fails_when_the_cube_imports_embed(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    shutil.copytree(PACKAGE, tree / "geomm", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tree / "pyproject.toml")
    clean = _lint_imports(tree)
    assert clean.returncode == 0, clean.stdout[-3000:]

    grid = tree / "geomm" / "cube" / "_grid.py"
    grid.write_text(grid.read_text() + "\nimport geomm.embed  # a layer violation\n")
    broken = _lint_imports(tree)
    assert broken.returncode == 1
    assert "geomm.cube is not allowed to import geomm.embed" in broken.stdout
    assert "geomm.cube._grid -> geomm.embed" in broken.stdout

"""The packages' lazy public names: cheap to import, complete, and what type checkers see."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("torch", "torchvision", "open_clip", "matplotlib", "sklearn", "pandas")
PACKAGES = ("geomm.contrastive", "geomm.contrastive.backdoor")


@pytest.mark.parametrize("package", PACKAGES)
def test_importing_the_package_imports_no_heavy_dependency(package: str) -> None:
    """The CLI imports the package to register its commands: that must stay cheap."""
    code = (
        f"import sys, {package}\n"
        f"heavy = sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))\n"
        "print(','.join(heavy))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "", f"{package} imports {done.stdout.strip()} eagerly"


@pytest.mark.parametrize("package", PACKAGES)
def test_every_public_name_loads_from_the_module_named_for_it(package: str) -> None:
    pkg = importlib.import_module(package)
    assert sorted(pkg.__all__) == sorted(pkg._EXPORTS)
    for name, module in pkg._EXPORTS.items():
        assert getattr(pkg, name) is getattr(importlib.import_module(module), name), name
    with pytest.raises(AttributeError, match="no attribute"):
        pkg.not_a_name  # noqa: B018 - the lookup is the test


@pytest.mark.parametrize("package", PACKAGES)
def test_type_checkers_see_the_same_names_as_the_runtime(package: str) -> None:
    """The ``TYPE_CHECKING`` imports name each public name from its ``_EXPORTS`` module."""
    pkg = importlib.import_module(package)
    tree = ast.parse(Path(pkg.__file__).read_text(encoding="utf-8"))
    block = next(
        n for n in tree.body if isinstance(n, ast.If) and ast.unparse(n.test) == "TYPE_CHECKING"
    )
    seen = {
        alias.name: node.module
        for node in block.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    assert seen == pkg._EXPORTS

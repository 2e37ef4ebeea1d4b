"""docs/errors.md is the one documented error tree: each class there, each class in geomm/errors.py.

Every module of geomm is imported, so an error class defined anywhere else
(the situation issue 14 found: 13 classes outside geomm/errors.py) fails here.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import pytest

import geomm
import geomm.errors as errors

DOC = Path(__file__).resolve().parents[1] / "docs" / "errors.md"
ROOTS = (errors.GeommError, errors.GeommWarning)


def _all_subclasses(cls: type) -> set[type]:
    found = set(cls.__subclasses__())
    for sub in list(found):
        found |= _all_subclasses(sub)
    return found


def _import_everything() -> None:
    for mod in pkgutil.walk_packages(geomm.__path__, "geomm."):
        if mod.name.endswith("__main__"):
            continue
        importlib.import_module(mod.name)


def _documented() -> dict[str, list[str]]:
    """Heading name -> the bases its "Bases:" line lists."""
    text = DOC.read_text()
    found = {}
    for name, bases in re.findall(r"^### `(\w+)`\nBases: ([^.\n]+)\.", text, flags=re.M):
        found[name] = re.findall(r"`(\w+)`", bases)
    return found


def test_every_error_class_lives_in_geomm_errors() -> None:
    _import_everything()
    outside = sorted(
        f"{c.__module__}.{c.__qualname__}"
        for root in ROOTS
        for c in _all_subclasses(root)
        if c.__module__.startswith("geomm.") and c.__module__ != "geomm.errors"
    )
    assert outside == []


def test_every_error_class_is_documented_with_its_bases() -> None:
    classes = {
        name: c
        for name, c in vars(errors).items()
        if inspect.isclass(c) and issubclass(c, ROOTS) and c.__module__ == "geomm.errors"
    }
    documented = _documented()
    assert sorted(documented) == sorted(classes)
    for name, c in classes.items():
        assert documented[name] == [b.__name__ for b in c.__bases__], name


@pytest.mark.parametrize("name", sorted(n for n in errors.__all__))
def test_public_names_exist(name: str) -> None:
    assert inspect.isclass(getattr(errors, name))


def test_the_tree_in_the_page_matches_the_classes() -> None:
    tree = DOC.read_text().split("```")[1]
    for line in tree.splitlines():
        m = re.search(r"(\w+(?:Error|Warning))(?: \((\w+)\))?$", line.strip())
        if not m:
            continue
        cls = getattr(errors, m.group(1))
        if m.group(2):
            assert m.group(2) in [b.__name__ for b in cls.__mro__], line

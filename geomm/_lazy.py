"""Public names that import their module on first use (PEP 562), for the layers' packages.

A package lists ``name -> defining module`` and its literal ``__all__``, and
gets the module ``__getattr__`` and ``__dir__`` from :func:`lazy_names`: its
import then costs none of what its modules import (Dask, xarray, torch)
until a name is used, and a name once found is kept in the package.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = ["lazy_names"]


def lazy_names(
    package: str, exports: Mapping[str, str], public: Sequence[str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``(__getattr__, __dir__)`` of ``package``, resolving ``exports`` lazily."""
    namespace = sys.modules[package].__dict__

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(public))

    return __getattr__, __dir__

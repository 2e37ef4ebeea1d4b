"""Embeddings of a cube, chip by chip, into a GeoParquet table.

``embed_cube`` runs a registered model (:mod:`geomm.models`) over every chip
of a cube (:mod:`geomm.chips`), in blocks, locally or on a Dask cluster,
resumably; ``make_embeddings`` is the whole ``geomm embed`` job (search,
cube, embed); ``read_table`` opens the result. Importing this package also
registers the ``ds.geomm`` accessor on xarray Datasets.

The public names are loaded on first use (module ``__getattr__``), so this
import does not load the runner, the table writer (geopandas), Dask or
torch; xarray is imported, for the accessor.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from geomm._extras import requires_extra

# Registers ds.geomm: the one module imported eagerly (it needs only xarray).
from geomm.embed import _accessor as _accessor

if TYPE_CHECKING:
    from geomm.embed._accessor import GeommAccessor
    from geomm.embed._block import embed_block
    from geomm.embed._config import EmbedConfig, EmbedError, ModelSpec, required_inputs
    from geomm.embed._folder import parts_dir
    from geomm.embed._make import EmbedRun, cube_path_for, make_embeddings
    from geomm.embed._run import EmbedReport, embed_cube
    from geomm.embed._table import read_table

__all__ = [
    "EmbedConfig",
    "EmbedError",
    "EmbedReport",
    "EmbedRun",
    "GeommAccessor",
    "ModelSpec",
    "cube_path_for",
    "embed_block",
    "embed_cube",
    "make_embeddings",
    "parts_dir",
    "read_table",
    "required_inputs",
]

_HOME = {
    "EmbedConfig": "_config",
    "EmbedError": "_config",
    "EmbedReport": "_run",
    "EmbedRun": "_make",
    "GeommAccessor": "_accessor",
    "ModelSpec": "_config",
    "cube_path_for": "_make",
    "embed_block": "_block",
    "embed_cube": "_run",
    "make_embeddings": "_make",
    "parts_dir": "_folder",
    "read_table": "_table",
    "required_inputs": "_config",
}
"""Public name -> the private module that defines it."""


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'geomm.embed' has no attribute {name!r}")
    # Tables need pyarrow and geopandas (the `models` extra): without them this
    # names the extra instead of failing on a module name.
    with requires_extra("models", feature="geomm.embed"):
        value = getattr(importlib.import_module(f"geomm.embed.{home}"), name)
    globals()[name] = value  # found directly next time
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})

"""Embeddings of a cube, chip by chip, into a GeoParquet table.

``embed_cube`` runs a registered model (:mod:`geomm.models`) over every chip
of a cube (:mod:`geomm.chips`), in blocks, locally or on a Dask cluster,
resumably; ``make_embeddings`` is the whole ``geomm embed`` job (search,
cube, embed); ``read_table`` opens the result. Importing this package also
registers the ``ds.geomm`` accessor on xarray Datasets.
"""

from geomm._extras import requires_extra

# Tables need pyarrow and geopandas (the `models` extra): without them this
# import names the extra instead of failing on a module name.
with requires_extra("models", feature="geomm.embed"):
    from geomm.embed._accessor import GeommAccessor
    from geomm.embed._config import EmbedConfig, EmbedError, ModelSpec, required_inputs
    from geomm.embed._make import EmbedRun, cube_path_for, make_embeddings
    from geomm.embed._run import EmbedReport, embed_block, embed_cube, parts_dir
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

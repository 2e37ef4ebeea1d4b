"""geomm: multimodal Earth-observation machine learning.

Search Sentinel-1 and Sentinel-2 scenes in any STAC API or local catalog
(:mod:`geomm.stac`), build co-registered analysis-ready cubes
(:mod:`geomm.cube`), and embed them with foundation models such as CROMA
(:mod:`geomm.models`, :mod:`geomm.embed`).

``geomm.open_cube(path)`` opens a cube with the ``ds.geomm`` accessor
registered (chips, embeddings, quicklooks); ``import geomm`` alone stays
light (no xarray, no torch).
"""

from geomm._version import __version__

__all__ = ["__version__", "open_cube"]


def __getattr__(name: str):
    if name == "open_cube":
        import geomm.embed  # noqa: F401 - registers the ds.geomm accessor
        from geomm.cube import open_cube

        return open_cube
    raise AttributeError(f"module 'geomm' has no attribute {name!r}")

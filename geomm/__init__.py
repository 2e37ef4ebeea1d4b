"""geomm: multimodal Earth-observation machine learning.

Search Sentinel-1 and Sentinel-2 scenes in any STAC API or local catalog
(:mod:`geomm.stac`), build co-registered analysis-ready cubes, and embed
them with foundation models such as CROMA.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]

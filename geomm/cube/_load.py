"""How a cube's pixels are loaded: resampling, masking, and which reader reads them.

The reader is an object (:class:`geomm.cube._reader.Reader`), geomm's own
by default (:class:`geomm.cube._geomm_reader.GeommReader`), odc-stac's as
the reference (:class:`geomm.cube._odc_reader.OdcReader`); each says which
resampling names it takes, and the options refuse others when they are made.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from geomm.cube._geomm_reader import RESAMPLING, GeommReader
from geomm.cube._reader import Reader
from geomm.errors import OptionError

__all__ = ["RESAMPLING", "LoadOptions"]


@dataclass(frozen=True)
class LoadOptions:
    """How pixels are resampled onto the cube grid, and by which reader."""

    s2_resampling: str = "bilinear"
    """20 m and 60 m reflectance bands to 10 m, and scenes from another grid:
    ``bilinear`` (smooth, no blocky 60 m steps, exact where source and cube
    pixel centres coincide) or ``nearest`` (every value a source value).
    SCL is always nearest."""
    s1_resampling: str = "bilinear"
    """S1 onto the cube grid, in linear power (before dB): ``bilinear`` or
    ``nearest``."""
    snow_is_clear: bool = False
    """Count SCL 11 (snow/ice) as clear."""
    reader: Reader[Any] = field(default_factory=GeommReader)
    """What reads the pixels: ``GeommReader()`` (one task per acquisition and
    block, all bands, separable kernels where grids align) or ``OdcReader()``
    (odc-stac's loader, kept as an independent reference for tests and
    benchmarks; it also takes GDAL's other resampling names, such as
    ``cubic``), or any other :class:`geomm.cube._reader.Reader`."""

    def __post_init__(self) -> None:
        if not isinstance(self.reader, Reader):
            raise OptionError(
                "reader must be a cube reader such as GeommReader() or OdcReader(), "
                f"got {self.reader!r}"
            )
        methods = self.reader.resampling
        if methods is None:
            return
        for name in ("s2_resampling", "s1_resampling"):
            method = getattr(self, name)
            if method not in methods:
                raise OptionError(
                    f"{name} must be one of {list(methods)} with the {self.reader.name} reader, "
                    f"got {method!r} (odc-stac's other methods need reader=OdcReader())"
                )

    def provenance(self) -> dict[str, object]:
        """What a cube's ``load_options`` attribute records (the reader by name).

        The same keys, in the same order, as before readers were objects, so
        existing cubes still resume (their fingerprint holds this record).
        """
        return {
            "s2_resampling": self.s2_resampling,
            "s1_resampling": self.s1_resampling,
            "snow_is_clear": self.snow_is_clear,
            "engine": self.reader.name,
        }

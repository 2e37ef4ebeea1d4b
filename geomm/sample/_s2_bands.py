"""Sentinel-2 MSI band facts shared by the sample-data builders (synthetic and BigEarthNet)."""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["S2_BAND_INFO"]

S2_BAND_INFO: Mapping[str, tuple[str, float, float, float, str]] = {
    "B01": ("coastal", 0.443, 0.027, 60.0, "Coastal aerosol"),
    "B02": ("blue", 0.490, 0.098, 10.0, "Blue"),
    "B03": ("green", 0.560, 0.045, 10.0, "Green"),
    "B04": ("red", 0.665, 0.038, 10.0, "Red"),
    "B05": ("rededge", 0.704, 0.019, 20.0, "Vegetation red edge 1"),
    "B06": ("rededge", 0.740, 0.018, 20.0, "Vegetation red edge 2"),
    "B07": ("rededge", 0.783, 0.028, 20.0, "Vegetation red edge 3"),
    "B08": ("nir", 0.842, 0.145, 10.0, "Near infrared"),
    "B8A": ("nir08", 0.865, 0.033, 20.0, "Narrow near infrared"),
    "B09": ("nir09", 0.945, 0.026, 60.0, "Water vapour"),
    "B11": ("swir16", 1.610, 0.143, 20.0, "Short-wave infrared 1.6 um"),
    "B12": ("swir22", 2.190, 0.242, 20.0, "Short-wave infrared 2.2 um"),
}
"""Band -> (eo common name, centre wavelength um, FWHM um, native gsd m, title)."""

"""``quicklook``: one PNG that shows a cube time step in S2 true colour and S1 false colour.

Two panels side by side, in the cube CRS (metres), each with a scale bar:

* left, Sentinel-2 true colour (B04, B03, B02): one robust 2-98 percentile
  stretch shared by the three bands (so colours keep their balance), over the
  pixels where all three bands are valid; nodata (0) is black.
* right, Sentinel-1 false colour: R = VV dB over -25..0, G = VH dB over
  -30..-5, B = VV - VH (dB) over 0..15; fixed ranges, so colours compare
  between cubes and dates; NaN is black.

Figures are built on :class:`matplotlib.figure.Figure` with the Agg canvas,
never through ``pyplot``: no global backend switch, no figure registry.
Only the three S2 bands and the two S1 bands of the chosen time are read.
"""

from __future__ import annotations

import contextlib
import os
import re
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from geomm._outputs import SIGNATURE, check_replaceable
from geomm.errors import QuicklookError

if TYPE_CHECKING:
    import xarray as xr
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

Origin = Literal["upper", "lower"]
"""Where ``imshow`` puts row 0 of an image."""

__all__ = [
    "DPI_RANGE",
    "MAX_PNG_PIXELS",
    "S1_RANGES",
    "S2_RGB",
    "QuicklookError",
    "nice_scale_length",
    "pick_time",
    "quicklook",
    "s1_false_colour",
    "s2_true_colour",
]

S2_RGB = ("B04", "B03", "B02")
"""Sentinel-2 bands shown as red, green, blue."""
S1_RANGES = {"VV": (-25.0, 0.0), "VH": (-30.0, -5.0), "VV-VH": (0.0, 15.0)}
"""dB ranges stretched to 0..1 for the red (VV), green (VH) and blue (VV - VH) channels."""
S2_PERCENTILES = (2.0, 98.0)
"""Robust stretch of the S2 panel: these percentiles of the valid pixels map to 0 and 1."""

DPI_RANGE = (10, 1200)
"""Accepted ``dpi``: below 10 the labels are unreadable, above 1200 is print resolution."""
MAX_PNG_PIXELS = 100_000_000
"""Largest quicklook, in pixels (400 MB of RGBA while drawing)."""

_MAX_EDGE = 2048  # longer cubes are shown with every k-th pixel: a quicklook, not a map
_PANEL_IN = 5.0  # panel width, inches
_NICE = (1.0, 2.0, 5.0)


def quicklook(
    ds: xr.Dataset,
    *,
    time: int | str | None = None,
    out: str | Path | None = None,
    dpi: int = 120,
) -> Figure:
    """Draw one time step of a cube: S2 true colour beside S1 false colour.

    Args:
        ds: a cube from :func:`~geomm.cube.build_cube` or
            :func:`~geomm.cube.open_cube` (lazy is fine: only the chosen time's
            B04/B03/B02 and VV/VH are read).
        time: which time step. ``None``: the clearest (largest mean of
            ``clear``; the first of equals). An ``int`` (or a string of digits):
            an index, negative counting from the end. Any other string: a date
            or datetime (``"2024-06-18"``), whose nearest S2 time is taken.
        out: if given, the PNG is written there atomically (temporary file in
            the same folder, then renamed); missing folders are created.
        dpi: resolution of the written PNG. The figure is
            ``2 * 5 + 0.8`` inches wide and ``5 * clip(ny / nx, 0.4, 2) + 1.4``
            high, so the PNG is that many inches times ``dpi`` pixels.

    Returns:
        The figure (Agg canvas); ``fig.axes[0]`` is the S2 panel and
        ``fig.axes[1]`` the S1 panel, each holding one RGB image.

    Raises:
        QuicklookError: ``time`` is out of range or not a date, ``dpi`` is
            outside :data:`DPI_RANGE` or makes a PNG above
            :data:`MAX_PNG_PIXELS`, or the cube lacks the S2 or S1 bands shown.
    """
    low, high = DPI_RANGE
    if isinstance(dpi, bool) or not isinstance(dpi, int | np.integer) or not low <= dpi <= high:
        raise QuicklookError(f"dpi must be a positive integer within {low}..{high}, got {dpi!r}")
    _require_bands(ds)
    index = pick_time(ds, time)
    step = max(1, -(-max(ds.sizes["y"], ds.sizes["x"]) // _MAX_EDGE))
    figsize = _figure_inches(-(-ds.sizes["y"] // step), -(-ds.sizes["x"] // step))
    _check_png_size(figsize, dpi)
    if out is not None:  # before drawing: a file that is not geomm's stays as it is
        check_replaceable(out, what="quicklook")
    fig = _draw(ds, index=index, step=step, figsize=figsize, dpi=int(dpi))
    if out is not None:
        _write_png(fig, Path(out), int(dpi))
    return fig


def _draw(
    ds: xr.Dataset, *, index: int, step: int, figsize: tuple[float, float], dpi: int
) -> Figure:
    """The two panels of time ``index``, every ``step``-th pixel, on an Agg canvas."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    window = {"y": slice(None, None, step), "x": slice(None, None, step)}
    s2 = ds.s2.sel(s2_band=list(S2_RGB)).isel(time=index, **window).values
    s1 = ds.s1.sel(s1_band=["VV", "VH"]).isel(time=index, **window).values
    extent, origin = _extent(ds, step)

    fig = Figure(figsize=figsize, dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    left, right = fig.subplots(1, 2, sharex=True, sharey=True)
    crs = _crs_name(ds)
    s2_rgb = s2_true_colour(s2)
    _panel(left, s2_rgb, extent, origin, crs)
    clear = _clear_fraction(ds, index)
    left.set_title(
        f"Sentinel-2 true colour (B04 B03 B02), 2-98% stretch\nclear {clear:.0%}", fontsize=9
    )
    _panel(right, s1_false_colour(s1[0], s1[1]), extent, origin, crs)
    right.set_title(
        "Sentinel-1 false colour\nR VV -25..0, G VH -30..-5, B VV-VH 0..15 dB", fontsize=9
    )
    right.set_ylabel("")
    if not np.isfinite(s1).any():
        _note(right, "no Sentinel-1 data")
    if not (s2 > 0).all(axis=0).any():
        _note(left, "no Sentinel-2 data")
    fig.suptitle(_title(ds, index, crs), fontsize=10)
    return fig


def _figure_inches(ny: int, nx: int) -> tuple[float, float]:
    """(width, height) of the figure in inches for panels of ``ny`` x ``nx`` pixels."""
    panel_h = _PANEL_IN * float(np.clip(ny / nx, 0.4, 2.0))
    return (2 * _PANEL_IN + 0.8, panel_h + 1.4)


def _check_png_size(figsize: tuple[float, float], dpi: int) -> None:
    """Refuse a PNG whose pixels would not fit in memory comfortably (before drawing it)."""
    width, height = round(figsize[0] * dpi), round(figsize[1] * dpi)
    if width * height > MAX_PNG_PIXELS:
        raise QuicklookError(
            f"a quicklook at dpi={dpi} would be {width} x {height} px, above "
            f"{MAX_PNG_PIXELS / 1e6:.0f} Mpx; use a smaller dpi (the default is 120)"
        )


def pick_time(ds: xr.Dataset, time: int | str | None = None) -> int:
    """The index of the time step ``quicklook(ds, time=time)`` shows.

    Public so that a caller can name the step it drew (the ``geomm quicklook``
    command prints its date) by the same rule as :func:`quicklook`.

    Args:
        ds: a cube from :func:`~geomm.cube.build_cube` or
            :func:`~geomm.cube.open_cube`.
        time: ``None``: the clearest step (largest mean of ``clear``; the
            first of equals; 0 for a cube without ``clear``). An ``int`` (or
            a string of digits): an index, negative counting from the end.
            Any other string: a date or datetime (``"2024-06-18"``; with a
            time zone, converted to UTC), whose nearest S2 time is taken.

    Returns:
        An index in ``0 .. ds.sizes["time"] - 1``.

    Raises:
        QuicklookError: the cube has no time steps, an index out of range,
            or a value that is neither an index nor a date.
    """
    if ds.sizes["time"] == 0:
        raise QuicklookError("the cube has no time steps; nothing to show")
    if time is None:
        return _clearest(ds)
    if isinstance(time, str) and re.fullmatch(r"\s*[-+]?\d{1,6}\s*", time):
        time = int(time)
    if isinstance(time, bool) or not isinstance(time, int | np.integer | str):
        raise QuicklookError(
            f"time must be an index or a date string, got {type(time).__name__} {time!r}"
        )
    if isinstance(time, str):
        return _nearest_time(ds, time)
    return _time_index(ds, int(time))


def _clearest(ds: xr.Dataset) -> int:
    """The time step with the largest mean of ``clear`` (the first of equals; 0 without it)."""
    if "clear" not in ds:
        return 0
    return int(ds.clear.mean(("y", "x")).values.argmax())


def _time_index(ds: xr.Dataset, time: int) -> int:
    """``time`` as an index in 0..n-1 (negative: from the end)."""
    n = ds.sizes["time"]
    if not -n <= time < n:
        raise QuicklookError(
            f"time index {time} is out of range: the cube has {n} time step(s), "
            f"indices 0..{n - 1} (or -{n}..-1 from the end); {_dates_hint(ds)}"
        )
    return time % n


def _nearest_time(ds: xr.Dataset, time: str) -> int:
    """The index of the time step nearest the date or datetime ``time``."""
    import pandas as pd

    try:
        wanted = pd.Timestamp(time)
        if pd.isna(wanted):  # "" and "NaT" parse as no time at all
            raise ValueError(time)
    except (ValueError, OverflowError) as e:
        raise QuicklookError(
            f"time {time!r} is neither an index nor a date; pass e.g. 0 or 2024-06-18. "
            f"{_dates_hint(ds)}"
        ) from e
    if wanted.tzinfo is not None:
        wanted = wanted.tz_convert("UTC").tz_localize(None)
    # in float seconds: a date far outside nanosecond timestamps (9999-12-31) is
    # still a date, and its nearest time step is the last one
    seconds = pd.DatetimeIndex(ds.time.values).asi8 / 1e9
    return int(np.abs(seconds - wanted.timestamp()).argmin())


def s2_true_colour(rgb: np.ndarray) -> np.ndarray:
    """Display RGB (y, x, 3) in 0..1 from S2 reflectance x 10000 of shape (3, y, x).

    One 2-98 percentile stretch over the pixels where all three bands are
    valid (non-zero) is applied to every band; invalid pixels are black.
    """
    rgb = np.asarray(rgb)
    valid = (rgb > 0).all(axis=0)
    out = np.zeros((*rgb.shape[1:], 3), dtype=np.float64)
    if not valid.any():
        return out
    values = rgb[:, valid].astype(np.float64)
    lo, hi = np.percentile(values, S2_PERCENTILES)
    if hi <= lo:
        hi = lo + 1.0
    stretched = np.clip((rgb.astype(np.float64) - lo) / (hi - lo), 0.0, 1.0)
    out[valid] = np.moveaxis(stretched, 0, -1)[valid]
    return out


def s1_false_colour(vv: np.ndarray, vh: np.ndarray) -> np.ndarray:
    """Display RGB (y, x, 3) in 0..1 from S1 VV and VH in dB: R VV, G VH, B VV - VH.

    Each channel is stretched over its fixed range in :data:`S1_RANGES`;
    pixels where VV or VH is NaN are black.
    """
    vv = np.asarray(vv, dtype=np.float64)
    vh = np.asarray(vh, dtype=np.float64)
    channels = []
    for values, key in ((vv, "VV"), (vh, "VH"), (vv - vh, "VV-VH")):
        lo, hi = S1_RANGES[key]
        channels.append(np.clip((values - lo) / (hi - lo), 0.0, 1.0))
    out = np.stack(channels, axis=-1)
    out[~(np.isfinite(vv) & np.isfinite(vh))] = 0.0
    return out


def nice_scale_length(width: float) -> float:
    """A round scale-bar length (1, 2 or 5 x 10^k metres) near a fifth of ``width``.

    The largest round length not above ``width / 5`` (6 km wide: 1 km).
    """
    target = width / 5.0
    if not np.isfinite(target) or target <= 0:
        raise QuicklookError(f"cannot draw a scale bar for a panel {width!r} m wide")
    power = 10.0 ** np.floor(np.log10(target))
    return float(max(m * power for m in _NICE if m * power <= target * (1 + 1e-9)))


# --------------------------------------------------------------------------- internals


def _require_bands(ds: xr.Dataset) -> None:
    for var, dim, wanted in (("s2", "s2_band", S2_RGB), ("s1", "s1_band", ("VV", "VH"))):
        if var not in ds:
            raise QuicklookError(
                f"the dataset has no {var!r} variable; a quicklook needs a geomm cube "
                "(geomm.cube.open_cube or build_cube)"
            )
        have = [str(b) for b in ds[var][dim].values]
        missing = [b for b in wanted if b not in have]
        if missing:
            raise QuicklookError(
                f"{var!r} lacks band(s) {missing} needed for the quicklook; it has {have}"
            )


def _extent(ds: xr.Dataset, step: int) -> tuple[tuple[float, float, float, float], Origin]:
    """Pixel-edge extent of the (possibly strided) image, and imshow's origin."""
    x, y = ds.x.values.astype(float), ds.y.values.astype(float)
    res_x = abs(x[1] - x[0]) if x.size > 1 else float(ds.attrs.get("resolution", 1.0))
    res_y = abs(y[1] - y[0]) if y.size > 1 else float(ds.attrs.get("resolution", 1.0))
    nx, ny = -(-x.size // step), -(-y.size // step)
    x0 = x[0] - res_x / 2
    left, right = x0, x0 + nx * step * res_x
    if y.size > 1 and y[1] > y[0]:  # rows run south to north
        bottom = y[0] - res_y / 2
        return (left, right, bottom, bottom + ny * step * res_y), "lower"
    top = y[0] + res_y / 2
    return (left, right, top - ny * step * res_y, top), "upper"


def _panel(
    ax: Axes,
    rgb: np.ndarray,
    extent: tuple[float, float, float, float],
    origin: Origin,
    crs: str,
) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.set_facecolor("black")
    ax.imshow(rgb, extent=extent, origin=origin, interpolation="nearest", resample=False)
    ax.set_aspect("equal")
    ax.ticklabel_format(style="plain", useOffset=False)
    ax.xaxis.set_major_locator(MaxNLocator(4))
    ax.yaxis.set_major_locator(MaxNLocator(4))
    ax.tick_params(labelsize=7)
    ax.set_xlabel(f"x (m, {crs})", fontsize=8)
    ax.set_ylabel("y (m)", fontsize=8)
    _scale_bar(ax, extent)


def _scale_bar(ax: Axes, extent: tuple[float, float, float, float]) -> None:
    from matplotlib import patheffects
    from matplotlib.patches import Rectangle

    left, right, bottom, top = extent
    width, height = right - left, top - bottom
    length = nice_scale_length(width)
    x0, y0 = left + 0.05 * width, bottom + 0.05 * height
    bar_h = 0.015 * height
    ax.add_patch(
        Rectangle((x0, y0), length, bar_h, facecolor="white", edgecolor="black", linewidth=0.8)
    )
    label = f"{length / 1000:g} km" if length >= 1000 else f"{length:g} m"
    ax.text(
        x0 + length / 2,
        y0 + bar_h * 1.8,
        label,
        ha="center",
        va="bottom",
        color="white",
        fontsize=8,
        fontweight="bold",
        path_effects=[patheffects.withStroke(linewidth=2, foreground="black")],
    )


def _note(ax: Axes, text: str) -> None:
    ax.text(
        0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", color="white", fontsize=9
    )


def _clear_fraction(ds: xr.Dataset, index: int) -> float:
    if "clear" not in ds:
        return float("nan")
    return float(ds.clear.isel(time=index).mean().values)


def _crs_name(ds: xr.Dataset) -> str:
    if ds.attrs.get("crs"):
        return str(ds.attrs["crs"])
    with contextlib.suppress(ImportError, AttributeError):
        import rioxarray  # noqa: F401 - registers the .rio accessor

        if ds.rio.crs is not None:
            return str(ds.rio.crs)
    return "unknown CRS"


def _when(value: object) -> str | None:
    import pandas as pd

    ts = pd.Timestamp(value)
    return None if pd.isna(ts) else ts.strftime("%Y-%m-%d %H:%M UTC")


def _title(ds: xr.Dataset, index: int, crs: str) -> str:
    s2 = _when(ds.time.values[index])
    s1 = _when(ds.s1_time.values[index]) if "s1_time" in ds else None
    if "s1_time" not in ds:  # e.g. a composite: S1 of the same period
        s1_part = ""
    elif s1 is None:
        s1_part = "   |   S1 none"
    else:
        lag = float(ds.s1_lag_days.values[index]) if "s1_lag_days" in ds else float("nan")
        s1_part = f"   |   S1 {s1}" + (f" (lag {lag:+.2f} d)" if np.isfinite(lag) else "")
    n = ds.sizes["time"]
    return f"{crs}   |   time {index}/{n - 1}: S2 {s2}{s1_part}"


def _dates_hint(ds: xr.Dataset) -> str:
    times = [str(t)[:10] for t in ds.time.values]
    shown = ", ".join(times[:6]) + (", ..." if len(times) > 6 else "")
    return f"its S2 dates are {shown}"


def _write_png(fig: Figure, out: Path, dpi: int) -> None:
    """Write ``fig`` to ``out`` via a temporary sibling file, so ``out`` is never partial."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "xb") as f:  # default permissions (umask), unlike mkstemp's 0600
            # the signature in a text chunk: a later quicklook may replace this file, and only this
            fig.savefig(f, format="png", dpi=dpi, metadata={"Software": SIGNATURE})
        os.replace(tmp, out)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise

"""``geomm.cube`` as a package: public names load on first use, and importing it stays light."""

from __future__ import annotations

import subprocess
import sys

import pytest

import geomm.cube

HEAVY = ("dask", "xarray", "zarr", "rioxarray", "odc", "pandas", "distributed")


def test_import_loads_no_array_stack() -> None:
    """Commands that need one small name (``parse_size``) do not pay for Dask and xarray."""
    code = (
        "import sys, geomm.cube\n"
        f"heavy = {HEAVY!r}\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_parse_size_and_verify_need_no_array_stack() -> None:
    code = (
        "import sys\n"
        "from geomm.cube import parse_size, verify_cube\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'dask', 'xarray', 'pandas'}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_every_public_name_resolves_where_it_is_defined() -> None:
    assert sorted(geomm.cube.__all__) == sorted(geomm.cube._EXPORTS)
    for name in geomm.cube.__all__:
        value = getattr(geomm.cube, name)
        module = geomm.cube._EXPORTS[name]
        assert value is getattr(sys.modules[module], name), name
    assert set(geomm.cube.__all__) <= set(dir(geomm.cube))


def test_pick_time_is_public() -> None:
    from geomm.cube import pick_time
    from geomm.cube._quicklook import pick_time as private

    assert pick_time is private and "pick_time" in geomm.cube.__all__


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nonesuch'"):
        geomm.cube.nonesuch  # noqa: B018
    assert not hasattr(geomm.cube, "nonesuch")

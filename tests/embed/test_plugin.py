"""A model geomm knows nothing of, through the whole pipeline with every default.

``patch14`` (``plugins/geomm_testplugins.py``, found through its entry point
like any installed package) reads S2 only, four bands in its own order, with
its own normalization, 14 px patches and published weights in the torch hub
cache. The truth is its forward applied by hand to chips cut from the cube;
and a chip size that a model cannot take is refused by embed, naming the
argument that fixes it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from geomm.aoi import read_aoi
from geomm.chips import cube_chips
from geomm.cube import CubeConfig, make_cube, open_cube
from geomm.embed import EmbedConfig, EmbedError, ModelSpec, embed_cube, make_embeddings, read_table
from geomm.models import list_models, model_info
from geomm.sample import sample_aoi_path

PLUGINS = Path(__file__).parent / "plugins"
START, END = "2024-06-01", "2024-07-31"


@pytest.fixture(scope="module")
def cube56(sample_catalog, tmp_path_factory) -> Path:
    """The demo AOI's cube in 56 px chips (a multiple of patch14's 14 px patches)."""
    out = tmp_path_factory.mktemp("plugin") / "cube56.zarr"
    make_cube(
        str(sample_catalog),
        aoi=read_aoi(sample_aoi_path()),
        start=START,
        end=END,
        out=out,
        config=CubeConfig(chip_size=56, chunk_chips=4),
    )
    return out


@pytest.fixture
def patch14(monkeypatch, tmp_path):
    """The plugin visible (this process and children), its weights in a private hub cache."""
    monkeypatch.syspath_prepend(str(PLUGINS))
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [str(PLUGINS), os.environ.get("PYTHONPATH")]))
    )
    home = tmp_path / "torch-home"
    monkeypatch.setenv("TORCH_HOME", str(home))
    if "torch" in sys.modules:  # a torch.hub.set_dir elsewhere would win over TORCH_HOME
        monkeypatch.setattr(sys.modules["torch"].hub, "_hub_dir", None)
    proj = np.random.default_rng(14).normal(size=(4, 6))
    weights = home / "hub" / "checkpoints" / "patch14-proj.json"
    weights.parent.mkdir(parents=True)
    weights.write_text(json.dumps({"proj": proj.tolist()}))
    import geomm_testplugins

    return geomm_testplugins, proj


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "geomm.cli", *args],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=600,
    )


def _by_hand(
    cube: Path, plugin, proj: np.ndarray, aoi=None
) -> dict[tuple[str, np.datetime64], np.ndarray]:
    """Every chip-time (in ``aoi``) clear enough for the default min_clear, through the forward."""
    ds = open_cube(cube).load()
    s2 = ds.s2.sel(s2_band=list(plugin.PATCH14_BANDS)).values  # the plugin's band order
    expected = {}
    for chip in cube_chips(ds, aoi):
        for t in range(ds.sizes["time"]):
            if float(ds.clear.values[t, chip.y, chip.x].mean()) < EmbedConfig().min_clear:
                continue
            window = s2[t, :, chip.y, chip.x][None]
            expected[chip.chip_id, ds.time.values[t]] = plugin.patch14_forward(window, proj)[0]
    return expected


def _assert_table_is(table, expected) -> None:
    assert sorted(expected) == list(zip(table.chip_id, table.time.to_numpy(), strict=True))
    for row in table.itertuples():
        want = expected[row.chip_id, np.datetime64(row.time.to_datetime64())]
        np.testing.assert_allclose(row.embedding, want, rtol=1e-6, atol=1e-7)


def test_a_third_party_model_embeds_a_cube_with_every_default(patch14, cube56, tmp_path):
    plugin, proj = patch14
    assert "patch14" in [m.name for m in list_models()]
    info = model_info("patch14")
    assert (info.modalities, info.chip_multiple, info.normalizations) == (
        ("s2",),
        14,
        ("band-zscore",),
    )
    expected = _by_hand(cube56, plugin, proj)
    assert 0 < len(expected)

    report = embed_cube(cube56, tmp_path / "t.parquet", config=EmbedConfig(ModelSpec("patch14")))
    table = read_table(report.path)
    _assert_table_is(table, expected)
    assert report.skipped_s1 == 0  # an S2-only model ignores S1 coverage
    meta = table.attrs["geomm"]
    assert meta["model"] == "patch14" and meta["normalization"] == "band-zscore"
    assert meta["weights_id"] == "patch14-proj.json (test plugin)"
    assert meta["chip_size"] == 56 and table.embedding.iloc[0].shape == (6,)

    # the notebook face: only the model's name
    accessor = open_cube(cube56).geomm.embed(model="patch14")
    _assert_table_is(accessor, expected)

    # the command line: only the model's name too (and the AOI it must name)
    in_aoi = _by_hand(cube56, plugin, proj, read_aoi(sample_aoi_path()))
    assert 0 < len(in_aoi) < len(expected)
    out = tmp_path / "cli.parquet"
    run = _cli("embed", "--aoi", str(sample_aoi_path()), "--cube", str(cube56),
               "--model", "patch14", "--out", str(out))  # fmt: skip
    assert run.returncode == 0, run.stderr
    _assert_table_is(read_table(out), in_aoi)


def test_chips_a_model_cannot_take_are_refused_by_embed_naming_the_argument(
    patch14, cube56, sample_catalog, tmp_path
):
    tiny = EmbedConfig(ModelSpec("croma-tiny", weights="random", precision="fp32"))
    cube12 = tmp_path / "cube12.zarr"
    make_cube(  # the cube itself takes any chip size: the rule is the model's
        str(sample_catalog),
        aoi=read_aoi(sample_aoi_path()),
        start=START,
        end=END,
        out=cube12,
        config=CubeConfig(chip_size=12, chunk_chips=8),
    )
    out = tmp_path / "t.parquet"
    with pytest.raises(
        EmbedError,
        match=r"12 px chips do not fit model 'croma-tiny', which takes chips of a multiple of "
        r"8 px: build the cube with CubeConfig\(chip_size=8\)",
    ):
        embed_cube(cube12, out, config=tiny)
    assert not out.exists()
    with pytest.raises(EmbedError, match=r"CubeConfig\(chip_size=14\)"):
        embed_cube(cube12, out, config=EmbedConfig(ModelSpec("patch14")))

    # make_embeddings says so before any search or cube
    with pytest.raises(
        EmbedError, match=r"60 px chips .* 'croma-tiny'.*CubeConfig\(chip_size=56\)"
    ):
        make_embeddings(
            aoi=read_aoi(sample_aoi_path()),
            out=tmp_path / "m.parquet",
            catalog=str(sample_catalog),
            start=START,
            end=END,
            cube_config=CubeConfig(chip_size=60),
            config=tiny,
        )
    assert not (tmp_path / "m.cube.zarr").exists()

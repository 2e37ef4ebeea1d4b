"""The geomm.models registry: entry points, model descriptions, light imports."""

from __future__ import annotations

import importlib.metadata
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from geomm.errors import GeommError
from geomm.models import (
    ModelInfo,
    ModelInputError,
    ModelNotFoundError,
    ModelPlugin,
    ModelPluginError,
    WeightsSource,
    list_models,
    load_model,
    model_info,
)
from geomm.models.croma import CROMA_BASE, CROMA_LARGE, CROMA_TINY

S2 = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B11", "B12")


def add_entry_points(monkeypatch: pytest.MonkeyPatch, **extra: str) -> None:
    """Make importlib.metadata report extra ``geomm.models`` entry points."""
    real = importlib.metadata.entry_points

    def fake(**params: str) -> importlib.metadata.EntryPoints:
        found = list(real(**params))
        if params.get("group") == "geomm.models":
            found += [
                importlib.metadata.EntryPoint(name=n, value=v, group="geomm.models")
                for n, v in extra.items()
            ]
        return importlib.metadata.EntryPoints(found)

    monkeypatch.setattr(importlib.metadata, "entry_points", fake)


def test_builtin_models() -> None:
    names = [m.name for m in list_models()]
    assert names == sorted(names)
    assert {"croma-base", "croma-large", "croma-tiny"} <= set(names)
    info = model_info("croma-base")
    assert info is CROMA_BASE.info
    assert info.modalities == ("s1", "s2")
    assert info.bands == {"s1": ("VV", "VH"), "s2": S2}
    assert (info.chip_multiple, info.default_chip_size) == (8, 120)
    assert info.embeddings == {"sar": 768, "optical": 768, "joint": 768}
    assert info.default_embedding == "joint"
    assert info.normalizations == ("ssl4eo", "reference")
    assert model_info("croma-large").embeddings["joint"] == 1024
    assert model_info("croma-tiny").weights is None


def test_published_weights_are_torchgeos() -> None:
    from torchgeo.models import CROMABase_Weights, CROMALarge_Weights

    for plugin, enum in ((CROMA_BASE, CROMABase_Weights), (CROMA_LARGE, CROMALarge_Weights)):
        src = plugin.info.weights
        assert src.url == enum.CROMA_VIT.url
        assert src.file_name == enum.CROMA_VIT.url.rsplit("/", 1)[1]
        assert src.file_name == f"{src.file_name.split('-')[0]}-{src.sha256_prefix}.pt"
    assert CROMA_BASE.info.weights.file_name == "CROMA_base-0238d814.pt"
    assert CROMA_LARGE.info.weights.file_name == "CROMA_large-921e69ad.pt"


def test_third_party_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    add_entry_points(monkeypatch, **{"band-means": "tests.models._fake_plugin:PLUGIN"})
    names = [m.name for m in list_models()]
    assert names == sorted(names) and "band-means" in names and "croma-tiny" in names
    info = model_info("band-means")
    assert info.embeddings == {"optical": 4}
    from tests.models._fake_plugin import PLUGIN

    assert isinstance(PLUGIN, ModelPlugin)
    model = load_model("band-means", "w.bin", seed=4)
    assert model.weights_id == "none:w.bin:4"
    s2 = np.arange(2 * 4 * 8 * 8, dtype=np.uint16).reshape(2, 4, 8, 8)
    out = model.embed(None, s2)
    np.testing.assert_array_equal(out["optical"], s2.mean(axis=(2, 3)).astype(np.float32))
    with pytest.raises(ModelInputError, match="does not read s1"):
        model.embed(np.zeros((2, 2, 8, 8), np.float32), s2)


def test_broken_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    add_entry_points(
        monkeypatch,
        missing="tests.models._no_such_module:PLUGIN",
        bogus="tests.models._fake_plugin:NOT_A_PLUGIN",
        renamed="tests.models._fake_plugin:PLUGIN",
    )
    with pytest.raises(ModelPluginError, match=r"'missing' .* failed to import"):
        model_info("missing")
    with pytest.raises(ModelPluginError, match="'bogus' .* is not a geomm model plugin"):
        model_info("bogus")
    with pytest.raises(ModelPluginError, match="describes a model named 'band-means'"):
        load_model("renamed")
    with pytest.raises(ModelPluginError):
        list_models()


def test_unknown_model() -> None:
    with pytest.raises(ModelNotFoundError) as e:
        model_info("croma-huge")
    err = e.value
    assert isinstance(err, KeyError) and isinstance(err, GeommError)
    assert str(err).startswith("no embedding model named 'croma-huge'; installed models: ")
    assert "croma-base, croma-large, croma-tiny" in str(err)
    with pytest.raises(ModelNotFoundError):
        load_model("croma-huge")


def test_unknown_normalization_or_precision() -> None:
    with pytest.raises(ModelInputError, match=r"offers normalizations \['ssl4eo', 'reference'\]"):
        load_model("croma-tiny", "random", normalization="imagenet")
    with pytest.raises(ModelInputError, match="precision must be one of"):
        load_model("croma-tiny", "random", precision="fp16")
    with pytest.raises(ModelInputError, match="not a torch device"):
        load_model("croma-tiny", "random", device="gpu0")


def test_weights_path(torch_home: Path) -> None:
    info = model_info("croma-base")
    assert info.weights_path() is None
    target = torch_home / "hub" / "checkpoints" / "CROMA_base-0238d814.pt"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"placeholder")
    assert info.weights_path() == target
    assert model_info("croma-tiny").weights_path() is None


def test_weights_path_without_torch(tmp_path: Path) -> None:
    """Listing models and finding cached weights import neither torch nor torchgeo."""
    home = tmp_path / "th"
    (home / "hub" / "checkpoints").mkdir(parents=True)
    (home / "hub" / "checkpoints" / "CROMA_large-921e69ad.pt").write_bytes(b"x")
    code = (
        "import sys, geomm.models as m\n"
        "names = [i.name for i in m.list_models()]\n"
        "p = m.model_info('croma-large').weights_path()\n"
        "print(names, p, 'torch' in sys.modules, 'torchgeo' in sys.modules)\n"
    )
    env = {"PATH": "/usr/bin:/bin", "TORCH_HOME": str(home), "HOME": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    ).stdout.strip()
    want = home / "hub" / "checkpoints" / "CROMA_large-921e69ad.pt"
    assert out == f"['croma-base', 'croma-large', 'croma-tiny'] {want} False False"


def test_records_are_checked_and_frozen() -> None:
    with pytest.raises(ModelInputError, match="sha256_prefix"):
        WeightsSource(url="https://x", file_name="a.pt", sha256_prefix="XYZ")
    with pytest.raises(ModelInputError, match="bare file name"):
        WeightsSource(url="https://x", file_name="dir/a.pt")
    fields = dict(CROMA_TINY.info.__dict__)
    with pytest.raises(ModelInputError, match="default_embedding 'pooled'"):
        ModelInfo(**{**fields, "default_embedding": "pooled"})
    with pytest.raises(ModelInputError, match="not a multiple of chip_multiple 8"):
        ModelInfo(**{**fields, "default_chip_size": 100})
    with pytest.raises(AttributeError):
        CROMA_TINY.info.name = "x"  # type: ignore[misc]
    info = pickle.loads(pickle.dumps(CROMA_TINY.info))  # travels to Dask workers
    assert info == CROMA_TINY.info and {info: 1}[CROMA_TINY.info] == 1


def test_model_info_says_what_embedding_needs() -> None:
    info = model_info("croma-base")
    assert info.requires == {"sar": ("s1",), "optical": ("s2",), "joint": ("s1", "s2")}
    assert info.needs(["optical"]) == {"s2"} and info.needs(["sar", "joint"]) == {"s1", "s2"}
    assert info.cube_variables == ("s1", "s2", "clear")
    assert info.normalizations[0] == "ssl4eo"  # the default
    assert [info.accepts_chip_size(s) for s in (0, 8, 12, 120, 124)] == [
        False,
        True,
        False,
        True,
        False,
    ]
    assert [info.chip_size_near(s) for s in (1, 12, 13, 60, 123)] == [8, 8, 16, 56, 120]

    fields = dict(CROMA_TINY.info.__dict__)
    fields.pop("requires"), fields.pop("cube_variables")
    s2_only = ModelInfo(**{**fields, "modalities": ("s2",), "bands": {"s2": S2}})
    assert s2_only.cube_variables == ("s2", "clear")  # the default: modalities + cloud mask
    assert s2_only.needs(["joint"]) == {"s2"}  # not listed: every modality
    fixed = ModelInfo(**{**fields, "chip_sizes": (96, 120)})
    assert fixed.accepts_chip_size(120) and not fixed.accepts_chip_size(112)
    assert fixed.chip_size_near(100) == 96
    with pytest.raises(ModelInputError, match="requires names embeddings"):
        ModelInfo(**{**fields, "requires": {"pooled": ("s2",)}})
    with pytest.raises(ModelInputError, match="requires names"):
        ModelInfo(**{**fields, "requires": {"joint": ("s3",)}})
    with pytest.raises(ModelInputError, match="chip_sizes"):
        ModelInfo(**{**fields, "chip_sizes": (100,)})


def test_the_default_normalization_is_the_models_first(monkeypatch: pytest.MonkeyPatch) -> None:
    add_entry_points(monkeypatch, **{"band-means": "tests.models._fake_plugin:PLUGIN"})
    seen = []
    from tests.models._fake_plugin import PLUGIN

    real = PLUGIN.load

    def load(weights, **options):
        seen.append(options["normalization"])
        return real(weights, **options)

    monkeypatch.setattr(PLUGIN, "load", load)
    load_model("band-means")
    assert seen == ["ssl4eo"]  # _fake_plugin's only one
    assert load_model("croma-tiny", "random").normalization == "ssl4eo"

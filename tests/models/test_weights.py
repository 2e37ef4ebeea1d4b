"""Weights: checkpoints in the released layout, the torch hub cache, hashes, seeds."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from torchgeo.models import CROMA
from torchgeo.models.croma import load_weights

from geomm.errors import GeommError
from geomm.models import WeightsError, WeightsSource, load_model, model_info, save_checkpoint
from geomm.models._weights import file_sha256, hash_suffix
from geomm.models.croma import COMPONENTS, CROMA_BASE, CROMA_TINY, CromaArch, CromaPlugin
from geomm.models.croma._network import build_holder, module_checkpoint_state


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def small_chips(n: int = 2, size: int = 16, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    s1 = rng.normal(-15, 5, (n, 2, size, size)).astype(np.float32)
    s2 = rng.integers(1, 6000, (n, 12, size, size)).astype(np.uint16)
    return s1, s2


@pytest.fixture(scope="module")
def tiny():
    return load_model("croma-tiny", "random", precision="fp32", seed=5)


@pytest.fixture
def tiny_ckpt(tiny, tmp_path: Path) -> Path:
    return save_checkpoint(tiny, tmp_path / "tiny.pt")


def assert_same_embeddings(a, b, chips=None) -> None:
    s1, s2 = chips or small_chips()
    ea, eb = a.embed(s1, s2, tokens=True), b.embed(s1, s2, tokens=True)
    assert ea.keys() == eb.keys()
    for k in ea:
        np.testing.assert_array_equal(ea[k], eb[k], err_msg=k)


# --- save / load round trip --------------------------------------------------------


def test_save_then_load_strict(tiny, tiny_ckpt: Path) -> None:
    state = torch.load(tiny_ckpt, map_location="cpu", weights_only=True)
    assert list(state) == list(COMPONENTS)
    assert all(v.dtype == torch.float32 for c in state.values() for v in c.values())
    loaded = load_model("croma-tiny", tiny_ckpt, precision="fp32")
    assert loaded.weights_id == f"tiny.pt sha256:{sha256(tiny_ckpt)[:16]}"
    assert_same_embeddings(tiny, loaded)


def test_torchgeo_loads_what_geomm_saves(tiny, tiny_ckpt: Path) -> None:
    """torchgeo's own loader (strict key asserts) takes the saved file."""

    class LocalWeights:  # what load_weights needs from a WeightsEnum member
        def get_state_dict(self, progress: bool) -> dict:
            return torch.load(tiny_ckpt, map_location="cpu", weights_only=True)

    ref = CROMA(modalities=["sar", "optical"], encoder_dim=128, encoder_depth=2, image_size=16)
    load_weights(ref, LocalWeights())
    for c in COMPONENTS:  # and each submodule strictly
        getattr(ref, c).load_state_dict(LocalWeights().get_state_dict(False)[c], strict=True)
    s1, s2 = small_chips()
    from geomm.models.croma._normalize import apply_scaling, scaling_for

    x = {
        m: apply_scaling(m, a, scaling_for(m, "ssl4eo"), device=torch.device("cpu"))
        for m, a in (("s1", s1), ("s2", s2))
    }
    with torch.no_grad():
        want = ref.eval()(x["s1"], x["s2"])
    got = tiny.embed(s1, s2)
    for k, r in (("sar", "sar_GAP"), ("optical", "optical_GAP"), ("joint", "joint_GAP")):
        np.testing.assert_allclose(got[k], want[r].numpy(), atol=1e-5, rtol=0)


def test_save_torchgeo_module(tmp_path: Path) -> None:
    ref = CROMA(modalities=["sar", "optical"], encoder_dim=128, encoder_depth=2, image_size=8)
    path = save_checkpoint(ref, tmp_path / "sub" / "from-torchgeo.pt")
    loaded = load_model("croma-tiny", path, precision="fp32")
    for c in COMPONENTS:
        for k, v in getattr(ref, c).state_dict().items():
            assert torch.equal(getattr(loaded.module, c).state_dict()[k], v)


def test_save_refuses_what_is_not_croma(tmp_path: Path, tiny) -> None:
    sar_only = CROMA(modalities=["sar"], encoder_dim=128, encoder_depth=2, image_size=8)
    with pytest.raises(WeightsError, match=r"no s2_encoder, s2_GAP_FFN, joint_encoder"):
        save_checkpoint(sar_only, tmp_path / "x.pt")
    int8 = load_model("croma-tiny", "random", precision="int8")
    with pytest.raises(WeightsError, match="int8-quantized"):
        save_checkpoint(int8, tmp_path / "y.pt")
    assert not (tmp_path / "x.pt").exists() and not (tmp_path / "y.pt").exists()


def test_bf16_model_saves_fp32(tmp_path: Path) -> None:
    bf16 = load_model("croma-tiny", "random", precision="bf16", seed=5)
    path = save_checkpoint(bf16, tmp_path / "bf16.pt")
    state = torch.load(path, weights_only=True)
    w = state["s2_encoder"]["linear_input.weight"]
    assert w.dtype == torch.float32
    assert torch.equal(w, bf16.module.s2_encoder.linear_input.weight.float())


# --- wrong files ---------------------------------------------------------------------


def test_wrong_keys(tiny, tmp_path: Path) -> None:
    state = module_checkpoint_state(tiny.module)
    enc = state["s2_encoder"]
    enc["linear_in.weight"] = enc.pop("linear_input.weight")
    del enc["transformer.norm_out.bias"]
    path = tmp_path / "renamed.pt"
    torch.save(state, path)
    with pytest.raises(WeightsError) as e:
        load_model("croma-tiny", path)
    msg = str(e.value)
    assert "s2_encoder" in msg and "renamed.pt" in msg
    assert "missing keys ['linear_input.weight', 'transformer.norm_out.bias']" in msg
    assert "unexpected keys ['linear_in.weight']" in msg


def test_missing_component_and_extra_key(tiny, tmp_path: Path) -> None:
    state = module_checkpoint_state(tiny.module)
    del state["joint_encoder"]
    state["optimizer"] = {}
    path = tmp_path / "partial.pt"
    torch.save(state, path)
    want = r"missing \['joint_encoder'\], unexpected \['optimizer'\]"
    with pytest.raises(WeightsError, match=want):
        load_model("croma-tiny", path)


def test_checkpoint_of_another_size(tmp_path: Path) -> None:
    other = build_holder(CromaArch(dim=64, depth=2), seed=0)
    path = save_checkpoint(other, tmp_path / "dim64.pt")
    want = r"s1_encoder.*'linear_input.weight' has shape \(64, 128\)"
    with pytest.raises(WeightsError, match=want):
        load_model("croma-tiny", path)


def test_not_a_checkpoint(tmp_path: Path) -> None:
    text = tmp_path / "notes.pt"
    text.write_text("not a checkpoint\n")
    with pytest.raises(WeightsError, match="notes.pt is not a loadable torch checkpoint"):
        load_model("croma-tiny", text)
    listed = tmp_path / "list.pt"
    torch.save([1, 2, 3], listed)
    with pytest.raises(WeightsError, match="holds a list, not a dict of state dicts"):
        load_model("croma-tiny", listed)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match=r"nope\.pt does not exist.*weights='random'") as e:
        load_model("croma-tiny", tmp_path / "nope.pt")
    assert isinstance(e.value, GeommError) and isinstance(e.value, ValueError)


def test_hash_suffix_is_verified(tiny_ckpt: Path) -> None:
    digest = sha256(tiny_ckpt)
    good = tiny_ckpt.with_name(f"croma_tiny-{digest[:10]}.pt")
    os.link(tiny_ckpt, good)
    model = load_model("croma-tiny", good)
    assert model.weights_id == f"{good.name} sha256:{digest[:16]}"
    bad = tiny_ckpt.with_name("croma_tiny-deadbeef.pt")
    os.link(tiny_ckpt, bad)
    want = r"corrupt.*sha256 deadbeef\.\.\..*hashes to " + digest[:8]
    with pytest.raises(WeightsError, match=want):
        load_model("croma-tiny", bad)


def test_hash_suffix_rule() -> None:
    assert hash_suffix("CROMA_base-0238d814.pt") == "0238d814"
    assert hash_suffix("/x/m-0123456789abcdef.pth") == "0123456789abcdef"
    assert hash_suffix("croma-20250102.pt") is None  # a date, not a hash
    assert hash_suffix("m-abc123.pt") is None  # fewer than 8 hex digits
    assert hash_suffix("tiny.pt") is None


def test_sha256_sidecar_cache(tiny_ckpt: Path) -> None:
    digest = sha256(tiny_ckpt)
    assert file_sha256(tiny_ckpt) == digest
    side = tiny_ckpt.with_name(tiny_ckpt.name + ".sha256")
    record = json.loads(side.read_text())
    assert record["sha256"] == digest and record["size"] == tiny_ckpt.stat().st_size
    side.write_text(json.dumps({**record, "sha256": "f" * 64}))
    st = tiny_ckpt.stat()
    os.utime(side, ns=(st.st_ctime_ns + 10**9, st.st_ctime_ns + 10**9))  # written after
    assert file_sha256(tiny_ckpt) == "f" * 64  # trusted while the file is unchanged
    os.utime(tiny_ckpt, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert file_sha256(tiny_ckpt) == digest  # file changed: hashed again


# --- published weights and the torch hub cache ------------------------------------


def tiny_with_source(tmp_path: Path, tiny) -> tuple[CromaPlugin, Path]:
    """croma-tiny with a WeightsSource, its file generated under a hash-suffixed name."""
    made = save_checkpoint(tiny, tmp_path / "gen.pt")
    prefix = sha256(made)[:8]
    source = WeightsSource(
        url=f"https://example.invalid/croma_tiny-{prefix}.pt",
        file_name=f"croma_tiny-{prefix}.pt",
        sha256_prefix=prefix,
    )
    info = dataclasses.replace(CROMA_TINY.info, weights=source)
    return CromaPlugin(info=info, arch=CROMA_TINY.arch), made


def test_hub_cache_offline(tiny, tmp_path: Path, torch_home: Path) -> None:
    plugin, made = tiny_with_source(tmp_path, tiny)
    expected = torch_home / "hub" / "checkpoints" / plugin.info.weights.file_name
    assert plugin.info.weights_path() is None
    with pytest.raises(WeightsError) as e:
        plugin.load(None, precision="fp32", download=False)
    assert str(expected) in str(e.value) and "weights=PATH" in str(e.value)
    with pytest.raises(WeightsError, match="could not download"):  # the fixture blocks it
        plugin.load(None, precision="fp32", download=True)

    expected.parent.mkdir(parents=True, exist_ok=True)
    made.rename(expected)
    assert plugin.info.weights_path() == expected
    for download in (False, True):  # present: never downloads
        model = plugin.load(None, precision="fp32", download=download)
        prefix = plugin.info.weights.sha256_prefix
        assert model.weights_id.startswith(f"{expected.name} sha256:{prefix}")
        assert_same_embeddings(tiny, model)


def test_hub_cache_corrupt_file(tiny, tmp_path: Path, torch_home: Path) -> None:
    plugin, made = tiny_with_source(tmp_path, tiny)
    expected = torch_home / "hub" / "checkpoints" / plugin.info.weights.file_name
    expected.parent.mkdir(parents=True)
    data = bytearray(made.read_bytes())
    data[-100] ^= 0xFF
    expected.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="corrupt or not the published file"):
        plugin.load(None, precision="fp32", download=False)


def test_no_published_weights() -> None:
    with pytest.raises(WeightsError) as e:
        load_model("croma-tiny")
    msg = str(e.value)
    assert "croma-tiny has no published weights" in msg
    assert "weights=PATH" in msg and "weights='random'" in msg


def test_base_not_cached_and_no_download(torch_home: Path) -> None:
    assert model_info("croma-base").weights_path() is None
    with pytest.raises(WeightsError) as e:
        load_model("croma-base", download=False)
    want = torch_home / "hub" / "checkpoints" / "CROMA_base-0238d814.pt"
    assert str(want) in str(e.value) and CROMA_BASE.info.weights.url in str(e.value)


def test_base_file_name_in_hub_cache(torch_home: Path) -> None:
    """A base-size checkpoint under the published name loads from the cache, offline.

    A random file cannot have the published hash, so first it is refused; then
    the sha256 sidecar (the cache geomm keeps next to the file) is written with
    a digest carrying the published prefix, which is what a genuine file's
    sidecar holds, and the load goes through.
    """
    t0 = time.perf_counter()
    model = load_model("croma-base", "random", precision="fp32", seed=2)
    path = torch_home / "hub" / "checkpoints" / "CROMA_base-0238d814.pt"
    save_checkpoint(model, path)
    try:
        check_base_cache(model, path)
    finally:
        path.unlink()  # 778 MB: do not leave it in pytest's kept tmp folders
    print(f"base hub-cache round trip: {time.perf_counter() - t0:.1f} s")


def check_base_cache(model, path: Path) -> None:
    assert path.stat().st_size > 770e6
    assert model_info("croma-base").weights_path() == path
    with pytest.raises(WeightsError, match="corrupt or not the published file"):
        load_model("croma-base", download=False)
    st = path.stat()
    fake = "0238d814" + sha256(path)[8:]
    side = path.with_name(path.name + ".sha256")
    record = json.loads(side.read_text())  # written by the refused load above
    side.write_text(json.dumps({**record, "sha256": fake}))
    os.utime(side, ns=(st.st_ctime_ns + 10**9, st.st_ctime_ns + 10**9))  # written after
    cached = load_model("croma-base", download=False, precision="fp32")
    assert cached.weights_id == f"CROMA_base-0238d814.pt sha256:{fake[:16]}"
    assert_same_embeddings(model, cached, small_chips(1, 16))


# --- random initialisation ----------------------------------------------------------


def test_random_is_seeded_and_leaves_global_rng() -> None:
    before = torch.random.get_rng_state()
    a = load_model("croma-tiny", "random", seed=0, precision="fp32")
    b = load_model("croma-tiny", "random", seed=0, precision="fp32")
    c = load_model("croma-tiny", "random", seed=1, precision="fp32")
    assert torch.equal(torch.random.get_rng_state(), before)
    assert a.weights_id == "random:seed=0" and c.weights_id == "random:seed=1"
    assert_same_embeddings(a, b)
    s1, s2 = small_chips()
    assert not np.allclose(a.embed(s1, s2)["joint"], c.embed(s1, s2)["joint"])

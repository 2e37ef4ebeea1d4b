"""geomm's CROMA forward against torchgeo's own, for the same seeded weights.

The truth is torchgeo's ``CROMA.forward`` (einsum attention, its own
``get_2dalibi`` bias) fed with inputs normalized here by hand in float64.
torchgeo builds its bias for one image size and cannot run one modality when
configured with both, so reference models are built per size and modality.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch
from torchgeo.models import CROMA
from torchgeo.models.croma import get_2dalibi

from geomm.errors import ModelPluginError
from geomm.models import load_model
from geomm.models.croma import CROMA_TINY
from geomm.models.croma._network import TESTED_TORCHGEO, alibi_bias, build_holder, check_layout

S2_MEAN = np.array(
    [1353.7, 1117.2, 1041.8, 946.5, 1199.1, 2003.0, 2374.0, 2301.2, 2599.7, 732.1, 1820.6, 1118.2]
)
S2_STD = np.array(
    [897.3, 736.0, 684.8, 620.0, 791.9, 1341.3, 1595.4, 1545.5, 1750.1, 475.1, 1216.5, 736.7]
)
S1_MEAN = np.array([-12.548, -20.192])
S1_STD = np.array([5.257, 5.912])

ATOL = 1e-4
OUTPUTS = {
    "sar": "sar_GAP",
    "optical": "optical_GAP",
    "joint": "joint_GAP",
    "sar_tokens": "sar_encodings",
    "optical_tokens": "optical_encodings",
    "joint_tokens": "joint_encodings",
}


def hand_normalize(x: np.ndarray, mean: np.ndarray, std: np.ndarray) -> torch.Tensor:
    """CROMA.md's ssl4eo scaling in float64: clip((x - (m - 2s)) / 4s, 0, 1)."""
    m, s = mean[None, :, None, None], std[None, :, None, None]
    y = np.clip((x.astype(np.float64) - (m - 2 * s)) / (4 * s), 0, 1)
    return torch.from_numpy(y.astype(np.float32))


@functools.lru_cache
def torchgeo_bias(size: int) -> torch.Tensor:
    return get_2dalibi(num_heads=16, num_patches=(size // 8) ** 2)  # O(N^2) loop: cached


def reference(model, modalities: list[str], size: int) -> CROMA:
    """A torchgeo CROMA for ``modalities`` at ``size`` px holding ``model``'s weights."""
    with torch.device("meta"):  # no random init: the weights are assigned below
        ref = CROMA(
            modalities=modalities,
            encoder_dim=model.arch.dim,
            encoder_depth=model.arch.depth,
            num_heads=16,
            image_size=8,  # its bias is set below, from torchgeo's own function
        ).eval()
    ref.attn_bias = torchgeo_bias(size)
    state = {k: v for k, v in model.module.state_dict().items() if k != "attn_bias"}
    missing, unexpected = ref.load_state_dict(state, strict=False, assign=True)
    assert missing == ["attn_bias"]  # set above, not part of the checkpoint
    assert all(k.startswith(("s1_", "s2_", "joint_")) for k in unexpected)
    return ref


def chips(n: int, size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    s1 = rng.normal(S1_MEAN[None, :, None, None], 6, (n, 2, size, size)).astype(np.float32)
    s2 = rng.gamma(2.0, S2_MEAN[None, :, None, None] / 2, (n, 12, size, size))
    return s1, np.clip(s2, 1, 20000).astype(np.uint16)


def check_mode(model, mode: str, size: int, n: int) -> None:
    s1, s2 = chips(n, size, seed=size)
    x1, x2 = hand_normalize(s1, S1_MEAN, S1_STD), hand_normalize(s2, S2_MEAN, S2_STD)
    if mode == "sar":
        got = model.embed(s1, None, tokens=True)
        modalities, args = ["sar"], (x1, None)
    elif mode == "optical":
        got = model.embed(None, s2, tokens=True)
        modalities, args = ["optical"], (None, x2)
    else:
        got = model.embed(s1, s2, tokens=True)
        modalities, args = ["sar", "optical"], (x1, x2)
    with torch.no_grad():
        want = reference(model, modalities, size)(*args)
    expected_keys = {mode, f"{mode}_tokens"} if mode != "joint" else set(OUTPUTS)
    assert set(got) == expected_keys
    for key in expected_keys:
        ref = want[OUTPUTS[key]].numpy()
        assert got[key].dtype == np.float32
        assert got[key].shape == ref.shape
        np.testing.assert_allclose(got[key], ref, atol=ATOL, rtol=0, err_msg=f"{mode}/{key}")


@pytest.fixture(scope="module")
def tiny():
    return load_model("croma-tiny", "random", precision="fp32", seed=3)


@pytest.fixture(scope="module")
def base():
    return load_model("croma-base", "random", precision="fp32", seed=0)


@pytest.mark.parametrize("grid", [1, 2, 3, 7, 12, 15])
def test_alibi_bias_is_bitwise_torchgeo(grid: int) -> None:
    want = get_2dalibi(num_heads=16, num_patches=grid * grid)
    got = alibi_bias(grid, dtype=torch.float32, device="cpu")
    assert got.shape == (1, 16, grid * grid, grid * grid)
    assert torch.equal(got, want)
    assert alibi_bias(grid, dtype=torch.float32, device="cpu") is got  # cached
    with torch.inference_mode():
        bf16 = alibi_bias(grid, dtype=torch.bfloat16, device="cpu")
    assert not bf16.is_inference()  # usable with autograd (training) after an embed
    assert torch.equal(bf16, want.to(torch.bfloat16))


def test_torchgeo_is_a_tested_version_with_the_layout_geomm_reads(tiny) -> None:
    """geomm's forward reads torchgeo's undocumented CROMA internals: pin and check them.

    On a new torchgeo, re-verify geomm/models/croma/_network.py (the attributes
    read by _part/_item/_layers and the forward's semantics: qkv split order,
    head layout, attention scale, GELU, GAP-FFN) against torchgeo's
    models/croma.py, run this file, then add the version to TESTED_TORCHGEO and
    widen the torchgeo pin in pyproject.toml.
    """
    import torchgeo

    major, minor = (int(p) for p in torchgeo.__version__.split(".")[:2])
    assert (major, minor) in TESTED_TORCHGEO, (
        f"torchgeo {torchgeo.__version__} is not a version geomm's CROMA forward was verified "
        f"against ({TESTED_TORCHGEO}): re-verify geomm/models/croma/_network.py against "
        "torchgeo/models/croma.py (see this test's docstring) before trusting its embeddings"
    )
    check_layout(tiny.module, tiny.arch)  # the layout geomm relies on is there


def test_a_layout_geomm_does_not_know_is_refused_at_build(monkeypatch) -> None:
    import torchgeo.models.croma as tg

    holder = build_holder(CROMA_TINY.arch, seed=0)
    holder.s2_encoder.transformer.layers[1][0].to_qkv = torch.nn.Identity()
    with pytest.raises(
        ModelPluginError, match=r"s2_encoder\.transformer\.layers\[1\]\[0\]\.to_qkv"
    ):
        check_layout(holder, CROMA_TINY.arch)

    class Renamed(tg.Attention):  # a torchgeo that renamed an attribute geomm reads
        def __init__(self, dim: int, num_heads: int = 8, dropout: float = 0.0) -> None:
            super().__init__(dim, num_heads, dropout)
            self.norm = self.input_norm
            del self.input_norm

    monkeypatch.setattr(tg, "Attention", Renamed)
    with pytest.raises(ModelPluginError) as e:
        load_model("croma-tiny", "random", precision="fp32")
    message = str(e.value)
    assert "input_norm is missing" in message and "re-verify" in message
    assert "torchgeo>=0.8,<0.9" in message


def test_tiny_architecture(tiny) -> None:
    m = tiny.module
    assert len(m.s2_encoder.transformer.layers) == 2
    assert len(m.s1_encoder.transformer.layers) == 1
    assert len(m.joint_encoder.layers) == 1
    assert m.s1_encoder.num_heads == 16 and m.joint_encoder.layers[0][0].num_heads == 16
    assert tiny.info.embeddings == {"sar": 128, "optical": 128, "joint": 128}


@pytest.mark.parametrize("size", [120, 96])
@pytest.mark.parametrize("mode", ["sar", "optical", "joint"])
def test_tiny_matches_torchgeo(tiny, mode: str, size: int) -> None:
    check_mode(tiny, mode, size, n=3)


@pytest.mark.parametrize(
    ("mode", "size"),
    # joint checks sar_GAP, optical_GAP and all tokens too; single modalities at 96 px
    [("joint", 120), ("sar", 96), ("optical", 96)],
)
def test_base_matches_torchgeo(base, mode: str, size: int) -> None:
    assert base.info.embeddings["joint"] == 768
    assert len(base.module.s1_encoder.transformer.layers) == 6
    check_mode(base, mode, size, n=1)


def test_holder_runs_torchgeo_forward_at_120(tiny) -> None:
    """The weights' holder is a working torchgeo CROMA at the default 120 px."""
    s1, s2 = chips(2, 120, seed=7)
    x1, x2 = hand_normalize(s1, S1_MEAN, S1_STD), hand_normalize(s2, S2_MEAN, S2_STD)
    with torch.no_grad():
        want = tiny.module(x1, x2)
    got = tiny.embed(s1, s2)
    np.testing.assert_allclose(got["joint"], want["joint_GAP"].numpy(), atol=ATOL, rtol=0)

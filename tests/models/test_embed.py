"""CROMA embeddings: normalization, batch independence, precisions, input checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torchgeo.models import CROMA
from torchgeo.models.croma import get_2dalibi

from geomm.errors import GeommError
from geomm.models import ModelInputError, load_model
from geomm.models.croma import _model as croma_model
from geomm.models.croma._normalize import apply_scaling, scaling_for

from .conftest import cosine

CPU = torch.device("cpu")

# Measured on the dev CPU (AMD EPYC Zen 4, 2 threads, MKL/oneDNN), real BigEarthNet chips,
# random weights (no published file is reachable offline):
# fp32: a chip alone and inside a batch of 8 give bitwise equal embeddings and tokens
#   (croma-tiny and croma-base). On an H200 they differ by <= 5e-7 (cuBLAS picks
#   kernels by shape); not tested here.
# bf16: also bitwise equal alone vs in a batch here; the stated tolerance is cosine >= 0.9999.
# bf16 vs fp32 cosine: min 0.99997 (base), 0.99998 (tiny).
# int8 vs fp32 cosine: min 0.99944 (base), 0.99975 (tiny).
BF16_BATCH_COS = 0.9999
BF16_VS_FP32_COS = 0.999
INT8_VS_FP32_COS = 0.995


@pytest.fixture(scope="module")
def tiny():
    return load_model("croma-tiny", "random", precision="fp32", seed=11)


@pytest.fixture(scope="module")
def tiny_bf16():
    return load_model("croma-tiny", "random", precision="bf16", seed=11)


# --- normalization -----------------------------------------------------------------


def test_ssl4eo_by_hand() -> None:
    """A few pixels worked out by hand from CROMA.md's statistics."""
    s2 = np.full((1, 12, 8, 8), 1000, np.uint16)
    s2[0, 3, 0, 0] = 2000  # B04: mean 946.5, std 620.0
    s2[0, 3, 0, 1] = 0  # nodata
    s2[0, 3, 0, 2] = 60000  # far above mean + 2 std: clipped
    s2[0, 0, 0, 0] = 0  # B01 nodata, only in that band
    s1 = np.full((1, 2, 8, 8), -12.548, np.float32)  # VV mean
    s1[0, 0, 0, 1] = np.nan
    s1[0, 0, 0, 2] = -40.0  # far below: clipped to 0
    s1[0, 1, 0, 0] = -20.192 + 5.912  # VH mean + 1 std -> 0.75
    x2 = apply_scaling("s2", s2, scaling_for("s2", "ssl4eo"), device=CPU).numpy()
    x1 = apply_scaling("s1", s1, scaling_for("s1", "ssl4eo"), device=CPU).numpy()
    assert x2.dtype == np.float32 and x1.dtype == np.float32
    # (2000 - (946.5 - 2 * 620)) / (4 * 620) = 2293.5 / 2480
    assert x2[0, 3, 0, 0] == pytest.approx(2293.5 / 2480, abs=1e-6)
    assert x2[0, 3, 0, 1] == 0.5 and x2[0, 0, 0, 0] == 0.5
    assert x2[0, 3, 0, 2] == 1.0
    # B01 elsewhere: (1000 - (1353.7 - 1794.6)) / 3589.2
    assert x2[0, 0, 1, 1] == pytest.approx(1440.9 / 3589.2, abs=1e-6)
    assert x2[0, 1, 0, 0] == pytest.approx((1000 - (1117.2 - 1472.0)) / 2944.0, abs=1e-6)
    assert x1[0, 0, 0, 0] == pytest.approx(0.5, abs=1e-6)
    assert x1[0, 0, 0, 1] == 0.5 and x1[0, 0, 0, 2] == 0.0
    assert x1[0, 1, 0, 0] == pytest.approx(0.75, abs=1e-6)


def readme_normalize(x: torch.Tensor) -> torch.Tensor:
    """The CROMA README's normalize(x, use_8_bit=False), verbatim in substance."""
    x = x.float()
    imgs = []
    for channel in range(x.shape[1]):
        min_value = x[:, channel, :, :].mean() - 2 * x[:, channel, :, :].std()
        max_value = x[:, channel, :, :].mean() + 2 * x[:, channel, :, :].std()
        img = (x[:, channel, :, :] - min_value) / (max_value - min_value)
        imgs.append(torch.clip(img, 0, 1).unsqueeze(dim=1))
    return torch.cat(imgs, dim=1)


def test_reference_normalization_is_the_readme(real_chips) -> None:
    s1, s2 = real_chips
    for name, arr in (("s1", s1), ("s2", s2)):
        got = apply_scaling(name, arr, scaling_for(name, "reference", arr), device=CPU)
        want = readme_normalize(torch.from_numpy(arr.astype(np.float32)))
        assert torch.equal(got, want), name


def test_reference_normalization_with_nodata_by_hand() -> None:
    s2 = np.zeros((2, 12, 8, 8), np.uint16)
    s2[:, :, :4] = 100
    s2[:, :, 4:6] = 300  # band values 100 x 64, 300 x 32 (+ 32 nodata)
    valid = np.array([100.0] * 64 + [300.0] * 32)
    m, s = valid.mean(), valid.std(ddof=1)
    x = apply_scaling("s2", s2, scaling_for("s2", "reference", s2), device=CPU).numpy()
    assert x[0, 5, 0, 0] == pytest.approx((100 - (m - 2 * s)) / (4 * s), abs=1e-6)
    assert x[1, 5, 5, 0] == pytest.approx((300 - (m - 2 * s)) / (4 * s), abs=1e-6)
    assert x[1, 5, 7, 7] == 0.5  # nodata
    flat = np.full((1, 2, 8, 8), -10.0, np.float32)  # no spread at all
    y = apply_scaling("s1", flat, scaling_for("s1", "reference", flat), device=CPU).numpy()
    assert (y == 0.5).all()


def test_embed_feeds_the_hand_normalized_input_to_croma(tiny) -> None:
    """End to end: embed(raw) == torchgeo CROMA(hand-normalized), nodata included."""
    rng = np.random.default_rng(1)
    s2 = rng.integers(0, 4000, (2, 12, 16, 16)).astype(np.uint16)
    s2[0, :, :8] = 0
    s1 = rng.normal(-15, 4, (2, 2, 16, 16)).astype(np.float32)
    s1[1, 1, 3:9, 2:5] = np.nan
    m2 = np.array(
        [
            1353.7,
            1117.2,
            1041.8,
            946.5,
            1199.1,
            2003.0,
            2374.0,
            2301.2,
            2599.7,
            732.1,
            1820.6,
            1118.2,
        ]
    )
    d2 = np.array(
        [897.3, 736.0, 684.8, 620.0, 791.9, 1341.3, 1595.4, 1545.5, 1750.1, 475.1, 1216.5, 736.7]
    )
    m1, d1 = np.array([-12.548, -20.192]), np.array([5.257, 5.912])

    def by_hand(x: np.ndarray, nodata: np.ndarray, m: np.ndarray, d: np.ndarray) -> torch.Tensor:
        m, d = m[None, :, None, None], d[None, :, None, None]
        y = np.clip((x.astype(np.float64) - (m - 2 * d)) / (4 * d), 0, 1)
        return torch.from_numpy(np.where(nodata, 0.5, y).astype(np.float32))

    x1, x2 = by_hand(s1, np.isnan(s1), m1, d1), by_hand(s2, s2 == 0, m2, d2)
    ref = CROMA(modalities=["sar", "optical"], encoder_dim=128, encoder_depth=2, image_size=16)
    assert torch.equal(ref.attn_bias, get_2dalibi(16, 4))  # torchgeo's own, for 16 px
    state = {k: v for k, v in tiny.module.state_dict().items() if k != "attn_bias"}
    ref.load_state_dict({**state, "attn_bias": ref.attn_bias})
    with torch.no_grad():
        want = ref.eval()(x1, x2)
    got = tiny.embed(s1, s2)
    for k in ("sar", "optical", "joint"):
        np.testing.assert_allclose(got[k], want[f"{k}_GAP"].numpy(), atol=1e-5, rtol=0)


# --- batch independence and precisions ---------------------------------------------


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_chip_alone_equals_chip_in_batch(chips8, tiny, tiny_bf16, precision: str) -> None:
    model = tiny if precision == "fp32" else tiny_bf16
    s1, s2 = chips8
    batch = model.embed(s1, s2, tokens=True)
    for i in (0, 5, 7):
        alone = model.embed(s1[i : i + 1], s2[i : i + 1], tokens=True)
        for k in batch:
            if precision == "fp32":  # bitwise, measured on this machine
                np.testing.assert_array_equal(alone[k][0], batch[k][i], err_msg=k)
            else:
                assert cosine(alone[k][0], batch[k][i]).min() >= BF16_BATCH_COS, k


def test_batch_independence_base_fp32(chips8) -> None:
    """croma-base fp32 at 120 px: bitwise equal alone and in a batch of 8.

    The radar encoder alone (a quarter of the joint cost) runs every GEMM shape
    of base at 120 px (M = 225 x chips, K and N from 768 x {768, 2304, 3072});
    the tiny test above covers the joint path end to end.
    """
    model = load_model("croma-base", "random", precision="fp32", seed=0)
    s1, _ = chips8
    batch = model.embed(s1, None, tokens=True)
    alone = model.embed(s1[6:7], None, tokens=True)
    assert set(batch) == {"sar", "sar_tokens"}
    for k in batch:
        np.testing.assert_array_equal(alone[k][0], batch[k][6], err_msg=k)


def test_micro_batches_do_not_change_embeddings(chips8, tiny) -> None:
    s1, s2 = chips8
    whole = tiny.embed(s1, s2)
    try:
        tiny.batch_size = 3
        split = tiny.embed(s1, s2)
    finally:
        tiny.batch_size = None
    for k in whole:
        np.testing.assert_array_equal(whole[k], split[k])


def test_reference_normalization_depends_on_the_batch(chips8) -> None:
    model = load_model("croma-tiny", "random", precision="fp32", normalization="reference")
    assert model.normalization == "reference"
    s1, s2 = chips8
    batch = model.embed(s1, s2)["joint"]
    alone = model.embed(s1[:1], s2[:1])["joint"]
    assert np.abs(batch[0] - alone[0]).max() > 1e-3  # documented: stats span the batch


def test_bf16_and_int8_close_to_fp32(chips8, tiny, tiny_bf16) -> None:
    s1, s2 = chips8
    ref = tiny.embed(s1, s2)
    int8 = load_model("croma-tiny", "random", precision="int8", seed=11)
    assert (tiny_bf16.precision, int8.precision) == ("bf16", "int8")
    dynamic_linear = torch.ao.nn.quantized.dynamic.Linear
    assert isinstance(int8.module.s2_encoder.linear_input, dynamic_linear)
    assert isinstance(int8.module.joint_encoder.layers[0][1].to_q, dynamic_linear)
    for model, floor in ((tiny_bf16, BF16_VS_FP32_COS), (int8, INT8_VS_FP32_COS)):
        got = model.embed(s1, s2)
        for k in ref:
            assert got[k].dtype == np.float32
            assert cosine(got[k], ref[k]).min() >= floor, (model.precision, k)


def test_precision_auto(monkeypatch: pytest.MonkeyPatch) -> None:
    fast = torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
    assert croma_model.resolve_precision("auto", CPU) == ("bf16" if fast else "fp32")
    monkeypatch.setattr(croma_model, "_cpu_has_fast_bf16", lambda: False)
    assert load_model("croma-tiny", "random").precision == "fp32"
    monkeypatch.setattr(croma_model, "_cpu_has_fast_bf16", lambda: True)
    model = load_model("croma-tiny", "random")
    assert model.precision == "bf16"
    assert model.module.s2_encoder.linear_input.weight.dtype == torch.bfloat16
    assert model.module.s2_encoder.transformer.norm_out.weight.dtype == torch.float32


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA message")
def test_cuda_absent() -> None:
    with pytest.raises(ModelInputError, match="CUDA is not available"):
        load_model("croma-tiny", "random", device="cuda")


def test_threads_restored(tiny) -> None:
    before = torch.get_num_threads()
    tiny.num_threads = 1
    seen = []
    real = croma_model.CromaModel._forward

    def spy(self, *args, **kwargs):
        seen.append(torch.get_num_threads())
        return real(self, *args, **kwargs)

    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(croma_model.CromaModel, "_forward", spy)
            tiny.embed(None, np.ones((1, 12, 8, 8), np.uint16))
    finally:
        tiny.num_threads = None
    assert seen == [1] and torch.get_num_threads() == before


# --- outputs and input checks --------------------------------------------------------


def test_outputs_and_shapes(tiny) -> None:
    rng = np.random.default_rng(0)
    s1 = rng.normal(-15, 4, (3, 2, 24, 24)).astype(np.float32)
    s2 = rng.integers(1, 5000, (3, 12, 24, 24)).astype(np.uint16)
    assert set(tiny.embed(s1, None)) == {"sar"}
    assert set(tiny.embed(None, s2)) == {"optical"}
    both = tiny.embed(s1, s2, tokens=True)
    assert set(both) == {"sar", "optical", "joint", "sar_tokens", "optical_tokens", "joint_tokens"}
    assert both["joint"].shape == (3, 128) and both["joint_tokens"].shape == (3, 9, 128)
    only = tiny.embed(s1, s2, outputs=["joint"])
    assert set(only) == {"joint"}
    np.testing.assert_array_equal(only["joint"], both["joint"])
    # joint GAP is the plain mean of the joint tokens
    np.testing.assert_allclose(both["joint"], both["joint_tokens"].mean(axis=1), atol=1e-6)
    empty = tiny.embed(s1[:0], s2[:0], tokens=True)
    assert empty["joint"].shape == (0, 128) and empty["sar_tokens"].shape == (0, 9, 128)
    s1_64 = s1.astype(np.float64)
    np.testing.assert_array_equal(tiny.embed(s1_64, None)["sar"], both["sar"])


BAD_INPUTS = [
    ({}, "nothing to embed"),
    ({"s2": np.zeros((1, 13, 8, 8), np.uint16)}, r"shape \(N, 12, H, W\) with bands B01"),
    ({"s2": np.zeros((12, 8, 8), np.uint16)}, r"got shape \(12, 8, 8\)"),
    ({"s2": np.zeros((1, 12, 8, 8), np.float32)}, "uint16 surface reflectance x 10000"),
    ({"s1": np.zeros((1, 2, 8, 8), np.int16)}, "float32 backscatter in dB"),
    ({"s2": np.zeros((1, 12, 16, 8), np.uint16)}, "square with a side .* multiple of 8"),
    ({"s2": np.zeros((1, 12, 12, 12), np.uint16)}, r"multiple of 8 px .* got 12 x 12"),
    ({"s2": np.zeros((1, 12, 0, 0), np.uint16)}, "positive multiple of 8"),
    (
        {"s1": np.zeros((2, 2, 8, 8), np.float32), "s2": np.zeros((1, 12, 8, 8), np.uint16)},
        "s1 has 2 chips of 8 px, s2 has 1 chips of 8 px",
    ),
    (
        {"s1": np.zeros((1, 2, 16, 16), np.float32), "s2": np.zeros((1, 12, 8, 8), np.uint16)},
        "same chips",
    ),
    ({"s2": torch.zeros(1, 12, 8, 8)}, r"numpy array, got Tensor \(call .numpy\(\)"),
]


@pytest.mark.parametrize(("kwargs", "message"), BAD_INPUTS)
def test_bad_inputs(tiny, kwargs: dict, message: str) -> None:
    with pytest.raises(ModelInputError, match=message) as e:
        tiny.embed(kwargs.get("s1"), kwargs.get("s2"))
    assert isinstance(e.value, GeommError) and isinstance(e.value, ValueError)


def test_bad_outputs(tiny) -> None:
    s1 = np.zeros((1, 2, 8, 8), np.float32)
    with pytest.raises(ModelInputError, match="output 'joint' needs s1 and s2; s2 not given"):
        tiny.embed(s1, None, outputs=["joint"])
    with pytest.raises(ModelInputError, match="unknown output 'pooled'"):
        tiny.embed(s1, None, outputs=["pooled"])
    with pytest.raises(ModelInputError, match="outputs is empty"):
        tiny.embed(s1, None, outputs=[])


def test_read_only_inputs_are_fine(tiny) -> None:
    import warnings

    rng = np.random.default_rng(2)
    s1 = rng.normal(-15, 4, (1, 2, 8, 8)).astype(np.float32)
    s2 = rng.integers(0, 65535, (1, 12, 8, 8)).astype(np.uint16)
    want = tiny.embed(s1, s2)
    s1.flags.writeable = s2.flags.writeable = False
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = tiny.embed(s1, s2)
    np.testing.assert_array_equal(got["joint"], want["joint"])

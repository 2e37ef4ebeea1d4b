"""CROMA's network: torchgeo's modules hold the weights, geomm runs the forward.

The parameter-holding modules are torchgeo's (``torchgeo.models.CROMA`` with
both modalities), so state dicts have the released layout. The forward below
reads those modules' weights but replaces torchgeo's forward, which rebuilds
a 2D-ALiBi bias with an O(N^2) Python loop for one image size and runs
attention as einsum + softmax. Here the bias is vectorized and cached per
(grid, dtype, device), attention is ``scaled_dot_product_attention`` with the
bias as additive mask, and each Linear runs in the compute dtype (bf16 weights
in bf16 mode) while the residual stream, LayerNorms and pooling stay fp32.

Numerically the fp32 forward equals torchgeo's (tests: atol 1e-4 at 96 and
120 px, in practice ~1e-6).
"""

from __future__ import annotations

import functools
import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from geomm.errors import WeightsError
from geomm.models.croma._plugin import COMPONENTS, NUM_HEADS, PATCH_SIZE, CromaArch

__all__ = [
    "alibi_bias",
    "alibi_slopes",
    "build_holder",
    "encode_joint",
    "encode_optical",
    "encode_sar",
    "gap_ffn",
    "module_checkpoint_state",
]


def alibi_slopes(num_heads: int) -> list[float]:
    """ALiBi head slopes as torchgeo's ``get_2dalibi`` computes them (2^(-k/2) for 16 heads)."""
    start = 2 ** (-(2 ** -(math.log2(num_heads) - 3)))
    return [start * start**i for i in range(num_heads)]


@functools.lru_cache(maxsize=8)
def _alibi_bias(grid: int, num_heads: int, dtype: torch.dtype, device: str) -> Tensor:
    with torch.inference_mode(False):  # a normal tensor, usable by training code too
        return _build_alibi_bias(grid, num_heads, dtype, device)


def _build_alibi_bias(grid: int, num_heads: int, dtype: torch.dtype, device: str) -> Tensor:
    rows = torch.arange(grid, dtype=torch.float64).repeat_interleave(grid)
    cols = torch.arange(grid, dtype=torch.float64).repeat(grid)
    dist = torch.sqrt((rows[:, None] - rows[None, :]) ** 2 + (cols[:, None] - cols[None, :]) ** 2)
    slopes = torch.tensor(alibi_slopes(num_heads), dtype=torch.float32)
    # Same rounding as torchgeo: float32(distance) * float32(slope), negated.
    bias = -(slopes[:, None, None] * dist.to(torch.float32)[None])
    return bias.unsqueeze(0).to(device=device, dtype=dtype).contiguous()


def alibi_bias(grid: int, *, dtype: torch.dtype, device: torch.device | str) -> Tensor:
    """The (1, heads, P, P) 2D-ALiBi attention bias for a ``grid x grid`` patch layout.

    ``-slope_h * euclidean distance`` between patches in patch units, bitwise
    equal to torchgeo's ``get_2dalibi`` in fp32; built vectorized and cached
    per (grid, dtype, device). At 120 px (15 x 15 patches) it is 3 MB in fp32;
    at 504 px (63 x 63) about 1 GB, so only a few sizes are kept.
    """
    return _alibi_bias(grid, NUM_HEADS, dtype, str(torch.device(device)))


def build_holder(arch: CromaArch, *, seed: int | None) -> nn.Module:
    """Build torchgeo's ``CROMA`` (both modalities) as the weights' holder.

    Args:
        arch: network sizes.
        seed: seed of a random initialisation on the CPU (the global RNG is
            left as it was); None builds on the meta device, with no storage,
            for ``load_state_dict(..., assign=True)``.
    """
    from torchgeo.models import CROMA

    def make() -> nn.Module:
        # image_size=8 keeps torchgeo's O(N^2) bias loop at one patch; the
        # holder's own bias is replaced below by the vectorized one for 120 px.
        return CROMA(
            modalities=["sar", "optical"],
            encoder_dim=arch.dim,
            encoder_depth=arch.depth,
            num_heads=NUM_HEADS,
            patch_size=PATCH_SIZE,
            image_size=PATCH_SIZE,
        )

    if seed is None:
        with torch.device("meta"):
            holder = make()
    else:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            holder = make()
    # A working torchgeo forward at the default 120 px (no meta tensors left).
    holder.image_size = 120
    holder.num_patches = (120 // PATCH_SIZE) ** 2
    holder.attn_bias = alibi_bias(120 // PATCH_SIZE, dtype=torch.float32, device="cpu").clone()
    return holder.eval()


def module_checkpoint_state(module: Any) -> dict[str, dict[str, Tensor]]:
    """The five released state dicts of a module holding CROMA's components, fp32 on CPU.

    Raises:
        WeightsError: a component is missing or its weights are quantized.
    """
    missing = [c for c in COMPONENTS if not isinstance(getattr(module, c, None), nn.Module)]
    if missing:
        raise WeightsError(
            f"cannot save a {type(module).__name__} in the CROMA layout: it has no "
            f"{', '.join(missing)} submodule (torchgeo's CROMA needs both modalities)"
        )
    state: dict[str, dict[str, Tensor]] = {}
    for c in COMPONENTS:
        out = {}
        for k, v in getattr(module, c).state_dict().items():
            if not isinstance(v, Tensor) or v.is_quantized:
                raise WeightsError(
                    f"cannot save {c}.{k}: int8-quantized weights are not a checkpoint; "
                    "save the fp32 model (load it with precision='fp32')"
                )
            v = v.detach().to("cpu")
            out[k] = (v.float() if v.is_floating_point() else v).clone()
        state[c] = out
    return state


# --- forward ----------------------------------------------------------------


def _linear(layer: nn.Module, x: Tensor) -> Tensor:
    """Run a Linear (plain or dynamically quantized) in its own weight dtype."""
    weight = getattr(layer, "weight", None)
    if isinstance(weight, Tensor) and weight.dtype != x.dtype:
        x = x.to(weight.dtype)
    return layer(x)


def _split_heads(t: Tensor) -> Tensor:
    b, n, _ = t.shape
    return t.view(b, n, NUM_HEADS, -1).transpose(1, 2)


def _merge_heads(t: Tensor) -> Tensor:
    b, h, n, d = t.shape
    return t.transpose(1, 2).reshape(b, n, h * d)


def _self_attention(attn: nn.Module, x: Tensor, bias: Tensor) -> Tensor:
    b, n, dim = x.shape
    qkv = _linear(attn.to_qkv, attn.input_norm(x))
    q, k, v = qkv.view(b, n, 3, NUM_HEADS, dim // NUM_HEADS).permute(2, 0, 3, 1, 4).unbind(0)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias.to(q.dtype))
    return _linear(attn.to_out, _merge_heads(out))


def _cross_attention(attn: nn.Module, x: Tensor, context: Tensor, bias: Tensor) -> Tensor:
    x = attn.input_norm(x)
    context = attn.input_norm(context)
    q = _split_heads(_linear(attn.to_q, x))
    k = _split_heads(_linear(attn.to_k, context))
    v = _split_heads(_linear(attn.to_v, context))
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias.to(q.dtype))
    return _linear(attn.to_out, _merge_heads(out))


def _ffn(ffn: nn.Module, x: Tensor) -> Tensor:
    hidden = F.gelu(_linear(ffn.net[0], ffn.input_norm(x)))
    return _linear(ffn.net[3], hidden)


def _patchify(imgs: Tensor) -> Tensor:
    """``b c (h i) (w j) -> b (h w) (c i j)`` with 8 x 8 patches."""
    b, c, hgt, wid = imgs.shape
    g, p = hgt // PATCH_SIZE, PATCH_SIZE
    x = imgs.reshape(b, c, g, p, wid // p, p).permute(0, 2, 4, 1, 3, 5)
    return x.reshape(b, g * (wid // p), c * p * p)


def _vit(vit: nn.Module, imgs: Tensor, bias: Tensor) -> Tensor:
    x = _linear(vit.linear_input, _patchify(imgs)).float()
    for attn, ffn in vit.transformer.layers:
        x = x + _self_attention(attn, x, bias)
        x = x + _ffn(ffn, x)
    return vit.transformer.norm_out(x)


def encode_sar(holder: nn.Module, imgs: Tensor, bias: Tensor) -> Tensor:
    """Radar token encodings (B, P, D), fp32: torchgeo's ``sar_encodings``."""
    return _vit(holder.s1_encoder, imgs, bias)


def encode_optical(holder: nn.Module, imgs: Tensor, bias: Tensor) -> Tensor:
    """Optical token encodings (B, P, D), fp32: torchgeo's ``optical_encodings``."""
    return _vit(holder.s2_encoder, imgs, bias)


def encode_joint(holder: nn.Module, sar: Tensor, optical: Tensor, bias: Tensor) -> Tensor:
    """Joint encodings (B, P, D): radar tokens attend to optical ones (X-ALiBi = 2D-ALiBi)."""
    joint = holder.joint_encoder
    x = sar
    for self_attn, cross_attn, ffn in joint.layers:
        x = x + _self_attention(self_attn, x, bias)
        x = x + _cross_attention(cross_attn, x, optical, bias)
        x = x + _ffn(ffn, x)
    return joint.norm_out(x)


def gap_ffn(gap: nn.Module, tokens: Tensor) -> Tensor:
    """Mean-pool tokens, then the GAP-FFN (LayerNorm, Linear, GELU, Linear), fp32 out.

    One pooled vector at a time: BLAS picks another kernel for a 1-row than for
    an 8-row matrix (measured: 2e-7 apart), and a chip's vector must not depend
    on how many chips share its batch. The FFN is ~0.01% of the FLOPs.
    """
    norm, up, _, down = gap
    rows = norm(tokens.mean(dim=1)).split(1)
    return torch.cat([_linear(down, F.gelu(_linear(up, r))) for r in rows]).float()

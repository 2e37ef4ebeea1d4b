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
120 px).

torchgeo documents ``CROMA``'s constructor and forward, not the attributes of
its attention and feed-forward blocks (``to_qkv``, ``net[3]``, ...) that this
forward reads, so that layout is pinned twice: pyproject allows only the
torchgeo minor versions in :data:`TESTED_TORCHGEO` (the equivalence tests
fail on any other), and :func:`build_holder` runs :func:`check_layout`,
which raises :class:`ModelPluginError` on a layout that differs instead of
letting the forward compute garbage. Every torchgeo attribute is read
through :func:`_part`, :func:`_item` and :func:`_layers`, so what geomm
relies on is all in this module.
"""

from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from geomm.errors import ModelPluginError, WeightsError
from geomm.models.croma._plugin import COMPONENTS, NUM_HEADS, PATCH_SIZE, CromaArch

if TYPE_CHECKING:
    from torchgeo.models import CROMA

__all__ = [
    "TESTED_TORCHGEO",
    "alibi_bias",
    "alibi_slopes",
    "build_holder",
    "check_layout",
    "encode_joint",
    "encode_optical",
    "encode_sar",
    "gap_ffn",
    "module_checkpoint_state",
    "pool_optical",
    "pool_sar",
]

TESTED_TORCHGEO = ((0, 8),)
"""torchgeo (major, minor) versions whose CROMA module layout and forward
semantics geomm's forward was verified against (tests/models/test_equivalence.py)."""


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
    per (grid, dtype, device). The bias grows with the fourth power of the
    chip side (at 504 px it is about 1 GB in fp32), so only a few sizes are kept.
    """
    return _alibi_bias(grid, NUM_HEADS, dtype, str(torch.device(device)))


def build_holder(arch: CromaArch, *, seed: int | None) -> nn.Module:
    """Build torchgeo's ``CROMA`` (both modalities) as the weights' holder.

    Args:
        arch: network sizes.
        seed: seed of a random initialisation on the CPU (the global RNG is
            left as it was); None builds on the meta device, with no storage,
            for ``load_state_dict(..., assign=True)``.

    Raises:
        ModelPluginError: the installed torchgeo's CROMA modules are not laid
            out as geomm's forward expects (:func:`check_layout`).
    """
    from torchgeo.models import CROMA

    def make() -> CROMA:
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
    check_layout(holder, arch)
    # A working torchgeo forward at the default 120 px (no meta tensors left):
    # image_size, num_patches and the attn_bias buffer are what its forward reads.
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


# --- torchgeo's layout --------------------------------------------------------


def _layout_error(where: str, what: str) -> ModelPluginError:
    import torchgeo

    return ModelPluginError(
        f"torchgeo {torchgeo.__version__}'s CROMA is not laid out as geomm's CROMA forward "
        f"expects: {where} {what}. geomm was verified against torchgeo "
        f"{' / '.join(f'{a}.{b}.x' for a, b in TESTED_TORCHGEO)}; install one of those "
        "(pip install 'torchgeo>=0.8,<0.9'), or re-verify geomm/models/croma/_network.py "
        "against the new version (tests/models/test_equivalence.py)"
    )


def _part(module: nn.Module, name: str) -> nn.Module:
    """The submodule ``module.<name>`` that geomm's forward reads."""
    child = getattr(module, name, None)
    if not isinstance(child, nn.Module):
        raise _layout_error(f"{type(module).__name__}.{name}", "is missing")
    return child


def _item(module: nn.Module, index: int) -> nn.Module:
    """``module[index]`` of a Sequential or ModuleList."""
    children = list(module.children())
    if not isinstance(module, nn.Sequential | nn.ModuleList) or index >= len(children):
        raise _layout_error(f"{type(module).__name__}[{index}]", "is missing")
    return children[index]


def _layers(module: nn.Module, width: int) -> list[list[nn.Module]]:
    """The blocks of a transformer's ``layers`` list, each ``width`` modules."""
    layers = _part(module, "layers")
    blocks = [list(block.children()) for block in layers.children()]
    if not isinstance(layers, nn.ModuleList) or any(len(b) != width for b in blocks):
        raise _layout_error(
            f"{type(module).__name__}.layers", f"is not a list of {width}-module blocks"
        )
    return blocks


def _run(module: nn.Module, *args: Tensor) -> Tensor:
    out = module(*args)
    if not isinstance(out, Tensor):
        raise _layout_error(type(module).__name__, f"returned a {type(out).__name__}")
    return out


def _expect(module: nn.Module, kind: type[nn.Module], where: str) -> None:
    if not isinstance(module, kind):
        raise _layout_error(where, f"is a {type(module).__name__}, not a {kind.__name__}")


def _expect_linear(module: nn.Module, shape: tuple[int, int], bias: bool, where: str) -> None:
    if not isinstance(module, nn.Linear):
        raise _layout_error(where, f"is a {type(module).__name__}, not a Linear")
    got = (module.out_features, module.in_features)
    if got != shape or (module.bias is not None) != bias:
        raise _layout_error(
            where,
            f"is Linear {got} with bias {module.bias is not None}; expected {shape}, bias {bias}",
        )


def _check_attention(attn: nn.Module, dim: int, where: str, *, cross: bool) -> None:
    if getattr(attn, "num_heads", None) != NUM_HEADS:
        raise _layout_error(where, f"does not have num_heads == {NUM_HEADS}")
    scale = getattr(attn, "scale", None)  # SDPA's default scale must be torchgeo's
    if not isinstance(scale, float) or not math.isclose(scale, (dim // NUM_HEADS) ** -0.5):
        raise _layout_error(where, "does not scale scores by 1/sqrt(head width)")
    _expect(_part(attn, "input_norm"), nn.LayerNorm, f"{where}.input_norm")
    _expect_linear(_part(attn, "to_out"), (dim, dim), True, f"{where}.to_out")
    if cross:
        for name in ("to_q", "to_k", "to_v"):
            _expect_linear(_part(attn, name), (dim, dim), False, f"{where}.{name}")
    else:
        _expect_linear(_part(attn, "to_qkv"), (3 * dim, dim), False, f"{where}.to_qkv")


def _check_ffn(ffn: nn.Module, dim: int, where: str) -> None:
    _expect(_part(ffn, "input_norm"), nn.LayerNorm, f"{where}.input_norm")
    seq = _part(ffn, "net")
    _expect_linear(_item(seq, 0), (4 * dim, dim), True, f"{where}.net[0]")
    _expect(_item(seq, 1), nn.GELU, f"{where}.net[1]")
    _expect_linear(_item(seq, 3), (dim, 4 * dim), True, f"{where}.net[3]")


def _check_gap(gap: nn.Module, dim: int, where: str) -> None:
    kinds = (nn.LayerNorm, nn.Linear, nn.GELU, nn.Linear)
    children = list(gap.children())
    if len(children) != len(kinds):
        raise _layout_error(where, "is not LayerNorm, Linear, GELU, Linear")
    for i, (child, kind) in enumerate(zip(children, kinds, strict=True)):
        _expect(child, kind, f"{where}[{i}]")
    _expect_linear(children[1], (4 * dim, dim), True, f"{where}[1]")
    _expect_linear(children[3], (dim, 4 * dim), True, f"{where}[3]")


def _check_vit(vit: nn.Module, dim: int, depth: int, channels: int, where: str) -> None:
    shape = (dim, PATCH_SIZE * PATCH_SIZE * channels)
    _expect_linear(_part(vit, "linear_input"), shape, True, f"{where}.linear_input")
    transformer = _part(vit, "transformer")
    blocks = _layers(transformer, 2)
    if len(blocks) != depth:
        raise _layout_error(f"{where}.transformer.layers", f"has {len(blocks)} blocks, not {depth}")
    for i, (attn, ffn) in enumerate(blocks):
        _check_attention(attn, dim, f"{where}.transformer.layers[{i}][0]", cross=False)
        _check_ffn(ffn, dim, f"{where}.transformer.layers[{i}][1]")
    _expect(_part(transformer, "norm_out"), nn.LayerNorm, f"{where}.transformer.norm_out")


def _check_joint(joint: nn.Module, dim: int, depth: int) -> None:
    blocks = _layers(joint, 3)
    if len(blocks) != depth:
        raise _layout_error("joint_encoder.layers", f"has {len(blocks)} blocks, not {depth}")
    for i, (self_attn, cross_attn, ffn) in enumerate(blocks):
        _check_attention(self_attn, dim, f"joint_encoder.layers[{i}][0]", cross=False)
        _check_attention(cross_attn, dim, f"joint_encoder.layers[{i}][1]", cross=True)
        _check_ffn(ffn, dim, f"joint_encoder.layers[{i}][2]")
    _expect(_part(joint, "norm_out"), nn.LayerNorm, "joint_encoder.norm_out")


def check_layout(holder: nn.Module, arch: CromaArch) -> None:
    """Check that ``holder`` has every module geomm's forward reads, as it expects.

    Names, types, Linear shapes and biases, head count and attention scale of
    torchgeo's CROMA blocks: what this module's forward reads instead of
    calling torchgeo's own forward.

    Raises:
        ModelPluginError: something differs; the message names it and what to do.
    """
    _check_vit(_part(holder, "s1_encoder"), arch.dim, arch.radar_depth, 2, "s1_encoder")
    _check_vit(_part(holder, "s2_encoder"), arch.dim, arch.depth, 12, "s2_encoder")
    for gap in ("s1_GAP_FFN", "s2_GAP_FFN"):
        _check_gap(_part(holder, gap), arch.dim, gap)
    _check_joint(_part(holder, "joint_encoder"), arch.dim, arch.radar_depth)
    if "attn_bias" not in dict(holder.named_buffers(recurse=False)):
        raise _layout_error("CROMA.attn_bias", "is not a buffer")


# --- forward ----------------------------------------------------------------


def _linear(layer: nn.Module, x: Tensor) -> Tensor:
    """Run a Linear (plain or dynamically quantized) in its own weight dtype."""
    weight = getattr(layer, "weight", None)
    if isinstance(weight, Tensor) and weight.dtype != x.dtype:
        x = x.to(weight.dtype)
    return _run(layer, x)


def _split_heads(t: Tensor) -> Tensor:
    b, n, _ = t.shape
    return t.view(b, n, NUM_HEADS, -1).transpose(1, 2)


def _merge_heads(t: Tensor) -> Tensor:
    b, h, n, d = t.shape
    return t.transpose(1, 2).reshape(b, n, h * d)


def _self_attention(attn: nn.Module, x: Tensor, bias: Tensor) -> Tensor:
    b, n, dim = x.shape
    qkv = _linear(_part(attn, "to_qkv"), _run(_part(attn, "input_norm"), x))
    q, k, v = qkv.view(b, n, 3, NUM_HEADS, dim // NUM_HEADS).permute(2, 0, 3, 1, 4).unbind(0)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias.to(q.dtype))
    return _linear(_part(attn, "to_out"), _merge_heads(out))


def _cross_attention(attn: nn.Module, x: Tensor, context: Tensor, bias: Tensor) -> Tensor:
    norm = _part(attn, "input_norm")
    x = _run(norm, x)
    context = _run(norm, context)
    q = _split_heads(_linear(_part(attn, "to_q"), x))
    k = _split_heads(_linear(_part(attn, "to_k"), context))
    v = _split_heads(_linear(_part(attn, "to_v"), context))
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias.to(q.dtype))
    return _linear(_part(attn, "to_out"), _merge_heads(out))


def _ffn(ffn: nn.Module, x: Tensor) -> Tensor:
    net = _part(ffn, "net")
    hidden = F.gelu(_linear(_item(net, 0), _run(_part(ffn, "input_norm"), x)))
    return _linear(_item(net, 3), hidden)


def _patchify(imgs: Tensor) -> Tensor:
    """``b c (h i) (w j) -> b (h w) (c i j)`` with 8 x 8 patches."""
    b, c, hgt, wid = imgs.shape
    g, p = hgt // PATCH_SIZE, PATCH_SIZE
    x = imgs.reshape(b, c, g, p, wid // p, p).permute(0, 2, 4, 1, 3, 5)
    return x.reshape(b, g * (wid // p), c * p * p)


def _vit(vit: nn.Module, imgs: Tensor, bias: Tensor) -> Tensor:
    x = _linear(_part(vit, "linear_input"), _patchify(imgs)).float()
    transformer = _part(vit, "transformer")
    for attn, ffn in _layers(transformer, 2):
        x = x + _self_attention(attn, x, bias)
        x = x + _ffn(ffn, x)
    return _run(_part(transformer, "norm_out"), x)


def encode_sar(holder: nn.Module, imgs: Tensor, bias: Tensor) -> Tensor:
    """Radar token encodings (B, P, D), fp32: torchgeo's ``sar_encodings``."""
    return _vit(_part(holder, "s1_encoder"), imgs, bias)


def encode_optical(holder: nn.Module, imgs: Tensor, bias: Tensor) -> Tensor:
    """Optical token encodings (B, P, D), fp32: torchgeo's ``optical_encodings``."""
    return _vit(_part(holder, "s2_encoder"), imgs, bias)


def encode_joint(holder: nn.Module, sar: Tensor, optical: Tensor, bias: Tensor) -> Tensor:
    """Joint encodings (B, P, D): radar tokens attend to optical ones (X-ALiBi = 2D-ALiBi)."""
    joint = _part(holder, "joint_encoder")
    x = sar
    for self_attn, cross_attn, ffn in _layers(joint, 3):
        x = x + _self_attention(self_attn, x, bias)
        x = x + _cross_attention(cross_attn, x, optical, bias)
        x = x + _ffn(ffn, x)
    return _run(_part(joint, "norm_out"), x)


def gap_ffn(gap: nn.Module, tokens: Tensor) -> Tensor:
    """Mean-pool tokens, then the GAP-FFN (LayerNorm, Linear, GELU, Linear), fp32 out.

    One pooled vector at a time: BLAS picks another kernel for a 1-row than for
    a many-row matrix (the results differ in the last bits), and a chip's vector
    must not depend on how many chips share its batch. The FFN is a negligible
    share of the FLOPs.
    """
    norm, up, down = _item(gap, 0), _item(gap, 1), _item(gap, 3)
    rows = torch.split(_run(norm, tokens.mean(dim=1)), 1)
    return torch.cat([_linear(down, F.gelu(_linear(up, r))) for r in rows]).float()


def pool_sar(holder: nn.Module, tokens: Tensor) -> Tensor:
    """The radar embedding (B, D) of radar tokens: torchgeo's ``sar_GAP``."""
    return gap_ffn(_part(holder, "s1_GAP_FFN"), tokens)


def pool_optical(holder: nn.Module, tokens: Tensor) -> Tensor:
    """The optical embedding (B, D) of optical tokens: torchgeo's ``optical_GAP``."""
    return gap_ffn(_part(holder, "s2_GAP_FFN"), tokens)

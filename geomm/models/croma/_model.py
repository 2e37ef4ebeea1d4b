"""CROMA as an :class:`EmbeddingModel`: weights, precision, batching, threads."""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from geomm.errors import ModelInputError, WeightsError
from geomm.models._embedding import EmbeddingModel
from geomm.models._registry import hub_checkpoints_dir
from geomm.models._weights import (
    check_state_dict,
    hash_suffix,
    read_checkpoint,
    verify_sha256_prefix,
    weights_id_for,
)
from geomm.models.croma import _network as net
from geomm.models.croma._normalize import Scaling, apply_scaling, scaling_for
from geomm.models.croma._plugin import COMPONENTS, OUTPUT_NEEDS, PATCH_SIZE, CromaPlugin

__all__ = ["CromaModel", "load_croma", "resolve_precision"]

log = logging.getLogger(__name__)

PRECISIONS = ("auto", "fp32", "bf16", "int8")
"""Values ``precision`` accepts."""


# Tokens per forward pass: bounds activation memory. On a CPU the per-chip time
# stops falling beyond small batches; a GPU wants far larger ones, but not
# unbounded ones (docs/benchmarks.md).
_CPU_TOKENS = 225 * 16
_GPU_TOKENS = 225 * 256


def _cpu_has_fast_bf16() -> bool:
    cpu = torch.cpu
    return bool(
        getattr(cpu, "_is_avx512_bf16_supported", lambda: False)()
        or getattr(cpu, "_is_amx_tile_supported", lambda: False)()
    )


def resolve_precision(precision: str, device: torch.device) -> str:
    """``auto`` -> ``bf16`` where the hardware runs bf16 natively, else ``fp32``.

    Raises:
        ModelInputError: unknown value, int8 off the CPU, bf16 on a GPU without it.
    """
    if precision not in PRECISIONS:
        raise ModelInputError(f"precision must be one of {list(PRECISIONS)}, got {precision!r}")
    cuda = device.type == "cuda"
    if precision == "auto":
        fast = torch.cuda.is_bf16_supported() if cuda else _cpu_has_fast_bf16()
        return "bf16" if fast else "fp32"
    if precision == "int8" and device.type != "cpu":
        raise ModelInputError(
            "precision 'int8' (dynamic quantization) runs on the CPU only; use bf16 on a GPU"
        )
    if precision == "bf16" and cuda and not torch.cuda.is_bf16_supported():
        raise ModelInputError(f"{device} does not support bf16; use precision 'fp32'")
    return precision


def _resolve_device(device: str) -> torch.device:
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise ModelInputError(f"not a torch device: {device!r}") from e
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ModelInputError(f"device {device!r} asked for, but CUDA is not available")
        if dev.index is None:
            dev = torch.device("cuda", torch.cuda.current_device())
    elif dev.type != "cpu":
        raise ModelInputError(f"device must be 'cpu' or 'cuda[:N]', got {device!r}")
    return dev


def _load_state(holder: nn.Module, state: dict[str, dict[str, Any]], source: str) -> None:
    for c in COMPONENTS:
        module = getattr(holder, c)
        check_state_dict(f"{c} (from {source})", module.state_dict(), state[c])
        module.load_state_dict(state[c], strict=True, assign=True)
    holder.float()  # a half-precision checkpoint still runs in fp32


def _published_path(plugin: CromaPlugin, download: bool) -> Path:
    info = plugin.info
    src = info.weights
    if src is None:
        raise WeightsError(
            f"{info.name} has no published weights; pass a checkpoint in the released "
            f"five-key layout ({', '.join(COMPONENTS)}) with weights=PATH, or "
            "weights='random' for a seeded random initialisation"
        )
    path = hub_checkpoints_dir() / src.file_name
    if path.is_file():
        return path
    if not download:
        raise WeightsError(
            f"the published weights of {info.name} are not in the torch hub cache: expected "
            f"{path}. Download {src.url} to that path ($TORCH_HOME moves it), allow "
            "downloads (download=True), or pass weights=PATH (or weights='random')"
        )
    log.info("downloading %s weights from %s", info.name, src.url)
    try:
        torch.hub.load_state_dict_from_url(
            src.url,
            file_name=src.file_name,
            map_location="cpu",
            check_hash=True,
            weights_only=True,
        )
    except (OSError, RuntimeError, ValueError) as e:
        raise WeightsError(
            f"could not download the weights of {info.name} from {src.url}: {e}. Place the "
            f"file at {path}, or pass weights=PATH (or weights='random')"
        ) from e
    return path


def _quantize_int8(holder: nn.Module) -> nn.Module:
    from torch.ao.quantization import quantize_dynamic

    with warnings.catch_warnings():
        # torch.ao.quantization is deprecated in favour of torchao (not a dependency);
        # its dynamic int8 Linear still works and is what this CPU path measures.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        # torch.ao ships quantize_dynamic without annotations; inplace=True swaps the
        # Linear modules inside holder, which is what is returned.
        quantize_dynamic(holder, {nn.Linear}, dtype=torch.qint8, inplace=True)  # type: ignore[no-untyped-call]
    return holder


def load_croma(
    plugin: CromaPlugin,
    weights: str | Path | None,
    *,
    precision: str,
    normalization: str,
    device: str,
    seed: int,
    download: bool,
) -> CromaModel:
    """Resolve weights, build torchgeo's modules, apply the precision; see ``load_model``."""
    if normalization not in plugin.info.normalizations:
        raise ModelInputError(
            f"normalization must be one of {list(plugin.info.normalizations)}, "
            f"got {normalization!r}"
        )
    dev = _resolve_device(device)
    resolved = resolve_precision(precision, dev)
    if isinstance(weights, str) and weights == "random":
        holder = net.build_holder(plugin.arch, seed=seed)
        weights_id = f"random:seed={seed}"
    else:
        if weights is None:
            path = _published_path(plugin, download)
            expected = plugin.info.weights.sha256_prefix if plugin.info.weights else None
        else:
            path = Path(weights).expanduser()
            if not path.is_file():
                raise WeightsError(
                    f"weights file {path} does not exist; pass the path of a checkpoint "
                    f"({', '.join(COMPONENTS)}) with weights=PATH, or weights='random'"
                )
            expected = None
        digest = verify_sha256_prefix(path, expected or hash_suffix(path))
        state = read_checkpoint(path, COMPONENTS)
        holder = net.build_holder(plugin.arch, seed=None)
        _load_state(holder, state, path.name)
        weights_id = weights_id_for(path, digest)
    if resolved == "bf16":
        for m in holder.modules():
            if isinstance(m, nn.Linear):
                m.to(torch.bfloat16)
    elif resolved == "int8":
        holder = _quantize_int8(holder)
    holder.to(dev)
    return CromaModel(
        plugin,
        holder,
        weights_id=weights_id,
        precision=resolved,
        normalization=normalization,
        device=dev,
    )


@contextlib.contextmanager
def _threads(n: int | None) -> Iterator[None]:
    before = torch.get_num_threads()
    if n is None or n == before:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class CromaModel(EmbeddingModel):
    """CROMA over torchgeo's modules with geomm's forward (see :mod:`._network`).

    Besides the :class:`EmbeddingModel` attributes:

    * ``module``: the torchgeo ``CROMA`` holding the weights (its own forward
      is set up for 120 px chips);
    * ``batch_size``: chips per forward pass; None picks one from the chip
      size (about 3,600 tokens on a CPU, 57,600 on a GPU); embeddings do not
      depend on it with the ``ssl4eo`` normalization;
    * ``num_threads``: torch intra-op threads while :meth:`embed` runs (None:
      leave torch's setting alone). torch's thread count is process-wide, so
      callers that embed from several threads at once should set it once
      themselves instead.
    """

    def __init__(
        self,
        plugin: CromaPlugin,
        holder: nn.Module,
        *,
        weights_id: str,
        precision: str,
        normalization: str,
        device: torch.device,
    ):
        self.info = plugin.info
        self.arch = plugin.arch
        self.module = holder
        self.weights_id = weights_id
        self.precision = precision
        self.normalization = normalization
        self._device = device
        self.device = str(device)
        self.batch_size: int | None = None
        self.num_threads: int | None = None
        self._dtype = torch.bfloat16 if precision == "bf16" else torch.float32

    # -- public ---------------------------------------------------------------

    def embed(
        self,
        s1: np.ndarray | None,
        s2: np.ndarray | None,
        *,
        outputs: Sequence[str] | None = None,
        tokens: bool = False,
    ) -> dict[str, np.ndarray]:
        """Embed chips; see :meth:`EmbeddingModel.embed`.

        Returns ``sar`` / ``optical`` / ``joint`` (torchgeo's ``sar_GAP``,
        ``optical_GAP``, ``joint_GAP``) as float32 ``(N, D)`` arrays, and with
        ``tokens=True`` also ``sar_tokens`` / ``optical_tokens`` /
        ``joint_tokens`` ``(N, P, D)`` (torchgeo's ``*_encodings``).
        """
        n, size = self.check_inputs(s1, s2)
        wanted = self._outputs(outputs, s1 is not None, s2 is not None)
        need_s1 = any(w in ("sar", "joint") for w in wanted)
        need_s2 = any(w in ("optical", "joint") for w in wanted)
        inputs = {"s1": s1 if need_s1 else None, "s2": s2 if need_s2 else None}
        scalings = {
            name: scaling_for(name, self.normalization, arr)
            for name, arr in inputs.items()
            if arr is not None
        }
        patches = (size // PATCH_SIZE) ** 2
        step = self.batch_size or max(1, self._token_budget() // patches)
        parts: dict[str, list[np.ndarray]] = {}
        with torch.inference_mode(), _threads(self.num_threads):
            for start in range(0, n, step):
                chunk = {k: v[start : start + step] for k, v in inputs.items() if v is not None}
                for key, value in self._forward(chunk, scalings, wanted, tokens, size).items():
                    parts.setdefault(key, []).append(value)
        dim = self.arch.dim
        keys = list(wanted) + ([f"{w}_tokens" for w in wanted] if tokens else [])
        empty = {k: (0, patches, dim) if k.endswith("_tokens") else (0, dim) for k in keys}
        return {
            k: np.concatenate(parts[k]) if k in parts else np.zeros(empty[k], np.float32)
            for k in keys
        }

    def checkpoint_state(self) -> dict[str, dict[str, Any]]:
        """The five released state dicts, fp32 on the CPU (not for int8 models)."""
        return net.module_checkpoint_state(self.module)

    # -- internals ------------------------------------------------------------

    def _token_budget(self) -> int:
        return _GPU_TOKENS if self._device.type == "cuda" else _CPU_TOKENS

    def _outputs(self, outputs: Sequence[str] | None, has_s1: bool, has_s2: bool) -> list[str]:
        given = {"s1": has_s1, "s2": has_s2}
        if outputs is None:
            return [k for k, needs in OUTPUT_NEEDS.items() if all(given[m] for m in needs)]
        if isinstance(outputs, str):
            outputs = [outputs]
        wanted = list(dict.fromkeys(outputs))
        for w in wanted:
            if w not in OUTPUT_NEEDS:
                raise ModelInputError(
                    f"unknown output {w!r}; {self.info.name} gives {', '.join(OUTPUT_NEEDS)}"
                )
            lacking = [m for m in OUTPUT_NEEDS[w] if not given[m]]
            if lacking:
                raise ModelInputError(
                    f"output {w!r} needs {' and '.join(OUTPUT_NEEDS[w])}; "
                    f"{' and '.join(lacking)} not given"
                )
        if not wanted:
            raise ModelInputError("outputs is empty: name at least one embedding")
        return wanted

    def _forward(
        self,
        chunk: dict[str, np.ndarray],
        scalings: dict[str, Scaling],
        wanted: list[str],
        tokens: bool,
        size: int,
    ) -> dict[str, np.ndarray]:
        dev, holder = self._device, self.module
        bias = net.alibi_bias(size // PATCH_SIZE, dtype=self._dtype, device=dev)
        enc: dict[str, Tensor] = {}
        if "s1" in chunk:
            x = apply_scaling("s1", chunk["s1"], scalings["s1"], device=dev)
            enc["sar"] = net.encode_sar(holder, x, bias)
        if "s2" in chunk:
            x = apply_scaling("s2", chunk["s2"], scalings["s2"], device=dev)
            enc["optical"] = net.encode_optical(holder, x, bias)
        out: dict[str, Tensor] = {}
        if "joint" in wanted:
            enc["joint"] = net.encode_joint(holder, enc["sar"], enc["optical"], bias)
            out["joint"] = enc["joint"].mean(dim=1)
        if "sar" in wanted:
            out["sar"] = net.pool_sar(holder, enc["sar"])
        if "optical" in wanted:
            out["optical"] = net.pool_optical(holder, enc["optical"])
        if tokens:
            out.update({f"{w}_tokens": enc[w] for w in wanted})
        return {k: v.float().cpu().numpy() for k, v in out.items()}

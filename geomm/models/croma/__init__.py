"""CROMA (Fuller et al., NeurIPS 2023) as geomm model plugins, built on torchgeo.

``croma-base`` and ``croma-large`` carry the published SSL4EO-S12 weights
(torchgeo's files); ``croma-tiny`` is the same architecture at width 128
(head width 8) with no published weights, for tests and pretraining. Importing
this package does not import torch: the network lives in ``_network`` and
``_model``, imported by :meth:`CromaPlugin.load`.

Precisions: ``fp32``, ``bf16`` and ``int8``. ``auto`` picks bf16 on CPUs
with AVX512-BF16 or AMX and on GPUs with bf16, else fp32. bf16 keeps Linear
weights in bf16 while LayerNorms, residuals and pooling stay fp32, which was
faster than autocast on both a CPU and a GPU and stays close to fp32. int8
is torch's dynamic quantization of every Linear (fbgemm/oneDNN, VNNI), CPU
only: the fastest on a CPU, but measured with random weights only; check it
on the published ones before relying on it.
Speeds and accuracies per precision are in docs/benchmarks.md.
"""

from typing import Any

from geomm.models.croma._plugin import (
    COMPONENTS,
    CROMA_BASE,
    CROMA_LARGE,
    CROMA_TINY,
    S1_BANDS,
    S2_BANDS,
    CromaArch,
    CromaPlugin,
)

__all__ = [
    "COMPONENTS",
    "CROMA_BASE",
    "CROMA_LARGE",
    "CROMA_TINY",
    "S1_BANDS",
    "S2_BANDS",
    "CromaArch",
    "CromaPlugin",
    "module_checkpoint_state",
]


def module_checkpoint_state(module: Any) -> dict[str, dict[str, Any]]:
    """The five released state dicts of a module holding CROMA's components (imports torch).

    Raises:
        WeightsError: a component is missing or its weights are quantized.
    """
    from geomm.models.croma._network import module_checkpoint_state as state_of

    return state_of(module)

"""CROMA (Fuller et al., NeurIPS 2023) as geomm model plugins, built on torchgeo.

``croma-base`` and ``croma-large`` carry the published SSL4EO-S12 weights
(torchgeo's files); ``croma-tiny`` is the same architecture at width 128
(head width 8) with no published weights, for tests and pretraining. Importing
this package does not import torch: the network lives in ``_network`` and
``_model``, imported by :meth:`CromaPlugin.load`.

Precisions (croma-base, 120 px, joint; batch 16 on the CPU, 256 on the H200; random
weights, real chips on the CPU):

=========  ===========================  ==============  ===================
precision  2-core AMD Zen 4 (s/chip)    H200 (chips/s)  cosine to fp32
=========  ===========================  ==============  ===================
fp32       0.52 (torchgeo's own: 0.53)  477             1
bf16       0.28                         2288            >= 0.99997
int8       0.18-0.26 (CPU only)         -               >= 0.9994
=========  ===========================  ==============  ===================

``auto`` picks bf16 on CPUs with AVX512-BF16 or AMX and on GPUs with bf16,
else fp32. bf16 keeps Linear weights in bf16 while LayerNorms, residuals
and pooling stay fp32; that beat autocast (CPU 0.28 vs 0.31 s/chip; H200
1670 vs 1390 chips/s, both before the uint16 host transfer gave 2288).
int8 is torch's dynamic quantization of every Linear (fbgemm/oneDNN, VNNI):
the fastest on this CPU, but measured with random weights only; check it on
the published ones before relying on it.
"""

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
]

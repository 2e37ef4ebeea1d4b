"""Summaries of a CleanCLIP study: mean/std tables, the CA-versus-ASR plot, Markdown.

Rows are plain dicts (one per seed, attack, stage and learning rate) so the
study's ``results.json`` can be re-summarised without rerunning anything.
"""

from __future__ import annotations

import math
import os
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from geomm._outputs import SIGNATURE, check_replaceable

__all__ = ["plot_ca_asr", "summarize"]

STAGE_ORDER = ("no-poison", "poisoned", "mmcl", "cleanclip", "inmodal", "supervised")
"""Order of stages in tables and legends."""

_LABELS = {
    "no-poison": "no-poison floor (clean pretraining)",
    "poisoned": "poisoned pretraining",
    "mmcl": "finetune: MMCL only",
    "cleanclip": "finetune: CleanCLIP",
    "inmodal": "finetune: in-modal only",
    "supervised": "finetune: supervised (image tower)",
}


def _stats(values: Sequence[float | None]) -> tuple[float | None, float | None]:
    vals = [v for v in values if v is not None and not math.isnan(v)]
    if not vals:
        return None, None
    return statistics.fmean(vals), (statistics.stdev(vals) if len(vals) > 1 else 0.0)


def summarize(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean and std over seeds for each (attack, stage, lr).

    Returns:
        One dict per group with ``attack``, ``stage``, ``lr``, ``n`` (seeds),
        ``ca_mean``, ``ca_std``, ``asr_mean``, ``asr_std`` (fractions), in
        attack order of first appearance and :data:`STAGE_ORDER`.
    """
    groups: dict[tuple[str, str, float | None], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["attack"], r["stage"], r.get("lr")), []).append(r)
    attacks = list(dict.fromkeys(r["attack"] for r in rows))
    out = []
    for (attack, stage, lr), rs in groups.items():
        ca_m, ca_s = _stats([r["ca"] for r in rs])
        asr_m, asr_s = _stats([r.get("asr") for r in rs])
        out.append(
            {
                "attack": attack,
                "stage": stage,
                "lr": lr,
                "n": len(rs),
                "ca_mean": ca_m,
                "ca_std": ca_s,
                "asr_mean": asr_m,
                "asr_std": asr_s,
            }
        )
    rank = {s: i for i, s in enumerate(STAGE_ORDER)}
    out.sort(key=lambda g: (attacks.index(g["attack"]), rank.get(g["stage"], 99), g["lr"] or 0))
    return out


def _pct(mean: float | None, std: float | None) -> str:
    if mean is None:
        return "n/a"
    return f"{100 * mean:.1f} ± {100 * (std or 0):.1f}"


def markdown_table(summary: Sequence[dict[str, Any]]) -> str:
    """The summary as a Markdown table (percentages, mean ± std over seeds)."""
    lines = [
        "| attack | model | lr | seeds | CA % | ASR % |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for g in summary:
        lr = "" if g["lr"] is None else f"{g['lr']:g}"
        lines.append(
            f"| {g['attack']} | {_LABELS.get(g['stage'], g['stage'])} | {lr} | {g['n']} | "
            f"{_pct(g['ca_mean'], g['ca_std'])} | {_pct(g['asr_mean'], g['asr_std'])} |"
        )
    return "\n".join(lines)


def plot_ca_asr(summary: Sequence[dict[str, Any]], path: str | os.PathLike[str]) -> Path:
    """Scatter CA against ASR (means, std bars): a column per attack, a zoomed second row."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    attacks = list(dict.fromkeys(g["attack"] for g in summary))
    colors = {
        "no-poison": "tab:gray",
        "poisoned": "tab:red",
        "mmcl": "tab:orange",
        "cleanclip": "tab:green",
        "inmodal": "tab:purple",
        "supervised": "tab:blue",
    }
    markers = ["o", "s", "^", "D", "v"]
    lrs = sorted({g["lr"] for g in summary if g["lr"] is not None})
    high = [100 * g["ca_mean"] for g in summary if g["ca_mean"] is not None and g["ca_mean"] >= 0.9]
    zoom = (math.floor(min(high)) - 1.0, 100.5) if high else None
    rows = 2 if zoom else 1
    fig, axes = plt.subplots(
        rows,
        len(attacks),
        figsize=(max(8.0, 4.2 * len(attacks)), 3.6 * rows + 1.2),
        squeeze=False,
        sharey="row",
    )
    for col, attack in enumerate(attacks):
        for row in range(rows):
            ax = axes[row][col]
            seen: set[str] = set()
            for g in summary:
                if g["attack"] != attack or g["asr_mean"] is None:
                    continue
                marker = "*" if g["lr"] is None else markers[lrs.index(g["lr"]) % len(markers)]
                label = _LABELS.get(g["stage"], g["stage"])
                if g["lr"] is not None:
                    label += f" (lr {g['lr']:g})"
                ax.errorbar(
                    100 * g["asr_mean"],
                    100 * g["ca_mean"],
                    xerr=100 * (g["asr_std"] or 0),
                    yerr=100 * (g["ca_std"] or 0),
                    fmt=marker,
                    color=colors.get(g["stage"], "k"),
                    markersize=9 if marker == "*" else 6,
                    capsize=2,
                    label=label if label not in seen else None,
                )
                seen.add(label)
            ax.set_xlim(-3, 103)
            ax.grid(alpha=0.3)
            if row == 0:
                ax.set_title(attack)
            if row == rows - 1:
                ax.set_xlabel("ASR % (non-target test images)")
            if row == 1 and zoom:
                ax.set_ylim(*zoom)
    axes[0][0].set_ylabel("zero-shot CA %")
    if zoom:
        axes[1][0].set_ylabel("CA %, zoomed")
    handles, labels = [], []
    for ax in axes[0]:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    fig.legend(
        handles,
        labels,
        loc="lower center",
        ncol=3 if len(attacks) > 2 else 2,
        fontsize=8,
        frameon=False,
    )
    fig.tight_layout(rect=(0, 1.1 / (3.6 * rows + 1.2), 1, 1))
    out = check_replaceable(path, what="study plot")
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110, metadata={"Software": SIGNATURE})
    plt.close(fig)
    return out

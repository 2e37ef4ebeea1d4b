"""Summaries of a CleanCLIP study: mean/std tables, acceptance checks, the plot, the page.

Rows are plain dicts (one per seed, attack, stage and learning rate) so the
study's ``results.json`` can be re-summarised without rerunning anything.
"""

from __future__ import annotations

import math
import os
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from geomm._outputs import SIGNATURE, check_replaceable

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from geomm.contrastive._reproduce import StudyConfig

__all__ = ["acceptance_checks", "markdown_table", "plot_ca_asr", "study_page", "summarize"]

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
    out: list[dict[str, Any]] = []
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


_COLORS = {
    "no-poison": "tab:gray",
    "poisoned": "tab:red",
    "mmcl": "tab:orange",
    "cleanclip": "tab:green",
    "inmodal": "tab:purple",
    "supervised": "tab:blue",
}
"""Colour of each stage's points."""

_MARKERS = ("o", "s", "^", "D", "v")
"""Marker of each finetuning learning rate, in increasing lr order (pretrained models: ``*``)."""


@dataclass(frozen=True)
class _Layout:
    """The plot's grid: a column per attack, and a zoomed second row when CA is high."""

    attacks: tuple[str, ...]
    """Attacks, one column each, in order of first appearance."""
    lrs: tuple[float, ...]
    """The finetuning learning rates, sorted (they pick the markers)."""
    zoom: tuple[float, float] | None
    """CA range (%) of the zoomed row; None: no second row (no model reached 90% CA)."""

    @property
    def rows(self) -> int:
        """Rows of panels."""
        return 2 if self.zoom else 1


def _layout(summary: Sequence[dict[str, Any]]) -> _Layout:
    high = [100 * g["ca_mean"] for g in summary if g["ca_mean"] is not None and g["ca_mean"] >= 0.9]
    return _Layout(
        attacks=tuple(dict.fromkeys(g["attack"] for g in summary)),
        lrs=tuple(sorted({g["lr"] for g in summary if g["lr"] is not None})),
        zoom=(math.floor(min(high)) - 1.0, 100.5) if high else None,
    )


def plot_ca_asr(summary: Sequence[dict[str, Any]], path: str | os.PathLike[str]) -> Path:
    """Scatter CA against ASR (means, std bars): a column per attack, a zoomed second row."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    layout = _layout(summary)
    rows = layout.rows
    fig, axes = plt.subplots(
        rows,
        len(layout.attacks),
        figsize=(max(8.0, 4.2 * len(layout.attacks)), 3.6 * rows + 1.2),
        squeeze=False,
        sharey="row",
    )
    for col, attack in enumerate(layout.attacks):
        for row in range(rows):
            _panel(axes[row][col], summary, layout, attack=attack, row=row)
    axes[0][0].set_ylabel("zero-shot CA %")
    if layout.zoom:
        axes[1][0].set_ylabel("CA %, zoomed")
    handles, labels = _legend_entries(axes[0])
    fig.legend(
        handles,
        labels,
        loc="lower center",
        ncol=3 if len(layout.attacks) > 2 else 2,
        fontsize=8,
        frameon=False,
    )
    fig.tight_layout(rect=(0, 1.1 / (3.6 * rows + 1.2), 1, 1))
    out = check_replaceable(os.fspath(path), what="study plot")
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110, metadata={"Software": SIGNATURE})
    plt.close(fig)
    return out


def _panel(
    ax: Axes, summary: Sequence[dict[str, Any]], layout: _Layout, *, attack: str, row: int
) -> None:
    """One attack's models in one row of the grid, each legend label given once."""
    seen: set[str] = set()
    for g in summary:
        if g["attack"] != attack or g["asr_mean"] is None:
            continue
        marker = "*" if g["lr"] is None else _MARKERS[layout.lrs.index(g["lr"]) % len(_MARKERS)]
        label = _LABELS.get(g["stage"], g["stage"])
        if g["lr"] is not None:
            label += f" (lr {g['lr']:g})"
        ax.errorbar(
            100 * g["asr_mean"],
            100 * g["ca_mean"],
            xerr=100 * (g["asr_std"] or 0),
            yerr=100 * (g["ca_std"] or 0),
            fmt=marker,
            color=_COLORS.get(g["stage"], "k"),
            markersize=9 if marker == "*" else 6,
            capsize=2,
            label=label if label not in seen else None,
        )
        seen.add(label)
    ax.set_xlim(-3, 103)
    ax.grid(alpha=0.3)
    if row == 0:
        ax.set_title(attack)
    if row == layout.rows - 1:
        ax.set_xlabel("ASR % (non-target test images)")
    if row == 1 and layout.zoom:
        ax.set_ylim(*layout.zoom)


def _legend_entries(axes: Sequence[Axes]) -> tuple[list[Any], list[str]]:
    """Handles and labels of the first row's panels, each label once, in order."""
    handles: list[Any] = []
    labels: list[str] = []
    for ax in axes:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    return handles, labels


def acceptance_checks(
    summary: Sequence[dict[str, Any]], *, attack: str, lr: float
) -> dict[str, Any]:
    """The study's acceptance checks on ``attack`` at ``lr`` (``items``: check, measured, holds).

    No items when a model they compare (poisoned, MMCL or CleanCLIP at ``lr``)
    is missing from the summary.
    """

    def get(stage: str, use_lr: float | None) -> dict[str, Any] | None:
        return next(
            (
                g
                for g in summary
                if g["attack"] == attack and g["stage"] == stage and g["lr"] == use_lr
            ),
            None,
        )

    poisoned, mmcl, clean = get("poisoned", None), get("mmcl", lr), get("cleanclip", lr)
    items: list[dict[str, Any]] = []
    if poisoned and mmcl and clean:
        gap = 100 * (clean["ca_mean"] - poisoned["ca_mean"])
        items = [
            {
                "check": "poisoned model: ASR >= 80% and CA >= 90%",
                "measured": f"ASR {100 * poisoned['asr_mean']:.1f}%, "
                f"CA {100 * poisoned['ca_mean']:.1f}%",
                "holds": poisoned["asr_mean"] >= 0.8 and poisoned["ca_mean"] >= 0.9,
            },
            {
                "check": "MMCL-only finetuning: ASR >= 50%",
                "measured": f"ASR {100 * mmcl['asr_mean']:.1f}%",
                "holds": mmcl["asr_mean"] >= 0.5,
            },
            {
                "check": "CleanCLIP: ASR <= 25% and CA within 2 points of the poisoned model",
                "measured": f"ASR {100 * clean['asr_mean']:.1f}%, CA {gap:+.1f} points",
                "holds": clean["asr_mean"] <= 0.25 and abs(gap) <= 2.0,
            },
        ]
    return {"attack": attack, "lr": lr, "items": items}


def _observations(summary: Sequence[dict[str, Any]]) -> list[str]:
    """One computed sentence per attack: what each recipe did to the backdoor."""

    def pct(x: float | None) -> str:
        return "n/a" if x is None else f"{100 * x:.1f}%"

    lines = []
    for attack in dict.fromkeys(g["attack"] for g in summary):
        groups = [g for g in summary if g["attack"] == attack]
        by = {(g["stage"], g["lr"]): g for g in groups}
        poisoned = by.get(("poisoned", None))
        floor = by.get(("no-poison", None))
        if poisoned is None:
            continue
        floor_asr = None if floor is None else floor["asr_mean"]
        parts = [f"poisoned ASR {pct(poisoned['asr_mean'])} (floor {pct(floor_asr)})"]
        for stage, name in (("mmcl", "MMCL"), ("cleanclip", "CleanCLIP")):
            runs = sorted((g for g in groups if g["stage"] == stage), key=lambda g: g["lr"])
            if runs:
                text = " / ".join(
                    f"{pct(g['asr_mean'])} at lr {g['lr']:g} "
                    f"(CA {100 * (g['ca_mean'] - poisoned['ca_mean']):+.1f} pt)"
                    for g in runs
                )
                parts.append(f"{name} finetuning leaves ASR {text}")
        for stage, name in (("inmodal", "in-modal only"), ("supervised", "supervised")):
            for g in (g for g in groups if g["stage"] == stage):
                parts.append(
                    f"{name}: ASR {pct(g['asr_mean'])}, CA {pct(g['ca_mean'])} at lr {g['lr']:g}"
                )
        lines.append(f"- `{attack}`: " + "; ".join(parts) + ".")
    return lines


def study_page(
    cfg: StudyConfig,
    meta: dict[str, Any],
    summary: list[dict[str, Any]],
    checks: dict[str, Any],
    plot_name: str,
) -> str:
    """The study's Markdown page: setup, results table, plot, acceptance, one line per attack.

    Every number comes from ``meta`` (``results.json``), ``summary`` and
    ``checks``, so the page is rewritten from a finished study's files alone.
    """
    lines = _page_setup(cfg, meta)
    lines += [
        "## Results",
        "",
        markdown_table(summary),
        "",
        f"![CA against ASR]({plot_name})",
        "",
        f"## Acceptance (`{checks['attack']}`, lr {checks['lr']:g}, mean over seeds)",
        "",
    ]
    for item in checks["items"]:
        verdict = "holds" if item["holds"] else "does NOT hold"
        lines.append(f"- {item['check']}: {item['measured']}: **{verdict}**")
    lines += ["", "## Per attack (means; CA changes relative to the poisoned model)", ""]
    lines += _observations(summary)
    lines += [
        "",
        "Every figure above is measured, whatever it shows; `results.json` and "
        "`summary.json` in the study folder hold the per-seed rows.",
        "",
    ]
    return "\n".join(lines)


def _page_setup(cfg: StudyConfig, meta: dict[str, Any]) -> list[str]:
    """The page's title, how to reproduce it, and its Setup section."""
    env = meta["environment"]
    minutes = meta["seconds"] / 60
    return [
        "# CleanCLIP on digits: backdoor, defence, evaluation",
        "",
        f"<!-- {SIGNATURE} (`geomm cleanclip reproduce`); rerun it to refresh. -->",
        "",
        f"Reproduce with `{meta['command']}`: {minutes:.1f} min wall time with "
        f"{env['threads']} torch thread(s) on {env['cpu']} (torch {env['torch']}).",
        "",
        "## Setup",
        "",
        f"- Data: scikit-learn's digits as 32 px captioned images (`geomm cleanclip "
        f"make-digits`): {meta['train_pairs']} pretraining pairs, {meta['finetune_pairs']} clean "
        f"finetuning pairs, {meta['test_images']} test images; word-only captions.",
        "- Model: `small-clip` (3-layer CNN image tower, GRU text tower, 64-d embeddings).",
        f"- Poisoning: {meta['poisons']} pairs ({100 * cfg.poison_fraction:g}%) get the trigger "
        f"and a caption naming the target `{cfg.target}`; attacks: "
        + ", ".join(f"`{a}` {dict(cfg.attack_options.get(a, {}))}" for a in cfg.attacks)
        + " (`checkerboard`: a fixed checkerboard patch in the bottom-right corner, the "
        "structured trigger).",
        f"- Pretraining: CLIP loss, {cfg.pretrain_epochs} epoch(s), lr {cfg.pretrain_lr:g}, "
        f"batch {cfg.batch_size}; finetuning: {cfg.finetune_epochs} epoch(s) on the clean split, "
        f"{', '.join(cfg.sweep_recipes)} at lr {', '.join(f'{x:g}' for x in cfg.lrs)}, "
        f"{', '.join(cfg.other_recipes)} at lr {cfg.headline_lr:g}. AdamW (no decay on norms, "
        "biases, logit scale), warmup then cosine, logit scale clamped to [0, ln 100]; "
        "CleanCLIP adds AutoAugment images and EDA captions (in-modal only: the in-modal term "
        "alone; supervised: cross-entropy of the image tower against the frozen zero-shot "
        "class vectors, on the labelled clean split).",
        "- Metrics: zero-shot CA with class vectors averaged over the caption templates; ASR "
        "over the non-target test images only, with the trigger applied. The no-poison floor is "
        "the ASR of the model pretrained on clean data.",
        f"- Seeds: {', '.join(str(s) for s in cfg.seeds)}; the table shows mean ± std.",
        "",
    ]

"""The small-scale CleanCLIP study, end to end, on the bundled digits set.

For each seed: pretrain a :class:`~geomm.contrastive.SmallCLIP` on clean
data (the no-poison floor); then for each attack poison 5% of the training
pairs (target ``zero``), pretrain on them, and finetune the poisoned model on
the clean finetuning split with each recipe (MMCL and CleanCLIP over a small
learning-rate sweep, in-modal only and supervised at the headline lr). Every
model is evaluated for zero-shot CA and ASR on the test split. The study
writes ``results.json`` (one row per model), ``summary.json`` (mean and std
over seeds, acceptance checks), the CA-versus-ASR plot and a Markdown page.

Runs resume: with ``resume=True`` finished models are reused and an
interrupted one continues from its last epoch.
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from geomm._outputs import SIGNATURE, check_replaceable
from geomm.contrastive._data import ImageStore, read_caption_csv
from geomm.contrastive._digits import DIGIT_CLASSES, DIGIT_TEMPLATES, make_digits
from geomm.contrastive._errors import ContrastiveConfigError, check_seed
from geomm.contrastive._evaluate import evaluate
from geomm.contrastive._models import create_model, load_model
from geomm.contrastive._report import markdown_table, plot_ca_asr, summarize
from geomm.contrastive._train import TrainConfig, train
from geomm.contrastive.backdoor import make_trigger, poison_csv

__all__ = ["StudyConfig", "StudyResult", "quick_study", "run_study", "write_report"]


@dataclass(frozen=True)
class StudyConfig:
    """What the study runs (defaults: the full study of ``docs/cleanclip.md``)."""

    seeds: tuple[int, ...] = (0, 1, 2)
    """Seeds of model init, poisoning, batch order and augmentation."""
    attacks: tuple[str, ...] = ("badnet", "blended", "checkerboard")
    """Triggers (names of :func:`~geomm.contrastive.backdoor.make_trigger`)."""
    attack_options: Mapping[str, Mapping[str, Any]] = field(
        default_factory=lambda: {
            "badnet": {"size": 6},
            "blended": {"alpha": 0.2},
            "checkerboard": {"size": 6},
        }
    )
    """Trigger options per attack (6 px patches on 32 px images)."""
    target: str = "zero"
    """Target class of every attack."""
    poison_fraction: float = 0.05
    """Share of the training pairs poisoned."""
    pretrain_epochs: int = 30
    """Epochs of (poisoned and clean) pretraining."""
    pretrain_lr: float = 1e-3
    """Peak learning rate of pretraining."""
    finetune_epochs: int = 10
    """Epochs of each finetuning run."""
    lrs: tuple[float, ...] = (5e-4, 2e-3)
    """Learning-rate sweep of the sweep recipes."""
    sweep_recipes: tuple[str, ...] = ("mmcl", "cleanclip")
    """Recipes run at every lr of :attr:`lrs`."""
    other_recipes: tuple[str, ...] = ("inmodal", "supervised")
    """Recipes run at :attr:`headline_lr` only."""
    headline_lr: float = 5e-4
    """The lr the acceptance checks read (the reference code's default lr)."""
    batch_size: int = 64
    """Pairs per step."""
    bf16: bool = False
    """bf16 autocast (about 30% faster on CPUs with bf16 units; fp32 by default)."""
    data_seed: int = 0
    """Seed of the digits split and captions."""

    def __post_init__(self) -> None:
        if not self.seeds or not self.attacks:
            raise ContrastiveConfigError("the study needs at least one seed and one attack")
        for seed in self.seeds:
            check_seed("seeds", seed)
        if not 0 < self.poison_fraction < 1:
            raise ContrastiveConfigError(
                f"poison_fraction must be in (0, 1), got {self.poison_fraction}"
            )
        if self.headline_lr not in self.lrs:
            raise ContrastiveConfigError(
                f"headline_lr {self.headline_lr} must be one of lrs {self.lrs}"
            )


def quick_study() -> StudyConfig:
    """A reduced study for CI: one seed, BadNet, every stage, a few epochs."""
    return StudyConfig(
        seeds=(0,), attacks=("badnet",), pretrain_epochs=3, finetune_epochs=1, lrs=(5e-4,)
    )


@dataclass(frozen=True)
class StudyResult:
    """What :func:`run_study` wrote and measured."""

    rows: tuple[dict[str, Any], ...]
    """One row per evaluated model (seed, attack, stage, lr, CA, ASR, seconds)."""
    summary: tuple[dict[str, Any], ...]
    """Mean and std over seeds per (attack, stage, lr)."""
    checks: dict[str, Any]
    """The acceptance checks on the first attack at the headline lr (``items``)."""
    out_dir: Path
    """The study folder."""
    markdown: Path
    """The Markdown page."""
    plot: Path
    """The CA-versus-ASR plot (PNG)."""
    seconds: float
    """Wall time."""


def _checks(summary: list[dict[str, Any]], attack: str, lr: float) -> dict[str, Any]:
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


def _fit(model: Any, data: Any, folder: Path, cfg: TrainConfig, resume: bool, **kw: Any) -> Any:
    return train(model, data, folder, cfg, resume=resume, overwrite=not resume, **kw)


def run_study(
    out: str | os.PathLike[str],
    config: StudyConfig | None = None,
    *,
    docs: str | os.PathLike[str] | None = None,
    resume: bool = False,
    command: str = "geomm cleanclip reproduce",
    progress: Callable[[str], None] | None = None,
) -> StudyResult:
    """Run the study; write results, summary, plot and a Markdown page.

    Args:
        out: study folder (data, runs, results).
        config: what to run; default the full study.
        docs: where the Markdown page goes (default ``out/cleanclip.md``); the
            plot is written beside it.
        resume: reuse finished models and continue interrupted ones.
        command: the command line recorded in the page.
        progress: called with one line per finished model.
    """
    cfg = config or StudyConfig()
    t0 = time.perf_counter()
    root = Path(out).expanduser().resolve()
    say = progress or (lambda _line: None)
    data = make_digits(root / "data", seed=cfg.data_seed)
    test = read_caption_csv(data.test)
    store = ImageStore(test.image_paths)
    n_train = len(read_caption_csv(data.train))
    count = max(1, round(cfg.poison_fraction * n_train))
    triggers = {a: make_trigger(a, **dict(cfg.attack_options.get(a, {}))) for a in cfg.attacks}
    pre_cfg = TrainConfig(
        recipe="clip",
        epochs=cfg.pretrain_epochs,
        lr=cfg.pretrain_lr,
        batch_size=cfg.batch_size,
        bf16=cfg.bf16,
    )
    rows: list[dict[str, Any]] = []

    def record(model: Any, seed: int, attack: str, stage: str, lr: float | None, secs: float):
        ev = evaluate(
            model,
            test,
            classes=DIGIT_CLASSES,
            templates=DIGIT_TEMPLATES,
            target=cfg.target,
            trigger=triggers[attack],
            seed=10_000 + seed,
            images=store,
        )
        row = {
            "seed": seed,
            "attack": attack,
            "stage": stage,
            "lr": lr,
            "ca": ev.ca,
            "asr": ev.asr,
            "train_seconds": round(secs, 2),
        }
        rows.append(row)
        lr_text = "" if lr is None else f" lr {lr:g}"
        say(
            f"seed {seed} {attack:<12} {stage:<10}{lr_text}: CA {100 * ev.ca:.1f}% "
            f"ASR {100 * (ev.asr or 0):.1f}%"
        )

    for seed in cfg.seeds:
        runs = root / "runs" / f"seed{seed}"
        model = create_model("small-clip", seed=seed)
        res = _fit(model, data.train, runs / "clean", replace(pre_cfg, seed=seed), resume)
        for attack in cfg.attacks:
            record(model, seed, attack, "no-poison", None, res.seconds)
        for attack in cfg.attacks:
            base = runs / attack
            poisoned = poison_csv(
                data.train,
                base / "data",
                target=cfg.target,
                trigger=triggers[attack],
                count=count,
                seed=seed,
                templates=DIGIT_TEMPLATES,
            )
            model = create_model("small-clip", seed=seed)
            res = _fit(
                model, poisoned.csv_path, base / "pretrain", replace(pre_cfg, seed=seed), resume
            )
            record(model, seed, attack, "poisoned", None, res.seconds)
            plan = [(r, lr) for r in cfg.sweep_recipes for lr in cfg.lrs]
            plan += [(r, cfg.headline_lr) for r in cfg.other_recipes]
            for recipe, lr in plan:
                ft = load_model(res.checkpoint)
                ft_cfg = TrainConfig(
                    recipe=recipe,
                    epochs=cfg.finetune_epochs,
                    lr=lr,
                    batch_size=cfg.batch_size,
                    seed=seed,
                    bf16=cfg.bf16,
                )
                r2 = _fit(
                    ft,
                    data.finetune,
                    base / f"{recipe}-lr{lr:g}",
                    ft_cfg,
                    resume,
                    classes=DIGIT_CLASSES,
                    templates=DIGIT_TEMPLATES,
                )
                record(ft, seed, attack, recipe, lr, r2.seconds)

    seconds = time.perf_counter() - t0
    env = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpu": _cpu_name(),
        "python": platform.python_version(),
    }
    meta = {
        "config": _jsonable(asdict(cfg)),
        "poisons": count,
        "train_pairs": n_train,
        "finetune_pairs": len(read_caption_csv(data.finetune)),
        "test_images": len(test),
        "seconds": round(seconds, 1),
        "environment": env,
        "command": command,
    }
    (root / "results.json").write_text(json.dumps({**meta, "rows": rows}, indent=2) + "\n")
    return write_report(root, docs=docs)


def write_report(
    study: str | os.PathLike[str], *, docs: str | os.PathLike[str] | None = None
) -> StudyResult:
    """(Re)write ``summary.json``, the plot and the page from a study's ``results.json``.

    Nothing is retrained: use it to change the page or plot of a finished study.

    Args:
        study: the study folder :func:`run_study` wrote.
        docs: where the Markdown page goes (default ``study/cleanclip.md``).
    """
    root = Path(study).expanduser().resolve()
    path = root / "results.json"
    if not path.is_file():
        raise ContrastiveConfigError(f"{root} holds no results.json; run the study first")
    meta, rows, cfg = _read_results(path)
    summary = summarize(rows)
    checks = _checks(summary, cfg.attacks[0], cfg.headline_lr)
    (root / "summary.json").write_text(
        json.dumps({**meta, "summary": summary, "checks": checks}, indent=2) + "\n"
    )
    page = Path(docs).expanduser().resolve() if docs else root / "cleanclip.md"
    check_replaceable(page, what="study page")  # before the plot: both, or neither
    check_replaceable(page.with_name(page.stem + "-ca-asr.png"), what="study plot")
    plot = plot_ca_asr(summary, page.with_name(page.stem + "-ca-asr.png"))
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(_page(cfg, meta, summary, checks, plot.name), encoding="utf-8")
    return StudyResult(
        tuple(rows), tuple(summary), checks, root, page, plot, float(meta["seconds"])
    )


def _read_results(path: Path) -> tuple[dict[str, Any], list[Any], StudyConfig]:
    """A study's ``results.json``: its metadata, rows and config, or one clear error."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        rows = doc.pop("rows")
        raw = dict(doc["config"])
        cfg = StudyConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()})
        float(doc["seconds"])
    except (ValueError, KeyError, TypeError, AttributeError) as e:  # JSONDecodeError too
        raise ContrastiveConfigError(
            f"{path} is not a results.json written by run_study ({type(e).__name__}: {e}); "
            "run the study again (resume=True keeps finished runs)"
        ) from e
    if not isinstance(rows, list):
        raise ContrastiveConfigError(f"{path}: 'rows' is not a list; run the study again")
    return doc, rows, cfg


def _observations(summary: list[dict[str, Any]]) -> list[str]:
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
        parts = [
            f"poisoned ASR {pct(poisoned['asr_mean'])} (floor {pct(floor and floor['asr_mean'])})"
        ]
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


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    return obj


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _page(
    cfg: StudyConfig,
    meta: dict[str, Any],
    summary: list[dict[str, Any]],
    checks: dict[str, Any],
    plot_name: str,
) -> str:
    env = meta["environment"]
    minutes = meta["seconds"] / 60
    lines = [
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

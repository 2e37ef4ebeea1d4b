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

from geomm._outputs import check_replaceable
from geomm.contrastive._data import CaptionTable, ImageStore, read_caption_csv
from geomm.contrastive._digits import DIGIT_CLASSES, DIGIT_TEMPLATES, DigitsSet, make_digits
from geomm.contrastive._encoders import ImageTextModel
from geomm.contrastive._errors import ContrastiveConfigError, check_seed
from geomm.contrastive._evaluate import evaluate
from geomm.contrastive._models import create_model, load_model
from geomm.contrastive._report import acceptance_checks, plot_ca_asr, study_page, summarize
from geomm.contrastive._train import TrainConfig, TrainResult, train
from geomm.contrastive.backdoor import Trigger, make_trigger, poison_csv

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
    """bf16 autocast (faster on CPUs with bf16 units, at bf16's precision; fp32 by default)."""
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


def _fit(
    model: ImageTextModel,
    data: str | os.PathLike[str],
    folder: Path,
    cfg: TrainConfig,
    *,
    resume: bool,
    **kw: Any,
) -> TrainResult:
    """One training run of the study: resumed when asked, else started afresh."""
    return train(model, data, folder, cfg, resume=resume, overwrite=not resume, **kw)


@dataclass(frozen=True)
class _Bench:
    """What every model of the study is trained on and evaluated against."""

    root: Path
    """The study folder."""
    data: DigitsSet
    """The digits set under ``root/data``."""
    test: CaptionTable
    """The test split, read once."""
    store: ImageStore
    """The test images, decoded once for every evaluation."""
    train_pairs: int
    """Pairs of the (pre)training split."""
    poisons: int
    """Training pairs poisoned per attack."""
    triggers: Mapping[str, Trigger]
    """Each attack's trigger."""
    pretrain: TrainConfig
    """Pretraining's configuration (its seed is set per seed of the study)."""
    resume: bool
    """Reuse finished runs and continue interrupted ones."""
    say: Callable[[str], None]
    """Called with one line per evaluated model."""


@dataclass(frozen=True)
class _Stage:
    """Which model of the study a row is about."""

    seed: int
    """The study seed it was trained with."""
    attack: str
    """The attack it is evaluated against (and, past the floor, poisoned with)."""
    stage: str
    """``no-poison``, ``poisoned`` or the finetuning recipe."""
    lr: float | None = None
    """Finetuning's learning rate; None for pretrained models."""


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
    bench = _bench(root, cfg, resume=resume, say=progress or (lambda _line: None))
    rows: list[dict[str, Any]] = []
    for seed in cfg.seeds:
        rows += _seed_runs(bench, cfg, seed=seed)
    _write_results(bench, cfg, rows, seconds=time.perf_counter() - t0, command=command)
    return write_report(root, docs=docs)


def _bench(root: Path, cfg: StudyConfig, *, resume: bool, say: Callable[[str], None]) -> _Bench:
    """The digits set (made, or reused), the test split, the triggers and pretraining."""
    data = make_digits(root / "data", seed=cfg.data_seed)
    test = read_caption_csv(data.test)
    store = ImageStore(test.image_paths)
    n_train = len(read_caption_csv(data.train))
    triggers = {a: make_trigger(a, **dict(cfg.attack_options.get(a, {}))) for a in cfg.attacks}
    pretrain = TrainConfig(
        recipe="clip",
        epochs=cfg.pretrain_epochs,
        lr=cfg.pretrain_lr,
        batch_size=cfg.batch_size,
        bf16=cfg.bf16,
    )
    return _Bench(
        root=root,
        data=data,
        test=test,
        store=store,
        train_pairs=n_train,
        poisons=max(1, round(cfg.poison_fraction * n_train)),
        triggers=triggers,
        pretrain=pretrain,
        resume=resume,
        say=say,
    )


def _seed_runs(bench: _Bench, cfg: StudyConfig, *, seed: int) -> list[dict[str, Any]]:
    """One seed's rows: the clean model (each attack's floor), then every attack's models."""
    runs = bench.root / "runs" / f"seed{seed}"
    model = create_model("small-clip", seed=seed)
    pretrain = replace(bench.pretrain, seed=seed)
    res = _fit(model, bench.data.train, runs / "clean", pretrain, resume=bench.resume)
    rows = [
        _record(bench, cfg, model, _Stage(seed, a, "no-poison"), seconds=res.seconds)
        for a in cfg.attacks
    ]
    for attack in cfg.attacks:
        rows += _attack_runs(bench, cfg, seed=seed, attack=attack)
    return rows


def _attack_runs(
    bench: _Bench, cfg: StudyConfig, *, seed: int, attack: str
) -> list[dict[str, Any]]:
    """Poison, pretrain on the poisoned pairs, then finetune with every recipe of the plan."""
    base = bench.root / "runs" / f"seed{seed}" / attack
    poisoned = poison_csv(
        bench.data.train,
        base / "data",
        target=cfg.target,
        trigger=bench.triggers[attack],
        count=bench.poisons,
        seed=seed,
        templates=DIGIT_TEMPLATES,
    )
    model = create_model("small-clip", seed=seed)
    pretrain = replace(bench.pretrain, seed=seed)
    res = _fit(model, poisoned.csv_path, base / "pretrain", pretrain, resume=bench.resume)
    rows = [_record(bench, cfg, model, _Stage(seed, attack, "poisoned"), seconds=res.seconds)]
    plan = [(r, lr) for r in cfg.sweep_recipes for lr in cfg.lrs]
    plan += [(r, cfg.headline_lr) for r in cfg.other_recipes]
    for recipe, lr in plan:
        ft = load_model(res.out_dir)
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
            bench.data.finetune,
            base / f"{recipe}-lr{lr:g}",
            ft_cfg,
            resume=bench.resume,
            classes=DIGIT_CLASSES,
            templates=DIGIT_TEMPLATES,
        )
        rows.append(_record(bench, cfg, ft, _Stage(seed, attack, recipe, lr), seconds=r2.seconds))
    return rows


def _record(
    bench: _Bench,
    cfg: StudyConfig,
    model: ImageTextModel,
    which: _Stage,
    *,
    seconds: float,
) -> dict[str, Any]:
    """Evaluate one model of the study: its row of ``results.json``, also said in a line."""
    seed, attack, stage, lr = which.seed, which.attack, which.stage, which.lr
    ev = evaluate(
        model,
        bench.test,
        classes=DIGIT_CLASSES,
        templates=DIGIT_TEMPLATES,
        target=cfg.target,
        trigger=bench.triggers[attack],
        seed=10_000 + seed,
        images=bench.store,
    )
    row = {
        "seed": seed,
        "attack": attack,
        "stage": stage,
        "lr": lr,
        "ca": ev.ca,
        "asr": ev.asr,
        "train_seconds": round(seconds, 2),
    }
    lr_text = "" if lr is None else f" lr {lr:g}"
    bench.say(
        f"seed {seed} {attack:<12} {stage:<10}{lr_text}: CA {100 * ev.ca:.1f}% "
        f"ASR {100 * (ev.asr or 0):.1f}%"
    )
    return row


def _write_results(
    bench: _Bench, cfg: StudyConfig, rows: list[dict[str, Any]], *, seconds: float, command: str
) -> None:
    """``results.json``: the configuration, the environment and every model's row."""
    env = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpu": _cpu_name(),
        "python": platform.python_version(),
    }
    meta = {
        "config": _jsonable(asdict(cfg)),
        "poisons": bench.poisons,
        "train_pairs": bench.train_pairs,
        "finetune_pairs": len(read_caption_csv(bench.data.finetune)),
        "test_images": len(bench.test),
        "seconds": round(seconds, 1),
        "environment": env,
        "command": command,
    }
    (bench.root / "results.json").write_text(json.dumps({**meta, "rows": rows}, indent=2) + "\n")


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
    checks = acceptance_checks(summary, attack=cfg.attacks[0], lr=cfg.headline_lr)
    (root / "summary.json").write_text(
        json.dumps({**meta, "summary": summary, "checks": checks}, indent=2) + "\n"
    )
    page = Path(docs).expanduser().resolve() if docs else root / "cleanclip.md"
    check_replaceable(page, what="study page")  # before the plot: both, or neither
    check_replaceable(page.with_name(page.stem + "-ca-asr.png"), what="study plot")
    plot = plot_ca_asr(summary, page.with_name(page.stem + "-ca-asr.png"))
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(study_page(cfg, meta, summary, checks, plot.name), encoding="utf-8")
    return StudyResult(
        tuple(rows), tuple(summary), checks, root, page, plot, float(meta["seconds"])
    )


def _read_results(path: Path) -> tuple[dict[str, Any], list[Any], StudyConfig]:
    """A study's ``results.json``: its metadata, rows and config, or one clear error."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        rows = doc.pop("rows")
        raw = dict(doc["config"])
        fields: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()}
        cfg = StudyConfig(**fields)
        float(doc["seconds"])
    except (ValueError, KeyError, TypeError, AttributeError) as e:  # JSONDecodeError too
        raise ContrastiveConfigError(
            f"{path} is not a results.json written by run_study ({type(e).__name__}: {e}); "
            "run the study again (resume=True keeps finished runs)"
        ) from e
    if not isinstance(rows, list):
        raise ContrastiveConfigError(f"{path}: 'rows' is not a list; run the study again")
    return doc, rows, cfg


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

"""``geomm cleanclip``: the CleanCLIP workflow on any image-caption CSV.

Each command parses options, calls one public function of
:mod:`geomm.contrastive` and prints a short summary; outputs go to ``--out``
and inputs are never modified. Errors a user can cause are
:class:`~geomm.errors.GeommError` subclasses, which ``geomm``'s entry point
prints as one line (exit 1). Mounted by ``geomm.cli`` as::

    app.add_typer(cleanclip_app, name="cleanclip")
"""

from __future__ import annotations

import json
import math
import shlex
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

__all__ = ["app"]

app = typer.Typer(
    name="cleanclip",
    help="CleanCLIP: backdoor attacks on image-text data, the defence, and its evaluation.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console(width=None if sys.stdout.isatty() else 200)

ImageKey = Annotated[
    str | None, typer.Option("--image-key", help="Image-path column (default image / filepath).")
]
CaptionKey = Annotated[
    str | None, typer.Option("--caption-key", help="Caption column (default caption / title).")
]
Delimiter = Annotated[
    str | None, typer.Option("--delimiter", help="Field separator (default: sniffed; '\\t' ok).")
]
Seed = Annotated[int, typer.Option("--seed", help="Random seed.")]
Threads = Annotated[
    int | None, typer.Option("--threads", help="Torch CPU threads (default: torch's choice).")
]


AllowOutside = Annotated[
    bool,
    typer.Option(
        "--allow-outside-catalog",
        help="Trust the CSV to name images outside its folder (../, absolute paths, symlinks).",
    ),
]


_MAX_THREADS = 256
"""Most torch threads a command may ask for (many more than any CPU here has cores)."""


def _threads(n: int | None) -> None:
    if n is not None:
        from geomm.contrastive import ContrastiveConfigError

        if not 1 <= n <= _MAX_THREADS:
            # torch starts every thread asked for: a million exhausts memory and crashes later
            raise ContrastiveConfigError(f"--threads must be within 1..{_MAX_THREADS}, got {n}")
        import torch

        torch.set_num_threads(n)


def _poison_record(path: Path) -> tuple[str, Any]:
    """(target, trigger) from a ``poison.json`` that ``geomm cleanclip poison`` wrote."""
    from geomm.contrastive import ContrastiveConfigError
    from geomm.contrastive.backdoor import trigger_from_record

    try:
        meta = json.loads(Path(path).read_text(encoding="utf-8"))
        if not isinstance(meta, dict) or not isinstance(meta.get("target"), str):
            raise ValueError("no 'target' label")
        return meta["target"], trigger_from_record(meta.get("trigger"))
    except (ValueError, IsADirectoryError, FileNotFoundError) as e:  # JSON, UTF-8, trigger
        raise ContrastiveConfigError(
            f"--poison-json {path} is not a poison.json written by geomm cleanclip poison "
            f"({_first_line(e)}); give that file, or --target and --attack"
        ) from e


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0][:200] if text else type(e).__name__


def _list_arg(value: str, what: str) -> list[str]:
    """A file with one entry per line, or a comma-separated list."""
    from geomm.contrastive import ContrastiveConfigError, read_lines

    path = Path(value).expanduser()
    if path.is_file():
        return read_lines(path)
    if "," in value or not any(s in value for s in ("/", "\\", ".txt")):
        items = [v.strip() for v in value.split(",") if v.strip()]
        if items:
            return items
    raise ContrastiveConfigError(
        f"{what} {value!r} is neither a file (one entry per line) nor a comma-separated list"
    )


def _templates(value: str | None) -> list[str]:
    from geomm.contrastive import IMAGENET_TEMPLATES, check_templates, read_lines

    if value is None:
        return list(IMAGENET_TEMPLATES)
    return list(check_templates(read_lines(value)))


def _trigger(attack: str, patch_size: int | None, alpha: float | None, trigger_seed: int | None):
    from geomm.contrastive.backdoor import make_trigger

    opts: dict[str, Any] = {}
    if attack in ("badnet", "checkerboard"):
        opts["size"] = patch_size
    elif attack == "blended":
        opts["alpha"] = alpha
        opts["pattern_seed"] = trigger_seed
    elif attack == "wanet":
        opts["grid_seed"] = trigger_seed
    return make_trigger(attack, **opts)


def _print_history(row: dict[str, float]) -> None:
    terms = "  ".join(
        f"{k} {row[k]:.4f}" for k in ("loss", "crossmodal", "inmodal", "ce") if k in row
    )
    out.print(
        f"epoch {int(row['epoch'])}: {terms}  lr {row['lr']:.2e}  scale "
        f"{row['logit_scale']:.1f}  ({row['seconds']:.1f} s)",
        highlight=False,
    )


@app.command("make-digits")
def make_digits_command(
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Folder to write the set into.")],
    seed: Seed = 0,
    size: Annotated[int, typer.Option("--size", help="Image edge in pixels.")] = 32,
) -> None:
    """Render scikit-learn's digits as a captioned image set (train/finetune/test CSVs)."""
    from geomm.contrastive import make_digits

    s = make_digits(out_dir, seed=seed, size=size)
    out.print(f"wrote {s.train}, {s.finetune}, {s.test}, {s.classes}, {s.templates}")


@app.command("poison")
def poison_command(
    csv: Annotated[Path, typer.Option("--csv", help="Clean image-caption CSV.")],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Folder for the poisoned set.")],
    target: Annotated[str, typer.Option("--target", help="Target label of the backdoor.")],
    attack: Annotated[
        str,
        typer.Option(
            "--attack",
            help="badnet | blended | wanet | sig | checkerboard | label-consistent "
            "(= badnet on target-class rows).",
        ),
    ] = "badnet",
    count: Annotated[int | None, typer.Option("--count", help="Pairs to poison.")] = None,
    fraction: Annotated[
        float | None, typer.Option("--fraction", help="Share of pairs to poison (or --count).")
    ] = None,
    seed: Seed = 0,
    templates: Annotated[
        str | None,
        typer.Option("--templates", help="Caption templates file ({} = label); default ImageNet."),
    ] = None,
    classes: Annotated[
        str | None,
        typer.Option("--classes", help="Class names (file or comma list); target must be one."),
    ] = None,
    label_consistent: Annotated[
        bool, typer.Option("--label-consistent", help="Poison only rows naming the target.")
    ] = False,
    patch_size: Annotated[
        int | None, typer.Option("--patch-size", help="BadNet/checkerboard patch edge, px.")
    ] = None,
    alpha: Annotated[float | None, typer.Option("--alpha", help="Blended noise weight.")] = None,
    trigger_seed: Annotated[
        int | None, typer.Option("--trigger-seed", help="Fixed pattern (blended) / warp (wanet).")
    ] = None,
    label_key: Annotated[str, typer.Option("--label-key", help="Label column.")] = "label",
    image_key: ImageKey = None,
    caption_key: CaptionKey = None,
    delimiter: Delimiter = None,
    allow_outside: AllowOutside = False,
) -> None:
    """Write a poisoned copy of a CSV (new images, is_backdoor column); the input is untouched."""
    from geomm.contrastive import ContrastiveConfigError, read_caption_csv
    from geomm.contrastive.backdoor import poison_csv

    if attack == "label-consistent":
        attack, label_consistent = "badnet", True
    if (count is None) == (fraction is None):
        raise ContrastiveConfigError("give exactly one of --count and --fraction")
    if fraction is not None and not (math.isfinite(fraction) and 0 < fraction <= 1):
        raise ContrastiveConfigError(f"--fraction must be in (0, 1], got {fraction}")
    if count is None:
        rows = len(
            read_caption_csv(
                csv,
                image_key=image_key,
                caption_key=caption_key,
                delimiter=delimiter,
                check_images=False,
                allow_outside_root=allow_outside,
            )
        )
        count = max(1, round(float(fraction or 0) * rows))
    result = poison_csv(
        csv,
        out_dir,
        target=target,
        trigger=_trigger(attack, patch_size, alpha, trigger_seed),
        count=count,
        seed=seed,
        templates=_templates(templates),
        classes=_list_arg(classes, "--classes") if classes else None,
        label_key=label_key,
        label_consistent=label_consistent,
        image_key=image_key,
        caption_key=caption_key,
        delimiter=delimiter,
        allow_outside_root=allow_outside,
    )
    out.print(f"poisoned {len(result.rows)} of {result.total} pairs -> {result.csv_path}")


def _train_command(
    *,
    csv: Path,
    out_dir: Path,
    recipe: str,
    model: str,
    checkpoint: Path | None,
    pretrained: str | None,
    image_size: int | None,
    epochs: int,
    batch_size: int,
    lr: float,
    weight_decay: float,
    warmup: int,
    seed: int,
    bf16: bool,
    resume: bool,
    overwrite: bool,
    classes: str | None,
    templates: str | None,
    label_key: str,
    image_key: str | None,
    caption_key: str | None,
    delimiter: str | None,
    threads: int | None,
    allow_outside: bool,
) -> None:
    from geomm.contrastive import create_model, load_model, read_caption_csv, train

    _threads(threads)
    cfg = _train_config(
        recipe=recipe,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        weight_decay=weight_decay,
        warmup=warmup,
        seed=seed,
        bf16=bf16,
    )
    table = read_caption_csv(
        csv,
        image_key=image_key,
        caption_key=caption_key,
        delimiter=delimiter,
        allow_outside_root=allow_outside,
    )
    net = (
        load_model(checkpoint)
        if checkpoint is not None
        else create_model(model, pretrained=pretrained, image_size=image_size, seed=seed)
    )
    result = train(
        net,
        table,
        out_dir,
        cfg,
        resume=resume,
        overwrite=overwrite,
        classes=_list_arg(classes, "--classes") if classes else None,
        templates=_templates(templates) if classes else None,
        label_key=label_key,
        progress=_print_history,
    )
    out.print(f"{recipe}: {len(result.history)} epochs, checkpoint {result.checkpoint}")


_CONFIG_FLAGS = {"warmup_steps": "--warmup", "batch_size": "--batch-size",
                 "weight_decay": "--weight-decay"}  # fmt: skip


def _train_config(*, warmup: int, **options: Any) -> Any:
    """TrainConfig from the options, its range errors worded with the flags."""
    from geomm.contrastive import ContrastiveConfigError, TrainConfig

    try:
        return TrainConfig(warmup_steps=warmup, **options)
    except ContrastiveConfigError as e:
        text = str(e)
        field = text.split(" ", 1)[0]
        flag = _CONFIG_FLAGS.get(field, "--" + field.replace("_", "-"))
        raise ContrastiveConfigError(f"{flag}: {text}") from e


ModelOpt = Annotated[
    str, typer.Option("--model", help="small-clip | open_clip:<arch> (e.g. open_clip:RN50).")
]
PretrainedOpt = Annotated[
    str | None, typer.Option("--pretrained", help="open_clip: local checkpoint file (offline).")
]
ImageSizeOpt = Annotated[int | None, typer.Option("--image-size", help="Override input size.")]
EpochsOpt = Annotated[int, typer.Option("--epochs", help="Passes over the data.")]
BatchOpt = Annotated[int, typer.Option("--batch-size", help="Pairs per step.")]
LrOpt = Annotated[float, typer.Option("--lr", help="Peak learning rate.")]
WdOpt = Annotated[float, typer.Option("--weight-decay", help="AdamW decay (not on norms/biases).")]
WarmupOpt = Annotated[int, typer.Option("--warmup", help="Linear warmup steps.")]
Bf16Opt = Annotated[bool, typer.Option("--bf16", help="bf16 autocast.")]
ResumeOpt = Annotated[bool, typer.Option("--resume", help="Continue the run in --out.")]
OverwriteOpt = Annotated[bool, typer.Option("--overwrite", help="Restart the run in --out.")]


@app.command("pretrain")
def pretrain_command(
    csv: Annotated[Path, typer.Option("--csv", help="(Poisoned) image-caption CSV.")],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Run folder.")],
    model: ModelOpt = "small-clip",
    pretrained: PretrainedOpt = None,
    image_size: ImageSizeOpt = None,
    epochs: EpochsOpt = 30,
    batch_size: BatchOpt = 64,
    lr: LrOpt = 1e-3,
    weight_decay: WdOpt = 0.1,
    warmup: WarmupOpt = 10,
    seed: Seed = 0,
    bf16: Bf16Opt = False,
    resume: ResumeOpt = False,
    overwrite: OverwriteOpt = False,
    image_key: ImageKey = None,
    caption_key: CaptionKey = None,
    delimiter: Delimiter = None,
    threads: Threads = None,
    allow_outside: AllowOutside = False,
) -> None:
    """Pretrain a CLIP with the symmetric contrastive loss."""
    _train_command(
        csv=csv,
        out_dir=out_dir,
        recipe="clip",
        model=model,
        checkpoint=None,
        pretrained=pretrained,
        image_size=image_size,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        weight_decay=weight_decay,
        warmup=warmup,
        seed=seed,
        bf16=bf16,
        resume=resume,
        overwrite=overwrite,
        classes=None,
        templates=None,
        label_key="label",
        image_key=image_key,
        caption_key=caption_key,
        delimiter=delimiter,
        threads=threads,
        allow_outside=allow_outside,
    )


@app.command("finetune")
def finetune_command(
    csv: Annotated[Path, typer.Option("--csv", help="Clean image-caption CSV.")],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Run folder.")],
    recipe: Annotated[
        str, typer.Option("--recipe", help="mmcl | cleanclip | inmodal | supervised.")
    ] = "cleanclip",
    checkpoint: Annotated[
        Path | None, typer.Option("--checkpoint", help="geomm checkpoint (or run folder).")
    ] = None,
    model: ModelOpt = "small-clip",
    pretrained: PretrainedOpt = None,
    image_size: ImageSizeOpt = None,
    epochs: EpochsOpt = 10,
    batch_size: BatchOpt = 64,
    lr: LrOpt = 5e-4,
    weight_decay: WdOpt = 0.1,
    warmup: WarmupOpt = 10,
    seed: Seed = 0,
    bf16: Bf16Opt = False,
    resume: ResumeOpt = False,
    overwrite: OverwriteOpt = False,
    classes: Annotated[
        str | None, typer.Option("--classes", help="supervised: class names (file or list).")
    ] = None,
    templates: Annotated[
        str | None, typer.Option("--templates", help="supervised: caption templates file.")
    ] = None,
    label_key: Annotated[str, typer.Option("--label-key", help="supervised: label column.")] = (
        "label"
    ),
    image_key: ImageKey = None,
    caption_key: CaptionKey = None,
    delimiter: Delimiter = None,
    threads: Threads = None,
    allow_outside: AllowOutside = False,
) -> None:
    """Finetune a (poisoned) CLIP on clean pairs with a CleanCLIP-family recipe."""
    from geomm.contrastive import ContrastiveConfigError

    if recipe == "clip" or recipe not in ("mmcl", "cleanclip", "inmodal", "supervised"):
        raise ContrastiveConfigError(
            f"--recipe must be mmcl, cleanclip, inmodal or supervised, got {recipe!r}"
        )
    _train_command(
        csv=csv,
        out_dir=out_dir,
        recipe=recipe,
        model=model,
        checkpoint=checkpoint,
        pretrained=pretrained,
        image_size=image_size,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        weight_decay=weight_decay,
        warmup=warmup,
        seed=seed,
        bf16=bf16,
        resume=resume,
        overwrite=overwrite,
        classes=classes,
        templates=templates,
        label_key=label_key,
        image_key=image_key,
        caption_key=caption_key,
        delimiter=delimiter,
        threads=threads,
        allow_outside=allow_outside,
    )


@app.command("evaluate")
def evaluate_command(
    checkpoint: Annotated[Path, typer.Option("--checkpoint", help="Model checkpoint/run folder.")],
    test: Annotated[Path, typer.Option("--test", help="Test CSV with a label column.")],
    classes: Annotated[str, typer.Option("--classes", help="Class names (file or comma list).")],
    templates: Annotated[
        str | None, typer.Option("--templates", help="Caption templates file; default ImageNet.")
    ] = None,
    target: Annotated[str | None, typer.Option("--target", help="Target label for ASR.")] = None,
    attack: Annotated[
        str | None, typer.Option("--attack", help="Trigger for ASR (badnet, blended, ...).")
    ] = None,
    poison_json: Annotated[
        Path | None,
        typer.Option("--poison-json", help="Take target and trigger from a poison.json."),
    ] = None,
    patch_size: Annotated[int | None, typer.Option("--patch-size", help="Patch edge, px.")] = None,
    alpha: Annotated[float | None, typer.Option("--alpha", help="Blended noise weight.")] = None,
    trigger_seed: Annotated[
        int | None, typer.Option("--trigger-seed", help="Fixed pattern (blended) / warp (wanet).")
    ] = None,
    seed: Seed = 0,
    label_key: Annotated[str, typer.Option("--label-key", help="Label column.")] = "label",
    out_path: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write the result as JSON here.")
    ] = None,
    image_key: ImageKey = None,
    caption_key: CaptionKey = None,
    delimiter: Delimiter = None,
    threads: Threads = None,
    allow_outside: AllowOutside = False,
) -> None:
    """Zero-shot CA, and ASR over non-target images when a target and trigger are given."""
    from geomm.contrastive import check_seed, evaluate, load_model, read_caption_csv

    _threads(threads)
    check_seed("--seed", seed)
    trigger = None
    if poison_json is not None:
        recorded, trigger = _poison_record(poison_json)
        target = target or recorded
    elif attack is not None:
        trigger = _trigger(attack, patch_size, alpha, trigger_seed)
    table = read_caption_csv(
        test,
        image_key=image_key,
        caption_key=caption_key,
        delimiter=delimiter,
        allow_outside_root=allow_outside,
    )
    result = evaluate(
        load_model(checkpoint),
        table,
        classes=_list_arg(classes, "--classes"),
        templates=_templates(templates),
        target=target,
        trigger=trigger,
        label_key=label_key,
        seed=seed,
        out=out_path,
    )
    asr = "" if result.asr is None else f", ASR {100 * result.asr:.1f}% of {result.n_asr}"
    out.print(f"CA {100 * result.ca:.1f}% of {result.n_test}{asr}", highlight=False)


def _seeds(value: str) -> tuple[int, ...]:
    """``--seeds 0,1,2`` as integers, or one line saying what it takes."""
    from geomm.contrastive import ContrastiveConfigError, check_seed

    parts = [v.strip() for v in value.split(",") if v.strip()]
    if not parts or not all(p.isdigit() for p in parts):
        raise ContrastiveConfigError(
            f"--seeds takes comma-separated integers from 0 (e.g. 0,1,2), got {value!r}"
        )
    return tuple(check_seed("--seeds", int(p)) for p in parts)


@app.command("reproduce")
def reproduce_command(
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Study folder (default out/cleanclip, --quick: out/cleanclip-quick).",
        ),
    ] = None,
    docs: Annotated[
        Path | None,
        typer.Option(
            "--docs",
            help="Markdown page to write, plot beside it (default docs/cleanclip.md; --quick: "
            "inside --out, so a reduced run never replaces the published page).",
        ),
    ] = None,
    quick: Annotated[bool, typer.Option("--quick", help="Reduced study for CI.")] = False,
    seeds: Annotated[
        str | None, typer.Option("--seeds", help="Comma-separated seeds (default 0,1,2).")
    ] = None,
    bf16: Bf16Opt = False,
    resume: ResumeOpt = False,
    report_only: Annotated[
        bool,
        typer.Option("--report-only", help="Rewrite page and plot from --out's results.json."),
    ] = False,
    threads: Annotated[
        int,
        typer.Option(
            "--threads",
            help="Torch CPU threads. 1 by default: the small model gains little from a second "
            "thread, and two threads slow down ~10x when another job holds a core.",
        ),
    ] = 1,
) -> None:
    """Run the small-scale CleanCLIP study end to end and write its page."""
    from dataclasses import replace

    from geomm.contrastive import StudyConfig, quick_study, run_study, write_report

    if out_dir is None:
        out_dir = Path("out/cleanclip-quick" if quick else "out/cleanclip")
    if docs is None:
        docs = out_dir / "cleanclip.md" if quick else Path("docs/cleanclip.md")
    if report_only:
        done = write_report(out_dir, docs=docs)
        out.print(f"wrote {done.markdown} and {done.plot}")
        return
    _threads(threads)
    cfg = quick_study() if quick else StudyConfig()
    if seeds:
        cfg = replace(cfg, seeds=_seeds(seeds))
    if bf16:
        cfg = replace(cfg, bf16=True)
    argv = [a for a in sys.argv[1:] if a]
    command = "geomm cleanclip reproduce" + (
        " " + shlex.join(argv[argv.index("reproduce") + 1 :]) if "reproduce" in argv else ""
    )
    result = run_study(
        out_dir,
        cfg,
        docs=docs,
        resume=resume,
        command=command.strip(),
        progress=lambda line: out.print(line, highlight=False),
    )
    for item in result.checks["items"]:
        verdict = "holds" if item["holds"] else "does NOT hold"
        out.print(f"{item['check']}: {item['measured']}: {verdict}", highlight=False)
    out.print(f"{result.seconds / 60:.1f} min; wrote {result.markdown} and {result.plot}")

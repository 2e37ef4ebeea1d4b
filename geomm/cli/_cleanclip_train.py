"""``geomm cleanclip pretrain`` and ``finetune``: one training run in ``--out``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from geomm.cli._cleanclip_args import (
    AllowOutside,
    Bf16Opt,
    CaptionKey,
    CsvColumns,
    Delimiter,
    ImageKey,
    ModelChoice,
    ResumeOpt,
    Seed,
    Threads,
    list_arg,
    out,
    print_history,
    set_threads,
    templates_arg,
    train_config,
)
from geomm.errors import ContrastiveConfigError

if TYPE_CHECKING:
    from geomm.contrastive import TrainConfig

__all__ = ["finetune_command", "pretrain_command"]

CsvOpt = Annotated[Path, typer.Option("--csv", help="(Poisoned) image-caption CSV.")]
RunOpt = Annotated[Path, typer.Option("--out", "-o", help="Run folder.")]
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
OverwriteOpt = Annotated[bool, typer.Option("--overwrite", help="Restart the run in --out.")]

FINETUNE_RECIPES = ("mmcl", "cleanclip", "inmodal", "supervised")
"""The recipes ``finetune`` runs (``clip`` is ``pretrain``'s)."""


def pretrain_command(
    csv: CsvOpt,
    out_dir: RunOpt,
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
    set_threads(threads)
    _train(
        csv=csv,
        out_dir=out_dir,
        config=train_config(
            recipe="clip",
            epochs=epochs,
            batch_size=batch_size,
            lr=lr,
            weight_decay=weight_decay,
            warmup=warmup,
            seed=seed,
            bf16=bf16,
        ),
        start=ModelChoice(model, None, pretrained, image_size),
        columns=CsvColumns(image_key, caption_key, delimiter, allow_outside),
        resume=resume,
        overwrite=overwrite,
    )


def finetune_command(
    csv: Annotated[Path, typer.Option("--csv", help="Clean image-caption CSV.")],
    out_dir: RunOpt,
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
    if recipe not in FINETUNE_RECIPES:
        raise ContrastiveConfigError(
            f"--recipe must be mmcl, cleanclip, inmodal or supervised, got {recipe!r}"
        )
    set_threads(threads)
    _train(
        csv=csv,
        out_dir=out_dir,
        config=train_config(
            recipe=recipe,
            epochs=epochs,
            batch_size=batch_size,
            lr=lr,
            weight_decay=weight_decay,
            warmup=warmup,
            seed=seed,
            bf16=bf16,
        ),
        start=ModelChoice(model, checkpoint, pretrained, image_size),
        columns=CsvColumns(image_key, caption_key, delimiter, allow_outside),
        resume=resume,
        overwrite=overwrite,
        classes=classes,
        templates=templates,
        label_key=label_key,
    )


def _train(
    *,
    csv: Path,
    out_dir: Path,
    config: TrainConfig,
    start: ModelChoice,
    columns: CsvColumns,
    resume: bool,
    overwrite: bool,
    classes: str | None = None,
    templates: str | None = None,
    label_key: str = "label",
) -> None:
    """Read the CSV, build or load the model, train it into ``out_dir``, say where it went."""
    from geomm.contrastive import train

    table = columns.read(csv)
    net = start.build(seed=config.seed)
    result = train(
        net,
        table,
        out_dir,
        config,
        resume=resume,
        overwrite=overwrite,
        classes=list_arg(classes, "--classes") if classes else None,
        templates=templates_arg(templates) if classes else None,
        label_key=label_key,
        progress=print_history,
    )
    out.print(f"{config.recipe}: {len(result.history)} epochs, checkpoint {result.checkpoint}")

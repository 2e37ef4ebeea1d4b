"""What ``geomm cleanclip``'s commands share: option declarations and their readers.

Every reader turns flags into the arguments of one :mod:`geomm.contrastive`
call, importing the library (and torch) only when a command runs; a bad
value is a :class:`~geomm.errors.ContrastiveConfigError` naming the flag.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from geomm.cli._console import out
from geomm.cli._flags import flag_for
from geomm.errors import ContrastiveConfigError

if TYPE_CHECKING:
    from geomm.contrastive import CaptionTable, ImageTextModel, TrainConfig
    from geomm.contrastive.backdoor import Trigger

__all__ = [
    "AllowOutside",
    "Bf16Opt",
    "CaptionKey",
    "CsvColumns",
    "Delimiter",
    "ImageKey",
    "ModelChoice",
    "ResumeOpt",
    "Seed",
    "Threads",
    "list_arg",
    "out",
    "poison_record",
    "print_history",
    "seeds_arg",
    "set_threads",
    "templates_arg",
    "train_config",
    "trigger_arg",
]


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
Bf16Opt = Annotated[bool, typer.Option("--bf16", help="bf16 autocast.")]
ResumeOpt = Annotated[bool, typer.Option("--resume", help="Continue the run in --out.")]


@dataclass(frozen=True)
class CsvColumns:
    """How to read an image-caption CSV: the flags every command that reads one takes."""

    image_key: str | None
    """``--image-key``: the image-path column (None: image / filepath)."""
    caption_key: str | None
    """``--caption-key``: the caption column (None: caption / title)."""
    delimiter: str | None
    """``--delimiter``: the field separator (None: sniffed)."""
    allow_outside: bool
    """``--allow-outside-catalog``: the CSV may name images outside its folder."""

    def read(self, path: Path, *, check_images: bool = True) -> CaptionTable:
        """The CSV at ``path`` as a caption table."""
        from geomm.contrastive import read_caption_csv

        return read_caption_csv(
            path,
            image_key=self.image_key,
            caption_key=self.caption_key,
            delimiter=self.delimiter,
            check_images=check_images,
            allow_outside_root=self.allow_outside,
        )


@dataclass(frozen=True)
class ModelChoice:
    """The model a training run starts from: a checkpoint, or a new one of an architecture."""

    model: str
    """``--model``: small-clip or open_clip:<arch> (used when there is no checkpoint)."""
    checkpoint: Path | None
    """``--checkpoint``: a geomm checkpoint or run folder to continue from."""
    pretrained: str | None
    """``--pretrained``: open_clip's local checkpoint file."""
    image_size: int | None
    """``--image-size``: the input size, overriding the architecture's."""

    def build(self, *, seed: int) -> ImageTextModel:
        """The checkpoint's model, or a new one initialised from ``seed``."""
        from geomm.contrastive import create_model, load_model

        if self.checkpoint is not None:
            return load_model(self.checkpoint)
        return create_model(
            self.model, pretrained=self.pretrained, image_size=self.image_size, seed=seed
        )


_MAX_THREADS = 256
"""Most torch threads a command may ask for (many more than any CPU here has cores)."""


def set_threads(n: int | None) -> None:
    """``--threads``: torch's CPU threads (None: torch's choice)."""
    if n is not None:
        if not 1 <= n <= _MAX_THREADS:
            # torch starts every thread asked for: a million exhausts memory and crashes later
            raise ContrastiveConfigError(f"--threads must be within 1..{_MAX_THREADS}, got {n}")
        import torch

        torch.set_num_threads(n)


def train_config(*, warmup: int, **options: Any) -> TrainConfig:
    """TrainConfig from the options, its range errors worded with the flags."""
    from geomm.contrastive import TrainConfig

    try:
        return TrainConfig(warmup_steps=warmup, **options)
    except ContrastiveConfigError as e:
        text = str(e)
        raise ContrastiveConfigError(f"{flag_for(text.split(' ', 1)[0])}: {text}") from e


def poison_record(path: Path) -> tuple[str, Trigger]:
    """(target, trigger) from a ``poison.json`` that ``geomm cleanclip poison`` wrote."""
    from geomm.contrastive.backdoor import trigger_from_record

    try:
        meta = json.loads(Path(path).read_text(encoding="utf-8"))
        if not isinstance(meta, dict) or not isinstance(meta.get("target"), str):
            raise ValueError("no 'target' label")
        record: Any = meta.get("trigger")  # any JSON value: trigger_from_record checks it
        return meta["target"], trigger_from_record(record)
    except (ValueError, IsADirectoryError, FileNotFoundError) as e:  # JSON, UTF-8, trigger
        raise ContrastiveConfigError(
            f"--poison-json {path} is not a poison.json written by geomm cleanclip poison "
            f"({_first_line(e)}); give that file, or --target and --attack"
        ) from e


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0][:200] if text else type(e).__name__


def list_arg(value: str, what: str) -> list[str]:
    """A file with one entry per line, or a comma-separated list."""
    from geomm.contrastive import read_lines

    path = Path(value).expanduser()
    if path.is_file():
        lines: list[str] = read_lines(path)
        return lines
    if "," in value or not any(s in value for s in ("/", "\\", ".txt")):
        items = [v.strip() for v in value.split(",") if v.strip()]
        if items:
            return items
    raise ContrastiveConfigError(
        f"{what} {value!r} is neither a file (one entry per line) nor a comma-separated list"
    )


def templates_arg(value: str | None) -> list[str]:
    """``--templates``: a file of caption templates (None: ImageNet's)."""
    from geomm.contrastive import IMAGENET_TEMPLATES, check_templates, read_lines

    if value is None:
        return list(IMAGENET_TEMPLATES)
    return list(check_templates(read_lines(value)))


def trigger_arg(
    attack: str, patch_size: int | None, alpha: float | None, trigger_seed: int | None
) -> Trigger:
    """The trigger of ``--attack``, given the options that attack takes."""
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


def seeds_arg(value: str) -> tuple[int, ...]:
    """``--seeds 0,1,2`` as integers, or one line saying what it takes."""
    from geomm.contrastive import check_seed

    parts = [v.strip() for v in value.split(",") if v.strip()]
    if not parts or not all(p.isdigit() for p in parts):
        raise ContrastiveConfigError(
            f"--seeds takes comma-separated integers from 0 (e.g. 0,1,2), got {value!r}"
        )
    return tuple(check_seed("--seeds", int(p)) for p in parts)


def print_history(row: dict[str, float]) -> None:
    """One line per finished epoch: the loss terms, learning rate and logit scale."""
    terms = "  ".join(
        f"{k} {row[k]:.4f}" for k in ("loss", "crossmodal", "inmodal", "ce") if k in row
    )
    out.print(
        f"epoch {int(row['epoch'])}: {terms}  lr {row['lr']:.2e}  scale "
        f"{row['logit_scale']:.1f}  ({row['seconds']:.1f} s)",
        highlight=False,
    )

"""``geomm cleanclip``: the CleanCLIP workflow on any image-caption CSV.

Each command parses options, calls one public function of
:mod:`geomm.contrastive` and prints a short summary; outputs go to ``--out``
and inputs are never modified. Errors a user can cause are
:class:`~geomm.errors.GeommError` subclasses, which ``geomm``'s entry point
prints as one line (exit 1). Nothing here imports torch until a command runs.
"""

from __future__ import annotations

import math
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from geomm.cli._cleanclip_args import (
    AllowOutside,
    Bf16Opt,
    CaptionKey,
    CsvColumns,
    Delimiter,
    ImageKey,
    ResumeOpt,
    Seed,
    Threads,
    list_arg,
    out,
    poison_record,
    seeds_arg,
    set_threads,
    templates_arg,
    trigger_arg,
)
from geomm.cli._cleanclip_train import finetune_command, pretrain_command
from geomm.errors import ContrastiveConfigError

__all__ = ["app"]

app = typer.Typer(
    name="cleanclip",
    help="CleanCLIP: backdoor attacks on image-text data, the defence, and its evaluation.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

PatchSize = Annotated[
    int | None, typer.Option("--patch-size", help="BadNet/checkerboard patch edge, px.")
]
Alpha = Annotated[float | None, typer.Option("--alpha", help="Blended noise weight.")]
TriggerSeed = Annotated[
    int | None, typer.Option("--trigger-seed", help="Fixed pattern (blended) / warp (wanet).")
]
LabelKey = Annotated[str, typer.Option("--label-key", help="Label column.")]


def _bundled_set_command(maker: str, doc: str) -> Callable[..., None]:
    """The ``make-...`` command that writes a bundled set with ``geomm.contrastive.<maker>``."""

    def command(
        out_dir: Annotated[Path, typer.Option("--out", "-o", help="Folder to write the set into.")],
        seed: Seed = 0,
        size: Annotated[int, typer.Option("--size", help="Image edge in pixels.")] = 32,
    ) -> None:
        import geomm.contrastive

        s = getattr(geomm.contrastive, maker)(out_dir, seed=seed, size=size)
        out.print(f"wrote {s.train}, {s.finetune}, {s.test}, {s.classes}, {s.templates}")

    command.__doc__ = doc
    command.__name__ = f"{maker}_command"
    return command


app.command("make-digits")(
    _bundled_set_command(
        "make_digits",
        "Render scikit-learn's digits as a captioned image set (train/finetune/test CSVs).",
    )
)
app.command("make-textures")(
    _bundled_set_command(
        "make_textures",
        "Draw ten procedural texture classes as a captioned set (1800/600/600 images).",
    )
)


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
    patch_size: PatchSize = None,
    alpha: Alpha = None,
    trigger_seed: TriggerSeed = None,
    label_key: LabelKey = "label",
    image_key: ImageKey = None,
    caption_key: CaptionKey = None,
    delimiter: Delimiter = None,
    allow_outside: AllowOutside = False,
) -> None:
    """Write a poisoned copy of a CSV (new images, is_backdoor column); the input is untouched."""
    from geomm.contrastive.backdoor import poison_csv

    if attack == "label-consistent":
        attack, label_consistent = "badnet", True
    columns = CsvColumns(image_key, caption_key, delimiter, allow_outside)
    result = poison_csv(
        csv,
        out_dir,
        target=target,
        trigger=trigger_arg(attack, patch_size, alpha, trigger_seed),
        count=_poison_count(csv, columns, count=count, fraction=fraction),
        seed=seed,
        templates=templates_arg(templates),
        classes=list_arg(classes, "--classes") if classes else None,
        label_key=label_key,
        label_consistent=label_consistent,
        image_key=image_key,
        caption_key=caption_key,
        delimiter=delimiter,
        allow_outside_root=allow_outside,
    )
    out.print(f"poisoned {len(result.rows)} of {result.total} pairs -> {result.csv_path}")


def _poison_count(
    csv: Path, columns: CsvColumns, *, count: int | None, fraction: float | None
) -> int:
    """``--count``, or ``--fraction`` of the CSV's rows (at least one)."""
    if (count is None) == (fraction is None):
        raise ContrastiveConfigError("give exactly one of --count and --fraction")
    if fraction is not None and not (math.isfinite(fraction) and 0 < fraction <= 1):
        raise ContrastiveConfigError(f"--fraction must be in (0, 1], got {fraction}")
    if count is not None:
        return count
    rows = len(columns.read(csv, check_images=False))
    return max(1, round(float(fraction or 0) * rows))


app.command("pretrain")(pretrain_command)
app.command("finetune")(finetune_command)


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
    alpha: Alpha = None,
    trigger_seed: TriggerSeed = None,
    seed: Seed = 0,
    label_key: LabelKey = "label",
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
    from geomm.contrastive import check_seed, evaluate, load_model

    set_threads(threads)
    check_seed("--seed", seed)
    trigger = None
    if poison_json is not None:
        recorded, trigger = poison_record(poison_json)
        target = target or recorded
    elif attack is not None:
        trigger = trigger_arg(attack, patch_size, alpha, trigger_seed)
    table = CsvColumns(image_key, caption_key, delimiter, allow_outside).read(test)
    result = evaluate(
        load_model(checkpoint),
        table,
        classes=list_arg(classes, "--classes"),
        templates=templates_arg(templates),
        target=target,
        trigger=trigger,
        label_key=label_key,
        seed=seed,
        out=out_path,
    )
    asr = "" if result.asr is None else f", ASR {100 * result.asr:.1f}% of {result.n_asr}"
    out.print(f"CA {100 * result.ca:.1f}% of {result.n_test}{asr}", highlight=False)


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
            "thread, and two threads slow down many times over when another job holds a core.",
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
    set_threads(threads)
    cfg = quick_study() if quick else StudyConfig()
    if seeds:
        cfg = replace(cfg, seeds=seeds_arg(seeds))
    if bf16:
        cfg = replace(cfg, bf16=True)
    result = run_study(
        out_dir,
        cfg,
        docs=docs,
        resume=resume,
        command=_command_line("reproduce"),
        progress=lambda line: out.print(line, highlight=False),
    )
    for item in result.checks["items"]:
        verdict = "holds" if item["holds"] else "does NOT hold"
        out.print(f"{item['check']}: {item['measured']}: {verdict}", highlight=False)
    out.print(f"{result.seconds / 60:.1f} min; wrote {result.markdown} and {result.plot}")


def _command_line(command: str) -> str:
    """``geomm cleanclip <command>`` with the arguments this process was given after it."""
    argv = [a for a in sys.argv[1:] if a]
    given = " " + shlex.join(argv[argv.index(command) + 1 :]) if command in argv else ""
    return f"geomm cleanclip {command}{given}".strip()

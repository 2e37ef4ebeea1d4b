"""Issue 13 case 9 (caption CSVs) and the contrastive inputs that were internal errors.

A caption CSV is a listing of files, like a local catalog: its image paths
must stay inside its folder (``..``, absolute paths and symlinks resolved)
unless the user trusts it (``--allow-outside-catalog``; library argument
``allow_outside_root=True``). Every referenced image must exist and be an
image. All of this is checked when the CSV is read, before any training.

Every bad value of every ``geomm cleanclip`` option gives exit 1 and one
plain line (or click's own usage error, exit 2): never "internal error"
(exit 70), never a traceback.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from geomm.cli import main

pytestmark = pytest.mark.filterwarnings("error::pandas.errors.ParserWarning")


def write_set(root: Path, n: int = 8, size: int = 16) -> Path:
    """A tiny caption set: ``n`` PNGs of two classes under ``root/imgs``, CSV in ``root``."""
    from PIL import Image

    (root / "imgs").mkdir(parents=True)
    rng = np.random.default_rng(0)
    lines = ["image,caption,label"]
    for i in range(n):
        name = ("zero", "one")[i % 2]
        arr = rng.integers(0, 255, (size, size, 3), np.uint8)
        Image.fromarray(arr).save(root / "imgs" / f"{i}.png")
        lines.append(f"imgs/{i}.png,a photo of {name},{name}")
    csv = root / "set.csv"
    csv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    (root / "classes.txt").write_text("zero\none\n", encoding="utf-8")
    return csv


def with_row(csv: Path, image: str, name: str = "bad.csv") -> Path:
    """A copy of ``csv`` (same folder) whose third row's image is ``image``."""
    lines = csv.read_text(encoding="utf-8").splitlines()
    lines[3] = f"{image},a photo of one,one"
    out = csv.with_name(name)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return write_set(tmp_path / "set")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real (one-epoch) run folder, to evaluate and finetune from."""
    root = tmp_path_factory.mktemp("ckpt")
    csv = write_set(root / "set")
    rc = main(["cleanclip", "pretrain", "--csv", str(csv), "--out", str(root / "run"),
               "--epochs", "1", "--batch-size", "4", "--threads", "1"])  # fmt: skip
    assert rc == 0
    return root / "run"


def one_line_error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    """Run ``geomm cleanclip ARGV`` in-process; assert exit 1 with one plain line; return it."""
    capsys.readouterr()
    rc = main(["cleanclip", *[str(a) for a in argv]])
    err = capsys.readouterr().err.strip()
    assert rc == 1, err
    assert "Traceback" not in err and "internal error" not in err, err
    assert len(err.splitlines()) == 1, err
    return err


TRAIN = ["--epochs", "1", "--batch-size", "4", "--threads", "1"]


# --- case 9: image paths stay inside the CSV's folder ------------------------------


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    """A file outside the dataset folder (the filer used /etc/passwd)."""
    p = tmp_path / "outside" / "secret.png"
    p.parent.mkdir()
    shutil.copy(tmp_path / "set" / "imgs" / "0.png", p)
    return p


def escapes(data: Path, secret: Path) -> dict[str, str]:
    link = data.parent / "imgs" / "link.png"
    link.symlink_to(secret)
    return {"dotdot": "../outside/secret.png", "absolute": str(secret), "symlink": "imgs/link.png"}


@pytest.mark.parametrize("how", ["dotdot", "absolute", "symlink"])
@pytest.mark.parametrize("command", ["poison", "pretrain", "finetune", "evaluate"])
def test_an_image_outside_the_csv_folder_is_refused_at_once(
    capsys, tmp_path: Path, data: Path, secret: Path, checkpoint: Path, how: str, command: str
) -> None:
    bad = with_row(data, escapes(data, secret)[how])
    argv = {
        "poison": ["--csv", bad, "--out", tmp_path / "p", "--target", "one", "--count", "2"],
        "pretrain": ["--csv", bad, "--out", tmp_path / "r", *TRAIN],
        "finetune": ["--csv", bad, "--out", tmp_path / "r", "--checkpoint", checkpoint, *TRAIN],
        "evaluate": ["--checkpoint", checkpoint, "--test", bad, "--classes", "zero,one"],
    }[command]
    err = one_line_error(capsys, [command, *argv])
    assert str(bad) in err and "row 3" in err and "--allow-outside-catalog" in err, err
    assert "allow_outside_root" not in err
    assert not (tmp_path / "r").exists() and not (tmp_path / "p").exists()


def test_the_etc_passwd_case(capsys, tmp_path: Path, data: Path) -> None:
    bad = with_row(data, "../../../../../../../../etc/passwd")
    err = one_line_error(capsys, ["poison", "--csv", bad, "--out", tmp_path / "p",
                                  "--target", "one", "--count", "2"])  # fmt: skip
    assert "/etc/passwd" in err and "outside" in err


def test_allow_outside_catalog_trusts_the_csv(capsys, tmp_path: Path, data: Path, secret) -> None:
    bad = with_row(data, "../outside/secret.png")
    rc = main(["cleanclip", "pretrain", "--csv", str(bad), "--out", str(tmp_path / "r"),
               "--allow-outside-catalog", *TRAIN])  # fmt: skip
    assert rc == 0, capsys.readouterr().err
    assert (tmp_path / "r" / "checkpoint.pt").is_file()


def test_library_names_the_argument(data: Path, secret: Path) -> None:
    from geomm.contrastive import CaptionCsvError, read_caption_csv

    bad = with_row(data, "../outside/secret.png")
    with pytest.raises(CaptionCsvError, match=r"row 3.*allow_outside_root=True"):
        read_caption_csv(bad)
    table = read_caption_csv(bad, allow_outside_root=True)
    assert table.image_paths[2].resolve() == secret.resolve()


def test_inside_paths_in_every_spelling_still_load(data: Path) -> None:
    """``./``, an absolute path inside the folder, and ``sub/../`` all stay inside."""
    from geomm.contrastive import read_caption_csv

    spellings = ["./imgs/2.png", str(data.parent / "imgs" / "2.png"), "imgs/../imgs/2.png"]
    for i, image in enumerate(spellings):
        table = read_caption_csv(with_row(data, image, f"ok{i}.csv"))
        assert table.image_paths[2].resolve() == (data.parent / "imgs" / "2.png").resolve()


def test_a_poisoned_set_made_by_geomm_loads_without_the_flag(capsys, tmp_path: Path, data) -> None:
    """poison links (or copies) the clean images into its own folder: self-contained."""
    from geomm.contrastive import read_caption_csv

    out = tmp_path / "poisoned"
    rc = main(["cleanclip", "poison", "--csv", str(data), "--out", str(out),
               "--target", "one", "--count", "2"])  # fmt: skip
    assert rc == 0, capsys.readouterr().err
    table = read_caption_csv(out / "poisoned.csv")  # no allow_outside_root
    clean = read_caption_csv(data)
    for src, got, poisoned in zip(
        clean.image_paths, table.image_paths, table.is_backdoor, strict=True
    ):
        assert got.resolve().is_relative_to(out.resolve())
        if not poisoned:
            assert got.read_bytes() == src.read_bytes()
    assert sum(table.is_backdoor) == 2
    moved = tmp_path / "moved"  # and it can be moved or shared as one folder
    shutil.move(out, moved)
    assert len(read_caption_csv(moved / "poisoned.csv")) == len(clean)
    rc = main(["cleanclip", "pretrain", "--csv", str(moved / "poisoned.csv"),
               "--out", str(tmp_path / "r"), *TRAIN])  # fmt: skip
    assert rc == 0, capsys.readouterr().err
    assert sorted(p.name for p in data.parent.iterdir()) == ["classes.txt", "imgs", "set.csv"]


# --- every referenced image exists and is an image ---------------------------------


def test_a_missing_image_names_its_row(capsys, tmp_path: Path, data: Path) -> None:
    bad = with_row(data, "imgs/nope.png")
    err = one_line_error(capsys, ["pretrain", "--csv", bad, "--out", tmp_path / "r", *TRAIN])
    assert "row 3" in err and "nope.png" in err
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("content", [b"", b"hello, not an image\n", os.urandom(300)])
def test_a_file_that_is_not_an_image_names_its_row(capsys, tmp_path, data, content) -> None:
    (data.parent / "imgs" / "fake.png").write_bytes(content)
    bad = with_row(data, "imgs/fake.png")
    err = one_line_error(capsys, ["pretrain", "--csv", bad, "--out", tmp_path / "r", *TRAIN])
    assert "row 3" in err and "fake.png" in err and "not an image" in err
    assert not (tmp_path / "r").exists()


def test_a_folder_as_image_names_its_row(capsys, tmp_path: Path, data: Path) -> None:
    bad = with_row(data, "imgs")
    err = one_line_error(capsys, ["pretrain", "--csv", bad, "--out", tmp_path / "r", *TRAIN])
    assert "row 3" in err


# --- the internal errors of the filer's list ----------------------------------------


def bad_files(root: Path) -> dict[str, Path]:
    root.mkdir(exist_ok=True)
    files = {
        "latin1": "image,caption\nimgs/0.png,caf\xe9\n".encode("latin-1"),
        "empty": b"",
        "random": os.urandom(400),
        "text": b"hello\n",
        "no-columns": b"a,b\n1,2\n",
        "header-only": b"image,caption\n",
        "json-corrupt": b"{not json",
        "json-list": b"[1, 2]",
        "json-no-trigger": b'{"target": "one"}',
        "json-bad-trigger": b'{"target": "one", "trigger": {"kind": "nope"}}',
        "json-trigger-list": b'{"target": "one", "trigger": [1]}',
        "lines-latin1": "zero\none\ntw\xe9\n".encode("latin-1"),
        "lines-empty": b"\n  \n",
    }
    out = {}
    for name, content in files.items():
        (root / name).write_bytes(content)
        out[name] = root / name
    (root / "folder").mkdir(exist_ok=True)
    out["folder"] = root / "folder"
    out["missing"] = root / "does-not-exist"
    return out


CSV_CASES = ["latin1", "empty", "random", "text", "no-columns", "header-only", "folder", "missing"]


@pytest.mark.parametrize("case", CSV_CASES)
def test_bad_caption_csv(capsys, tmp_path: Path, data, checkpoint, case: str) -> None:
    bad = bad_files(data.parent / "bad")[case]
    for argv in (
        ["pretrain", "--csv", bad, "--out", tmp_path / "r", *TRAIN],
        ["poison", "--csv", bad, "--out", tmp_path / "p", "--target", "one", "--fraction", "0.5"],
        ["evaluate", "--checkpoint", checkpoint, "--test", bad, "--classes", "zero,one"],
    ):
        err = one_line_error(capsys, argv)
        assert str(bad) in err or bad.name in err, err


def test_non_utf8_csv_says_so(capsys, tmp_path: Path, data: Path) -> None:
    bad = bad_files(data.parent / "bad")["latin1"]
    err = one_line_error(capsys, ["pretrain", "--csv", bad, "--out", tmp_path / "r", *TRAIN])
    assert "UTF-8" in err


@pytest.mark.parametrize("case", ["text", "empty", "random", "folder", "missing", "lines-latin1"])
def test_bad_checkpoint(capsys, tmp_path: Path, data: Path, checkpoint: Path, case: str) -> None:
    bad = bad_files(data.parent / "bad")[case]
    for argv in (
        ["finetune", "--csv", data, "--out", tmp_path / "r", "--checkpoint", bad, *TRAIN],
        ["evaluate", "--checkpoint", bad, "--test", data, "--classes", "zero,one"],
        ["pretrain", "--csv", data, "--out", tmp_path / "r", "--pretrained", bad, *TRAIN],
    ):
        err = one_line_error(capsys, argv)
        assert "checkpoint" in err, err
    assert not (tmp_path / "r").exists()


def test_checkpoint_without_spec_or_weights(capsys, tmp_path: Path, data, checkpoint) -> None:
    import torch

    from geomm.contrastive._models import CHECKPOINT_FORMAT

    for i, payload in enumerate(
        [
            {"format": CHECKPOINT_FORMAT},
            {"format": CHECKPOINT_FORMAT, "spec": {"kind": "small-clip"}},
            {"format": CHECKPOINT_FORMAT, "spec": {"kind": "small-clip", "config": [1]},
             "state_dict": {}},
            {"format": CHECKPOINT_FORMAT, "spec": {"kind": "small-clip", "config": {"x": 1}},
             "state_dict": {}},
            {"format": CHECKPOINT_FORMAT, "spec": "small-clip", "state_dict": {}},
            {"format": CHECKPOINT_FORMAT, "spec": {"kind": "small-clip"}, "state_dict": [1]},
        ]
    ):  # fmt: skip
        path = tmp_path / f"c{i}.pt"
        torch.save(payload, path)
        err = one_line_error(
            capsys, ["evaluate", "--checkpoint", path, "--test", data, "--classes", "zero,one"]
        )
        assert str(path) in err, err


@pytest.mark.parametrize("case", ["lines-latin1", "lines-empty", "empty", "random", "folder"])
@pytest.mark.parametrize("option", ["--classes", "--templates"])
def test_bad_classes_or_templates(capsys, tmp_path, data, checkpoint, case, option) -> None:
    bad = bad_files(data.parent / "bad")[case]
    argv = ["evaluate", "--checkpoint", checkpoint, "--test", data, "--classes", "zero,one"]
    if option == "--classes":
        argv[-1] = str(bad)
    else:
        argv += ["--templates", bad]
    err = one_line_error(capsys, argv)
    assert bad.name in err, err


@pytest.mark.parametrize(
    "case",
    ["json-corrupt", "json-list", "json-no-trigger", "json-bad-trigger", "json-trigger-list",
     "random", "empty", "folder", "missing"],
)  # fmt: skip
def test_bad_poison_json(capsys, data: Path, checkpoint: Path, case: str) -> None:
    bad = bad_files(data.parent / "bad")[case]
    err = one_line_error(capsys, ["evaluate", "--checkpoint", checkpoint, "--test", data,
                                  "--classes", "zero,one", "--poison-json", bad])  # fmt: skip
    assert bad.name in err, err


def test_a_poison_json_geomm_wrote_still_works(capsys, tmp_path, data, checkpoint) -> None:
    out = tmp_path / "p"
    assert main(["cleanclip", "poison", "--csv", str(data), "--out", str(out),
                 "--target", "one", "--count", "2"]) == 0  # fmt: skip
    json.loads((out / "poison.json").read_text())
    rc = main(["cleanclip", "evaluate", "--checkpoint", str(checkpoint), "--test", str(data),
               "--classes", "zero,one", "--poison-json", str(out / "poison.json")])  # fmt: skip
    assert rc == 0, capsys.readouterr().err


# --- numeric and other option values ------------------------------------------------


BAD_TRAIN = [
    ("--epochs", "0"), ("--epochs", "-1"), ("--batch-size", "0"), ("--batch-size", "-3"),
    ("--lr", "nan"), ("--lr", "-1"), ("--lr", "0"), ("--lr", "inf"),
    ("--weight-decay", "nan"), ("--weight-decay", "-1"), ("--weight-decay", "inf"),
    ("--warmup", "-5"), ("--image-size", "0"), ("--image-size", "-4"),
    ("--image-size", "1000000"), ("--seed", str(2**70)), ("--seed", "-1"),
    ("--threads", "0"), ("--threads", "-2"), ("--threads", "1000000"),
    ("--delimiter", ""), ("--delimiter", "abc"),
]  # fmt: skip


@pytest.mark.parametrize(("option", "value"), BAD_TRAIN)
def test_bad_training_options(capsys, tmp_path: Path, data: Path, option, value) -> None:
    argv = ["pretrain", "--csv", data, "--out", tmp_path / "r", "--epochs", "1",
            "--batch-size", "4", option, value]  # fmt: skip
    err = one_line_error(capsys, argv)
    assert option in err or option.lstrip("-").replace("-", "_") in err, err
    assert not (tmp_path / "r" / "checkpoint.pt").exists()


BAD_POISON = [
    ("--fraction", "nan"), ("--fraction", "-0.5"), ("--fraction", "0"), ("--fraction", "1.5"),
    ("--fraction", "1e308"), ("--fraction", "inf"), ("--count", "0"), ("--count", "-2"),
    ("--patch-size", "0"), ("--patch-size", "-1"), ("--patch-size", "100000"),
    ("--seed", str(2**70)), ("--seed", "-1"), ("--trigger-seed", str(2**70)),
]  # fmt: skip


@pytest.mark.parametrize(("option", "value"), BAD_POISON)
def test_bad_poison_options(capsys, tmp_path: Path, data: Path, option: str, value: str) -> None:
    argv = ["poison", "--csv", data, "--out", tmp_path / "p", "--target", "one", option, value]
    if option not in ("--fraction", "--count"):
        argv += ["--count", "2"]
    if option == "--trigger-seed":
        argv += ["--attack", "blended"]
    one_line_error(capsys, argv)
    assert not (tmp_path / "p" / "poisoned.csv").exists()


@pytest.mark.parametrize(
    "argv",
    [["--size", "0"], ["--size", "100000"], ["--seed", "-1"]],
)
def test_bad_make_digits_options(capsys, tmp_path: Path, argv: list[str]) -> None:
    err = one_line_error(capsys, ["make-digits", "--out", tmp_path / "d", *argv])
    assert argv[0].lstrip("-") in err, err


@pytest.mark.parametrize(
    "argv",
    [["--seeds", "a,b"], ["--seeds", "-1"], ["--seeds", ","], ["--threads", "0"]],
)
def test_bad_reproduce_options(capsys, tmp_path: Path, argv: list[str]) -> None:
    err = one_line_error(capsys, ["reproduce", "--quick", "--out", tmp_path / "s", *argv])
    assert argv[0] in err, err
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize("content", [b"{not json", b"[1]", b'{"runs": 5}'])
def test_corrupt_results_json_for_report_only(capsys, tmp_path: Path, content: bytes) -> None:
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "results.json").write_bytes(content)
    err = one_line_error(capsys, ["reproduce", "--out", tmp_path / "s", "--report-only",
                                  "--docs", tmp_path / "s" / "page.md"])  # fmt: skip
    assert "results.json" in err


def test_evaluate_threads_and_seed(capsys, data: Path, checkpoint: Path) -> None:
    base = ["evaluate", "--checkpoint", checkpoint, "--test", data, "--classes", "zero,one"]
    assert "--threads" in one_line_error(capsys, [*base, "--threads", "0"])
    assert "--seed" in one_line_error(capsys, [*base, "--seed", str(2**70)])

"""``geomm cleanclip``: every subcommand on the digits set, errors as one line (exit 1)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import typer
from typer.testing import CliRunner

from geomm.cli._cleanclip import app
from geomm.contrastive import CaptionCsvError, UnknownLabelError

from .conftest import tree_hashes

runner = CliRunner()


def _root() -> typer.Typer:
    """The group mounted as geomm.cli mounts it."""
    root = typer.Typer()
    root.add_typer(app, name="cleanclip")
    return root


def run(*args: str | Path):
    return runner.invoke(_root(), ["cleanclip", *map(str, args)])


def test_workflow_end_to_end(tmp_path):
    d = tmp_path / "digits"
    r = run("make-digits", "--out", d)
    assert r.exit_code == 0, r.output
    before = tree_hashes(d)
    p = tmp_path / "poisoned"
    r = run(
        "poison",
        "--csv",
        d / "train.csv",
        "--out",
        p,
        "--target",
        "zero",
        "--attack",
        "badnet",
        "--fraction",
        "0.05",
        "--patch-size",
        "6",
        "--templates",
        d / "templates.txt",
        "--classes",
        d / "classes.txt",
    )
    assert r.exit_code == 0, r.output
    assert "poisoned 45 of 898 pairs" in r.output
    assert pd.read_csv(p / "poisoned.csv").is_backdoor.sum() == 45
    r = run(
        "pretrain",
        "--csv",
        p / "poisoned.csv",
        "--out",
        tmp_path / "pre",
        "--epochs",
        "1",
        "--threads",
        "2",
    )
    assert r.exit_code == 0, r.output
    assert "epoch 1:" in r.output and (tmp_path / "pre" / "checkpoint.pt").is_file()
    r = run(
        "finetune",
        "--csv",
        d / "finetune.csv",
        "--checkpoint",
        tmp_path / "pre",
        "--out",
        tmp_path / "ft",
        "--recipe",
        "cleanclip",
        "--epochs",
        "1",
    )
    assert r.exit_code == 0, r.output
    assert "inmodal" in r.output
    r = run(
        "finetune",
        "--csv",
        d / "finetune.csv",
        "--checkpoint",
        tmp_path / "pre",
        "--out",
        tmp_path / "sup",
        "--recipe",
        "supervised",
        "--epochs",
        "1",
        "--classes",
        d / "classes.txt",
        "--templates",
        d / "templates.txt",
    )
    assert r.exit_code == 0, r.output
    ev = tmp_path / "ev.json"
    r = run(
        "evaluate",
        "--checkpoint",
        tmp_path / "ft",
        "--test",
        d / "test.csv",
        "--classes",
        d / "classes.txt",
        "--templates",
        d / "templates.txt",
        "--poison-json",
        p / "poison.json",
        "--out",
        ev,
    )
    assert r.exit_code == 0, r.output
    res = json.loads(ev.read_text())
    assert res["n_test"] == 449 and res["target"] == "zero" and 0 <= res["asr"] <= 1
    assert res["n_asr"] == 449 - 45  # the 45 test "zero"s are not counted
    assert "CA " in r.output and "ASR " in r.output
    r = run(
        "evaluate",
        "--checkpoint",
        tmp_path / "ft",
        "--test",
        d / "test.csv",
        "--classes",
        ",".join(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]),
        "--templates",
        d / "templates.txt",
        "--target",
        "zero",
        "--attack",
        "blended",
        "--alpha",
        "0.2",
    )
    assert r.exit_code == 0, r.output
    assert tree_hashes(d) == before  # no command modified its inputs


def test_resume_flag(tmp_path, digits):
    args = ("pretrain", "--csv", digits.finetune, "--out", tmp_path / "r", "--epochs", "1")
    assert run(*args).exit_code == 0
    again = run(*args)
    # the library's words; geomm.cli.main() shows them as --resume
    assert again.exit_code == 1 and "resume=True" in str(again.exception)
    resumed = run(*args, "--resume")
    assert resumed.exit_code == 0, resumed.output


def test_bad_inputs_are_geomm_errors(tmp_path, digits):
    r = run(
        "poison",
        "--csv",
        digits.train,
        "--out",
        tmp_path / "x",
        "--target",
        "banana",
        "--count",
        "5",
    )
    assert isinstance(r.exception, UnknownLabelError) and "'banana'" in str(r.exception)
    nolabel = tmp_path / "nolabel.csv"
    df = pd.read_csv(digits.test).drop(columns=["label"])
    df["image"] = [str(Path(digits.test).parent / x) for x in df.image]
    df.to_csv(nolabel, index=False)
    from geomm.contrastive import SmallCLIP, save_checkpoint

    ckpt = save_checkpoint(tmp_path / "untrained.pt", SmallCLIP())
    r = run("evaluate", "--checkpoint", ckpt, "--test", nolabel, "--classes", "a,b",
            "--allow-outside-catalog")  # fmt: skip
    assert isinstance(r.exception, CaptionCsvError) and "no 'label' column" in str(r.exception)
    r = run("evaluate", "--checkpoint", ckpt, "--test", digits.test, "--classes", "a,b")
    assert isinstance(r.exception, UnknownLabelError)
    assert "test label(s) 'eight', 'five'" in str(r.exception)
    r = run(
        "evaluate", "--checkpoint", tmp_path / "none", "--test", digits.test, "--classes", "a,b"
    )
    assert r.exit_code == 1 and "no checkpoint at" in str(r.exception)
    r = run("finetune", "--csv", digits.finetune, "--out", tmp_path / "y", "--recipe", "magic")
    assert r.exit_code == 1 and "--recipe must be" in str(r.exception)


def test_geomm_main_prints_one_line(tmp_path, digits, capsys):
    """Through geomm's own entry point: GeommError -> one line on stderr, exit 1."""
    import geomm.cli as gcli

    assert any(g.name == "cleanclip" for g in gcli.app.registered_groups)
    broken = tmp_path / "broken.csv"
    broken.write_text("img,text\nx.png,hello\n")
    code = gcli.main(["cleanclip", "pretrain", "--csv", str(broken), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == gcli.EXIT_USER_ERROR
    assert "error:" in err and "lacks column(s) ['image', 'caption']" in err
    assert "Traceback" not in err
    assert isinstance(CaptionCsvError("x"), ValueError)


def test_quick_reproduce_end_to_end(tmp_path):
    docs = tmp_path / "docs" / "cleanclip.md"
    r = run("reproduce", "--out", tmp_path / "study", "--docs", docs, "--quick")
    assert r.exit_code == 0, r.output
    rows = json.loads((tmp_path / "study" / "results.json").read_text())["rows"]
    stages = [(x["stage"], x["lr"]) for x in rows]
    assert stages == [
        ("no-poison", None),
        ("poisoned", None),
        ("mmcl", 5e-4),
        ("cleanclip", 5e-4),
        ("inmodal", 5e-4),
        ("supervised", 5e-4),
    ]
    assert all(0 <= x["ca"] <= 1 and 0 <= x["asr"] <= 1 for x in rows)
    page = docs.read_text()
    assert "| badnet | poisoned pretraining |" in page and "cleanclip-ca-asr.png" in page
    assert (docs.parent / "cleanclip-ca-asr.png").stat().st_size > 10_000
    summary = json.loads((tmp_path / "study" / "summary.json").read_text())
    checks = summary["checks"]
    assert checks["attack"] == "badnet" and len(checks["items"]) == 3
    assert all(isinstance(c["holds"], bool) for c in checks["items"])
    # the page can be rewritten from results.json alone
    docs.unlink()
    r = run("reproduce", "--out", tmp_path / "study", "--docs", docs, "--report-only")
    assert r.exit_code == 0, r.output
    assert "| badnet | poisoned pretraining |" in docs.read_text()
    # resuming reuses every finished model
    again = run("reproduce", "--out", tmp_path / "study", "--docs", docs, "--quick", "--resume")
    assert again.exit_code == 0, again.output
    rows2 = json.loads((tmp_path / "study" / "results.json").read_text())["rows"]
    assert [(x["ca"], x["asr"]) for x in rows2] == [(x["ca"], x["asr"]) for x in rows]

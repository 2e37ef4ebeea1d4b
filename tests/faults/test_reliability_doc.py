"""docs/reliability.md stays true: every test it names exists, its totals add up."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "reliability.md"


def _fault_rows() -> list[list[str]]:
    text = DOC.read_text(encoding="utf-8")
    table = text.split("## The fault suite", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in table.splitlines():
        if line.startswith("| ") and not line.startswith(("| #", "|---")):
            rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


def _test_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}


def test_every_named_test_exists():
    rows = _fault_rows()
    assert len(rows) > 40
    for number, _fault, _now, test, _before in rows:
        assert number in {str(i) for i in range(1, 13)} | {"H"}, number
        file, _, name = test.strip("`").partition("::")
        path = ROOT / file if file.startswith("tests/") else ROOT / "tests" / "faults" / file
        assert path.is_file(), f"{test}: no such file"
        assert name in _test_names(path), f"{test}: no such test"


def test_the_totals_count_the_rows():
    rows = _fault_rows()
    text = DOC.read_text(encoding="utf-8")
    totals = re.search(r"cases (\d+), survived (\d+), data lost (\d+), internal errors", text)
    assert totals, "no totals line"
    assert [int(g) for g in totals.groups()] == [len(rows), len(rows), 0]
    before = [row[-1] for row in rows]
    counts = re.search(r"At 5622520: (\d+) failed, (\d+) passed, (\d+) could not run", text)
    assert counts, "no line with the results at 5622520"
    assert [int(g) for g in counts.groups()] == [
        sum(b.startswith("failed") for b in before),
        sum(b.startswith("passed") for b in before),
        sum(b.startswith("not run") for b in before),
    ]
    # every numbered case of the issue has a test that failed before its fix
    numbered = {row[0] for row in rows if row[0] != "H" and row[-1].startswith("failed")}
    assert numbered == {str(i) for i in range(1, 13)}

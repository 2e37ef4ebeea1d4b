"""Every notebook in notebooks/ runs top to bottom (offline, in a temporary folder).

The kernel runs with ``allow_errors=True`` so that this test, not nbclient,
decides what failed: an exception in a cell, and text on stderr that a user
would read as trouble (a traceback, a warning, an error line), which nbclient
never raises for. ``test_the_check_sees_what_a_user_would_see`` runs the same
check on a small notebook built to fail, so the check itself can fail.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))

# stderr text that means something went wrong (progress bars and plain logs do not match)
TROUBLE = re.compile(r"Traceback|Warning:|Error:|^error:", re.MULTILINE)


def _execute(nb, folder: Path) -> None:
    from nbclient import NotebookClient

    # the kernel inherits this process's environment: private cache, GEOMM_OFFLINE=1
    NotebookClient(
        nb,
        timeout=600,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(folder)}},
    ).execute()


def problems(nb) -> list[str]:
    """One line per code cell output a user would read as a failure."""
    found = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                found.append(f"cell {index}: {out.get('ename')}: {out.get('evalue')}")
            elif out.get("output_type") == "stream" and out.get("name") == "stderr":
                text = out.get("text", "")
                if TROUBLE.search(text):
                    line = next(ln for ln in text.splitlines() if TROUBLE.search(ln))
                    found.append(f"cell {index}: stderr: {line.strip()}")
    return found


@pytest.mark.timeout(600)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path: Path, tmp_path: Path) -> None:
    import nbformat

    nb = nbformat.read(path, as_version=4)
    shutil.copy(path, tmp_path / path.name)
    _execute(nb, tmp_path)
    assert problems(nb) == []
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert any("image/png" in o.get("data", {}) for o in outputs)  # the quicklook and the map


def test_the_check_sees_what_a_user_would_see(tmp_path: Path) -> None:
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    nb = new_notebook(
        cells=[
            new_code_cell("x = 1"),
            new_code_cell("import warnings; warnings.warn('stale grid')"),
            new_code_cell("1 / 0"),
            new_code_cell("print('after the error, still run')"),
        ]
    )
    nbformat.validate(nb)
    _execute(nb, tmp_path)
    found = problems(nb)
    assert len(found) == 2, found
    assert found[0].startswith("cell 1: stderr: ") and "UserWarning: stale grid" in found[0]
    assert found[1] == "cell 2: ZeroDivisionError: division by zero"
    assert nb.cells[3].outputs[0]["text"] == "after the error, still run\n"

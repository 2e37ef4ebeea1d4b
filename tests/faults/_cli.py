"""Helpers shared by the fault tests (plain functions, imported where used)."""

from __future__ import annotations

from pathlib import Path

from geomm.cli import EXIT_USER_ERROR, main

SAMPLE_AOI = Path(__file__).parents[2] / "catalogs" / "sample" / "aoi.geojson"
DATES = ["--start", "2024-06-01", "--end", "2024-07-31"]


def one_line_error(capsys, args: list[str]) -> str:
    """Run the CLI in this process; assert exit 1 and exactly one plain error line."""
    code = main(args)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == EXIT_USER_ERROR, err
    assert len(lines) == 1, err
    assert lines[0].startswith("error: "), err
    assert "Traceback" not in err and "internal error" not in err
    return lines[0]

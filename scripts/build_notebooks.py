"""Write the notebooks in notebooks/ from the cells below (run after editing them).

Kept as code so notebook diffs stay reviewable; the .ipynb files are
committed without outputs and executed by tests/test_notebooks.py.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"

EMBED_A_CUBE = [
    new_markdown_cell(
        "# From an AOI to chip embeddings, in a notebook\n\n"
        "The same functions as `geomm cube` and `geomm embed`, on the bundled sample "
        "catalog (offline). Set `MODEL`/`WEIGHTS` to `croma-base` and `None` to use "
        "the published CROMA-base weights (downloaded once into the torch hub cache)."
    ),
    new_code_cell(
        "from pathlib import Path\n\n"
        "import geomm\n"
        "from geomm.aoi import read_aoi\n"
        "from geomm.cube import make_cube\n"
        "from geomm.sample import sample_aoi_path, sample_catalog\n\n"
        'MODEL, WEIGHTS = "croma-tiny", "random"  # fast and offline; see above\n'
        'work = Path("notebook-out")\n'
        "aoi = read_aoi(sample_aoi_path())"
    ),
    new_markdown_cell("## A cube: S1 paired with S2 on one grid"),
    new_code_cell(
        'run = make_cube(str(sample_catalog()), aoi=aoi, start="2024-06-01", '
        'end="2024-07-31",\n'
        '               out=work / "cube.zarr", overwrite=True)\n'
        'ds = geomm.open_cube(work / "cube.zarr")  # lazy, with .rio.crs and ds.geomm\n'
        "ds"
    ),
    new_code_cell("ds.geomm.quicklook();"),
    new_markdown_cell("## The chip grid and the embeddings"),
    new_code_cell(
        "chips = ds.geomm.chips(aoi)\n"
        'print(len(chips), "chips, e.g.", chips.chip_id.iloc[0])\n'
        "chips.head()"
    ),
    new_code_cell(
        "table = ds.geomm.embed(model=MODEL, weights=WEIGHTS, aoi=aoi,\n"
        '                       embeddings=["joint", "sar", "optical"])\n'
        'print(table.attrs["geomm"]["model"], table.attrs["geomm"]["weights_id"])\n'
        'table[["chip_id", "time", "clear_fraction", "s1_coverage"]].head()'
    ),
    new_markdown_cell(
        "## A first look: the leading principal component of the joint embedding, "
        "per chip (mean over dates)"
    ),
    new_code_cell(
        "import numpy as np\n\n"
        "x = np.stack(table.embedding.to_numpy())\n"
        "x = x - x.mean(axis=0)\n"
        "pc1 = x @ np.linalg.svd(x, full_matrices=False)[2][0]\n"
        'per_chip = table.assign(pc1=pc1).dissolve(by="chip_id", aggfunc={"pc1": "mean"})\n'
        'per_chip.plot(column="pc1", legend=True, figsize=(6, 4));'
    ),
]


def main() -> None:
    nb = new_notebook(cells=EMBED_A_CUBE)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    NOTEBOOKS.mkdir(exist_ok=True)
    nbformat.write(nb, NOTEBOOKS / "embed-a-cube.ipynb")


if __name__ == "__main__":
    main()

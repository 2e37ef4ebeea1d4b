"""Build the committed BigEarthNet sample catalog from the bigearthnet-common wheel.

Usage::

    python scripts/build_bigearthnet_sample.py [--out catalogs/sample/bigearthnet]

Needs ``pip install bigearthnet-common==2.8.0`` (no network at run time). The
output is rebuilt from scratch in a temporary directory and swapped into place;
rerunning with the same GDAL gives byte-identical files. The converter is the
``bigearthnet`` package next to this script (build tooling, not part of geomm).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from bigearthnet import write_sample_catalog

from geomm.errors import GeommError

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "catalogs" / "sample" / "bigearthnet"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"output directory (default {DEFAULT_OUT})"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log every item")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(message)s"
    )
    try:
        root = write_sample_catalog(args.out)
    except GeommError as e:
        logging.getLogger("build_bigearthnet_sample").error("%s", e)
        return 1
    print(root)
    return 0


if __name__ == "__main__":
    sys.exit(main())

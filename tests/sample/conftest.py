"""Make the build tooling in ``scripts/`` importable (``import bigearthnet``).

The BigEarthNet converter is not part of the geomm package; its tests import
it from the repository's ``scripts`` folder, as the build script does.
"""

from __future__ import annotations

import sys
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"

if str(SCRIPTS) not in sys.path:
    sys.path.insert(0, str(SCRIPTS))

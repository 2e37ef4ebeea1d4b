"""A third-party model plugin, registered the way any package would register one.

The folder holding this module and its ``.dist-info`` is put on
``PYTHONPATH`` (or ``sys.path``), so ``importlib.metadata`` finds the entry
point ``counting-tiny`` in group ``geomm.models`` exactly as for an
installed distribution. The model is croma-tiny, plus three test hooks read
from the environment of the process that embeds:

* ``GEOMM_TEST_COUNT_FILE``: append ``<pid> <chips>`` after each batch
  (counts chips embedded, across processes and runs);
* ``GEOMM_TEST_CRASH_AFTER=N``: SIGKILL this process when batch N+1 starts
  (a deterministic crash mid-run, between two saved batches);
* ``GEOMM_TEST_DELAY``: sleep this many seconds per batch.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import time

from geomm.models import model_info

__all__ = ["COUNTING_TINY"]


class _CountingModel:
    def __init__(self, inner, info) -> None:  # noqa: ANN001
        self._inner = inner
        self.info = info
        self.calls = 0

    def __getattr__(self, name: str):  # noqa: ANN204 - everything else is croma-tiny's
        return getattr(self._inner, name)

    def embed(self, s1, s2, **kwargs):  # noqa: ANN001, ANN003, ANN201
        crash_after = os.environ.get("GEOMM_TEST_CRASH_AFTER")
        if crash_after is not None and self.calls >= int(crash_after):
            os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(float(os.environ.get("GEOMM_TEST_DELAY", "0")))
        out = self._inner.embed(s1, s2, **kwargs)
        self.calls += 1
        if path := os.environ.get("GEOMM_TEST_COUNT_FILE"):
            n = len(s1) if s1 is not None else len(s2)
            with open(path, "a") as f:
                f.write(f"{os.getpid()} {n}\n")
        return out


class _CountingPlugin:
    @property
    def info(self):  # noqa: ANN201
        tiny = model_info("croma-tiny")
        return dataclasses.replace(tiny, name="counting-tiny", description="croma-tiny, counted")

    def load(self, weights, **kwargs):  # noqa: ANN001, ANN003, ANN201
        from geomm.models import load_model

        return _CountingModel(load_model("croma-tiny", weights, **kwargs), self.info)


COUNTING_TINY = _CountingPlugin()

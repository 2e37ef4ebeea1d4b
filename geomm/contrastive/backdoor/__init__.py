"""Backdoor attacks on image-caption data, as in CleanCLIP's reference code.

Triggers (:class:`BadNet`, :class:`Blended`, :class:`WaNet`, :class:`SIG`,
and a structured ``checkerboard`` BadNet) act on float images with an
explicit ``torch.Generator``; :func:`poison_csv` writes a poisoned copy of a
CSV (``is_backdoor`` column, triggered images) and never touches its inputs;
label-consistent poisoning is its ``label_consistent=True`` mode.

::

    from geomm.contrastive.backdoor import make_trigger, poison_csv

    trigger = make_trigger("badnet", size=6)          # noise patch, random position
    poison_csv("digits/train.csv", "poisoned/", target="zero", trigger=trigger,
               count=45, seed=0)

The names load on first use (PEP 562): importing the package costs no torch
import until a trigger is built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from geomm._lazy import lazy_names

if TYPE_CHECKING:
    from geomm.contrastive.backdoor._poison import PoisonResult, poison_csv
    from geomm.contrastive.backdoor._triggers import (
        SIG,
        BadNet,
        Blended,
        Trigger,
        WaNet,
        apply_trigger,
        make_trigger,
        trigger_from_record,
        trigger_names,
    )

_EXPORTS = {
    "PoisonResult": "geomm.contrastive.backdoor._poison",
    "poison_csv": "geomm.contrastive.backdoor._poison",
    "SIG": "geomm.contrastive.backdoor._triggers",
    "BadNet": "geomm.contrastive.backdoor._triggers",
    "Blended": "geomm.contrastive.backdoor._triggers",
    "Trigger": "geomm.contrastive.backdoor._triggers",
    "WaNet": "geomm.contrastive.backdoor._triggers",
    "apply_trigger": "geomm.contrastive.backdoor._triggers",
    "make_trigger": "geomm.contrastive.backdoor._triggers",
    "trigger_from_record": "geomm.contrastive.backdoor._triggers",
    "trigger_names": "geomm.contrastive.backdoor._triggers",
}
"""Public name -> the private module that defines it."""

__all__ = [
    "SIG",
    "BadNet",
    "Blended",
    "PoisonResult",
    "Trigger",
    "WaNet",
    "apply_trigger",
    "make_trigger",
    "poison_csv",
    "trigger_from_record",
    "trigger_names",
]


__getattr__, __dir__ = lazy_names(__name__, _EXPORTS, __all__)

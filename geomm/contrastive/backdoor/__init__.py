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
"""

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

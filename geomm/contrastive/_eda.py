"""EDA text augmentation (Wei & Zou 2019), as CleanCLIP applies it to captions.

One augmented caption per input: EDA makes one candidate with each of its
four operations (synonym replacement, random insertion, random swap, random
deletion; alpha 0.1 each), shuffles them and keeps the first, so each caption
gets one randomly chosen operation. As in EDA, the text is first lower-cased
and reduced to letters and spaces (so numerals disappear: captions that name
classes by digits lose them).

Differences from the EDA code, on purpose: the random source is an explicit
``random.Random`` (EDA uses the global one and iterates over sets, so its
output changes with ``PYTHONHASHSEED``); synonyms come from a pluggable
:class:`~geomm.contrastive._synonyms.SynonymSource` instead of NLTK's
downloaded WordNet; random insertion draws a random synonym rather than the
first of an unordered set; an empty caption is returned unchanged.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass

from geomm.contrastive._synonyms import SynonymSource, bundled_synonyms

__all__ = ["STOP_WORDS", "EdaConfig", "clean_text", "eda", "eda_many"]

STOP_WORDS = frozenset(
    """i me my myself we our ours ourselves you your yours yourself yourselves he him his
    himself she her hers herself it its itself they them their theirs themselves what which
    who whom this that these those am is are was were be been being have has had having do
    does did doing a an the and but if or because as until while of at by for with about
    against between into through during before after above below to from up down in out on
    off over under again further then once here there when where why how all any both each
    few more most other some such no nor not only own same so than too very s t can will
    just don should now""".split()
)
"""EDA's stop words: never replaced by synonyms."""

_SPACES = re.compile(" +")
_KEEP = set("qwertyuiopasdfghjklzxcvbnm ")


def clean_text(line: str) -> str:
    """EDA's ``get_only_chars``: lower-case letters and single spaces only."""
    line = line.replace("\u2019", "").replace("'", "").replace("-", " ")
    line = line.replace("\t", " ").replace("\n", " ").lower()
    line = "".join(c if c in _KEEP else " " for c in line)
    return _SPACES.sub(" ", line).strip()


@dataclass(frozen=True)
class EdaConfig:
    """Strengths of EDA's four operations (CleanCLIP: 0.1 each, one augmentation)."""

    alpha_sr: float = 0.1
    """Fraction of words replaced by a synonym (at least one)."""
    alpha_ri: float = 0.1
    """Fraction of words inserted as synonyms of other words (at least one)."""
    alpha_rs: float = 0.1
    """Fraction of word pairs swapped (at least one)."""
    p_rd: float = 0.1
    """Probability of deleting each word."""


def _synonym_replacement(
    words: list[str], n: int, rng: random.Random, source: SynonymSource
) -> list[str]:
    new_words = list(words)
    candidates = sorted({w for w in words if w not in STOP_WORDS})
    rng.shuffle(candidates)
    replaced = 0
    for word in candidates:
        synonyms = source.synonyms(word)
        if synonyms:
            choice = rng.choice(list(synonyms))
            new_words = [choice if w == word else w for w in new_words]
            replaced += 1
        if replaced >= n:
            break
    return " ".join(new_words).split(" ")


def _random_insertion(
    words: list[str], n: int, rng: random.Random, source: SynonymSource
) -> list[str]:
    new_words = list(words)
    for _ in range(n):
        for _attempt in range(10):
            synonyms = source.synonyms(new_words[rng.randint(0, len(new_words) - 1)])
            if synonyms:
                new_words.insert(rng.randint(0, len(new_words) - 1), rng.choice(list(synonyms)))
                break
    return new_words


def _random_swap(words: list[str], n: int, rng: random.Random) -> list[str]:
    new_words = list(words)
    for _ in range(n):
        i = rng.randint(0, len(new_words) - 1)
        j = i
        for _attempt in range(4):
            j = rng.randint(0, len(new_words) - 1)
            if j != i:
                break
        if j != i:
            new_words[i], new_words[j] = new_words[j], new_words[i]
    return new_words


def _random_deletion(words: list[str], p: float, rng: random.Random) -> list[str]:
    if len(words) == 1:
        return list(words)
    kept = [w for w in words if rng.uniform(0, 1) > p]
    return kept or [words[rng.randint(0, len(words) - 1)]]


def eda(
    caption: str,
    *,
    rng: random.Random,
    synonyms: SynonymSource | None = None,
    config: EdaConfig | None = None,
) -> str:
    """One EDA augmentation of a caption (a random one of the four operations).

    Args:
        caption: the caption.
        rng: the random source (seed it for reproducible runs).
        synonyms: where synonyms come from; default :func:`bundled_synonyms`.
        config: operation strengths; default CleanCLIP's (0.1 each).
    """
    cfg = config or EdaConfig()
    source = synonyms if synonyms is not None else bundled_synonyms()
    sentence = clean_text(caption)
    words = [w for w in sentence.split(" ") if w]
    if not words:
        return sentence
    num = len(words)
    candidates: list[list[str]] = []
    if cfg.alpha_sr > 0:
        candidates.append(_synonym_replacement(words, max(1, int(cfg.alpha_sr * num)), rng, source))
    if cfg.alpha_ri > 0:
        candidates.append(_random_insertion(words, max(1, int(cfg.alpha_ri * num)), rng, source))
    if cfg.alpha_rs > 0:
        candidates.append(_random_swap(words, max(1, int(cfg.alpha_rs * num)), rng))
    if cfg.p_rd > 0:
        candidates.append(_random_deletion(words, cfg.p_rd, rng))
    if not candidates:
        return sentence
    sentences = [clean_text(" ".join(c)) for c in candidates]
    rng.shuffle(sentences)
    return sentences[0]


def eda_many(
    captions: Sequence[str], *, seed: int, synonyms: SynonymSource | None = None
) -> list[str]:
    """One EDA augmentation per caption, reproducible from ``seed``."""
    rng = random.Random(seed)
    return [eda(c, rng=rng, synonyms=synonyms) for c in captions]

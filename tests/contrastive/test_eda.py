"""EDA and the offline synonym sources."""

from __future__ import annotations

import random

import pytest

from geomm.contrastive import (
    DIGIT_CLASSES,
    DIGIT_TEMPLATES,
    TableSynonyms,
    WordNetSynonyms,
    bundled_synonyms,
    clean_text,
    eda,
    eda_many,
)
from geomm.contrastive._eda import STOP_WORDS


def test_clean_text_keeps_letters_only():
    assert clean_text("A photo of the digit 7 -- it's\tnice!") == "a photo of the digit its nice"


def test_eda_is_seeded_and_changes_captions():
    caps = [t.format(c) for t in DIGIT_TEMPLATES for c in DIGIT_CLASSES]
    a = eda_many(caps, seed=3)
    assert a == eda_many(caps, seed=3)
    assert a != eda_many(caps, seed=4)
    changed = sum(x != clean_text(c) for x, c in zip(a, caps, strict=True))
    assert changed > len(caps) // 2


def test_eda_operations_with_a_table():
    source = TableSynonyms({"photo": ["picture"], "digit": ["figure"]})
    outs = {eda("a photo of the digit", rng=random.Random(s), synonyms=source) for s in range(60)}
    words = {"a", "photo", "of", "the", "digit"}
    assert "a picture of the digit" in outs or "a photo of the figure" in outs  # replacement
    assert any(len(o.split()) == 6 for o in outs)  # insertion
    assert any(len(o.split()) < 5 for o in outs)  # deletion
    assert any(set(o.split()) == words and o != "a photo of the digit" for o in outs)  # swap
    assert eda("", rng=random.Random(0)) == ""
    assert eda("42", rng=random.Random(0)) == ""


def test_bundled_table_covers_the_digits_vocabulary():
    table = bundled_synonyms()
    for word in ("seven", "zero", "photo", "picture", "blurry", "number", "drawing"):
        assert table.synonyms(word), word
    assert "heptad" in table.synonyms("seven")
    assert set(table.synonyms("zero")) >= {"nought", "nil", "cipher"}
    assert not set(table.table) & {w for w in STOP_WORDS if not table.synonyms(w)}
    assert len(table.table) > 2000


def _wndb(folder):
    """A two-synset WordNet database in the WNDB layout (LF line endings)."""
    folder.mkdir()
    data = "  1 header line\n"
    off1 = len(data.encode())
    line1 = f"{off1:08d} 06 n 02 photograph 0 photo 0 000 | a picture\n"
    data += line1
    off2 = len(data.encode())
    data += f"{off2:08d} 06 n 02 exposure 0 photo 0 000 | film\n"
    (folder / "data.noun").write_text(data)
    (folder / "index.noun").write_text(
        f"  1 header\nphoto n 2 0 2 0 {off1:08d} {off2:08d}\n"
        f"photograph n 1 0 1 0 {off1:08d}\nexposure n 1 0 1 0 {off2:08d}\n"
    )
    (folder / "noun.exc").write_text("photoes photo\n")
    for pos in ("verb", "adj", "adv"):
        (folder / f"data.{pos}").write_text("  1 header\n")
        (folder / f"index.{pos}").write_text("  1 header\n")


def test_wordnet_reader_and_morphy(tmp_path):
    _wndb(tmp_path / "wn")
    wn = WordNetSynonyms(tmp_path / "wn")
    try:
        assert wn.synonyms("photo") == ["exposure", "photograph"]
        # morphy finds the lemma; as in EDA only the word itself is dropped
        assert wn.synonyms("photos") == ["exposure", "photo", "photograph"]
        assert wn.synonyms("photoes") == ["exposure", "photo", "photograph"]  # exception list
        assert wn.synonyms("cat") == []
    finally:
        wn.close()
    from geomm.contrastive import ContrastiveConfigError

    with pytest.raises(ContrastiveConfigError, match="not a WordNet database"):
        WordNetSynonyms(tmp_path)

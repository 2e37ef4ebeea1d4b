"""CA and ASR on constructed predictions."""

from __future__ import annotations

import pytest

from geomm.contrastive import ContrastiveConfigError, attack_success_rate, clean_accuracy


def test_asr_ignores_target_class_images():
    target = 0
    labels = [0, 0, 0, 1, 2, 3, 1]
    # every target-class image "succeeds" trivially; of the 4 others, 1 is sent to the target
    preds = [0, 0, 0, 0, 2, 3, 1]
    asr, n = attack_success_rate(preds, labels, target)
    assert n == 4
    assert asr == pytest.approx(1 / 4)
    # changing predictions on target-class images changes nothing
    assert attack_success_rate([5, 5, 5, 0, 2, 3, 1], labels, target) == (asr, n)
    # the reference's bug (comparing with the true labels) would give 3/7 here
    assert asr != pytest.approx(3 / 7)


def test_asr_all_and_none():
    assert attack_success_rate([2, 2, 2], [0, 1, 2], 2) == (1.0, 2)
    assert attack_success_rate([0, 1, 2], [0, 1, 2], 2) == (0.0, 2)
    with pytest.raises(ContrastiveConfigError, match="outside the target"):
        attack_success_rate([1, 1], [1, 1], 1)


def test_clean_accuracy():
    assert clean_accuracy([1, 2, 3, 4], [1, 2, 0, 4]) == pytest.approx(0.75)
    with pytest.raises(ContrastiveConfigError):
        clean_accuracy([1], [1, 2])

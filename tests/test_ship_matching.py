"""Object matching rules of `edgeinfer eval ship` (edgeinfer.eval.matching), hand-computed."""

from __future__ import annotations

import numpy as np
import pytest

from edgeinfer.eval.matching import MatchResult, instances_from_binary, match_boxes


def scene(*objects: tuple[int, int, int, int]) -> np.ndarray:
    """Instance image 100 x 100 with rectangles (col0, row0, col1, row1) as ids 1, 2, ..."""
    out = np.zeros((100, 100), np.int32)
    for k, (c0, r0, c1, r1) in enumerate(objects, start=1):
        out[r0:r1, c0:c1] = k
    return out


def test_box_overlapping_the_mask_matches() -> None:
    truth = scene((10, 10, 20, 14))
    result = match_boxes([(18, 12, 40, 40)], truth)  # shares pixels (18..19, 12..13)
    assert (result.tp, result.n_pred, result.n_true) == (1, 1, 1)
    assert result.pairs == ((0, 1),)


def test_centres_within_10_px_match_without_overlap() -> None:
    truth = scene((50, 50, 52, 52))  # centre (51, 51)
    near = match_boxes([(58, 56, 60, 58)], truth)  # centre (59, 57): 10.0 px away
    far = match_boxes([(59, 56, 61, 58)], truth)  # centre (60, 57): 10.8 px away
    assert near.tp == 1
    assert far.tp == 0 and far.unmatched_boxes == (0,)


def test_matching_is_one_to_one() -> None:
    truth = scene((10, 10, 30, 14))
    two_boxes = match_boxes([(10, 10, 20, 14), (20, 10, 30, 14)], truth)  # a split ship
    assert (two_boxes.tp, two_boxes.unmatched) == (1, 1)
    assert two_boxes.precision == 0.5 and two_boxes.recall == 1.0
    pair = scene((10, 10, 20, 14), (10, 16, 20, 20))
    one_box = match_boxes([(5, 5, 25, 25)], pair)  # one box over two ships
    assert one_box.tp == 1 and one_box.recall == 0.5


def test_the_largest_one_to_one_matching_is_found() -> None:
    # box 0 could take object 1 or 2; box 1 only object 1: greedy by box order would give
    # box 0 -> 1 and leave box 1 unmatched, the maximum matching pairs both.
    truth = scene((10, 10, 14, 14), (30, 10, 34, 14))
    boxes = [(10, 10, 34, 14), (9, 9, 15, 15)]
    result = match_boxes(boxes, truth)
    assert result.tp == 2
    assert dict(result.pairs) == {0: 2, 1: 1}


def test_ties_prefer_the_larger_overlap() -> None:
    truth = scene((10, 10, 20, 20), (22, 10, 32, 20))
    result = match_boxes([(12, 10, 24, 20)], truth)  # 80 px of object 1, 20 px of object 2
    assert result.pairs == ((0, 1),)


def test_empty_cases_and_scores() -> None:
    truth = scene((10, 10, 12, 12))
    assert match_boxes([], truth) == MatchResult(1, 0, 0)
    none = match_boxes([(50, 50, 60, 60)], np.zeros((100, 100), np.int32))
    assert (none.n_true, none.n_pred, none.tp, none.precision, none.recall) == (0, 1, 0, 0.0, 0.0)
    total = MatchResult(4, 5, 3) + MatchResult(6, 5, 5)
    assert (total.n_true, total.n_pred, total.tp) == (10, 10, 8)
    assert total.f1 == pytest.approx(0.8)


def test_summary_reports_undefined_scores_as_none() -> None:
    # precision needs a detection, recall a true object; F1 = 2 tp / (n_true + n_pred) needs one
    assert MatchResult(0, 0, 0).summary() == {
        "precision": None,
        "recall": None,
        "f1": None,
        "n_true": 0,
        "n_pred": 0,
        "tp": 0,
    }
    missed = MatchResult(1, 0, 0).summary()
    assert (missed["precision"], missed["recall"], missed["f1"]) == (None, 0.0, 0.0)
    alarm = MatchResult(0, 2, 0).summary()
    assert (alarm["precision"], alarm["recall"], alarm["f1"]) == (0.0, None, 0.0)
    both = MatchResult(4, 5, 3).summary()
    assert (both["precision"], both["recall"], both["f1"]) == (0.6, 0.75, 0.6667)


def test_binary_masks_become_8_connected_objects() -> None:
    mask = np.zeros((10, 10), bool)
    mask[1:3, 1:3] = True
    mask[3, 3] = True  # touches diagonally: same object
    mask[7:9, 7:9] = True
    instances = instances_from_binary(mask)
    assert instances.max() == 2
    assert instances[3, 3] == instances[1, 1] != instances[8, 8]

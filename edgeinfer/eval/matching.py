"""Object matching between predicted boxes and labelled ship masks.

Rule (edgeinfer issue 3, "eval ship"): a predicted box matches a true object when the box
overlaps the object's mask (at least one mask pixel inside the box) or when their centres
are within ``centre_tol_px`` (10 px). Matching is one-to-one: among all admissible pairs the
largest set in which no box and no object is used twice (a maximum bipartite matching, by
``scipy.optimize.linear_sum_assignment``), ties broken towards more overlap, then closer
centres. Precision = matched boxes / boxes, recall = matched objects / objects.
Precision is undefined without a box, recall without an object, F1 (= 2 matches / (boxes +
objects)) without either: :meth:`MatchResult.summary` reports them as None, never as 0.

Boxes are ``(col_min, row_min, col_max, row_max)`` in pixels, max exclusive (the alerts'
``bbox_px``). A box's centre is the middle of its extent; an object's centre is the mean
of its pixel centres (``col + 0.5``, ``row + 0.5``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from scipy import ndimage
from scipy.optimize import linear_sum_assignment

CENTRE_TOL_PX = 10.0
Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class MatchResult:
    """Counts of one matching (or a sum of several: ``+``). ``pairs`` are (box index, object
    id) of the matches; ``unmatched_boxes`` the indices of boxes that matched nothing.

    The ``precision``, ``recall`` and ``f1`` properties are 0.0 where undefined (for sums and
    bar tests); :meth:`summary`, which results report, gives None there instead."""

    n_true: int
    n_pred: int
    tp: int
    pairs: tuple[tuple[int, int], ...] = field(default=(), compare=False)
    unmatched_boxes: tuple[int, ...] = field(default=(), compare=False)

    @property
    def precision(self) -> float:
        return self.tp / self.n_pred if self.n_pred else 0.0

    @property
    def recall(self) -> float:
        return self.tp / self.n_true if self.n_true else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r > 0 else 0.0

    @property
    def unmatched(self) -> int:
        return self.n_pred - self.tp

    def __add__(self, other: MatchResult) -> MatchResult:
        return MatchResult(
            self.n_true + other.n_true, self.n_pred + other.n_pred, self.tp + other.tp
        )

    def summary(self) -> dict[str, float | int | None]:
        """Scores rounded to 4 decimals and counts; None for a score that is undefined
        (precision with no box, recall with no object, F1 with neither)."""
        return {
            "precision": round(self.precision, 4) if self.n_pred else None,
            "recall": round(self.recall, 4) if self.n_true else None,
            "f1": round(self.f1, 4) if self.n_pred or self.n_true else None,
            "n_true": self.n_true,
            "n_pred": self.n_pred,
            "tp": self.tp,
        }


def instances_from_binary(mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.int32]:
    """Instance ids of a binary ship mask: its 8-connected components (ships that touch in
    the mask become one object)."""
    labels, _ = ndimage.label(mask, structure=np.ones((3, 3), dtype=bool))
    return np.asarray(labels, dtype=np.int32)


def match_boxes(
    boxes: Sequence[Box],
    instances: npt.NDArray[np.integer],
    centre_tol_px: float = CENTRE_TOL_PX,
) -> MatchResult:
    """Match predicted ``boxes`` to the objects of an instance-id image (0 = background)."""
    ids = np.unique(instances)
    ids = ids[ids > 0]
    n_pred, n_true = len(boxes), len(ids)
    if n_pred == 0 or n_true == 0:
        return MatchResult(n_true, n_pred, 0, (), tuple(range(n_pred)))
    rows, cols = np.nonzero(instances > 0)
    owner = instances[rows, cols]
    order = np.searchsorted(ids, owner)
    counts = np.bincount(order, minlength=n_true).astype(np.float64)
    cy = np.bincount(order, weights=rows + 0.5, minlength=n_true) / counts
    cx = np.bincount(order, weights=cols + 0.5, minlength=n_true) / counts

    overlap = np.zeros((n_pred, n_true))
    for i, (c0, r0, c1, r1) in enumerate(boxes):
        inside = (cols >= c0) & (cols < c1) & (rows >= r0) & (rows < r1)
        if inside.any():
            overlap[i] = np.bincount(order[inside], minlength=n_true)
    bx = np.array([(b[0] + b[2]) / 2.0 for b in boxes])
    by = np.array([(b[1] + b[3]) / 2.0 for b in boxes])
    dist = np.hypot(bx[:, None] - cx[None, :], by[:, None] - cy[None, :])
    admissible = (overlap > 0) | (dist <= centre_tol_px)

    # Each admissible pair is worth 1 plus a tie-break < 1 / (number of possible matches),
    # so no tie-break can outweigh one extra match.
    frac = overlap / counts[None, :]
    closeness = 1.0 / (1.0 + dist)
    tie = (0.5 * frac + 0.5 * closeness) / (min(n_pred, n_true) + 1)
    score = np.where(admissible, 1.0 + tie, 0.0)
    r_idx, c_idx = linear_sum_assignment(score, maximize=True)
    pairs = [(int(i), int(ids[j])) for i, j in zip(r_idx, c_idx, strict=True) if admissible[i, j]]
    matched = {i for i, _ in pairs}
    unmatched = tuple(i for i in range(n_pred) if i not in matched)
    return MatchResult(n_true, n_pred, len(pairs), tuple(sorted(pairs)), unmatched)

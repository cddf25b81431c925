"""Scenes with truth for fault campaigns, and how detections are scored against the truth.

A :class:`CampaignScene` holds a scene's tiles in memory (read once; every simulated capture
reuses them), its true objects by detector (``bbox_px`` boxes from a
``*.truth.geojson`` written by sample_data/generate.py) and, when there is one, its true
cloud mask. Scoring:

- objects (fire, ship): an alert matches a true object when their boxes overlap or their
  centres are within 10 px, one to one (the rule of issue 3's ship evaluation, shared with
  :mod:`edgeinfer.eval.matching`); precision, recall and F1 from the matched counts;
- clouds: pixel F1 of the cloud model's class > 0 against the true mask, over the valid
  pixels of the tile cores the cloud model ran on.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
from scipy.optimize import linear_sum_assignment

from edgeinfer.detect.alerts import Alert
from edgeinfer.detect.runtime import DetectorOutput
from edgeinfer.errors import SceneError
from edgeinfer.eval.matching import CENTRE_TOL_PX, MatchResult
from edgeinfer.scene.tiling import core_slices
from edgeinfer.scene.types import Tile

logger = logging.getLogger(__name__)

Box = tuple[int, int, int, int]
SAMPLE_SCENES: tuple[str, ...] = ("s2_coast", "sar_sea")


@dataclass
class CampaignScene:
    """One scene held in memory for a campaign."""

    name: str
    product: str
    band_names: tuple[str, ...]
    width: int
    height: int
    tiles: list[Tile]
    truth: dict[str, list[Box]] = field(default_factory=dict)
    cloud_truth: npt.NDArray[np.bool_] | None = None

    @property
    def bits(self) -> int:
        """Bits of tile memory (every tile's float32 data)."""
        return sum(t.data.nbytes * 8 for t in self.tiles)


def read_truth(path: Path) -> dict[str, list[Box]]:
    """True boxes by kind (``fire``, ``ship``, ``cloud``) from a ``*.truth.geojson``."""
    try:
        features = json.loads(path.read_text())["features"]
        out: dict[str, list[Box]] = {}
        for feature in features:
            props = feature["properties"]
            c0, r0, c1, r1 = (int(v) for v in props["bbox_px"])
            out.setdefault(str(props["kind"]), []).append((c0, r0, c1, r1))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SceneError(
            f"truth file {path} is unreadable ({exc}); regenerate it with "
            "`python sample_data/generate.py --force`"
        ) from exc
    return out


def load_scene(
    path: Path,
    truth_path: Path | None = None,
    cloudmask_path: Path | None = None,
    tile_size: int = 512,
    overlap: int = 64,
) -> CampaignScene:
    """Open ``path``, read all its tiles, and attach its truth and cloud mask if given."""
    import rasterio

    from edgeinfer.scene import iter_tiles, open_scene

    with open_scene(str(path)) as scene:
        tiles = list(iter_tiles(scene, tile_size, overlap))
        product, bands = scene.product, scene.band_names
        width, height = scene.width, scene.height
    truth = read_truth(truth_path) if truth_path is not None else {}
    mask = None
    if cloudmask_path is not None:
        with rasterio.open(cloudmask_path) as src:
            mask = src.read(1) > 0
    name = path.name.split(".")[0]
    return CampaignScene(name, product, bands, width, height, tiles, truth, mask)


def sample_scenes(
    folder: Path, names: Sequence[str] = SAMPLE_SCENES, tile_size: int = 512, overlap: int = 64
) -> list[CampaignScene]:
    """The generated sample scenes (``NAME.tif`` with ``NAME.truth.geojson`` and, where
    present, ``NAME.cloudmask.tif``) in ``folder``."""
    scenes = []
    for name in names:
        tif = folder / f"{name}.tif"
        if not tif.is_file():
            raise SceneError(
                f"sample scene {tif} is missing; write the sample scenes there with "
                f"`python sample_data/generate.py --out {folder}`, or leave out --scenes "
                "to use sample_data/generated (`make sample`)"
            )
        mask = folder / f"{name}.cloudmask.tif"
        scenes.append(
            load_scene(
                tif,
                folder / f"{name}.truth.geojson",
                mask if mask.is_file() else None,
                tile_size,
                overlap,
            )
        )
    return scenes


def match_alerts(
    boxes: Sequence[Box], truth: Sequence[Box], centre_tol_px: float = CENTRE_TOL_PX
) -> MatchResult:
    """One-to-one matching of predicted to true boxes (overlap, or centres within
    ``centre_tol_px``), maximising the number of matches (scipy's assignment solver)."""
    n_pred, n_true = len(boxes), len(truth)
    if n_pred == 0 or n_true == 0:
        return MatchResult(n_true, n_pred, 0)
    p = np.asarray(boxes, dtype=np.float64)
    t = np.asarray(truth, dtype=np.float64)
    overlap = (
        (p[:, None, 0] < t[None, :, 2])
        & (t[None, :, 0] < p[:, None, 2])
        & (p[:, None, 1] < t[None, :, 3])
        & (t[None, :, 1] < p[:, None, 3])
    )
    pc = np.stack([(p[:, 0] + p[:, 2]) / 2, (p[:, 1] + p[:, 3]) / 2], axis=1)
    tc = np.stack([(t[:, 0] + t[:, 2]) / 2, (t[:, 1] + t[:, 3]) / 2], axis=1)
    dist = np.hypot(pc[:, None, 0] - tc[None, :, 0], pc[:, None, 1] - tc[None, :, 1])
    admissible = overlap | (dist <= centre_tol_px)
    rows, cols = linear_sum_assignment(np.where(admissible, 1.0, 0.0), maximize=True)
    tp = int(admissible[rows, cols].sum())
    return MatchResult(n_true, n_pred, tp)


@dataclass
class PixelScore:
    """Pixel counts of a binary prediction against a truth mask."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, other: PixelScore) -> None:
        self.tp, self.fp, self.fn = self.tp + other.tp, self.fp + other.fp, self.fn + other.fn

    @property
    def f1(self) -> float:
        return 2 * self.tp / (2 * self.tp + self.fp + self.fn) if self.tp else 0.0


def cloud_pixels(
    tiles: Sequence[Tile], outputs: Sequence[DetectorOutput], truth: npt.NDArray[np.bool_]
) -> PixelScore:
    """Cloud pixel counts over the valid core pixels of ``tiles``."""
    score = PixelScore()
    for tile, out in zip(tiles, outputs, strict=True):
        rows, cols = core_slices(tile)
        r0, c0 = int(tile.core.row_off), int(tile.core.col_off)
        h, w = int(tile.core.height), int(tile.core.width)
        valid = tile.valid[rows, cols]
        pred = (out.cls[rows, cols] > 0) & valid
        true = truth[r0 : r0 + h, c0 : c0 + w] & valid
        score.add(
            PixelScore(
                int(np.count_nonzero(pred & true)),
                int(np.count_nonzero(pred & ~true)),
                int(np.count_nonzero(~pred & true)),
            )
        )
    return score


def alert_boxes(alerts: Sequence[Alert], detector: str) -> list[Box]:
    """The ``bbox_px`` of the alerts of one detector."""
    return [a.bbox_px for a in alerts if a.detector == detector]

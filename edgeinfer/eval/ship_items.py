"""The labelled items of an ``edgeinfer eval ship`` folder: image/mask pairs, the images that
have no mask, and the items that cannot be scored (one bad item is data, not a crash).

``images/<stem>.*`` pairs with ``masks/<stem>.*`` or ``masks/<stem>_mask.*``. An image with no
mask is reported (a warning and ``images_without_mask`` in the results); an item whose image or
mask cannot be read, or whose mask is not the size of its image, is reported as a
:class:`SkippedItem` (a warning and ``skipped_items``) and the rest are scored.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from edgeinfer.errors import SceneError
from edgeinfer.eval.matching import instances_from_binary
from edgeinfer.eval.scenes import read_full
from edgeinfer.scene import open_scene

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Item:
    """One labelled image: its stem, image path and mask path."""

    stem: str
    image: Path
    mask: Path


@dataclass(frozen=True)
class ItemScan:
    """What a folder holds: the labelled items (sorted) and the images without a mask."""

    items: list[Item]
    without_mask: list[str]

    def summary(self) -> dict[str, object]:
        """``images_without_mask`` for the results JSON."""
        return {"count": len(self.without_mask), "names": list(self.without_mask)}


@dataclass(frozen=True)
class SkippedItem:
    """An item left out of the scores: which file is at fault and why."""

    item: str
    file: str
    reason: str

    def summary(self) -> dict[str, str]:
        return {"item": self.item, "file": self.file, "reason": self.reason}


class ItemError(SceneError):
    """One item cannot be scored; :meth:`skipped` is what the results record."""

    def __init__(self, item: Item, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.skipped = SkippedItem(item.stem, str(path), reason)


def scan_items(data_dir: Path) -> ItemScan:
    """Pairs ``images/<stem>.*`` + ``masks/<stem>[_mask].*`` under ``data_dir``; images with
    no mask are logged (one WARNING naming them) and listed in :attr:`ItemScan.without_mask`."""
    images, masks = data_dir / "images", data_dir / "masks"
    if not images.is_dir() or not masks.is_dir():
        raise SceneError(
            f"{data_dir} has no images/ and masks/ folders; `edgeinfer eval ship --data DIR` "
            "needs DIR/images/<stem>.* with DIR/masks/<stem>.* or DIR/masks/<stem>_mask.*"
        )
    by_stem: dict[str, Path] = {}
    for path in sorted(masks.iterdir()):
        if path.is_file() and not path.name.startswith("."):
            by_stem.setdefault(path.stem.removesuffix("_mask"), path)
    files = [p for p in sorted(images.iterdir()) if p.is_file() and not p.name.startswith(".")]
    items = [Item(p.stem, p, by_stem[p.stem]) for p in files if p.stem in by_stem]
    without = [p.name for p in files if p.stem not in by_stem]
    if not items:
        raise SceneError(f"no image in {images} has a mask of the same stem in {masks}")
    if without:
        logger.warning(
            "%d image(s) in %s have no mask in %s and are not scored: %s; add "
            "masks/<stem>.* or masks/<stem>_mask.* to score them",
            len(without),
            images,
            masks,
            ", ".join(without),
        )
    return ItemScan(items, without)


def find_items(data_dir: Path) -> list[Item]:
    """The labelled items of :func:`scan_items`, sorted."""
    return scan_items(data_dir).items


def read_instances(path: Path) -> tuple[npt.NDArray[np.int32], str]:
    """Instance ids of a mask file and its layout: ``binary`` (RGB with ships in green > 127,
    or a single band of 0 and one other value; objects = 8-connected components) or
    ``instance`` (a single band of ids)."""
    scene = open_scene(path, product="geotiff")
    full = read_full(scene, scene.band_names)
    scene.close()
    data = full.data
    if data.shape[0] >= 3:
        return instances_from_binary(data[1] > 127), "binary"
    band = np.rint(data[0]).astype(np.int64)
    values = np.unique(band)
    if values.size <= 2:
        return instances_from_binary(band > 0), "binary"
    return band.astype(np.int32), "instance"


def read_item_instances(item: Item) -> tuple[npt.NDArray[np.int32], str]:
    """:func:`read_instances` of the item's mask, or :class:`ItemError` if it is unreadable."""
    try:
        return read_instances(item.mask)
    except (OSError, ValueError) as exc:  # SceneError and rasterio's errors are OSError
        raise ItemError(item, item.mask, f"unreadable mask ({exc})") from exc


def check_mask_shape(item: Item, instances: npt.NDArray[np.int32], width: int, height: int) -> None:
    """:class:`ItemError` unless the mask is ``width`` x ``height`` px, the size of its image
    (a mask of another size would be scored against the wrong pixels)."""
    mask_h, mask_w = instances.shape[-2:]
    if (mask_w, mask_h) != (width, height):
        raise ItemError(
            item,
            item.mask,
            f"mask is {mask_w}x{mask_h} px but its image {item.image.name} is {width}x{height} px;"
            " re-export the mask on the image's grid",
        )

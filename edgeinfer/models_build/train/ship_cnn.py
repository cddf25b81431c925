"""Train a small U-Net ship segmenter (CPU torch) on a labelled ship dataset's development
images: SAR (HRSID chips, one band) or optical (sen2ships windows, Sentinel-2 B02, B03, B04,
B08, B11).

    python -m edgeinfer.models_build.train.ship_cnn --kind sar \
        --data ../shared/data/ships_sar_hrsid_minitest
    python -m edgeinfer.models_build.train.ship_cnn --kind optical \
        --data ../shared/data/ships_optical_sentinel2_sen2ships

Split (our own hold-out inside the development data, mirroring the datasets' rule): items
sorted by stem, every third (index % 3 == 2) is held out and never seen in training; the
model's ``edgeinfer.training`` metadata lists both parts, and ``edgeinfer eval ship`` leaves
the training items out when it scores the model. Seed 0, deterministic torch algorithms.

Input normalisation (inside the network, so the ONNX graph does it too), per band: ``z =
(ln x - mean) / sd`` over the tile's valid pixels, with ``x`` floored at 1e-3 of its valid
mean. A gain and a power (amplitude vs intensity) change only the mean and sd of ``ln x``,
so ``z`` and the output are the same for sigma0, amplitude, DN or chip-max-scaled data, and
for any reflectance quantification.
Architecture (:func:`unet`, any depth): two 3x3 convolutions + ReLU per level, here three
levels (``WIDTHS`` channels), 2x2 max pooling with ceil mode, nearest upsampling to the skip's size,
a 1x1 head; the ONNX builder (:mod:`edgeinfer.models_build.ship_cnn`) mirrors it layer by
layer. Loss: binary cross-entropy (positive weight 10) + soft Dice, on valid pixels.
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

logger = logging.getLogger(__name__)

WIDTHS = (8, 16, 32)
SEED = 0
CROP = 128
KINDS: dict[str, tuple[str, ...]] = {
    "sar": ("SAR",),
    "optical": ("B02", "B03", "B04", "B08", "B11"),
}


def weights_path(kind: str) -> Path:
    """Where the weights of the ``kind`` model live (committed beside this file)."""
    return Path(__file__).with_name(f"ship_{kind}_cnn.npz")


def split(stems: list[str]) -> tuple[list[str], list[str]]:
    """(train, held-out): sorted stems, every third (index % 3 == 2) held out."""
    ordered = sorted(stems)
    held = [s for i, s in enumerate(ordered) if i % 3 == 2]
    return [s for s in ordered if s not in held], held


Chip = tuple[npt.NDArray[np.float32], npt.NDArray[np.bool_], npt.NDArray[np.bool_]]


def load_items(data_dir: Path, kind: str) -> dict[str, Chip]:
    """stem -> (bands (C, h, w), valid (h, w), ship mask (h, w)), read through edgeinfer's
    scene readers as ``edgeinfer eval ship`` reads them."""
    from edgeinfer.eval.scenes import read_full
    from edgeinfer.eval.ship import find_items, optical_scene, read_instances
    from edgeinfer.scene import open_scene

    out = {}
    for item in find_items(data_dir):
        with open_scene(item.image) as scene:
            if kind == "sar":
                full = read_full(scene, scene.band_names[:1])
                data, valid = full.data, full.valid
            else:
                opt = optical_scene(scene)
                data, valid = opt.data, opt.valid
        instances, _ = read_instances(item.mask)
        out[item.stem] = (data.astype(np.float32), valid, instances > 0)
    return out


def _net(channels: int) -> Any:
    """The SAR U-Net: ``unet`` over the tile's log-standardised bands."""
    return unet(channels, WIDTHS, tile_log_standardise)


def tile_log_standardise(x: Any, valid: Any) -> Any:
    """Per tile and band: ``(ln x - mean) / sd`` over the valid pixels (gain, calibration and
    amplitude-vs-intensity drop out), 0 on invalid pixels."""
    import torch

    n = valid.sum(dim=(2, 3), keepdim=True).clamp(min=1.0)
    mean_x = (x * valid).sum(dim=(2, 3), keepdim=True) / n
    lx = torch.log(torch.maximum(x, mean_x * 1e-3 + 1e-30))
    mu = (lx * valid).sum(dim=(2, 3), keepdim=True) / n
    var = (((lx - mu) ** 2) * valid).sum(dim=(2, 3), keepdim=True) / n
    return (lx - mu) / torch.sqrt(var).clamp(min=1e-6) * valid


def unet(channels: int, widths: tuple[int, ...], normalise: Callable[[Any, Any], Any]) -> Any:
    """A U-Net of ``len(widths)`` (>= 2) levels, ``forward(x, valid)`` -> logits
    ``[N, 1, H, W]``, whose input is ``normalise(x, valid)``. Layers, in creation order:
    ``enc1`` .. ``enc{n-1}`` (widths[0] .. widths[n-2]), ``mid`` (widths[-1]), ``dec{n-1}`` ..
    ``dec1``, ``head``: the names ``edgeinfer.models_build.ship_cnn`` rebuilds as ONNX, for the
    SAR and the optical model alike (3 levels: enc1, enc2, mid, dec2, dec1, head)."""
    import torch
    from torch import nn

    if len(widths) < 2:
        raise ValueError(f"U-Net widths {widths}: give at least two levels, e.g. (16, 32, 64)")
    levels = len(widths)

    def block(cin: int, cout: int) -> nn.Sequential:
        return nn.Sequential(
            nn.Conv2d(cin, cout, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(cout, cout, 3, padding=1),
            nn.ReLU(),
        )

    class ShipUNet(nn.Module):  # type: ignore[misc]  # nn.Module is Any where torch is absent (CI)
        def __init__(self) -> None:
            super().__init__()
            cin = channels
            for i in range(1, levels):
                self.add_module(f"enc{i}", block(cin, widths[i - 1]))
                cin = widths[i - 1]
            self.mid = block(widths[-2], widths[-1])
            for i in range(levels - 1, 0, -1):  # dec{i} joins level i+1 (upsampled) and enc{i}
                self.add_module(f"dec{i}", block(widths[i] + widths[i - 1], widths[i - 1]))
            self.head = nn.Conv2d(widths[0], 1, 1)
            self.pool = nn.MaxPool2d(2, ceil_mode=True)

        def forward(self, x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
            t = normalise(x, valid)
            skips = []
            for i in range(1, levels):
                t = getattr(self, f"enc{i}")(t if i == 1 else self.pool(t))
                skips.append(t)
            t = self.mid(self.pool(t))
            for i in range(levels - 1, 0, -1):
                skip = skips[i - 1]
                up = nn.functional.interpolate(t, size=skip.shape[-2:], mode="nearest")
                t = getattr(self, f"dec{i}")(torch.cat([up, skip], dim=1))
            out: torch.Tensor = self.head(t)
            return out

    return ShipUNet()


def rotate_flip(
    xc: npt.NDArray[np.float32],
    yc: npt.NDArray[np.float32],
    vc: npt.NDArray[np.float32],
    rng: np.random.Generator,
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """The same random 90-degree rotation and left-right flip of a crop's bands ``[C, H, W]``,
    target and valid mask ``[H, W]`` (ships and scenes have no preferred orientation)."""
    k = int(rng.integers(4))
    xc, yc, vc = np.rot90(xc, k, axes=(1, 2)), np.rot90(yc, k), np.rot90(vc, k)
    if rng.random() < 0.5:
        xc, yc, vc = xc[:, :, ::-1], yc[:, ::-1], vc[:, ::-1]
    return xc, yc, vc


Batch = tuple[npt.NDArray[np.float32], npt.NDArray[np.float32], npt.NDArray[np.float32]]


class CropBatch:
    """Training crops collected into a batch: each rotated and flipped (:func:`rotate_flip`)
    and zeroed outside its valid mask; :meth:`stack` gives the ``(x, valid, target)`` arrays
    ``[N, C, H, W]``, ``[N, 1, H, W]``, ``[N, 1, H, W]``."""

    def __init__(self) -> None:
        self.xs: list[npt.NDArray[np.float32]] = []
        self.vs: list[npt.NDArray[np.float32]] = []
        self.ys: list[npt.NDArray[np.float32]] = []

    def add(
        self,
        xc: npt.NDArray[np.float32],
        yc: npt.NDArray[np.float32],
        vc: npt.NDArray[np.float32],
        rng: np.random.Generator,
    ) -> None:
        xc, yc, vc = rotate_flip(xc, yc, vc, rng)
        self.xs.append(xc * vc)
        self.vs.append(vc[None])
        self.ys.append((yc * vc)[None])

    def stack(self) -> Batch:
        out = [
            np.ascontiguousarray(np.stack(a), dtype=np.float32) for a in (self.xs, self.vs, self.ys)
        ]
        return out[0], out[1], out[2]


def bce_dice_loss(logits: Any, y: Any, v: Any, pos_weight: Any) -> Any:
    """Binary cross-entropy (positives weighted by ``pos_weight``: ships are rare pixels)
    plus soft Dice (Milletari et al. 2016, V-Net), both over the valid pixels ``v`` only."""
    import torch

    bce = torch.nn.functional.binary_cross_entropy_with_logits(
        logits, y, pos_weight=pos_weight, reduction="none"
    )
    bce = (bce * v).sum() / v.sum().clamp(min=1.0)
    p = torch.sigmoid(logits) * v
    dice = 1 - (2 * (p * y).sum() + 1) / (p.sum() + y.sum() + 1)
    return bce + dice


def _crops(chips: list[Chip], rng: np.random.Generator, batch: int, power: bool) -> Batch:
    out = CropBatch()
    for _ in range(batch):
        x, valid, y = chips[int(rng.integers(len(chips)))]
        h, w = y.shape
        ships = np.argwhere(y)
        if len(ships) and rng.random() < 0.6:
            cy, cx = ships[int(rng.integers(len(ships)))] + rng.integers(-48, 49, 2)
        else:
            cy, cx = rng.integers(0, h), rng.integers(0, w)
        r0 = int(np.clip(cy - CROP // 2, 0, h - CROP))
        c0 = int(np.clip(cx - CROP // 2, 0, w - CROP))
        gain = 10 ** rng.uniform(-2, 2, (x.shape[0], 1, 1))
        xc = x[:, r0 : r0 + CROP, c0 : c0 + CROP] * gain.astype(np.float32)
        if power:  # amplitude / intensity
            xc = xc ** np.float32(rng.choice([0.5, 1.0, 2.0]))
        yc = y[r0 : r0 + CROP, c0 : c0 + CROP].astype(np.float32)
        vc = valid[r0 : r0 + CROP, c0 : c0 + CROP].astype(np.float32)
        if rng.random() < 0.3:  # padding past a scene edge
            cut = int(rng.integers(8, CROP // 2))
            vc[:, CROP - cut :] = 0.0
        out.add(xc, yc, vc, rng)
    return out.stack()


def train(
    data_dir: Path, kind: str = "sar", out: Path | None = None, steps: int = 1500, batch: int = 8
) -> dict[str, Any]:
    """Train on the training part of the split, save weights + provenance to ``out``."""
    import torch

    torch.manual_seed(SEED)
    torch.use_deterministic_algorithms(True)
    rng = np.random.default_rng(SEED)
    chips = load_items(data_dir, kind)
    train_items, held_items = split(list(chips))
    net = _net(len(KINDS[kind]))
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    pos_weight = torch.tensor(10.0)
    data = [chips[s] for s in train_items]
    for step in range(steps):
        x, v, y = (torch.from_numpy(a) for a in _crops(data, rng, batch, kind == "sar"))
        loss = bce_dice_loss(net(x, v), y, v, pos_weight)
        opt.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        opt.step()
        if step % 100 == 0:
            logger.info("step %d loss %.4f", step, float(loss.detach()))
    weights = {k: t.detach().numpy().astype(np.float32) for k, t in net.state_dict().items()}
    provenance = {
        "script": "edgeinfer/models_build/train/ship_cnn.py",
        "data": f"{data_dir.name} (development items)",
        "kind": kind,
        "bands": list(KINDS[kind]),
        "seed": SEED,
        "steps": steps,
        "batch": batch,
        "crop_px": CROP,
        "widths": list(WIDTHS),
        "split": "stems sorted, index % 3 == 2 held out",
        "train_items": train_items,
        "held_out_items": held_items,
        "torch": torch.__version__,
    }
    target = out or weights_path(kind)
    np.savez(target, provenance=np.array(json.dumps(provenance, sort_keys=True)), **weights)
    return provenance


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--kind", choices=sorted(KINDS), default="sar")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--steps", type=int, default=1500)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    provenance = train(args.data, args.kind, args.out, args.steps)
    logger.info("trained %s (held out: %s)", args.kind, ", ".join(provenance["held_out_items"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

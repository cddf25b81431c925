"""`edgeinfer eval ship` and `eval ship-chips` on small subsets of the real datasets; counts
checked against the datasets' own label files (independent of the evaluation code)."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from conftest import shared_path

from edgeinfer.cli.main import main
from edgeinfer.eval.ship import readme_pixel_size_m


def subset(src: Path, dst: Path, stems: list[str]) -> Path:
    """images/ + masks/ of ``stems`` (symlinks) and the README, in ``dst``."""
    for sub in ("images", "masks"):
        (dst / sub).mkdir(parents=True)
        for path in sorted((src / sub).iterdir()):
            if path.stem.removesuffix("_mask") in stems:
                (dst / sub / path.name).symlink_to(path)
    shutil.copy(src / "README.md", dst / "README.md")
    return dst


def csv_subset(src: Path, dst: Path, keep: list[dict[str, str]]) -> Path:
    dst.mkdir(parents=True)
    with (src / "labels.csv").open(newline="") as fh:
        columns = next(csv.reader(fh))
    with (dst / "labels.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, columns)
        writer.writeheader()
        writer.writerows(keep)
    for row in keep:
        target = dst / row["file"]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(src / row["file"])
    shutil.copy(src / "README.md", dst / "README.md")
    return dst


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def test_pixel_size_from_the_readmes() -> None:
    assert readme_pixel_size_m(shared_path("ships_sar_hrsid_minitest")) == 3.0  # "0.5-3 m"
    assert readme_pixel_size_m(shared_path("ships_sar_sentinel1_opensarship_grd_cal")) == 10.0
    assert readme_pixel_size_m(shared_path("sar_sentinel1_vv_chips_sea_boat_windmill")) == 10.0


def test_eval_ship_on_hrsid_chips(tmp_path: Path) -> None:
    src = shared_path("ships_sar_hrsid_minitest")
    stems = ["P0001_1800_2600_3600_4400", "P0004_4200_5000_6000_6800", "P0015_3600_4400_4200_5000"]
    data = subset(src, tmp_path / "hrsid", stems)
    out = tmp_path / "hrsid.json"
    assert (
        main(["eval", "ship", "--data", str(data), "--json", str(out), "--model", "ship_sar"]) == 0
    )
    result = json.loads(out.read_text())["ship_sar"]
    boxes = [
        r for r in rows(src / "derived_boxes_from_masks.csv") if Path(r["image"]).stem in stems
    ]
    assert result["n_true"] == len(boxes) == 7
    assert (result["layout"], result["modality"], result["pixel_size_m"]) == ("binary", "sar", 3.0)
    assert result["recall"] == 1.0 and result["precision"] == 1.0  # open sea, bright ships
    assert result["false_positives"] == result["n_pred"] - result["tp"] == 0
    assert {i["item"] for i in result["per_image"]} == set(stems)


def test_eval_ship_on_sen2ships_windows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = shared_path("ships_optical_sentinel2_sen2ships")
    stems = ["cartagena_20230730", "gdynia_20230611"]
    data = subset(src, tmp_path / "s2", stems)
    out = tmp_path / "s2.json"
    assert main(["eval", "ship", "--data", str(data), "--json", str(out)]) == 0
    # the DN / 10000 assumption is stated once for the folder, not once per window read
    err = capsys.readouterr().err
    assert len([line for line in err.splitlines() if "assumed reflectance" in line]) == 1
    assert "the same reflectance scale was assumed for" in err
    result = json.loads(out.read_text())["ship_optical"]
    labelled = [r for r in rows(src / "labels.csv") if r["item"] in stems]
    assert result["n_true"] == len(labelled) == 27
    assert (result["layout"], result["modality"]) == ("instance", "optical")
    assert result["unverified"] == result["n_pred"] - result["tp"]
    assert result["recall"] >= 0.8
    # the positional null: the same boxes placed at random in their zones match fewer ships
    assert 0 < result["chance_recall"] < result["recall"]
    above = result["recall"] - result["chance_recall"]
    assert result["recall_above_chance"] == pytest.approx(above, abs=2e-4)
    assert sum(p["chance_tp"] for p in result["per_image"]) > 0


def test_eval_ship_chips_on_opensarship(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    src = shared_path("ships_sar_sentinel1_opensarship_grd_cal")
    keep = rows(src / "labels.csv")[::8]
    data = csv_subset(src, tmp_path / "oss", keep)
    out = tmp_path / "oss.json"
    assert main(["eval", "ship-chips", "--data", str(data), "--json", str(out)]) == 0
    # the dual-pol chips' TIFFs lack an ExtraSamples tag: GDAL's warning (once per read, from
    # rasterio's log and again as "Warning 1:") is one summary line naming how many chips
    err = capfd.readouterr().err
    dual = sum(1 for r in keep if len(r["bands"].split(",")) == 2)
    assert 0 < dual < len(keep)
    assert "Warning 1:" not in err and err.count("TIFFReadDirectory") == 1
    assert f"on {dual} of {len(keep)} chips" in err
    result = json.loads(out.read_text())["ship_sar"]
    assert result["kind"] == "opensarship" and result["chips"] == len(keep)
    big = [r for r in keep if float(r["ais_length_m"] or 0) >= 50]
    assert result["vessels_ais_ge_50m"] == len(big)
    assert sum(b["vessels"] for b in result["per_length_bin"].values()) == len(keep)
    assert result["detection_probability_ais_ge_50m"] >= 0.9


def test_eval_ship_chips_on_sea_boat_windmill_chips(tmp_path: Path) -> None:
    src = shared_path("sar_sentinel1_vv_chips_sea_boat_windmill")
    table = rows(src / "labels.csv")
    keep = []
    for label, n in (("ocean", 20), ("boats", 10), ("windmills", 10), ("land", 3), ("beach", 3)):
        keep += [r for r in table if r["label"] == label][:n]
    data = csv_subset(src, tmp_path / "chips", keep)
    out = tmp_path / "chips.json"
    assert main(["eval", "ship-chips", "--data", str(data), "--json", str(out)]) == 0
    result = json.loads(out.read_text())["ship_sar"]
    ocean = result["ocean"]
    assert ocean["chips"] == 20
    assert ocean["area_km2"] == pytest.approx(20 * 30 * 30 * 100 / 1e6)  # 30 px chips at 10 m
    assert ocean["alerts_per_km2"] == pytest.approx(ocean["alerts"] / ocean["area_km2"], rel=1e-3)
    assert ocean["alerts_per_chip"] <= 0.05
    assert result["boats"]["chips_with_alert"] >= 0.7
    meanings = {k: result[k]["meaning"] for k in ("ocean", "boats", "windmills", "land", "beach")}
    assert len(set(meanings.values())) == 5  # each class says what its number means
    assert [k for k, m in meanings.items() if "turbine" in m] == ["windmills"]
    assert "land" in meanings["land"] and "beach" in meanings["beach"]


def test_scores_with_nothing_to_score_are_null_not_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """ship_optical_cnn was trained on every sen2ships window, so it scores nothing: its
    precision, recall and F1 are undefined (null, "-" in the table), not 0."""
    src = shared_path("ships_optical_sentinel2_sen2ships")
    data = subset(src, tmp_path / "s2", ["cartagena_20230730"])
    out = tmp_path / "s2.json"
    argv = ["eval", "ship", "--data", str(data), "--json", str(out)]
    assert main([*argv, "--model", "ship_optical", "--model", "ship_optical_cnn"]) == 0
    table = capsys.readouterr().out
    results = json.loads(out.read_text())
    cnn = results["ship_optical_cnn"]
    assert (cnn["images"], cnn["n_true"], cnn["n_pred"]) == (0, 0, 0)
    assert (cnn["precision"], cnn["recall"], cnn["f1"]) == (None, None, None)
    assert cnn["bar"]["met"] is None
    row = next(line for line in table.splitlines() if "ship_optical_cnn" in line)
    cells = [c.strip() for c in row.strip("│ ").split("│")]
    assert cells[2:6] == ["-", "-", "-", "-"]  # precision, recall, chance, f1
    assert "0.000" not in row
    held_out = results["ship_optical"]["on_items_not_trained_by"]["ship_optical_cnn"]
    assert (held_out["n_true"], held_out["precision"], held_out["f1"]) == (0, None, None)
    assert results["ship_optical"]["recall"] > 0  # the classical model scored as before


def test_per_image_precision_without_detections_is_null(tmp_path: Path) -> None:
    src = shared_path("ships_sar_hrsid_minitest")
    data = subset(src, tmp_path / "hrsid", ["P0001_1200_2000_9600_10400"])  # 1 ship, 0 alerts
    out = tmp_path / "hrsid.json"
    argv = ["eval", "ship", "--data", str(data), "--json", str(out), "--model", "ship_sar"]
    assert main(argv) == 0
    result = json.loads(out.read_text())["ship_sar"]
    (image,) = result["per_image"]
    assert (image["n_true"], image["n_pred"]) == (1, 0)
    assert (image["precision"], image["recall"], image["f1"]) == (None, 0.0, 0.0)
    assert (result["precision"], result["recall"], result["bar"]["met"]) == (None, 0.0, False)


def test_missing_layout_is_one_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["eval", "ship", "--data", str(tmp_path)]) == 2
    assert "images/ and masks/" in capsys.readouterr().err
    assert main(["eval", "ship-chips", "--data", str(tmp_path)]) == 2
    assert "labels.csv" in capsys.readouterr().err


def write_png(path: Path, size: int) -> None:
    """An all-zero ``size`` x ``size`` RGB PNG (a mask with no ships)."""
    import warnings

    import numpy as np
    import rasterio
    from rasterio.errors import NotGeoreferencedWarning

    profile = {"driver": "PNG", "width": size, "height": size, "count": 3, "dtype": "uint8"}
    with warnings.catch_warnings():  # a PNG has no georeference, as HRSID's masks
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(np.zeros((3, size, size), dtype=np.uint8))


def test_eval_ship_reports_bad_items_and_scores_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One unreadable image, one unreadable mask, one mask of the wrong size and one image
    without a mask: each is reported by name, and the good items score as on their own."""
    src = shared_path("ships_sar_hrsid_minitest")
    stems = ["P0001_1800_2600_3600_4400", "P0004_4200_5000_6000_6800", "P0015_3600_4400_4200_5000"]
    data = subset(src, tmp_path / "hrsid", stems)
    good_mask = src / "masks" / f"{stems[0]}.png"
    (data / "images" / "P9999_bad.jpg").write_text("junk")  # unreadable image, valid mask
    (data / "masks" / "P9999_bad.png").symlink_to(good_mask)
    small, nomask, badmask = (
        "P0016_1800_2600_4800_5600",
        "P0003_2400_3200_4800_5600",
        "P0005_1800_2600_4800_5600",
    )
    for stem in (small, nomask, badmask):
        (data / "images" / f"{stem}.jpg").symlink_to(src / "images" / f"{stem}.jpg")
    write_png(data / "masks" / f"{small}.png", 100)  # image is 800 x 800
    (data / "masks" / f"{badmask}.png").write_bytes(b"\x89PNG not really")
    out = tmp_path / "hrsid.json"
    argv = ["eval", "ship", "--data", str(data), "--json", str(out), "--model", "ship_sar"]
    assert main(["-q", *argv]) == 0
    err = capsys.readouterr().err
    result = json.loads(out.read_text())["ship_sar"]
    assert (result["n_true"], result["recall"], result["precision"]) == (7, 1.0, 1.0)
    assert {i["item"] for i in result["per_image"]} == set(stems)
    reasons = {s["item"]: s for s in result["skipped_items"]}
    assert set(reasons) == {"P9999_bad", small, badmask}
    assert reasons["P9999_bad"]["file"].endswith("images/P9999_bad.jpg")
    assert "cannot use the image" in reasons["P9999_bad"]["reason"]
    assert reasons[badmask]["file"].endswith(f"masks/{badmask}.png")
    assert "unreadable mask" in reasons[badmask]["reason"]
    assert "mask is 100x100 px but its image" in reasons[small]["reason"]
    assert "800x800" in reasons[small]["reason"]
    assert result["images_without_mask"] == {"count": 1, "names": [f"{nomask}.jpg"]}
    for name in ("P9999_bad", small, badmask, f"{nomask}.jpg"):  # warned even with -q
        assert name in err

"""report.html says what went wrong (failed scenes, lost satellite groups, fault and integrity
counters) above the summary, and formats the economics for people (yes/no, tiny values, the
measured compute duty); the budgets figure says when it leaves satellites out."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

from edgeinfer.mission import load_mission, run_mission
from edgeinfer.mission.lost import LostGroup, add_lost_groups
from edgeinfer.report.economics import economics_section, relay_section
from edgeinfer.report.html import _fmt
from edgeinfer.report.problems import PROBLEM_COUNTERS, problems_section


class _Text(HTMLParser):
    """The visible text of a page (no attributes, so no figure alt texts)."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def _text(page: str) -> str:
    parser = _Text()
    parser.feed(page)
    return " ".join(" ".join(parser.parts).split())


def test_the_report_names_a_failed_scene_and_the_satellites_it_leaves_out(tmp_path: Path) -> None:
    missing = tmp_path / "lost_scene.tif"
    config = load_mission(
        None,
        [
            "mission.duration_h=1",
            "constellation.n_satellites=9",
            f'scenes=[{{path="../generated/sar_sea.tif", product="sar"}},{{path="{missing}"}}]',
            "output.onboard_databases=false",
        ],
    )
    result = run_mission(config, tmp_path / "run", use_ray=False)
    assert result.metrics["failed_scenes"][0]["scene"] == "lost_scene"
    page = (tmp_path / "run" / "report.html").read_text(encoding="utf-8")
    text = _text(page)
    # D7: the failure is in the page, above the summary, in the red box
    assert 'class="problems"' in page and "What went wrong" in text
    assert text.index("What went wrong") < text.index("Summary")
    assert "Scenes the mission could not use (1)" in text
    assert "lost_scene" in text and str(missing) in text
    assert "scenes that failed (wholly or in part) 1" in text
    # N10: 9 satellites, 8 drawn, and the caption says so
    assert "Only the first 8 of the 9 satellites are drawn" in text
    # N3: the measured duty, not a dash; pays off as words, not Python's False
    duty = result.metrics["economics"]["compute_duty"]
    assert f"compute_duty {_fmt(duty)} (measured)" in text
    assert "pays off at the low / high price no / no" in text and "False" not in text


def test_lost_groups_and_fault_counters_are_listed() -> None:
    metrics: dict[str, object] = {
        "total": {
            "alerts_lost": 3,
            "actor_restarts": 2,
            "packets_lost": 7,
            "packets_corrupted": 1,
            "corrupted_accepted": 0,
        },
        "failed_scenes": [],
        "crosslinks": {"relayed_alerts_lost_with_groups": 2},
    }
    lost = {1: LostGroup(1, ((2, "sat002"), (3, "sat003")), 4, "its process died (OOM)")}
    add_lost_groups(metrics, lost, {2: 5, 3: 1})
    text = _text(problems_section(metrics))
    assert "Satellite groups lost (1)" in text
    assert "1 sat002, sat003 window 4 6 its process died (OOM)" in text
    for line in (
        "satellites lost (their process died for good) 2",
        "actor restarts 2",
        "packets lost 7",
        "packets corrupted 1",
        "relayed alerts lost with their custodian's group 2",
    ):
        assert line in text
    assert "alerts raised that never reached the ground" in text
    assert "corrupted alerts accepted" not in text  # zero: not listed


def test_a_clean_run_says_nothing_went_wrong() -> None:
    zeros = {key: 0 for key, _ in PROBLEM_COUNTERS}
    section = problems_section({"total": zeros, "failed_scenes": [], "lost_groups": []})
    assert 'class="clean"' in section and 'class="problems"' not in section
    assert "Nothing: no scene failed" in _text(section)


def test_tiny_and_boolean_figures_read_as_such() -> None:
    assert _fmt(4.2e-8) == "4.2e-08" and _fmt(0.0) == "0.000000" and _fmt(0.5) == "0.500000"
    assert _fmt(True) == "yes" and _fmt(False) == "no"
    relay = {
        "enabled": True,
        "satellites": {"sat000": {"crosslink_energy_wh": 4.1234e-8}},
    }
    assert "4.12e-08" in relay_section(relay)
    econ = {
        "pays_off": {"low": True, "high": False},
        "compute_duty": 2.06e-7,
        "assumptions": [{"key": "compute_duty", "value": None, "source": "measured"}],
    }
    text = _text(economics_section(econ))
    assert "yes / no" in text and "compute_duty 2.06e-07 (measured)" in text

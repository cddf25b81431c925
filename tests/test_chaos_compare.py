"""``edgeinfer faults chaos``: the "faults happened" bar asks for the kinds of fault the mission
configures (audit 14, D1), not for chaos.toml's three; a kind configured but never drawn fails
it, by name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgeinfer.cli.main import main
from edgeinfer.mission.compare import configured_faults
from edgeinfer.mission.config_faults import FaultsSection

LINK_ONLY = [
    "--no-ray",
    "--set",
    "mission.duration_h=6",
    "--set",
    "faults.kill_every_orbit=false",
    "--set",
    "faults.packet_loss_prob=0.5",
    "--set",
    "faults.seu_rate_factor=0",
]


def test_configured_kinds_and_their_counters() -> None:
    faults = FaultsSection(
        kill_times_h=[1.0], ack_loss_prob=0.1, seu_rate_factor=10.0, seu_targets=["tiles"]
    )
    assert configured_faults(faults) == {
        "actor kills": ("actor_restarts",),
        "acknowledgement loss": ("acks_lost",),
        "radiation upsets": ("seu_tile_upsets",),
    }
    assert configured_faults(FaultsSection()) == {}


def test_a_link_only_mission_passes_on_its_own_faults(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Half the packets lost, no kills, no corruption: the bar asks for packet loss only."""
    out = tmp_path / "c"
    code = main(["-q", "faults", "chaos", "-o", str(out), *LINK_ONLY, "--set",
                 "faults.packet_corrupt_prob=0"])  # fmt: skip
    printed = capsys.readouterr().out
    report = json.loads((out / "chaos_vs_clean.json").read_text())
    lost = report["chaos"]["packets_lost"]
    assert lost > 0 and report["chaos"]["actor_restarts"] == 0
    assert report["faults_seen"] == {"packet loss": lost}
    assert all(report["bars"].values()) and code == 0
    assert "PASS  faults happened" in printed


def test_a_configured_fault_never_drawn_fails_by_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Corruption at 1e-9 per packet draws none in ~20 packets: the comparison has not tested
    it, so the bar fails and says which kind was not drawn."""
    out = tmp_path / "c"
    code = main(["-q", "faults", "chaos", "-o", str(out), *LINK_ONLY, "--set",
                 "faults.packet_corrupt_prob=1e-9"])  # fmt: skip
    printed = capsys.readouterr().out
    report = json.loads((out / "chaos_vs_clean.json").read_text())
    assert report["faults_seen"]["packet corruption"] == 0
    assert report["faults_seen"]["packet loss"] > 0
    assert report["bars"]["faults_happened"] is False and code == 1
    assert "packet corruption: 0 (configured, none drawn)" in printed


def test_an_out_that_is_a_file_is_named_before_any_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`-o FILE` is the --out's fault, said before either run (it named FILE/clean)."""
    afile = tmp_path / "afile"
    afile.write_text("not a folder\n")
    assert main(["-q", "faults", "chaos", "-o", str(afile), *LINK_ONLY]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err == f"edgeinfer: error: --out {afile} is a file; give a folder for the outputs"

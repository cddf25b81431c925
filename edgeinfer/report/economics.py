"""The operator's sections of report.html: the latency split and relays over crosslinks, and
the economics of the onboard compute with every assumption and its source."""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

from edgeinfer.report.html import _fmt


def _row(label: str, value: Any, unit: str = "") -> str:
    unit_html = f" {html.escape(unit)}" if unit and value is not None else ""
    return f"<tr><td>{html.escape(label)}</td><td>{_fmt(value)}{unit_html}</td></tr>"


def relay_section(relay: Mapping[str, Any]) -> str:
    """Latency split (waiting, crosslinks, downlink), hop counts, crosslink traffic."""
    split = relay.get("latency_split_s", {})
    parts = (
        ("waiting", "waiting on board"),
        ("crosslink", "on crosslinks"),
        ("downlink", "in the pass"),
    )
    split_rows = "".join(
        f"<tr><td>{label}</td>"
        + "".join(
            f"<td>{_fmt(split.get(p, {}).get(s))}</td>" for s in ("mean", "p50", "p95", "max")
        )
        + "</tr>"
        for p, label in parts
    )
    hops = relay.get("hops_histogram", {})
    hop_text = ", ".join(f"{n} alert(s) with {h} hop(s)" for h, n in hops.items()) or "none"
    enabled = bool(relay.get("enabled"))
    summary = ""
    if enabled:
        summary = (
            "<table>"
            + "".join(
                (
                    _row("crosslink windows (all pairs)", relay.get("windows")),
                    _row("linked satellite pairs", relay.get("pairs_linked")),
                    _row("crosslink window time", relay.get("window_hours"), "h"),
                    _row(
                        "relay barriers / transfers",
                        f"{relay.get('barriers')} / {relay.get('transfers')}",
                    ),
                    _row("alerts delivered through relays", relay.get("alerts_relayed")),
                    _row("most hops of one alert", relay.get("hops_max")),
                    _row("crosslink rate", relay.get("rate_bps"), "bit/s"),
                    _row("maximum range", relay.get("max_range_km"), "km"),
                )
            )
            + "</table>"
        )
        sats = relay.get("satellites", {})
        cols = ("crosslink_bytes_sent", "crosslink_bytes_received", "crosslink_energy_wh")
        head = "".join(f"<th>{c.replace('_', ' ')}</th>" for c in cols)
        body = "".join(
            f"<tr><td>{html.escape(n)}</td>"
            + "".join(f"<td>{_fmt(m.get(c))}</td>" for c in cols)
            + "</tr>"
            for n, m in sats.items()
        )
        summary += f"<table><tr><th>satellite</th>{head}</tr>{body}</table>"
    state = (
        "Crosslinks are <b>on</b>: a satellite with no ground contact within "
        f"{_fmt(relay.get('forward_if_no_contact_within_s'))} s hands its alerts, "
        "store-and-forward, toward the satellite with the earliest ground contact "
        "(contact graph routing, docs/operators.md)."
        if enabled
        else "Crosslinks are <b>off</b>: every alert goes down through its own satellite."
    )
    return f"""<h2>Latency split and relays</h2>
<p>{state} Latency (capture to ground) of the delivered alerts, split into time waiting on
board (backlog and queues, on every satellite that held the alert), on crosslinks (setup,
serialisation, light time) and in the delivering pass (queue ahead of it at the pass rate),
in seconds. Hops: {html.escape(hop_text)}.</p>
<table><tr><th>part</th><th>mean</th><th>p50</th><th>p95</th><th>max</th></tr>{split_rows}</table>
{summary}"""


def _assumed(assumption: Mapping[str, Any], econ: Mapping[str, Any]) -> str:
    """An assumption's value; a figure left to the mission (``compute_duty`` not set) shows
    the value the mission measured, marked so."""
    value = assumption["value"]
    if value is None and assumption["key"] in econ:
        return f"{_fmt(econ[assumption['key']])} (measured)"
    return _fmt(value)


def economics_section(econ: Mapping[str, Any]) -> str:
    """Added mass, launch cost, ground time saved, cost per alert, break-even, assumptions."""
    sat = econ.get("per_satellite", {})
    launch = econ.get("launch_cost_usd", {})
    per_alert = econ.get("cost_per_alert_usd", {})
    pays = econ.get("pays_off", {})
    mass_rows = "".join(
        (
            _row("compute module", sat.get("accelerator_kg"), "kg"),
            _row("heat to reject (accelerator active power)", sat.get("heat_w"), "W"),
            _row("radiator area", sat.get("radiator_m2"), "m²"),
            _row("radiator mass", sat.get("radiator_kg"), "kg"),
            _row("compute orbit-average power", sat.get("compute_average_w"), "W"),
            _row("solar array for it", sat.get("solar_array_w"), "W"),
            _row("solar array mass", sat.get("solar_array_kg"), "kg"),
            _row("battery for it", sat.get("battery_wh"), "Wh"),
            _row("battery mass", sat.get("battery_kg"), "kg"),
            _row("added mass per satellite", sat.get("added_mass_kg"), "kg"),
        )
    )
    result_rows = "".join(
        (
            _row("added mass, whole constellation", econ.get("added_mass_kg"), "kg"),
            _row(
                "launch cost (low / high price)",
                f"${_fmt(launch.get('low'))} / ${_fmt(launch.get('high'))}",
            ),
            _row(
                f"bytes not downlinked (vs {econ.get('baseline')})",
                econ.get("bytes_not_downlinked"),
            ),
            _row("pass time saved in the mission", econ.get("pass_minutes_saved"), "min"),
            _row("ground time saved in the mission", econ.get("ground_savings_usd"), "USD"),
            _row("ground time saved per day", econ.get("ground_savings_per_day_usd"), "USD"),
            _row(
                f"ground time saved over {_fmt(econ.get('lifetime_years'))} years",
                econ.get("lifetime_ground_savings_usd"),
                "USD",
            ),
            _row("alerts delivered per day", econ.get("alerts_per_day")),
            _row(
                "launch cost per delivered alert (low / high)",
                f"${_fmt(per_alert.get('low'))} / ${_fmt(per_alert.get('high'))}",
            ),
            _row(
                "break-even launch price", econ.get("break_even_launch_price_usd_per_kg"), "USD/kg"
            ),
            _row(
                "pays off at the low / high price",
                f"{_fmt(pays.get('low'))} / {_fmt(pays.get('high'))}",
            ),
        )
    )
    assumptions = "".join(
        f"<tr><td>{html.escape(str(a['key']))}</td><td>{_assumed(a, econ)}</td>"
        f"<td style='text-align:left'>{html.escape(str(a['source']))}</td></tr>"
        for a in econ.get("assumptions", [])
    )
    return f"""<h2>Economics of the onboard compute</h2>
<p>What the accelerator adds to each satellite (its module, the radiator its heat needs, the
solar array and battery its energy needs), launched at a price per kg, against the
ground-station time the mission did not need because only alerts went down. Mission figures
are scaled to a day and to the lifetime. Every figure is configurable in the mission's
<code>[economics]</code> table; [assumption] marks our own choices.</p>
<table>{mass_rows}</table><table>{result_rows}</table>
<h3>Assumptions</h3><table><tr><th>figure</th><th>value</th><th>source</th></tr>{assumptions}</table>"""


def operator_sections(metrics: Mapping[str, Any]) -> str:
    """Both sections, for whatever metrics.json holds (empty when neither is there)."""
    out = ""
    if metrics.get("crosslinks"):
        out += relay_section(metrics["crosslinks"])
    if metrics.get("economics"):
        out += economics_section(metrics["economics"])
    return out

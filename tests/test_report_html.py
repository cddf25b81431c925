"""report.html: self-contained, at least four real PNG figures, the summary numbers in it."""

from __future__ import annotations

import base64
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from edgeinfer.mission import run_mission

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.external: list[str] = []
        self.cells: list[str] = []
        self._in_td = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "img":
            self.images.append(a.get("src") or "")
        for key in ("src", "href"):
            value = a.get(key) or ""
            if value.startswith(("http:", "https:", "//")):
                self.external.append(value)
        self._in_td = tag == "td"

    def handle_data(self, data: str) -> None:
        if self._in_td:
            self.cells.append(data.strip())


@pytest.mark.slow
def test_report_is_self_contained_with_figures_and_summary(tmp_path: Path) -> None:
    result = run_mission(None, tmp_path, use_ray=False)
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    parser = _Collect()
    parser.feed(page)
    assert not parser.external
    assert len(parser.images) >= 4
    for src in parser.images:
        prefix = "data:image/png;base64,"
        assert src.startswith(prefix)
        data = base64.b64decode(src[len(prefix) :], validate=True)
        assert data.startswith(PNG_SIGNATURE) and len(data) > 5000
    total = result.metrics["total"]
    assert f"{total['alerts_delivered']:,}" in parser.cells
    assert f"{total['raw_bytes_captured']:,}" in parser.cells
    assert re.search(r"modelled.*measured", page, re.S)
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["total"]["alerts_delivered"] == total["alerts_delivered"]

"""Mission metrics as a self-contained report.html (matplotlib figures, Agg backend).

The only package that imports matplotlib (docs/design.md).
"""

from __future__ import annotations

import logging

from edgeinfer.report.html import render_report, write_report

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = ["render_report", "write_report"]

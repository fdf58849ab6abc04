"""Draw a check's ``plot`` (see :mod:`graders.plot_data`) as an SVG string, with matplotlib's Agg backend.

Imported only where plots are shown (the web page, ``python -m graders grade --plots DIR``): never while grading.
"""

from __future__ import annotations

import io
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display; must precede pyplot

import matplotlib.pyplot as plt  # noqa: E402

STYLES = {"solid": "-", "dashed": "--", "dotted": ":"}


def svg(plot: dict[str, Any]) -> str:
    """The plot as a standalone SVG document (text is kept as text, so it stays searchable and scales)."""
    with plt.rc_context({"svg.fonttype": "none", "font.size": 9}):
        fig, ax = plt.subplots(figsize=(6.0, 3.4), layout="constrained")
        try:
            for line in plot["series"]:
                y = [float("nan") if v is None else v for v in line["y"]]
                ax.plot(
                    line["x"], y, STYLES.get(line.get("style", "solid"), "-"), marker=".", label=line["name"]
                )
            if plot.get("log"):
                ax.set_xscale("log")
                ax.set_yscale("log")
            ax.set_title(plot["title"])
            ax.set_xlabel(plot["x_label"])
            ax.set_ylabel(plot["y_label"])
            ax.grid(True, alpha=0.3)
            ax.legend(fontsize=8)
            out = io.StringIO()
            fig.savefig(out, format="svg")
        finally:
            plt.close(fig)
    return out.getvalue()

"""Charts of the analytics pages as SVG documents, drawn with matplotlib's Agg backend (loaded on first use)."""

from __future__ import annotations

import io


def histogram_svg(bins: list[tuple[str, int]], *, title: str, x_label: str, y_label: str) -> str:
    """A bar per bin (label, count): text stays text, so it scales and reads aloud with the page's table."""
    import matplotlib

    matplotlib.use("Agg")  # no display; must precede pyplot
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    with plt.rc_context({"svg.fonttype": "none", "font.size": 9}):
        fig, ax = plt.subplots(figsize=(6.0, 3.0), layout="constrained")
        try:
            labels = [label for label, _ in bins]
            counts = [count for _, count in bins]
            bars = ax.bar(range(len(bins)), counts, color="#2f5fb3")
            ax.bar_label(bars, labels=[str(c) if c else "" for c in counts], fontsize=8)
            ax.set_xticks(range(len(bins)), labels, rotation=30, ha="right")
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_title(title)
            ax.set_xlabel(x_label)
            ax.set_ylabel(y_label)
            ax.spines[["top", "right"]].set_visible(False)
            out = io.StringIO()
            fig.savefig(out, format="svg")
        finally:
            plt.close(fig)
    return out.getvalue()

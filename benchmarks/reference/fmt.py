"""Formatting shared by the progress lines and the final report: durations, ranges, errors."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def fmt_s(s: float | None) -> str:
    if s is None:
        return "-"
    if s < 1e-3:
        return f"{s * 1e6:.0f} µs"
    return f"{s * 1e3:.1f} ms" if s < 1 else f"{s:.2f} s"


def fmt_range(stats: Mapping[str, float]) -> str:
    return f"{fmt_s(stats['median_s'])} ({fmt_s(stats['min_s'])}–{fmt_s(stats['max_s'])})"


def fmt_err(err: Any) -> str:
    return "-" if err is None else f"{err:.1e}" if isinstance(err, float) else str(err)


def progress_line(model_id: str, row: Mapping[str, Any]) -> str:
    loop = row["loop"]
    loop_text = fmt_s(loop["median_s"]) if loop["run"] else "not run"
    speedup = f"{row['speedup']:.0f}x" if row["speedup"] else "-"
    return (
        f"  {model_id:<22} n={row['n']:<6} parallel {fmt_s(row['parallel']['median_s'])}, loop {loop_text}, "
        f"speedup {speedup}, {row['ratio_to_limit']:.1f}x limit, err {fmt_err(row['max_rel_err'])}"
    )


def window_progress_line(row: Mapping[str, Any]) -> str:
    naive = row["naive"]
    peak = row.get("blocked_peak", {}).get("peak_extra_mib")
    return (
        f"  window                 n={row['n']:<6} blocked {fmt_s(row['blocked']['median_s'])}, naive "
        f"{fmt_s(naive['median_s']) if naive['run'] else 'not run'}, blocked peak "
        f"{'-' if peak is None else f'{peak:.0f} MiB'}"
    )

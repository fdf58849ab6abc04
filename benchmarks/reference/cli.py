"""One run of the whole benchmark, the printed report, the JSON and the command line."""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

import reference
from benchmarks.reference.fmt import fmt_err, fmt_range, fmt_s
from benchmarks.reference.measure import (
    RATIO_TARGET,
    RESULTS,
    SPEEDUP_TARGET,
    Config,
    D,
    Log,
    device_name,
    keep_freed_memory,
    machine_facts,
    measure_hardware,
)
from benchmarks.reference.models import bench_model, target_n
from benchmarks.reference.window import bench_window, find_window
from reference.registry import ModelSpec


def selected_specs(cfg: Config) -> list[ModelSpec]:
    ids = cfg.models if cfg.models is not None else sorted(reference.MODELS)
    return [reference.get_model(i) for i in ids]


def run(cfg: Config, log: Log = print) -> dict[str, Any]:
    started = time.perf_counter()
    torch.set_num_threads(cfg.threads)
    allocator = keep_freed_memory() if cfg.keep_freed_memory else "glibc defaults (--no-keep-freed-memory)"
    load_at_start = list(os.getloadavg())
    if busy_warning(load_at_start[0], cfg.threads):
        log(busy_warning(load_at_start[0], cfg.threads))
    where = f"{cfg.threads} threads" if cfg.device == "cpu" else device_name(cfg.device)
    log(f"reference benchmark: n = {cfg.sizes}, d = {D}, {where}; measuring the hardware ...")
    hw = measure_hardware(cfg)
    log(
        f"  bandwidth {hw['bandwidth']['bytes_per_s'] / 1e9:.1f} GB/s, "
        f"matmul {hw['matmul']['flop_per_s'] / 1e9:.0f} GFLOP/s"
    )
    specs = selected_specs(cfg)
    models: dict[str, dict[str, Any]] = {}
    for spec in specs:
        if spec.attend_parallel is not None:
            models[spec.id] = bench_model(spec, cfg, log)
    window_spec, _, _ = find_window()
    if window_spec is None or window_spec.id in {s.id for s in specs}:
        window = bench_window(cfg, hw, models, log)
    else:
        window = {"skipped": "the window model is not among the selected models"}
    per_model = {m: r["targets"] for m, r in models.items()}
    hw_end = measure_hardware(cfg)  # again, to show how much the machine drifted during the run
    return {
        "benchmark": "reference",
        "config": asdict(cfg),
        "machine": {**machine_facts(), "loadavg_at_start": load_at_start, "allocator": allocator},
        "hardware": hw,
        "hardware_at_end": {k: hw_end[k] for k in ("bandwidth", "matmul")},
        "models": models,
        "models_without_parallel": [s.id for s in specs if s.attend_parallel is None],
        "window": window,
        "targets": {
            "n": target_n(cfg),
            "speedup_min": SPEEDUP_TARGET,
            "ratio_to_limit_max": RATIO_TARGET,
            "all_parallel_met": bool(per_model) and all(t["met"] for t in per_model.values()),
            "per_model": per_model,
            "window_memory_linear": window.get("memory_target", {}).get("met"),
        },
        "outputs_match": all(t["output_matches_loop"] for t in per_model.values())
        and all(r.get("correct") is not False for r in window.get("sizes", {}).values()),
        "wall_s": time.perf_counter() - started,
    }


def busy_warning(load: float, threads: int) -> str:
    """A warning when other processes already use the cores: the timings are then inflated, and worse with
    several threads, whose parallel regions stall waiting for each other behind the other processes."""
    cores = os.cpu_count() or 1
    if threads > 1 and load >= 0.5 * cores:
        return (
            f"WARNING: 1-min load average {load:.1f} on {cores} cores before this run: with {threads} threads "
            f"torch's parallel regions stall behind other processes (10-100x slower). Rerun quieter or with "
            f"--threads 1."
        )
    if load >= cores - 0.5:
        return (
            f"WARNING: 1-min load average {load:.1f} on {cores} cores before this run: timings are inflated."
        )
    return ""


def _clean(x: Any) -> Any:
    """JSON without NaN/Infinity: non-finite floats become strings."""
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_clean(v) for v in x]
    return x


def write_json(result: Mapping[str, Any], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_clean(result), indent=2, allow_nan=False) + "\n")
    return path


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Plain aligned text: the first column left-aligned, the others right-aligned."""
    widths = [max(len(c) for c in col) for col in zip(header, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    return [line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)]


def format_report(result: Mapping[str, Any]) -> str:
    hw, tgt = result["hardware"], result["targets"]
    on_gpu = hw.get("device", "cpu") != "cpu"
    where = hw["device"] if on_gpu else f"{hw['threads']} threads; {result['machine']['cpu']}"
    out = [
        f"reference memory models, d = {D}, B = H = 1, float32, {where}",
        f"allocator: {result['machine'].get('allocator', 'not recorded')}",
        f"hardware: bandwidth {hw['bandwidth']['bytes_per_s'] / 1e9:.1f} GB/s "
        f"({hw['bandwidth']['bytes_per_s_range'][0] / 1e9:.1f}–{hw['bandwidth']['bytes_per_s_range'][1] / 1e9:.1f}), "
        f"matmul {hw['matmul']['flop_per_s'] / 1e9:.0f} GFLOP/s "
        f"({hw['matmul']['flop_per_s_range'][0] / 1e9:.0f}–{hw['matmul']['flop_per_s_range'][1] / 1e9:.0f}); "
        f"at the end of the run {result['hardware_at_end']['bandwidth']['bytes_per_s'] / 1e9:.1f} GB/s and "
        f"{result['hardware_at_end']['matmul']['flop_per_s'] / 1e9:.0f} GFLOP/s; "
        f"1-min load average {result['machine']['loadavg_at_start'][0]:.1f} at start, "
        f"{result['machine']['loadavg_1_5_15min'][0]:.1f} at end",
        "limit: each row's own, from the faster of two probes taken right before and right after its timing",
    ]
    warning = "" if on_gpu else busy_warning(result["machine"]["loadavg_at_start"][0], hw["threads"])
    out += [warning, ""] if warning else [""]
    rows = []
    for model_id, model in result["models"].items():
        for row in model["sizes"].values():
            if "error" in row:
                rows.append([model_id, str(row["n"]), "ERROR", row["error"][:40], "", "", "", "", "", ""])
                continue
            loop = row["loop"]
            if loop["run"]:
                loop_text, speedup = fmt_s(loop["median_s"]), f"{row['speedup']:.0f}x"
            elif loop.get("extrapolated"):
                loop_text, speedup = f"~{fmt_s(loop['estimate_s'])}*", f"~{row['speedup_estimate']:.0f}x*"
            else:
                loop_text, speedup = "not run", "-"
            lim = row["limit"]
            rows.append(
                [
                    model_id,
                    str(row["n"]),
                    fmt_range(row["parallel"]),
                    loop_text,
                    speedup,
                    f"{fmt_s(lim['time_s'])} {lim['bound'][:3]}",
                    f"{row['ratio_to_limit']:.1f}x",
                    str(row["kernel_ops"]["total"]) if "kernel_ops" in row else "-",
                    fmt_err(row["max_rel_err"]),
                    {True: "ok", False: "WRONG", None: "-"}[row["correct"]],
                ]
            )
    header = [
        "model",
        "n",
        "parallel median (min–max)",
        "step loop",
        "speedup",
        "limit",
        "/limit",
        "ops",
        "rel err",
        "match",
    ]
    out += _table(header, rows)
    if any(
        r["loop"].get("extrapolated")
        for m in result["models"].values()
        for r in m["sizes"].values()
        if "loop" in r
    ):
        out.append("* extrapolated, not measured (growing memory; see 'how' in the JSON)")
    out.append(
        "ops: ATen ops one call dispatches (about one kernel launch each on CUDA), counted on meta tensors"
    )
    if result["models_without_parallel"]:
        out.append(f"no parallel form: {', '.join(result['models_without_parallel'])}")
    out += [
        "",
        f"targets at n = {tgt['n']}: speedup >= {tgt['speedup_min']:.0f}x, time <= {tgt['ratio_to_limit_max']:.0f}x limit",
    ]
    trows = []
    for model_id, t in tgt["per_model"].items():
        if "speedup_met" not in t:
            trows.append(
                [model_id, "-", "-", "yes" if t["output_matches_loop"] else "NO", f"no ({t['why']})"]
            )
            continue
        speed = "-" if t["speedup"] is None else f"{t['speedup']:.0f}x"
        if t["speedup_basis"] == "extrapolated":
            speed += " (extrapolated)"
        trows.append(
            [
                model_id,
                f"{speed} {'ok' if t['speedup_met'] else 'FAIL'}",
                f"{t['ratio_to_limit']:.1f}x {'ok' if t['ratio_met'] else 'FAIL'}",
                "yes" if t["output_matches_loop"] else "NO",
                "yes" if t["met"] else "no",
            ]
        )
    out += _table(["model", "speedup", "/limit", "matches loop", "met"], trows)
    out += ["", *format_window(result["window"])]
    return "\n".join(out)


def format_window(window: Mapping[str, Any]) -> list[str]:
    if "skipped" in window:
        return [f"window attention: skipped: {window['skipped']}"]
    out = [f"window attention ({window['model']}, w = {window['w']}): blocked vs naive masked T×T"]
    rows = []
    for row in window["sizes"].values():
        naive, bp, np_ = row["naive"], row.get("blocked_peak", {}), row.get("naive_peak", {})
        rows.append(
            [
                str(row["n"]),
                fmt_range(row["blocked"]),
                fmt_range(naive) if naive["run"] else "not run (memory)",
                f"{row['speedup']:.1f}x" if "speedup" in row else "-",
                f"{bp['peak_extra_mib']:.0f}" if "peak_extra_mib" in bp else bp.get("error", "-"),
                f"{bp['ratio_to_n_w_4B']:.2f}" if "ratio_to_n_w_4B" in bp else "-",
                f"{np_['peak_extra_mib']:.0f}" if "peak_extra_mib" in np_ else np_.get("error", "-"),
                fmt_err(row.get("max_rel_err")),
            ]
        )
    header = ["n", "blocked", "naive", "naive/blocked", "blocked MiB", "/(n·w·4B)", "naive MiB", "rel err"]
    out += _table(header, rows)
    for row in window["sizes"].values():
        if not row["naive"]["run"]:
            out.append(f"n = {row['n']}: naive not run, {row['naive']['reason']}")
    target = window["memory_target"]
    if target.get("met") is None:
        out.append(f"O(n·w) memory: not checked ({target['why']})")
    else:
        out.append(
            f"O(n·w) memory: blocked peak grew {target['growth']:.1f}x for {target['linear_growth']:.0f}x n: "
            f"{'met' if target['met'] else 'NOT met'}"
        )
    return out


def parse_args(argv: Sequence[str] | None) -> tuple[Config, Path]:
    """The run's configuration and where to write the JSON."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.reference", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--sizes", help="comma-separated n (default 4096,16384,65536; --quick: 256,1024)")
    parser.add_argument("--repeat", type=int, help="timed runs of each parallel form, at least (default 3)")
    parser.add_argument(
        "--min-time",
        type=float,
        help="seconds each parallel form is timed for, at least (default 0.5; --quick: 0): more runs if needed",
    )
    parser.add_argument("--models", help="comma-separated model ids (default: every registered model)")
    parser.add_argument(
        "--quick", action="store_true", help="a fast smoke run: tiny sizes, no memory children"
    )
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's own)")
    parser.add_argument("--device", help="cpu (default) or cuda: where inputs, forms and probes run")
    parser.add_argument(
        "--no-keep-freed-memory",
        action="store_true",
        help="leave glibc's malloc at its defaults (fresh pages for every large temporary)",
    )
    parser.add_argument("--out", type=Path, help="JSON path (default benchmarks/results/reference.json)")
    args = parser.parse_args(argv)
    overrides: dict[str, Any] = {}
    if args.sizes:
        overrides["sizes"] = [int(s) for s in args.sizes.split(",")]
    if args.repeat:
        overrides["repeat"] = args.repeat
    if args.min_time is not None:
        overrides["min_time_s"] = args.min_time
    if args.models:
        overrides["models"] = args.models.split(",")
    if args.threads:
        overrides["threads"] = args.threads
    if args.device:
        overrides["device"] = args.device
    if args.no_keep_freed_memory:
        overrides["keep_freed_memory"] = False
    cfg = Config.quick_run(**overrides) if args.quick else Config(**overrides)
    name = "reference" + ("" if cfg.device == "cpu" else f"-{cfg.device.split(':')[0]}")
    return cfg, args.out or RESULTS / (f"{name}-quick.json" if args.quick else f"{name}.json")


def main(argv: Sequence[str] | None = None) -> int:
    cfg, path = parse_args(argv)
    result = run(cfg, lambda line: print(line, flush=True))
    out = write_json(result, path)
    print()
    print(format_report(result))
    print(f"\nwall time {result['wall_s']:.0f} s; saved to {out}")
    if not result["outputs_match"]:
        print("A PARALLEL FORM DOES NOT MATCH ITS REFERENCE: its timings measure a wrong computation.")
    return 0 if result["outputs_match"] else 1

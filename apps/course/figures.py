"""The figures of the concept pages, drawn from the reference models when the course is synced (never by hand).

The figure that unifies the course: for a memory model, how much each past token weighs in what the memory
returns, against the token's age. It is measured, not declared: after a stream of ``T`` random pairs, the weight
of token ``j`` is the size of the read-out's derivative with respect to its value,

    w_j = ‖∂ read(Mem_{T-1}, q) / ∂v_j‖_F        (autograd, float64)

scaled so the largest is 1. With the query ``q = 0`` every softmax over stored keys is uniform, so a window
cache shows a box, the cumulative average a flat line, the EMA a geometric decay, the weighted average a ramp,
the sink cache spikes and a box, whatever the keys. A memory that reads by matching keys (fast weights, the delta
rule, the gradient memory) returns nothing for ``q = 0``: it is read with a fixed random query instead. Where other
random keys give other weights (those, linear attention, the RNNs), the figure says the weights depend on the
keys, not on the age alone.

Imported by the sync only (``apps.content.services``): this module loads torch, the reference and matplotlib.
"""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass
from typing import Any

import torch

import reference

T = 16  # tokens in the stream
D = 4
SEED = 0
ACCENT, MUTED, TEXT = "#3b6fd4", "#9aa3b5", "#6b7385"  # mid tones: legible on a light and on a dark page


@dataclass(frozen=True)
class Profile:
    model: str
    title: str
    weights: list[float]  # by age: weights[0] is the newest token, weights[T-1] the oldest
    by_content: bool  # read with a random query: the weights follow the keys, not the age
    hyperparams: dict[str, Any]


def age_profile(model_id: str) -> Profile:
    spec = reference.get_model(model_id)
    hp = {name: h.default for name, h in spec.hyperparams.items()}
    generator = torch.Generator().manual_seed(SEED)
    keys = torch.randn(T, D, dtype=torch.float64, generator=generator) * 0.5
    other_keys = torch.randn(T, D, dtype=torch.float64, generator=generator) * 0.5
    query = torch.randn(D, dtype=torch.float64, generator=generator)
    read_with = torch.zeros(D, dtype=torch.float64)
    weights = _scaled(_weights(spec, hp, keys, read_with))
    if not any(weights):  # reads by matching keys: nothing comes back for q = 0
        read_with = query
        weights = _scaled(_weights(spec, hp, keys, read_with))
    # by age alone when other keys give the same weights (a window, an average); by content otherwise
    again = _scaled(_weights(spec, hp, other_keys, read_with))
    by_content = any(abs(a - b) > 1e-6 for a, b in zip(weights, again, strict=True))
    return Profile(model_id, spec.title, list(reversed(weights)), by_content, hp)


def _scaled(weights: list[float]) -> list[float]:
    top = max(weights)
    return [round(w / top, 6) if top > 0 else 0.0 for w in weights]


def _weights(spec: Any, hp: dict[str, Any], keys: torch.Tensor, query: torch.Tensor) -> list[float]:
    """‖∂ read / ∂v_j‖ for each token j, oldest first."""
    values = torch.randn(T, D, dtype=torch.float64, generator=torch.Generator().manual_seed(SEED + 1))
    values.requires_grad_(True)
    mem = spec.init(D, dtype=torch.float64, **hp)
    for t in range(T):
        mem = spec.step(mem, keys[t], values[t], **hp)
    out = spec.read(mem, query, **hp).reshape(-1)
    squared = torch.zeros(T, dtype=torch.float64)
    for i in range(out.numel()):
        if not out[i].requires_grad:
            continue
        (grad,) = torch.autograd.grad(out[i], values, retain_graph=True)
        squared += (grad**2).sum(-1)
    return [float(w) for w in squared.sqrt()]


STEPS = 12  # tokens in the visibility figure


@dataclass(frozen=True)
class Visibility:
    model: str
    title: str
    rows: list[
        list[float]
    ]  # rows[i][j]: the weight of token j in the read-out at step i (each row's largest = 1)
    hyperparams: dict[str, Any]


def visibility(model_id: str) -> Visibility:
    """Which tokens each step's read-out draws on: ‖∂y_i/∂v_j‖ over the recurrence run token by token
    (``reference.attend_scan``), with the queries the age profile uses (0, or a fixed random one for a memory
    that reads by matching keys). A band for the window, a band and columns for the sinks, a staircase for the
    segments, a full triangle for the averages; never a cell above the diagonal (the outputs are causal)."""
    spec = reference.get_model(model_id)
    hp = {name: h.default for name, h in spec.hyperparams.items()}
    generator = torch.Generator().manual_seed(SEED)
    keys = torch.randn(STEPS, D, dtype=torch.float64, generator=generator) * 0.5
    values = torch.randn(STEPS, D, dtype=torch.float64, generator=generator).requires_grad_(True)
    rows = _visible(spec, hp, keys, values, torch.zeros(STEPS, D, dtype=torch.float64))
    if not any(any(row) for row in rows):  # reads by matching keys: nothing comes back for q = 0
        rows = _visible(
            spec, hp, keys, values, torch.randn(STEPS, D, dtype=torch.float64, generator=generator)
        )
    return Visibility(model_id, spec.title, rows, hp)


def _visible(
    spec: Any, hp: dict[str, Any], keys: torch.Tensor, values: torch.Tensor, queries: torch.Tensor
) -> list[list[float]]:
    ys = reference.attend_scan(spec, queries, keys, values, **hp)  # (STEPS, D)
    rows = []
    for i in range(STEPS):
        squared = torch.zeros(STEPS, dtype=torch.float64)
        for c in range(ys.shape[-1]):
            if ys[i, c].requires_grad:
                (grad,) = torch.autograd.grad(ys[i, c], values, retain_graph=True)
                squared += (grad**2).sum(-1)
        rows.append(_scaled([float(x) for x in squared.sqrt()]))
    return rows


def visibility_svg(seen: Visibility) -> dict[str, Any]:
    """A heatmap: a row per step i, a column per token j, darker where token j weighs more in y_i."""
    plt = _pyplot()
    with plt.rc_context(_STYLE):
        fig, ax = plt.subplots(figsize=(3.6, 3.4), layout="constrained")
        try:
            image = ax.imshow(seen.rows, cmap="Blues", vmin=0.0, vmax=1.0, interpolation="nearest")
            ax.set_xticks(range(STEPS), [str(j) for j in range(STEPS)])
            ax.set_yticks(range(STEPS), [str(i) for i in range(STEPS)])
            ax.set_xlabel("token j")
            ax.set_ylabel("step i (its read-out y_i)")
            ax.set_title("Which tokens each read-out uses", fontsize=9)
            fig.colorbar(image, ax=ax, shrink=0.8, label="weight (row's largest = 1)")
            return _svg(fig)
        finally:
            plt.close(fig)


def describe_visibility(seen: Visibility) -> str:
    used = [[j for j, w in enumerate(row) if w > 1e-3] for row in seen.rows]
    last = used[-1]
    return (
        f"Heatmap of {STEPS} steps by {STEPS} tokens for the {seen.title} memory: a cell is dark when token j "
        f"weighs in the read-out at step i. No cell lies above the diagonal (no step uses a later token). "
        f"The last step, {STEPS - 1}, uses tokens {', '.join(map(str, last))}."
    )


def _hp_text(hp: dict[str, Any]) -> str:
    return ", ".join(f"{k} = {v}" for k, v in hp.items() if k != "seed")


def describe(profile: Profile) -> str:
    """The figure's alt text: what it shows, with the numbers a reader would take from it."""
    w = profile.weights
    kept = sum(x > 1e-3 for x in w)
    shape = (
        "the weights depend on the keys, not on the age alone"
        if profile.by_content
        else f"{kept} of the last {T} tokens weigh anything"
    )
    numbers = ", ".join(f"{x:.2f}" for x in w[:8])
    setting = f" ({_hp_text(profile.hyperparams)})" if _hp_text(profile.hyperparams) else ""
    return (
        f"Bar chart: the weight of each of the last {T} tokens in what the {profile.title} memory{setting} "
        f"returns, newest first; {shape}. The eight newest weigh {numbers}."
    )


def profile_svg(profile: Profile) -> dict[str, Any]:
    """One panel: a bar per token, newest on the left."""
    plt = _pyplot()
    with plt.rc_context(_STYLE):
        fig, ax = plt.subplots(figsize=(6.0, 2.4), layout="constrained")
        try:
            _panel(ax, profile, full=True)
            return _svg(fig)
        finally:
            plt.close(fig)


def overview_svg(profiles: list[Profile]) -> dict[str, Any]:
    """Every model in one grid of small panels: the course's memories side by side."""
    plt = _pyplot()
    cols = 4
    rows = -(-len(profiles) // cols)
    with plt.rc_context(_STYLE):
        fig, axes = plt.subplots(rows, cols, figsize=(7.2, 1.45 * rows), layout="constrained", squeeze=False)
        try:
            for ax, profile in zip(axes.flat, profiles, strict=False):
                _panel(ax, profile, full=False)
            for ax in list(axes.flat)[len(profiles) :]:
                ax.set_visible(False)
            return _svg(fig)
        finally:
            plt.close(fig)


_STYLE = {
    "svg.fonttype": "none",
    "font.size": 8,
    "text.color": TEXT,
    "axes.labelcolor": TEXT,
    "axes.edgecolor": MUTED,
    "xtick.color": TEXT,
    "ytick.color": TEXT,
    "figure.facecolor": "none",
    "axes.facecolor": "none",
    "savefig.transparent": True,
}


def _panel(ax: Any, profile: Profile, *, full: bool) -> None:
    ages = list(range(T))
    ax.bar(ages, profile.weights, color=MUTED if profile.by_content else ACCENT, width=0.8)
    ax.set_ylim(0, 1.08)
    ax.spines[["top", "right"]].set_visible(False)
    if full:
        ax.set_xticks(ages, [str(a) for a in ages])
        ax.set_xlabel("age of the token (0 = the newest)")
        ax.set_ylabel("weight (largest = 1)")
        note = " (the weights depend on the keys)" if profile.by_content else ""
        ax.set_title(profile.title + note, fontsize=9)
    else:
        ax.set_xticks([0, T - 1], ["new", "old"])
        ax.set_yticks([])
        ax.set_title(profile.model.replace("-", " "), fontsize=8)  # the titles are too long for a small panel


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # no display; must precede pyplot
    import matplotlib.pyplot as plt

    return plt


def _svg(fig: Any) -> dict[str, Any]:
    """The SVG document and its size in CSS pixels (the page reserves the room before it loads)."""
    out = io.StringIO()
    fig.savefig(out, format="svg")
    width, height = (round(x * 96) for x in fig.get_size_inches())
    return {"svg": out.getvalue(), "width": width, "height": height}


@functools.lru_cache(maxsize=64)
def concept_figures(model_ids: tuple[str, ...]) -> list[dict[str, Any]]:
    """The figures of a concept page: its models' panels, or the whole course's grid when it names none.
    Seeded, so the same in every process: each is drawn once per process (a sync runs in every test)."""
    if model_ids:
        figures = []
        for model_id in dict.fromkeys(model_ids):
            p, seen = age_profile(model_id), visibility(model_id)
            figures.append(
                profile_svg(p)
                | {
                    "alt": describe(p),
                    "caption": f"How much each past token weighs in what the {p.title} memory returns, by age "
                    "(measured on the reference model after 16 random pairs).",
                }
            )
            figures.append(
                visibility_svg(seen)
                | {
                    "alt": describe_visibility(seen),
                    "caption": f"Step by step: which tokens the {seen.title} memory's read-out draws on at each "
                    "step (measured on the reference's recurrence, run token by token).",
                }
            )
        return figures
    profiles = [age_profile(m) for m in sorted(reference.MODELS)]
    by_age = [p.title for p in profiles if not p.by_content]
    return [
        overview_svg(profiles)
        | {
            "alt": (
                f"A grid of {len(profiles)} small bar charts, one per memory model of the course, each showing how "
                f"much each of the last {T} tokens weighs in what the memory returns, newest on the left. "
                f"Grey charts depend on the keys, not on the age alone."
            ),
            "caption": "Every memory of the course as the weight it gives each past token, newest on the left "
            f"(blue: by age alone, {len(by_age)} models; grey: the weights depend on the keys too). Measured on the "
            "reference models.",
        }
    ]

"""Figures measured at growing sizes, printed as markdown: a table per size, then how each figure grew.

A figure that scales with the deployment should grow by about the size's own
factor (10x switches: about 10x seconds); a "per one" figure (one more port)
should stay flat. The growth table prints both factors side by side so what
grows faster than linearly stands out; the profile tables do the same for the
functions a profiler saw.
"""

from __future__ import annotations

from dataclasses import dataclass

from .pyspy import Profile


@dataclass(frozen=True)
class Figure:
    label: str
    value: float | None  # None: not measured (or not done, see `note`)
    unit: str = ""
    note: str = ""  # shown instead of a missing value ("> 600 s, not done")


def fmt(f: Figure, notes: bool = True) -> str:
    if f.value is None:
        return f.note or "-"
    v, unit = f.value, f.unit
    if unit == "":
        text = f"{v:,.0f}" if float(v).is_integer() or abs(v) >= 100 else f"{v:.2f}"
    elif abs(v) >= 100:
        text = f"{v:,.0f} {unit}"
    elif abs(v) >= 10 or unit == "ms":
        text = f"{v:.1f} {unit}"
    else:
        text = f"{v:.2f} {unit}"
    return text + (f" ({f.note})" if f.note and notes else "")


def size_table(title: str, figures: list[Figure]) -> str:
    out = [f"| {title} | |", "|---|---|"]
    out += [f"| {f.label} | {fmt(f)} |" for f in figures]
    return "\n".join(out)


def factor(a: float | None, b: float | None) -> str:
    if a is None or b is None:
        return "-"
    if a == 0:
        return "-" if b == 0 else "(from 0)"
    return f"{b / a:.1f}x"


def growth_table(sizes: list[int], unit_name: str, runs: list[list[Figure]]) -> str:
    """Rows: figures (by label, in the order first seen); columns: each size, then the factor between
    consecutive sizes beside the sizes' own factor."""
    by_label = [{f.label: f for f in run} for run in runs]
    labels = list(dict.fromkeys(f.label for run in runs for f in run))
    steps = list(zip(sizes, sizes[1:], strict=False))
    head = ["figure"] + [f"{s:,} {unit_name}" for s in sizes] + [f"{a:,} -> {b:,} ({b / a:.0f}x)" for a, b in steps]
    out = ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    for label in labels:
        figs = [run.get(label, Figure(label, None)) for run in by_label]
        row = [label] + [fmt(f, notes=False) for f in figs]
        row += [factor(figs[k].value, figs[k + 1].value) for k in range(len(steps))]
        out.append("| " + " | ".join(row) + " |")
    return "\n".join(out)


def profile_table(phase: str, sizes: list[int], unit_name: str, profiles: list[Profile], top: int = 15,
                  own: bool = False, only: tuple[str, ...] = ()) -> str:
    """The functions most seen at the largest size (seconds on a stack, or on top with `own`), at every size;
    with `only`, those of files under these folders."""
    kind = "own" if own else "inclusive"
    funcs = [f for f, _ in profiles[-1].top(top, own, only)]
    steps = list(zip(sizes, sizes[1:], strict=False))
    head = [f"{phase}: {kind} seconds"] + [f"{s:,} {unit_name}" for s in sizes] + \
        [f"{a:,} -> {b:,}" for a, b in steps]
    out = ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    for func in funcs:
        secs = [p.seconds(func, own) for p in profiles]
        row = [f"`{func}`"] + [f"{s:.2f}" for s in secs] + [factor(a, b) for a, b in zip(secs, secs[1:], strict=False)]
        out.append("| " + " | ".join(row) + " |")
    total = [p.samples / p.rate for p in profiles]
    row = ["(every sample)"] + [f"{s:.2f}" for s in total]
    row += [factor(a, b) for a, b in zip(total, total[1:], strict=False)]
    out.append("| " + " | ".join(row) + " |")
    return "\n".join(out)

"""The protocol's numbers: ε at the end of each run, its learning-rate exponent and
the ``ε / (τ² k)`` collapse, per law group."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .experiment import Experiment


def final_deviation(exp: Experiment, group: str) -> dict[float, np.ndarray]:
    """ε at the last step of every run, by learning rate: ``{lr: (seeds,)}``."""
    eps = exp.result.deviation(group)[:, -1].numpy()
    lrs = sorted(set(exp.result.lrs))
    return {lr: eps[exp.result.select(lr)] for lr in lrs}


def lr_exponent(exp: Experiment, group: str) -> float:
    """Slope of ``log ε(k_final)`` (median over seeds) against ``log lr``.

    A conserved quadratic law drifts as ``O(τ² k)``: slope 2. A quantity with a
    first-order drift moves about in proportion to ``τ k``: slope near 1 (less once
    it saturates). A linear law is exact to round-off: the slope is noise.
    """
    finals = final_deviation(exp, group)
    x = np.log([lr for lr in finals])
    y = np.log([max(np.median(v), 1e-300) for v in finals.values()])
    if len(x) < 2:
        return math.nan
    return float(np.polyfit(x, y, 1)[0])


def summary_rows(exps: Sequence[Experiment], pairs: Sequence[tuple[str, str]]):
    """One row per (experiment, group) in ``pairs``: ε at the end, per learning
    rate (median over seeds), the learning-rate exponent, and
    ``ε / (τ² k)`` spread over the learning rates (1 when the curves of
    :func:`scaling_panel` collapse)."""
    rows = []
    by_name = {e.name: e for e in exps}
    for name, key in pairs:
        exp = by_name[name]
        group = exp.groups[key]
        finals = final_deviation(exp, key)
        k = int(exp.result.steps[-1])
        scaled = [np.median(v) / (lr**2 * k) for lr, v in finals.items()]
        row = {
            "model": name,
            "block": group.block,
            "quantity": group.text,
            "role": group.role,
        }
        for lr, v in finals.items():
            row[f"ε, lr {lr:g}"] = float(np.median(v))
        row["lr exponent"] = lr_exponent(exp, key)
        row["ε/(lr²k) spread"] = float(max(scaled) / max(min(scaled), 1e-300))
        rows.append(row)
    return rows


def scaling_ranges(exps: Sequence[Experiment], pairs) -> dict[str, dict]:
    """The range of the learning-rate exponent and of the ``ε/(τ²k)`` spread
    (:func:`summary_rows`) over the quadratic laws and over the controls among
    ``pairs``: ``{"quadratic laws" | "controls": {"exponent": (lo, hi),
    "spread": (lo, hi), "count": n}}``. Linear laws (exact to round-off, whose
    exponent is noise) and claimed quantities are left out."""
    by_name = {e.name: e for e in exps}
    out: dict[str, dict] = {}
    for (name, key), row in zip(pairs, summary_rows(exps, pairs)):
        group = by_name[name].groups[key]
        if group.role == "law" and group.degree == 2:
            kind = "quadratic laws"
        elif group.role == "control":
            kind = "controls"
        else:
            continue
        entry = out.setdefault(kind, {"exponent": [], "spread": []})
        entry["exponent"].append(row["lr exponent"])
        entry["spread"].append(row["ε/(lr²k) spread"])
    return {
        kind: {
            "exponent": (min(v["exponent"]), max(v["exponent"])),
            "spread": (min(v["spread"]), max(v["spread"])),
            "count": len(v["exponent"]),
        }
        for kind, v in out.items()
    }


__all__ = [
    "final_deviation",
    "lr_exponent",
    "scaling_ranges",
    "summary_rows",
]

"""Figures of the book: one style, no titles (captions live in the chapters)."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np

STYLE = {
    "figure.figsize": (6.4, 3.6),
    "figure.dpi": 110,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "font.size": 10,
    "legend.frameon": False,
}


def use_style() -> None:
    """Apply the book's matplotlib style."""
    plt.rcParams.update(STYLE)


def spectra(cert, ax=None):
    """Normalized singular values of the stacked fields after each bracket level."""
    ax = ax or plt.gca()
    for level, values in enumerate(cert.spectra):
        v = np.clip(np.asarray(values), 1e-18, None)
        ax.semilogy(np.arange(1, len(v) + 1), v, ".-", label=f"up to level {level}")
    ax.axvline(cert.rank + 0.5, color="k", lw=0.8, ls=":")
    ax.set_xlabel("singular value index")
    ax.set_ylabel("singular value / largest")
    ax.legend()
    return ax


def certified_vs_predicted(rows: Sequence[dict], ax=None, key="kind"):
    """Certified count against predicted count, one point per architecture."""
    ax = ax or plt.gca()
    kinds = sorted({r[key] for r in rows})
    top = max(max(r["predicted"], r["certified"]) for r in rows) + 1
    ax.plot([0, top], [0, top], color="0.7", lw=1)
    for kind, marker in zip(kinds, "os^v"):
        sel = [r for r in rows if r[key] == kind]
        ax.plot(
            [r["predicted"] for r in sel],
            [r["certified"] for r in sel],
            marker,
            ls="none",
            mfc="none",
            label=f"{kind} ({len(sel)})",
        )
    ax.set_xlabel("predicted laws")
    ax.set_ylabel("certified laws (D − Lie rank)")
    ax.legend()
    return ax


def seconds_vs_parameters(rows: Sequence[dict], ax=None, key="kind"):
    """Certificate wall time against the number of parameters ``D``."""
    ax = ax or plt.gca()
    for kind, marker in zip(sorted({r[key] for r in rows}), "os^v"):
        sel = [r for r in rows if r[key] == kind]
        ax.loglog(
            [r["D"] for r in sel],
            [r["seconds"] for r in sel],
            marker,
            ls="none",
            mfc="none",
            label=kind,
        )
    ax.set_xlabel("parameters D")
    ax.set_ylabel("seconds")
    ax.legend()
    return ax


def deviation_curves(t, curves: dict, ax=None, tolerance: float | None = None):
    """Relative deviations (the paper's Eq. 10) against time, on a log scale."""
    ax = ax or plt.gca()
    for label, values in curves.items():
        v = np.clip(np.asarray(values, dtype=float), 1e-17, None)
        ax.semilogy(np.asarray(t)[1:], v[1:], label=label)
    if tolerance is not None:
        ax.axhline(tolerance, color="0.5", lw=0.8, ls=":", label="solver rtol")
    ax.set_xlabel("time t")
    ax.set_ylabel("relative deviation ε(t)")
    ax.legend()
    return ax


def drift_against_rate(
    t,
    measured,
    integrated,
    ax=None,
    neurons=(0, 1, 2),
    label: str = "",
    legend: bool = True,
):
    """``h_j(t) − h_j(0)`` from the flow (lines) beside the time integral of the
    closed-form rate (markers), for a few neurons ``j``.

    ``label`` (e.g. the activation's name) ends the y-axis label. The legend, when
    asked for, is a figure legend in one row along the top edge, so that it covers
    no curve of any panel: leave it room, e.g. ``fig.tight_layout(rect=(0, 0, 1,
    0.9))``.
    """
    ax = ax or plt.gca()
    t = np.asarray(t)
    step = max(1, len(t) // 12)
    for j, color in zip(neurons, plt.rcParams["axes.prop_cycle"].by_key()["color"]):
        ax.plot(t, np.asarray(measured[:, j]), color=color, label=f"neuron {j}")
        ax.plot(
            t[::step], np.asarray(integrated[::step, j]), "o", mfc="none", color=color
        )
    ax.set_xlabel("time t")
    ax.set_ylabel(r"$h_j(t) - h_j(0)$" + (f", {label}" if label else ""))
    if legend:
        handles, _ = ax.get_legend_handles_labels()
        handles += [
            plt.Line2D([], [], color="0.3", label="flow"),
            plt.Line2D(
                [], [], color="0.3", marker="o", mfc="none", ls="none", label="∫ rate"
            ),
        ]
        ax.figure.legend(
            handles=handles,
            loc="upper center",
            bbox_to_anchor=(0.5, 1.0),
            ncol=len(handles),
            frameon=False,
        )
    return ax

"""Figures of the discovery chapter: no titles, lowercase axis labels."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np


def law_spectra(found: dict, ax=None, first: int = 40):
    """Singular values of each law system, counted from the smallest: the laws
    are the values at round-off, left of the jump."""
    ax = ax or plt.gca()
    for name, result in found.items():
        s = np.clip(result.singular_values.numpy()[::-1][:first], 1e-18, None)
        label = f"{name} ({result.dimension})"
        ax.semilogy(np.arange(1, len(s) + 1), s, ".-", label=label)
    ax.set_xlabel("singular value index, from the smallest")
    ax.set_ylabel("singular value / largest")
    ax.legend(title="block (dimension of the laws)", fontsize=8)
    return ax


def discovery_times(rows, ax=None):
    """Discovery time and the time of one SVD of the system's shape against the
    number of unknowns, log–log; the legend gives each fitted slope
    (:func:`~conslaw.sweeps.discovery.time_slopes`)."""
    from ..sweeps.discovery import time_slopes

    ax = ax or plt.gca()
    n = np.array([r["unknowns"] for r in rows], dtype=float)
    for key, style, name in (
        ("seconds", "o-", "whole discovery"),
        ("svd seconds", "s--", "its SVD"),
    ):
        t = np.array([r[key] for r in rows], dtype=float)
        slope = time_slopes(rows, key)["fit"]
        ax.loglog(n, t, style, label=f"{name} (fitted slope {slope:.1f})")
    ax.set_xlabel("unknown coefficients")
    ax.set_ylabel("seconds")
    ax.legend()
    return ax

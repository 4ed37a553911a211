"""The protocol's figures: ε(k) per learning rate, and ε against ``lr² k``."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np

from .experiment import Experiment


def _colors(n):
    return plt.rcParams["axes.prop_cycle"].by_key()["color"][:n]


def deviation_panel(ax, curves: Mapping[str, tuple[Experiment, str, str]]):
    """ε(k) for each learning rate: median over seeds (line) and the range over
    seeds (band). ``curves`` maps a legend label to ``(experiment, group,
    line style)``; colours are the learning rates."""
    for label, (exp, key, style) in curves.items():
        eps = exp.result.deviation(key).numpy()
        steps = exp.result.steps.numpy()
        lrs = sorted(set(exp.result.lrs))
        for lr, color in zip(lrs, _colors(len(lrs))):
            sel = eps[exp.result.select(lr)][:, 1:]
            ax.semilogy(
                steps[1:],
                np.median(sel, 0),
                style,
                color=color,
                label=f"{label}, lr {lr:g}",
            )
            ax.fill_between(
                steps[1:], sel.min(0), sel.max(0), color=color, alpha=0.15, lw=0
            )
    ax.set_xlabel("step k")
    ax.set_ylabel("relative deviation ε(k)")
    return ax


def lr_legend(ax, exp: Experiment, styles: Mapping[str, str], **kwargs):
    """A compact legend for :func:`deviation_panel`: one entry per learning rate
    (its colour) and one per line style (``styles`` maps a label, mathtext
    allowed, to a style), instead of one per curve."""
    from matplotlib.lines import Line2D

    lrs = sorted(set(exp.result.lrs))
    handles = [
        Line2D([], [], color=c, label=f"lr {lr:g}")
        for lr, c in zip(lrs, _colors(len(lrs)))
    ]
    handles += [Line2D([], [], color="0.3", ls=s, label=t) for t, s in styles.items()]
    kwargs.setdefault("fontsize", 9)
    return ax.legend(handles=handles, **kwargs)


def scaling_panel(ax, exp: Experiment, law: str, control: str | None = None):
    """ε against ``lr² k`` (log–log): a conserved law's curves for the three
    learning rates collapse near one line of slope 1 (the O(τ²k) bound); a
    control's do not. Medians over seeds."""
    steps = exp.result.steps.numpy()[1:]
    lrs = sorted(set(exp.result.lrs))
    for key, style in ((law, "-"), (control, "--")):
        if key is None:
            continue
        eps = exp.result.deviation(key).numpy()[:, 1:]
        for lr, color in zip(lrs, _colors(len(lrs))):
            med = np.median(eps[exp.result.select(lr)], 0)
            label = f"lr {lr:g}" if style == "-" else None
            ax.loglog(lr**2 * steps, med, style, color=color, label=label)
    x = np.array([min(lrs) ** 2 * steps[0], max(lrs) ** 2 * steps[-1]])
    eps = exp.result.deviation(law).numpy()[:, -1]
    top = np.median(eps[exp.result.select(max(lrs))])
    ax.loglog(x, top * x / x[-1], ":", color="0.4")
    ax.set_xlabel("lr² · k")
    ax.set_ylabel("relative deviation ε(k)")
    return ax


__all__ = [
    "deviation_panel",
    "lr_legend",
    "scaling_panel",
]

"""The paper's Figure 2 protocol: models, data, grids, summaries and figures.

The protocol chapter calls these with its resolved settings (``SETTINGS["protocol"]``
in :mod:`conslaw.profiles`): a ViT on images and a Qwen-3-style language model on
text, each trained for every (learning rate, seed) pair as one batched program
(:func:`conslaw.training.batched.train_grid`), with the laws of every block and
their controls tracked inside the loop.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import torch

from .book.results import save_json
from .data_cifar import image_data
from .data_text import text_corpus
from .laws.transformer import LawGroup, law_groups
from .models.transformer import LanguageModel, ViT
from .training.batched import GridResult, cpu_threads, train_grid


@dataclass
class Experiment:
    """One trained grid: the model, its law groups and the result."""

    name: str
    model: ViT | LanguageModel
    groups: dict[str, LawGroup]
    result: GridResult


def parse_lrs(value) -> list[float]:
    """Learning rates from a list or a comma-separated string (``"0.01,0.1"``)."""
    if isinstance(value, str):
        try:
            value = [float(v) for v in value.split(",") if v.strip()]
        except ValueError:
            raise ValueError(
                f"expected learning rates like '0.01,0.03,0.1', got {value!r}"
            ) from None
    lrs = [float(v) for v in value]
    if not lrs:
        raise ValueError("expected at least one learning rate, got none")
    return lrs


def build_vit(cfg: Mapping, data) -> ViT:
    """The ViT of the settings ``vit_*``, sized to the images of ``data``."""
    return ViT(
        tuple(data.x.shape[1:]),
        patch=cfg["vit_patch"],
        width=cfg["vit_width"],
        heads=cfg["vit_heads"],
        layers=cfg["vit_layers"],
        mlp=cfg["vit_mlp"],
        classes=int(data.y.max()) + 1,
    )


def build_lm(cfg: Mapping, vocab: int, gate: str) -> LanguageModel:
    """The language model of the settings ``lm_*`` with ``gate``."""
    return LanguageModel(
        vocab,
        cfg["lm_seq"],
        cfg["lm_width"],
        cfg["lm_heads"],
        cfg["lm_layers"],
        cfg["lm_mlp"],
        cfg["lm_experts"],
        gate,
        tied=cfg["lm_tied"],
    )


def load_data(cfg: Mapping):
    """``(images, text)``: the data sets the settings name, on the CPU."""
    images = image_data(cfg["vit_data"], data_dir=cfg["data_dir"])
    text = text_corpus(
        cfg["lm_data"], cfg["lm_seq"], level=cfg["lm_level"], data_dir=cfg["data_dir"]
    )
    return images, text


def run_grid(
    name: str, model, data, cfg: Mapping, *, kind: str, progress: bool | None = None
) -> Experiment:
    """Train ``model`` on ``data`` for the grid of the settings (``kind`` is
    ``"vit"`` or ``"lm"``, which picks the ``{kind}_lrs``, ``{kind}_steps`` and
    ``{kind}_batch`` settings), tracking every law group and control.

    ``progress`` prints the trainer's progress lines; ``None`` takes the
    setting ``progress`` (off in the quick profile, where a grid takes seconds).
    """
    if progress is None:
        progress = bool(cfg.get("progress", True))
    groups = law_groups(model)
    seeds = [cfg["seed"] + s for s in range(cfg["seeds"])]
    steps = cfg[f"{kind}_steps"]
    result = train_grid(
        model,
        data,
        {k: g.laws for k, g in groups.items()},
        lrs=parse_lrs(cfg[f"{kind}_lrs"]),
        seeds=seeds,
        steps=steps,
        batch_size=cfg[f"{kind}_batch"],
        loss="cross-entropy" if kind == "vit" else "token-cross-entropy",
        every=max(1, steps // cfg["records"]),
        optimizer=cfg["optimizer"],
        device=cfg["device"],
        dtype=cfg["dtype"],
        chunk=cfg["chunk"],
        threads=cfg["threads"],
        progress=progress,
        label=name,
    )
    result.settings = {
        **dict(cfg),
        "model": model.describe(),
        "D": model.num_parameters,
    }
    return Experiment(name, model, groups, result)


# ------------------------------------------------------------------ summaries
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


def save_experiment(chapter: str, exp: Experiment):
    """Write the experiment's settings and curves to ``NAME.json`` (see
    :meth:`GridResult.to_dict`), with each group's description."""
    data = exp.result.to_dict()
    data["groups"] = {
        k: {
            "block": g.block,
            "role": g.role,
            "quantity": g.text,
            "conserved (ours)": g.conserved,
            "conserved (paper)": g.paper,
        }
        for k, g in exp.groups.items()
    }
    return save_json(chapter, exp.name, data)


# -------------------------------------------------------------------- figures
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


# ----------------------------------------------------------- checks, verdicts
# A law's curves for the three learning rates drift as O(τ²k) when the fitted
# exponent of ε against lr lies in this band (2 exactly in the small-step limit;
# the finite grid and seed-to-seed scatter move it by a few tenths)
EXPONENT_BAND = (1.5, 2.5)

# a linear law (the softmax gate sum) is unchanged by an SGD step up to round-off:
# float64 sums of ~1e2 terms leave ~1e-15 relative
LINEAR_TOL = 1e-12


def orthogonality_rows(
    name: str,
    model,
    *,
    seed: int = 0,
    inputs: int = 4,
    threads: int | None = None,
    combos: int | None = None,
    device: str = "auto",
):
    """For each law group of ``model``: the largest ``|cos|`` between a law
    gradient and a sampled field in the whole network, at a generic float64
    point (:func:`~conslaw.laws.transformer.law_orthogonality`, with its
    ``combos``), on ``device``, with ``threads`` CPU threads
    (:func:`~conslaw.training.batched.cpu_threads`)."""
    with cpu_threads(threads):
        return _orthogonality_rows(name, model, seed, inputs, combos, device)


def _orthogonality_rows(name, model, seed, inputs, combos, device):
    from .device import resolve_device
    from .laws.transformer import law_orthogonality, network_fields

    dev = resolve_device(device)
    params = {n: v.to(dev) for n, v in model.init(seed).items()}
    gen = torch.Generator().manual_seed(int(seed))
    x = model.sample_inputs(inputs, gen).to(dev)
    fields = network_fields(model, params, x, seed=seed)
    rows = []
    for key, group in law_groups(model).items():
        cos = law_orthogonality(
            model, group.laws, params, rows=fields, combos=combos, seed=seed
        )
        rows.append(
            {
                "model": name,
                "key": key,
                "block": group.block,
                "quantity": group.text,
                "role": group.role,
                "laws": group.laws.count,
                "max |cos|": cos,
            }
        )
    return rows


def one_step_rows(
    name: str,
    model,
    data,
    *,
    lr: float,
    loss,
    seed: int = 0,
    threads=None,
    device: str = "auto",
):
    """For each law group: one SGD step of ``lr`` on a batch of 16 (float64, on
    ``device``), the change ``‖Δh‖/‖h‖`` and its mismatch with the conserved-law
    prediction ``τ² h(g)`` (:func:`~conslaw.laws.transformer.one_step_change`)."""
    with cpu_threads(threads):
        return _one_step_rows(name, model, data, lr, loss, seed, device)


def _one_step_rows(name, model, data, lr, loss, seed, device):
    from .device import resolve_device
    from .laws.transformer import one_step_change
    from .training.batched import draw_batch
    from .training.losses import loss_fn

    dev = resolve_device(device)
    params = {n: v.to(dev) for n, v in model.init(seed, scale="fan_in").items()}
    idx = torch.randint(len(data), (16,), generator=torch.Generator().manual_seed(seed))
    x, y = draw_batch(data, idx)
    x = x.to(dev, torch.float64) if x.is_floating_point() else x.to(dev)
    y = y.to(dev)
    rows = []
    for key, group in law_groups(model).items():
        out = one_step_change(model, group, params, x, y, lr, loss_fn(loss))
        rows.append(
            {"model": name, "key": key, "block": group.block, "role": group.role, **out}
        )
    return rows


def bound_text(x: float, digits: int = 2) -> str:
    """``x`` in e-notation with ``digits`` significant digits, rounded *up*, so
    that a printed maximum is never below the true one (5.04e-16 -> 5.1e-16)."""
    text = f"{x:.{digits - 1}e}"
    if not math.isfinite(x) or float(text) >= x:
        return text
    mantissa, exponent = text.split("e")
    up = (float(mantissa) + 10.0 ** (1 - digits)) * 10.0 ** int(exponent)
    return f"{up:.{digits - 1}e}"


def training_verdict(exp: Experiment, law: str, control: str, cos: Mapping):
    """Verdict fields for one block from its grid and the orthogonality check.

    ``cos`` maps group keys to the largest ``|cos|`` of :func:`orthogonality_rows`.
    Confirmed when the law is orthogonal to the fields (the control is not), its
    ε stays below the control's at every learning rate, and it drifts as
    O(τ²k) (quadratic laws) or not at all (linear ones).
    """
    from .laws.transformer import ORTHOGONALITY_TOL

    group = exp.groups[law]
    laws, ctrl = final_deviation(exp, law), final_deviation(exp, control)
    med = {lr: float(np.median(v)) for lr, v in laws.items()}
    cmed = {lr: float(np.median(v)) for lr, v in ctrl.items()}
    p = lr_exponent(exp, law)
    problems = []
    if not cos[law] < ORTHOGONALITY_TOL < cos[control]:
        problems.append(f"|cos| law {cos[law]:.0e}, control {cos[control]:.0e}")
    if any(med[lr] >= cmed[lr] for lr in med):
        problems.append("law ε not below the control's at every lr")
    if group.degree == 2 and not EXPONENT_BAND[0] <= p <= EXPONENT_BAND[1]:
        problems.append(f"lr exponent {p:.2f} outside {EXPONENT_BAND}")
    if group.degree == 1 and max(med.values()) > LINEAR_TOL:
        problems.append(f"linear law moved by {max(med.values()):.0e}")
    lo, hi = min(med), max(med)
    if group.degree == 2:
        band = f"{EXPONENT_BAND[0]:g}–{EXPONENT_BAND[1]:g}"
        drift = (
            f"ε {med[lo]:.1e} (lr {lo:g}) to {med[hi]:.1e} (lr {hi:g}), "
            f"∝ lr^{p:.2f} (O(τ²k) band {band}); control {cmed[lo]:.1e} to "
            f"{cmed[hi]:.1e}"
        )
    else:
        drift = (
            f"ε ≤ {bound_text(max(med.values()))} (round-off); control "
            f"{cmed[lo]:.1e} to {cmed[hi]:.1e}"
        )
    return {
        "certified": f"max |cos| {bound_text(cos[law])} (control "
        f"{bound_text(cos[control])})",
        "drift": drift,
        "verdict": "confirmed" if not problems else "confirmed with edges",
        "reason": "; ".join(problems),
    }


def claimed_verdict(exp: Experiment, key: str, cos: float) -> dict:
    """Verdict fields for a quantity the paper states as conserved and we do not
    (the normalized-sigmoid gate sum): disputed when its gradient is not
    orthogonal to the fields and it moves beyond round-off in training."""
    from .laws.transformer import ORTHOGONALITY_TOL

    med = [float(np.median(v)) for v in final_deviation(exp, key).values()]
    drifts = cos > ORTHOGONALITY_TOL and min(med) > LINEAR_TOL
    return {
        "certified": f"max |cos| {bound_text(cos)}",
        "drift": f"ε {min(med):.1e} to {max(med):.1e} over the learning rates",
        "verdict": "disputed" if drifts else "confirmed",
        "reason": "drifts at first order in training" if drifts else "",
    }


def verdict_rule() -> str:
    """The rule of :func:`training_verdict`, with its constants and their
    reasons, as printed lines."""
    from .laws.transformer import ORTHOGONALITY_TOL

    lo, hi = EXPONENT_BAND
    return "\n".join(
        [
            "a law is confirmed in training when all of these hold:",
            f"  1. max |cos| of its gradient with the network's fields is below "
            f"{ORTHOGONALITY_TOL:.0e},",
            "     and its control's is above (round-off of nested derivatives is "
            "near 1e-13;",
            "     a quantity that is not conserved shows cosines near 1e-2);",
            "  2. its median ε at the last step is below its control's at every "
            "learning rate;",
            f"  3. quadratic law: the slope of log ε against log lr lies in "
            f"[{lo}, {hi}];",
            "     O(τ²k) gives 2 in the small-step limit, a first-order drift gives "
            "1 or less;",
            "     the band admits the bending of ε when h(g) changes size along "
            "the run;",
            f"     linear law: ε stays below {LINEAR_TOL:.0e} (float64 round-off "
            "of sums of ~1e2 terms).",
            "otherwise: 'confirmed with edges', with the failed condition as the "
            "reason.",
        ]
    )


# the profiles of this chapter executed end to end so far; the gpu and paper
# profiles have not been run (no GPU was available to the project). Update this
# after such a run: the chapter's opening note is built from it.
EXECUTED_PROFILES = ("quick",)


def profile_note(profile: str) -> str:
    """A MyST admonition (class ``important``): the profile this page ran and which
    profiles have been executed at all (:data:`EXECUTED_PROFILES`)."""
    from .profiles import PROFILES, check_profile

    profile = check_profile(profile)
    ran = [p for p in PROFILES if p in EXECUTED_PROFILES or p == profile]
    never = [p for p in PROFILES if p not in ran]
    text = f"This page was executed with the `{profile}` profile."
    if never:
        names = " and ".join(f"`{p}`" for p in never)
        done = " and ".join(f"`{p}`" for p in ran)
        text += (
            f" Only {done} {'has' if len(ran) == 1 else 'have'} been executed "
            f"so far: {names} "
            + ("runs" if len(never) == 1 else "run")
            + " the same code at the larger sizes of the table below, but "
            + ("has" if len(never) == 1 else "have")
            + " never been run on a GPU: no number on this page comes from "
            + ("that scale." if len(never) == 1 else "those scales.")
        )
    return f"```{{admonition}} Profiles executed\n:class: important\n\n{text}\n```"


def profile_rows(profiles=("quick", "gpu", "paper")):
    """What each profile runs: data, model sizes ``D``, grid, steps, dtype."""
    from .profiles import settings

    rows = []
    for name in profiles:
        cfg = settings("protocol", name)
        shape = (1, 8, 8) if cfg.vit_data == "digits" else (3, 32, 32)
        vit = ViT(
            shape,
            cfg.vit_patch,
            cfg.vit_width,
            cfg.vit_heads,
            cfg.vit_layers,
            cfg.vit_mlp,
        )
        vocab = 256 if cfg.lm_level == "bytes" else None
        if vocab is None:
            vocab = text_corpus(cfg.lm_data, cfg.lm_seq, level="chars").vocab
        lm = build_lm(cfg, vocab, "softmax")
        runs = len(parse_lrs(cfg.vit_lrs)) * cfg.seeds
        rows.append(
            {
                "profile": name,
                "ViT": f"{cfg.vit_data}, {vit.describe()[4:]}, "
                f"D={vit.num_parameters:,}",
                "ViT steps × batch": f"{cfg.vit_steps} × {cfg.vit_batch}",
                "LM": f"{cfg.lm_data} ({cfg.lm_level}), T={cfg.lm_seq}, "
                f"d={cfg.lm_width}, L={cfg.lm_layers}, D={lm.num_parameters:,}",
                "LM steps × batch": f"{cfg.lm_steps} × {cfg.lm_batch}",
                "grid": f"{runs} runs"
                + (f", {cfg.chunk} at a time" if cfg.chunk else ""),
                "dtype": cfg.dtype,
            }
        )
    return rows


__all__ = [
    "EXECUTED_PROFILES",
    "EXPONENT_BAND",
    "bound_text",
    "lr_legend",
    "profile_note",
    "scaling_ranges",
    "verdict_rule",
    "claimed_verdict",
    "LINEAR_TOL",
    "Experiment",
    "one_step_rows",
    "orthogonality_rows",
    "profile_rows",
    "training_verdict",
    "build_lm",
    "build_vit",
    "deviation_panel",
    "final_deviation",
    "load_data",
    "lr_exponent",
    "parse_lrs",
    "run_grid",
    "save_experiment",
    "scaling_panel",
    "summary_rows",
]

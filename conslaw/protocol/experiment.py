"""The protocol's experiments: models, data and the trained grid, saved, and
what each profile runs.

A ViT on images and a Qwen-3-style language model on text, each trained for every
(learning rate, seed) pair as one batched program
(:func:`conslaw.training.batched.train_grid`), with the laws of every block and
their controls tracked inside the loop.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..book.results import save_json
from ..data_cifar import image_data
from ..data_text import text_corpus
from ..laws.transformer import LawGroup, law_groups
from ..models.transformer import LanguageModel, ViT
from ..training.batched import train_grid
from ..training.grid import GridResult


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


def save_experiment(chapter: str, exp: Experiment):
    """Write the experiment's settings and curves to ``NAME.json`` (see
    :meth:`~conslaw.training.grid.GridResult.to_dict`), with each group's
    description."""
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


# the profiles of this chapter executed end to end so far; the gpu and paper
# profiles have not been run (no GPU was available to the project). Update this
# after such a run: the chapter's opening note is built from it.
EXECUTED_PROFILES = ("quick",)


def profile_note(profile: str) -> str:
    """A MyST admonition (class ``important``): the profile this page ran and which
    profiles have been executed at all (:data:`EXECUTED_PROFILES`)."""
    from ..profiles import PROFILES, check_profile

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
    from ..profiles import settings

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
    "Experiment",
    "build_lm",
    "build_vit",
    "load_data",
    "parse_lrs",
    "profile_note",
    "profile_rows",
    "run_grid",
    "save_experiment",
]

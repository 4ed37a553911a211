"""The learning-rate × seed grid as one batched program, with law tracking.

The paper's protocol (its Sec. 6, App. D) trains every configuration for three
learning rates and ten seeds. Here the ``R = len(lrs) · len(seeds)`` runs share one
program: their parameters are stacked along a leading axis, the loss of every run
is ``torch.func.vmap`` over the functional forward, and one reverse pass of
autograd through it gives every run's gradient. Each run draws
its mini-batches from its own generator, seeded by its seed alone, so run ``r`` of
the grid follows the same trajectory as :func:`train_run` with the same learning
rate and seed (to round-off: the batched kernels sum in another order).

Laws are evaluated inside the loop, every ``every`` steps, for all runs at once;
:meth:`~conslaw.training.grid.GridResult.deviation` turns them into the paper's Eq. 10.

Precision: laws are checked in float64 by default. float32 (``dtype="float32"``)
is allowed for the large profiles on a GPU and warns that the laws are then
checked in float32, where round-off alone moves a law by about 1e-7 per step.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Mapping, Sequence

import torch
from torch.func import vmap

from ..device import cpu_threads, resolve_device, resolve_dtype
from ..laws.base import LawSet
from ..models.base import FunctionalModel
from .grid import BatchSampler, GridResult, draw_batch
from .losses import loss_fn

OPTIMIZERS = ("sgd", "adam")

# Adam's constants (Kingma & Ba's defaults)
ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8

# lines of progress per chunk of runs (besides the last step)
PROGRESS_LINES = 4


def _check(lrs, seeds, steps, batch_size, every, optimizer, n):
    lrs = [float(v) for v in lrs]
    seeds = [int(s) for s in seeds]
    if not lrs or not seeds:
        raise ValueError(
            f"expected at least one learning rate and one seed, got lrs={lrs}, "
            f"seeds={seeds}"
        )
    if any(not (v > 0 and math.isfinite(v)) for v in lrs):
        raise ValueError(f"learning rates must be positive and finite, got {lrs}")
    for name, v in (("steps", steps), ("batch_size", batch_size), ("every", every)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
    if batch_size > n:
        raise ValueError(
            f"batch_size={batch_size} exceeds the {n} examples of the data set"
        )
    if optimizer not in OPTIMIZERS:
        raise ValueError(
            f"unknown optimizer {optimizer!r}: expected one of {', '.join(OPTIMIZERS)}"
        )
    return lrs, seeds


class _Progress:
    """Fixed-format lines (a bar that rewrites itself only on a terminal)."""

    def __init__(self, label: str, total: int, enabled: bool):
        self.label, self.total, self.enabled = label, total, enabled
        self.tty = enabled and sys.stdout.isatty()
        self.every = max(1, total // PROGRESS_LINES)
        self.start = time.perf_counter()

    def __call__(self, step: int, loss: float, runs: str) -> None:
        if not self.enabled:
            return
        if self.tty:
            done = int(30 * step / self.total)
            bar = "#" * done + "." * (30 - done)
            end = "\n" if step == self.total else ""
            print(
                f"\r{self.label} runs {runs} [{bar}] {step}/{self.total} "
                f"loss {loss:.4f}",
                end=end,
                flush=True,
            )
        elif step % self.every == 0 or step == self.total:
            print(
                f"{self.label} runs {runs}: step {step:>6d}/{self.total} "
                f"mean loss {loss:8.4f}",
                flush=True,
            )


def _track_fn(laws: Mapping[str, LawSet]):
    def track(params):
        return {g: ls.blocks(params) for g, ls in laws.items()}

    return track


def _gradient(losses: Callable):
    """``(params, x, y) -> (grads, losses)`` by reverse-mode autograd of
    ``losses(params, x, y).sum()``.

    For stacked runs ``losses`` is the vmapped loss, shape ``(R,)``: run ``r``'s
    parameters enter only its own loss, so the gradient of the sum is every run's
    own gradient. Autograd through the vmapped forward was about 30% faster than
    ``vmap(grad(loss))`` for the protocol's models on a CPU, with the same
    result to round-off.
    """

    def step(params, x, y):
        with torch.enable_grad():
            leaves = {n: p.detach().requires_grad_() for n, p in params.items()}
            value = losses(leaves, x, y)
            grads = torch.autograd.grad(value.sum(), list(leaves.values()))
        return dict(zip(leaves, grads)), value.detach()

    return step


def _updater(optimizer: str, lr: torch.Tensor):
    """``(params, grads, state, k) -> params, state`` for stacked runs with
    learning rates ``lr (R,)``."""

    def scale(g):
        return lr.reshape((-1,) + (1,) * (g.dim() - 1))

    if optimizer == "sgd":

        def sgd(params, grads, state, k):
            return {n: p - scale(grads[n]) * grads[n] for n, p in params.items()}, state

        return sgd

    b1, b2 = ADAM_BETAS

    def adam(params, grads, state, k):
        m, v = state
        m = {n: b1 * m[n] + (1 - b1) * g for n, g in grads.items()}
        v = {n: b2 * v[n] + (1 - b2) * g * g for n, g in grads.items()}
        c1, c2 = 1 - b1 ** (k + 1), 1 - b2 ** (k + 1)
        new = {
            n: p - scale(p) * (m[n] / c1) / ((v[n] / c2).sqrt() + ADAM_EPS)
            for n, p in params.items()
        }
        return new, (m, v)

    return adam


def _run_chunk(
    model,
    data,
    laws,
    lrs,
    seeds,
    *,
    steps,
    batch_size,
    every,
    loss,
    optimizer,
    dev,
    dtype,
    batched,
    progress,
):
    """Train runs ``zip(lrs, seeds)`` together (``batched``) or one tensor at a
    time without vmap (``batched=False``, one run only)."""
    objective = loss_fn(loss)

    def loss_of(p, x, y):
        return objective(model.forward(p, x), y)

    step_fn = _gradient(vmap(loss_of) if batched else loss_of)
    track = _track_fn(laws)
    if batched:
        track = vmap(track)
    inits = [model.init(s, scale="fan_in", dtype=dtype) for s in seeds]
    params = {n: torch.stack([p[n] for p in inits]).to(dev) for n in model.shapes}
    if not batched:
        params = {n: p[0] for n, p in params.items()}
    lr = torch.tensor(lrs, dtype=dtype, device=dev)
    update = _updater(optimizer, lr if batched else lr[0])
    zeros = {n: torch.zeros_like(p) for n, p in params.items()}
    state = (zeros, dict(zeros)) if optimizer == "adam" else None
    sampler = BatchSampler(seeds, len(data), batch_size)
    runs = len(seeds)

    recorded, losses, rows = [0], [], []
    rows.append(track(params))
    running = torch.zeros(runs if batched else (), dtype=dtype, device=dev)
    count = 0
    for k in range(steps):
        idx = sampler().to(dev)
        x, y = draw_batch(data, idx if batched else idx[0])
        grads, value = step_fn(params, x, y)
        if k == 0:
            losses.append(value.detach())
        running, count = running + value.detach(), count + 1
        params, state = update(params, grads, state, k)
        if (k + 1) % every == 0 or k + 1 == steps:
            recorded.append(k + 1)
            losses.append(running / count)
            running, count = torch.zeros_like(running), 0
            rows.append(track(params))
            progress(k + 1, losses[-1].mean().item())
    loss_curve = torch.stack(losses, dim=-1)  # (R, S) or (S,)
    tracked = {
        g: {
            n: torch.stack([r[g][n] for r in rows], dim=1 if batched else 0)
            for n in rows[0][g]
        }
        for g in laws
    }
    if not batched:
        loss_curve = loss_curve[None]
        tracked = {g: {n: v[None] for n, v in t.items()} for g, t in tracked.items()}
    return (
        recorded,
        loss_curve.cpu(),
        {g: {n: v.cpu() for n, v in t.items()} for g, t in tracked.items()},
    )


def train_grid(
    model: FunctionalModel,
    data,
    laws: Mapping[str, LawSet],
    *,
    lrs: Sequence[float],
    seeds: Sequence[int],
    steps: int,
    batch_size: int,
    loss: str | Callable = "cross-entropy",
    every: int = 1,
    optimizer: str = "sgd",
    device: str = "auto",
    dtype: str | torch.dtype = "float64",
    chunk: int | None = None,
    threads: int | None = None,
    progress: bool = True,
    label: str = "grid",
) -> GridResult:
    """Train every (learning rate, seed) pair as one batched program.

    Args:
        model: a functional model; run ``r`` starts at ``model.init(seed,
            scale="fan_in")``.
        data: a :class:`~conslaw.data.Dataset` or token windows (anything with
            ``len``, ``batch(idx)`` and ``to(device, dtype)``).
        laws: the law groups to track, by name; each ``LawSet``'s blocks are the
            tensors ``h_i`` of the paper's Eq. 10.
        lrs, seeds: the grid; runs are ordered learning rate first
            (``[(lrs[0], seeds[0]), (lrs[0], seeds[1]), ...]``).
        steps, batch_size: mini-batch gradient steps, examples per step (drawn
            with replacement, from a generator seeded by the run's seed).
        loss: ``"cross-entropy"``, ``"square"``, ``"token-cross-entropy"`` or a
            function ``(out, y) -> scalar``.
        every: record the laws and the loss every ``every`` steps (and at the end).
        optimizer: ``"sgd"`` (plain mini-batch gradient descent) or ``"adam"``.
        device: ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda"``.
        dtype: ``"float64"`` (default) or ``"float32"`` (warns).
        chunk: at most this many runs in one batched program (memory); all by
            default.
        threads: intra-op CPU threads while training (see
            :func:`~conslaw.device.cpu_threads`); torch's setting by default.
        progress: print fixed-format progress lines.
        label: the progress lines' prefix.

    Returns:
        a :class:`~conslaw.training.grid.GridResult` with
        ``R = len(lrs) · len(seeds)`` runs, on the CPU.
    """
    lrs, seeds = _check(lrs, seeds, steps, batch_size, every, optimizer, len(data))
    return _train(
        model,
        data,
        laws,
        [(lr, s) for lr in lrs for s in seeds],
        chunk=chunk,
        batched=True,
        steps=steps,
        batch_size=batch_size,
        loss=loss,
        every=every,
        optimizer=optimizer,
        device=device,
        dtype=dtype,
        threads=threads,
        progress=progress,
        label=label,
    )


def train_run(
    model: FunctionalModel,
    data,
    laws: Mapping[str, LawSet],
    *,
    lr: float,
    seed: int,
    steps: int,
    batch_size: int,
    loss: str | Callable = "cross-entropy",
    every: int = 1,
    optimizer: str = "sgd",
    device: str = "auto",
    dtype: str | torch.dtype = "float64",
    threads: int | None = None,
    progress: bool = False,
    label: str = "run",
) -> GridResult:
    """One run, without ``vmap``: the reference the grid must reproduce, and the
    loop the benchmark compares with. Same arguments as :func:`train_grid`."""
    (lr,), (seed,) = _check(
        [lr], [seed], steps, batch_size, every, optimizer, len(data)
    )
    return _train(
        model,
        data,
        laws,
        [(lr, seed)],
        chunk=None,
        batched=False,
        steps=steps,
        batch_size=batch_size,
        loss=loss,
        every=every,
        optimizer=optimizer,
        device=device,
        dtype=dtype,
        threads=threads,
        progress=progress,
        label=label,
    )


def _train(
    model,
    data,
    laws,
    runs,
    *,
    chunk,
    batched,
    steps,
    batch_size,
    loss,
    every,
    optimizer,
    device,
    dtype,
    threads,
    progress,
    label,
) -> GridResult:
    """Train ``runs``, a list of ``(lr, seed)``, in chunks of ``chunk`` runs (all
    by default): batched with ``vmap``, or one run without (``batched=False``)."""
    dev = resolve_device(device)
    dtype = resolve_dtype(dtype, dev)
    data = data.to(dev, dtype)
    size = len(runs) if chunk is None else chunk
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"chunk must be a positive integer or None, got {chunk!r}")
    report = _Progress(label, steps, progress)
    start = time.perf_counter()
    parts = []
    with cpu_threads(threads):
        for a in range(0, len(runs), size):
            part = runs[a : a + size]
            tag = f"{a + 1}-{a + len(part)}/{len(runs)}" if batched else "1/1"
            parts.append(
                _run_chunk(
                    model,
                    data,
                    laws,
                    [r[0] for r in part],
                    [r[1] for r in part],
                    steps=steps,
                    batch_size=batch_size,
                    every=every,
                    loss=loss,
                    optimizer=optimizer,
                    dev=dev,
                    dtype=dtype,
                    batched=batched,
                    progress=lambda k, v, tag=tag: report(k, v, tag),
                )
            )
    return _result(parts, runs, start, dev, dtype, optimizer)


def _result(parts, runs, start, dev, dtype, optimizer) -> GridResult:
    steps = torch.tensor(parts[0][0])
    loss = torch.cat([p[1] for p in parts])
    tracked = {
        g: {n: torch.cat([p[2][g][n] for p in parts]) for n in parts[0][2][g]}
        for g in parts[0][2]
    }
    return GridResult(
        lrs=[r[0] for r in runs],
        seeds=[r[1] for r in runs],
        steps=steps,
        loss=loss,
        tracked=tracked,
        seconds=time.perf_counter() - start,
        device=str(dev),
        dtype=str(dtype).replace("torch.", ""),
        optimizer=optimizer,
    )


__all__ = [
    "ADAM_BETAS",
    "ADAM_EPS",
    "OPTIMIZERS",
    "train_grid",
    "train_run",
]

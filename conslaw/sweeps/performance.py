"""Timings of the certificate: time against ``D`` per block, a reference cost,
the peer.

The *reference* cost of a rank certificate on ``D`` parameters is ``D`` gradient
evaluations (one field per direction) plus one SVD of a ``D × D`` matrix: what a
method that samples fields and factorizes them once, whole, spends. It is a
yardstick, not a lower bound: the incremental rank
(:class:`~conslaw.certificate.rank.RowSpace`) never factorizes the whole stack,
so the certificate can come near it or under it. The benchmark script calls it
the *floor*. Both are timed in the same run as the certificate they are
compared with, on the same device, so that a loaded machine slows both alike.
"""

from __future__ import annotations

import os
import platform
import signal
import time
from contextlib import contextmanager

import torch
from torch.func import vmap

from ..certificate import certify
from ..certificate.fields import generator_field
from ..device import resolve_device
from ..models import FFN, GLU, MaskedFFN, MoE, MultiHeadAttention
from ..symbolic.lie import symbolic_count

BLOCKS = ("ffn", "glu", "attention", "moe")


def machine(device: str | torch.device = "cpu") -> dict:
    """Where the timings ran: platform, processor, cores, torch threads, device."""
    where = resolve_device(device)
    name = torch.cuda.get_device_name(where) if where.type == "cuda" else "CPU only"
    return {
        "platform": platform.platform(terse=True),
        "processor": platform.machine(),
        "cpu cores": os.cpu_count(),
        "torch threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "unset"),
        "device": f"{where} ({name})",
    }


def block_model(block: str, width: int):
    """A model of ``block`` whose size grows with ``width``.

    ``ffn``: GELU ``w-2w-w``; ``glu``: SwiGLU ``w-2w-w``; ``attention``: two heads,
    ``d = w``, ``d_k = d_v = w/2``, four tokens; ``moe``: two SwiGLU experts
    ``w-w-w`` under a softmax gate.
    """
    if block not in BLOCKS:
        raise ValueError(f"unknown block {block!r}: expected one of {BLOCKS}")
    if not isinstance(width, int) or width < 2 or (block == "attention" and width % 2):
        raise ValueError(
            f"width must be an integer ≥ 2 (even for attention), got {width!r}"
        )
    if block == "ffn":
        return FFN([width, 2 * width, width], "gelu")
    if block == "glu":
        return GLU([width, 2 * width, width], "silu")
    if block == "attention":
        return MultiHeadAttention(width, 2, width // 2, width // 2, 4)
    return MoE([width, width, width], 2, "softmax", "swiglu")


def floor_seconds(model, seed: int = 0, device="cpu") -> dict:
    """Time one ``D × D`` SVD and ``D`` gradient fields of ``model``: the
    reference cost (see the module's docstring), under its key ``"floor"``.

    The fields are those of the certificate's level 0 (four inputs each).
    """
    where = resolve_device(device)
    D = model.num_parameters
    gen = torch.Generator().manual_seed(int(seed))
    theta = model.flatten(model.init(seed)).to(where)
    xs = model.sample_inputs(4 * D, gen).reshape(D, 4, *model.in_shape)
    us = torch.randn((D, 4, *model.out_shape), generator=gen, dtype=torch.float64)
    start = time.perf_counter()
    rows = vmap(generator_field(model), in_dims=(None, 0, 0))(
        theta, xs.to(where), us.to(where)
    )
    _sync(where)
    gradients = time.perf_counter() - start
    square = torch.randn((D, D), generator=gen, dtype=torch.float64).to(where)
    start = time.perf_counter()
    torch.linalg.svdvals(square)
    _sync(where)
    svd = time.perf_counter() - start
    assert rows.shape == (D, D)
    return {"gradients": gradients, "svd": svd, "floor": gradients + svd}


def _sync(where: torch.device) -> None:
    if where.type == "cuda":
        torch.cuda.synchronize(where)


def time_block(block: str, widths, seed: int = 0, device="cpu") -> list[dict]:
    """Certify ``block`` at each width and time its reference cost
    (:func:`floor_seconds`) in the same run.

    Returns one row per width: ``D``, counts, verdict, gap, rank method,
    device, the certificate's seconds split into level 0, the bracket levels
    and the law check, the reference's seconds and the ratio of the two.
    """
    # one untimed run first: the first call of torch.func pays one-time costs
    certify(block_model(block, min(widths)), seed=seed, device=device)
    rows = []
    for width in widths:
        model = block_model(block, width)
        cert = certify(model, seed=seed, device=device)
        floor = floor_seconds(model, seed, device)
        rows.append(
            {
                "block": block,
                "width": width,
                "D": cert.parameters,
                "predicted": cert.predicted,
                "certified": cert.certified,
                "status": cert.status,
                "gap": cert.gap,
                "method": cert.method,
                "device": cert.device,
                "levels": len(cert.levels) - 1,
                "seconds": cert.seconds,
                "level 0 s": cert.levels[0].seconds,
                "brackets s": sum(lv.seconds for lv in cert.levels[1:]),
                "law check s": cert.law_seconds,
                "reference": floor["floor"],
                "svd": floor["svd"],
                "gradients": floor["gradients"],
                "ratio": cert.seconds / floor["floor"],
            }
        )
    return rows


class PeerTimeout(Exception):
    """The symbolic peer ran past its budget."""


@contextmanager
def _time_limit(seconds: float | None):
    if not seconds or not hasattr(signal, "SIGALRM"):
        yield
        return

    def stop(signum, frame):
        raise PeerTimeout

    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _peer_model(kind: str, widths, bias: bool):
    """The framework chapter's model of a ``(kind, widths, bias)`` architecture:
    a bias-free linear net, or a ReLU net with every pattern realizable."""
    return (
        FFN(widths, "linear", bias=False)
        if kind == "linear"
        else MaskedFFN(widths, bias=bias)
    )


def peer_architectures(count: int, seed: int = 0) -> list[tuple]:
    """The ``count`` smallest linear and ``count`` smallest ReLU architectures of
    the framework chapter's 100 (same seed), as ``(kind, widths, bias)``."""
    from .marcotte import random_architectures

    out = []
    for kind in ("linear", "relu"):
        archs = random_architectures(kind, 50, seed)
        size = [_peer_model(kind, w, b).num_parameters for w, b in archs]
        order = sorted(range(len(archs)), key=lambda i: (size[i], i))
        out += [(kind, archs[i][0], archs[i][1]) for i in order[:count]]
    return out


def peer_row(kind: str, widths, bias: bool, seed: int = 0, budget=None) -> dict:
    """The symbolic peer and the certificate on one linear or ReLU architecture.

    Both stop at the same rule: the bound ``D − known laws``, or a level that adds
    nothing. The peer's count is ``None`` when it ran past ``budget`` seconds.
    """
    cert = certify(_peer_model(kind, widths, bias), seed=seed, device="cpu")
    row = {
        "kind": kind,
        "widths": "-".join(map(str, widths)),
        "bias": bias,
        "D": cert.parameters,
        "known": cert.predicted,
        "certificate": cert.certified,
        "certificate s": cert.seconds,
    }
    try:
        with _time_limit(budget):
            peer = symbolic_count(
                kind, widths, bias, bound=cert.parameters - cert.predicted, seed=seed
            )
    except PeerTimeout:
        row.update({"symbolic": None, "symbolic s": float(budget), "ratio": None})
        return row
    row.update(
        {
            "symbolic": peer.laws,
            "symbolic s": peer.seconds,
            "ratio": peer.seconds / cert.seconds,
        }
    )
    return row


def peer_rows(architectures, seed: int = 0, budget=None) -> list[dict]:
    """:func:`peer_row` for each ``(kind, widths, bias)``, after one untimed
    certificate (the first call of torch.func pays one-time costs)."""
    certify(FFN([2, 2, 2], "linear", bias=False), seed=seed, device="cpu")
    return [peer_row(k, w, b, seed=seed, budget=budget) for k, w, b in architectures]


def plot_times(rows, ax=None):
    """Certificate seconds (filled markers) and reference seconds (open markers
    of the same colour) against ``D``, one colour per block; markers only."""
    import matplotlib.pyplot as plt

    ax = ax or plt.gca()
    for block, marker in zip(BLOCKS, "os^v"):
        sel = [r for r in rows if r["block"] == block]
        if not sel:
            continue
        D = [r["D"] for r in sel]
        (line,) = ax.loglog(D, [r["seconds"] for r in sel], marker, label=block)
        ax.loglog(
            D,
            [r["reference"] for r in sel],
            marker,
            color=line.get_color(),
            mfc="none",
        )
    ax.plot([], [], "o", color="0.3", label="certificate (filled)")
    ax.plot([], [], "o", color="0.3", mfc="none", label="reference (open)")
    ax.set_xlabel("parameters D")
    ax.set_ylabel("seconds")
    ax.legend()
    return ax


def plot_peer(rows, ax=None):
    """Seconds of the symbolic peer (filled markers) and of the certificate
    (open markers) against ``D``; markers only, since several architectures
    share a ``D``."""
    import matplotlib.pyplot as plt

    ax = ax or plt.gca()
    for kind, marker, color in (("linear", "o", "C0"), ("relu", "^", "C3")):
        sel = sorted((r for r in rows if r["kind"] == kind), key=lambda r: r["D"])
        D = [r["D"] for r in sel]
        symbolic = [r["symbolic s"] for r in sel]
        numeric = [r["certificate s"] for r in sel]
        ax.semilogy(D, symbolic, marker, color=color, label=f"symbolic, {kind}")
        ax.semilogy(
            D,
            numeric,
            marker,
            color=color,
            mfc="none",
            label=f"certificate, {kind}",
        )
    ax.set_xlabel("parameters D")
    ax.set_ylabel("seconds")
    ax.legend()
    return ax


_SVD_SCRIPT = """
import sys, time, torch
n, repeats = int(sys.argv[1]), int(sys.argv[2])
a = torch.randn(n, n, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
best = float("inf")
for _ in range(repeats):
    start = time.perf_counter()
    torch.linalg.svdvals(a)
    best = min(best, time.perf_counter() - start)
print(best)
"""


def wait_policy_seconds(
    size: int = 600, repeats: int = 3, policies=("unset", "PASSIVE")
) -> dict[str, float]:
    """Seconds of one ``size × size`` float64 SVD (best of ``repeats``) in a
    fresh Python process per OpenMP wait policy (``"unset"`` leaves the
    runtime's default), with torch's default thread count.

    OpenMP reads ``OMP_WAIT_POLICY`` once, when it starts, so each policy needs
    its own process; ``import conslaw`` sets ``PASSIVE`` unless the variable is
    set already.
    """
    import subprocess
    import sys

    if not isinstance(size, int) or size < 1 or not isinstance(repeats, int):
        raise ValueError(
            f"expected integer size >= 1 and repeats, got {size!r}, {repeats!r}"
        )
    out = {}
    for policy in policies:
        env = dict(os.environ)
        env.pop("OMP_WAIT_POLICY", None)
        if policy != "unset":
            env["OMP_WAIT_POLICY"] = policy
        done = subprocess.run(
            [sys.executable, "-c", _SVD_SCRIPT, str(size), str(max(1, repeats))],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=300,
        )
        out[policy] = float(done.stdout.strip().splitlines()[-1])
    return out

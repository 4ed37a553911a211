"""The largest attention model the certificate completes within a time budget.

Certifies multi-head attention of growing width ``d`` (``H`` heads of width
``d_k = d_v = d / H``, sequence length 4) until one takes longer than the budget,
and prints one fixed-format line per size, then the largest size certified within
the budget (parameters ``D`` and seconds). Run from the repository root:

    python benchmarks/attention_scale.py [--pe rope] [--budget 60]
"""

from __future__ import annotations

import argparse
import os
import platform

import torch

import conslaw.laws.attention  # noqa: F401  (registers the attention laws)
from conslaw.certificate import certify
from conslaw.models.attention import POSITIONAL_ENCODINGS, MultiHeadAttention

WIDTHS = (4, 8, 12, 16, 20, 24, 28, 32, 40, 48, 64)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pe", choices=POSITIONAL_ENCODINGS, default="none")
    parser.add_argument("--heads", type=int, default=2)
    parser.add_argument("--seq-len", type=int, default=4)
    parser.add_argument("--budget", type=float, default=60.0, help="seconds (60)")
    args = parser.parse_args(argv)

    print(
        f"cpu cores {os.cpu_count()}, torch threads {torch.get_num_threads()}, "
        f"torch {torch.__version__}, {platform.machine()}"
    )
    print(f"{'model':<48} {'D':>6} {'laws':>5} {'seconds':>8}  status")
    best = None
    for d in WIDTHS:
        if d % args.heads or (args.pe == "rope" and (d // args.heads) % 2):
            continue
        dk = d // args.heads
        model = MultiHeadAttention(d, args.heads, dk, dk, args.seq_len, pe=args.pe)
        cert = certify(model)
        print(
            f"{model.describe():<48} {cert.parameters:>6} {cert.certified:>5} "
            f"{cert.seconds:>8.1f}  {cert.status}",
            flush=True,
        )
        if cert.seconds > args.budget:
            break
        if cert.complete:
            best = cert
    if best is None:
        print(f"no size was certified within {args.budget:g} s")
        return 1
    print(
        f"largest certified within {args.budget:g} s: {best.model}, "
        f"D = {best.parameters}, {best.seconds:.1f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

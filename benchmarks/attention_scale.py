"""The largest attention model the certificate completes within a time budget.

Certifies multi-head attention of growing width ``d`` (``H`` heads of width
``d_k = d_v = d / H``, sequence length 4) until one takes longer than the budget,
and prints one fixed-format line per size, then the largest size certified within
the budget (parameters ``D`` and seconds). Run from the repository root:

    python benchmarks/attention_scale.py [--pe rope] [--budget 60] [--threads 1]
        [--json FILE]

``--json`` records the run (machine, load, every size, the largest certified) in a
file keyed by the encoding, for comparing machines.

The machine's load average is printed beside the times: on shared cores the times
depend on what else runs.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
from pathlib import Path

import torch

import conslaw.laws.attention  # noqa: F401  (registers the attention laws)
from conslaw.certificate import certify
from conslaw.models.attention import POSITIONAL_ENCODINGS, MultiHeadAttention

WIDTHS = (4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 44, 48, 56, 64)


def _load() -> str:
    """The 1-minute load average, or "n/a" where the OS does not give it."""
    try:
        return f"{os.getloadavg()[0]:.1f}"
    except (AttributeError, OSError):
        return "n/a"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pe", choices=POSITIONAL_ENCODINGS, default="none")
    parser.add_argument("--heads", type=int, default=2)
    parser.add_argument("--seq-len", type=int, default=4)
    parser.add_argument("--budget", type=float, default=60.0, help="seconds (60)")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch CPU threads (default: torch's own choice)",
    )
    parser.add_argument(
        "--json", type=Path, default=None, help="record the run in this JSON file"
    )
    args = parser.parse_args(argv)
    if args.threads is not None:
        if args.threads < 1:
            parser.error(f"--threads must be a positive integer, got {args.threads}")
        torch.set_num_threads(args.threads)

    print(
        f"cpu cores {os.cpu_count()}, torch threads {torch.get_num_threads()}, "
        f"torch {torch.__version__}, {platform.machine()}, "
        f"load average {_load()}"
    )
    print(f"{'model':<48} {'D':>6} {'laws':>5} {'seconds':>8}  status  load")
    best, rows = None, []
    for d in WIDTHS:
        if d % args.heads or (args.pe == "rope" and (d // args.heads) % 2):
            continue
        dk = d // args.heads
        model = MultiHeadAttention(d, args.heads, dk, dk, args.seq_len, pe=args.pe)
        cert = certify(model)
        print(
            f"{model.describe():<48} {cert.parameters:>6} {cert.certified:>5} "
            f"{cert.seconds:>8.1f}  {cert.status}  {_load()}",
            flush=True,
        )
        rows.append(
            {
                "model": model.describe(),
                "D": cert.parameters,
                "laws": cert.certified,
                "seconds": cert.seconds,
                "status": cert.status,
                "load": _load(),
            }
        )
        if cert.seconds > args.budget:
            break
        if cert.complete:
            best = cert
    if args.json is not None:
        _record(args, rows, best)
    if best is None:
        print(f"no size was certified within {args.budget:g} s")
        return 1
    print(
        f"largest certified within {args.budget:g} s: {best.model}, "
        f"D = {best.parameters}, {best.seconds:.1f} s"
    )
    return 0


def _record(args, rows, best) -> None:
    """Write this run under its encoding into ``args.json``, keeping the others."""
    path = args.json
    record = json.loads(path.read_text()) if path.exists() else {}
    record[args.pe] = {
        "date": datetime.date.today().isoformat(),
        "budget": args.budget,
        "heads": args.heads,
        "seq_len": args.seq_len,
        "cpu_cores": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "machine": platform.machine(),
        "rows": rows,
        "largest": None
        if best is None
        else {"model": best.model, "D": best.parameters, "seconds": best.seconds},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    print(f"recorded in {path}")


if __name__ == "__main__":
    raise SystemExit(main())

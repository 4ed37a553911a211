"""The symbolic method of Marcotte et al. (2023) against the certificate.

    python benchmarks/symbolic_peer.py [--count 10] [--budget 120]

Runs both on the ``count`` smallest linear and ``count`` smallest ReLU
architectures of the framework chapter's random families (every activation
pattern realizable), with the same stopping rule, and prints both counts, both
times and their ratio side by side. The peer's count is left blank when it ran
past ``budget`` seconds on one architecture. Exit status 1 if any two counts
that both computed disagree.
"""

from __future__ import annotations

import argparse

import conslaw  # noqa: F401  (first: sets the OpenMP wait policy)
from conslaw.sweeps import performance as perf


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10)
    parser.add_argument("--budget", type=float, default=120.0, help="seconds")
    args = parser.parse_args(argv)
    print(", ".join(f"{k} {v}" for k, v in perf.machine("cpu").items()))
    print(
        f"{'kind':<7}{'widths':<13}{'bias':<6}{'D':>4}{'known':>6}{'cert':>6}"
        f"{'symb':>6}{'cert s':>9}{'symb s':>9}{'ratio':>9}"
    )
    disagree = 0
    archs = perf.peer_architectures(args.count)
    perf.peer_rows(archs[:1])  # warm-up of torch.func
    for kind, widths, bias in archs:
        r = perf.peer_row(kind, widths, bias, budget=args.budget)
        symb = "-" if r["symbolic"] is None else str(r["symbolic"])
        ratio = "-" if r["ratio"] is None else f"{r['ratio']:.0f}x"
        late = ">" if r["symbolic"] is None else ""
        print(
            f"{kind:<7}{r['widths']:<13}{'yes' if bias else 'no':<6}{r['D']:>4}"
            f"{r['known']:>6}{r['certificate']:>6}{symb:>6}"
            f"{r['certificate s']:>9.3f}{late:>1}{r['symbolic s']:>8.2f}{ratio:>9}",
            flush=True,
        )
        if r["symbolic"] is not None and r["symbolic"] != r["certificate"]:
            disagree += 1
    print(f"counts that disagree: {disagree}")
    return 1 if disagree else 0


if __name__ == "__main__":
    raise SystemExit(main())

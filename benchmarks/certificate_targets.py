"""The certificate's speed targets, each printed with its measured value.

    python benchmarks/certificate_targets.py [--skip-sweep] [--gpu-width 72]

Targets (issue "Certificate at scale"): the framework chapter's 100 random
architectures in ≤ 60 s on 2 cores; multi-head attention with D ≥ 2,000
parameters in ≤ 60 s on 2 cores; D ≥ 20,000 on one GPU; the certificate within
5x of the floor (one D x D SVD plus D gradient fields, timed in the same run).
The machine line says how many cores and threads the numbers had; other
processes on the same cores slow every figure, which the load average shows.
"""

from __future__ import annotations

import argparse
import os
import time

import conslaw  # first: sets the OpenMP wait policy before torch loads
import conslaw.laws.attention  # noqa: F401  (registers the attention laws)
from conslaw.sweeps import performance as perf
from conslaw.sweeps.marcotte import marcotte_sweep

FLOOR_FACTOR = 5.0


def line(name: str, value: str, target: str, met: bool | None) -> None:
    verdict = "not measured" if met is None else ("met" if met else "MISSED")
    print(f"{name:<44} {value:>22}   target {target:<12} {verdict}", flush=True)


def attention_target(width: int, device: str) -> dict:
    model = perf.block_model("attention", width)
    conslaw.certify(perf.block_model("attention", 4), device=device)  # warm-up
    cert = conslaw.certify(model, device=device)
    floor = perf.floor_seconds(model, device=device)
    return {"cert": cert, "floor": floor}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-sweep", action="store_true")
    parser.add_argument("--width", type=int, default=24, help="attention d (24)")
    parser.add_argument("--gpu-width", type=int, default=72, help="GPU d (72)")
    args = parser.parse_args(argv)
    import torch  # after conslaw, which set the OpenMP wait policy

    info = perf.machine("auto")
    print(", ".join(f"{k} {v}" for k, v in info.items()))
    print(f"load average {os.getloadavg()[0]:.1f} at start")

    if not args.skip_sweep:
        start = time.perf_counter()
        rows = marcotte_sweep(50)
        seconds = time.perf_counter() - start
        complete = sum(r["complete"] for r in rows)
        line(
            "100-architecture sweep (framework chapter)",
            f"{seconds:.1f} s, {complete}/100 complete",
            "≤ 60 s",
            seconds <= 60 and complete == 100,
        )

    cpu = attention_target(args.width, "cpu")
    cert, floor = cpu["cert"], cpu["floor"]
    line(
        f"attention D = {cert.parameters} on the CPU",
        f"{cert.seconds:.1f} s, {cert.status}",
        "≤ 60 s",
        cert.parameters >= 2000 and cert.seconds <= 60 and cert.complete,
    )
    print(
        f"  gap {cert.gap:.1e}, method {cert.method}, levels {len(cert.levels) - 1}; "
        f"floor: SVD {floor['svd']:.2f} s + {cert.parameters} gradient fields "
        f"{floor['gradients']:.2f} s"
    )
    ratio = cert.seconds / floor["floor"]
    line(
        f"attention D = {cert.parameters}, time / floor",
        f"{ratio:.1f}x ({floor['floor']:.1f} s floor)",
        f"≤ {FLOOR_FACTOR:g}x",
        ratio <= FLOOR_FACTOR,
    )

    if torch.cuda.is_available():
        gpu = attention_target(args.gpu_width, "cuda")
        cert, floor = gpu["cert"], gpu["floor"]
        line(
            f"attention D = {cert.parameters} on the GPU",
            f"{cert.seconds:.1f} s, {cert.status}",
            "D ≥ 20,000",
            cert.parameters >= 20_000 and cert.complete,
        )
        line(
            f"attention D = {cert.parameters} (GPU), time / floor",
            f"{cert.seconds / floor['floor']:.1f}x",
            f"≤ {FLOOR_FACTOR:g}x",
            cert.seconds / floor["floor"] <= FLOOR_FACTOR,
        )
    else:
        line("attention D ≥ 20,000 on one GPU", "no GPU here", "D ≥ 20,000", None)
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

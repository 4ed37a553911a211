"""Throughput of the batched learning-rate × seed grid against a loop of single runs.

    python benchmarks/batched_grid.py [--model vit|lm|both] [--steps 30]
        [--threads N] [--dtype float64] [--profile quick] [--repeats 2]

Both ways train the same runs at the same sizes (the protocol chapter's settings
of ``--profile``), with the same law tracking; each is measured in a fresh
subprocess, so that its peak memory is its own. Printed: one fixed-format line
per (model, way) and the speed-up.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import torch

from conslaw import protocol, settings
from conslaw.data_cifar import image_data
from conslaw.data_text import text_corpus
from conslaw.laws.transformer import law_groups
from conslaw.training.batched import train_grid, train_run

# untimed steps before the measurement, in each subprocess
WARMUP_STEPS = 2


def _rss_mib() -> float:
    """Resident memory now, MiB (Linux)."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def _setup(model_kind: str, cfg):
    if model_kind == "vit":
        data = image_data(cfg.vit_data, data_dir=cfg.data_dir)
        model = protocol.build_vit(cfg, data)
        loss, lrs, batch = "cross-entropy", cfg.vit_lrs, cfg.vit_batch
    else:
        data = text_corpus(cfg.lm_data, cfg.lm_seq, level=cfg.lm_level)
        model = protocol.build_lm(cfg, data.vocab, "softmax")
        loss, lrs, batch = "token-cross-entropy", cfg.lm_lrs, cfg.lm_batch
    laws = {k: g.laws for k, g in law_groups(model).items()}
    seeds = list(range(cfg.seeds))
    return model, data, laws, protocol.parse_lrs(lrs), seeds, batch, loss


def measure(args) -> dict:
    """Train the grid one way in this process; seconds and peak memory."""
    cfg = settings("protocol", args.profile)
    model, data, laws, lrs, seeds, batch, loss = _setup(args.model, cfg)
    common = dict(
        steps=args.steps,
        batch_size=batch,
        loss=loss,
        every=max(1, args.steps // cfg.records),
        device=args.device,
        dtype=args.dtype,
        threads=args.threads,
    )

    def train(steps):
        kw = {**common, "steps": steps}
        if args.mode == "batched":
            train_grid(model, data, laws, lrs=lrs, seeds=seeds, progress=False, **kw)
        else:
            for lr in lrs:
                for seed in seeds:
                    train_run(model, data, laws, lr=lr, seed=seed, **kw)

    # warm up (first calls load kernels and batching rules), untimed
    train(WARMUP_STEPS)
    base = _rss_mib()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    # the fastest of a few repeats: other processes only ever add time
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        train(args.steps)
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    seconds = min(times)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10
    out = {
        "model": model.describe(),
        "D": model.num_parameters,
        "runs": len(lrs) * len(seeds),
        "seconds": seconds,
        "peak_rss_mib": peak,
        "rss_before_mib": base,
    }
    if torch.cuda.is_available():
        out["cuda_peak_mib"] = torch.cuda.max_memory_allocated() / 2**20
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=("vit", "lm", "both"), default="both")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="intra-op CPU threads (torch's default if omitted)",
    )
    parser.add_argument("--dtype", choices=("float64", "float32"), default="float64")
    parser.add_argument(
        "--repeats", type=int, default=2, help="timed repeats; the fastest counts"
    )
    parser.add_argument("--device", default="auto")
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--mode", choices=("batched", "loop"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.mode:
        print(json.dumps(measure(args)))
        return 0

    threads = args.threads or torch.get_num_threads()
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(
        f"batched_grid: profile={args.profile} steps={args.steps} "
        f"repeats={args.repeats} (fastest counts) "
        f"dtype={args.dtype} threads={threads} cpus={os.cpu_count()} "
        f"load average {load} torch={torch.__version__}"
    )
    for kind in ("vit", "lm") if args.model == "both" else (args.model,):
        results = {}
        for mode in ("loop", "batched"):
            cmd = [
                sys.executable,
                __file__,
                "--mode",
                mode,
                "--model",
                kind,
                "--steps",
                str(args.steps),
                "--repeats",
                str(args.repeats),
                "--dtype",
                args.dtype,
                "--device",
                args.device,
                "--profile",
                args.profile,
            ]
            if args.threads:
                cmd += ["--threads", str(args.threads)]
            done = subprocess.run(cmd, capture_output=True, text=True, check=True)
            r = json.loads(done.stdout.strip().splitlines()[-1])
            results[mode] = r
            rate = r["runs"] * args.steps / r["seconds"]
            grew = r["peak_rss_mib"] - r["rss_before_mib"]
            extra = (
                f", cuda peak {r['cuda_peak_mib']:7.1f} MiB"
                if "cuda_peak_mib" in r
                else ""
            )
            print(
                f"{kind:>3} {mode:>7}: {r['runs']} runs x {args.steps} steps "
                f"in {r['seconds']:7.2f} s = {rate:8.1f} run-steps/s, peak rss "
                f"{r['peak_rss_mib']:7.1f} MiB ({grew:+.1f} after warm-up){extra}"
            )
        speedup = results["loop"]["seconds"] / results["batched"]["seconds"]
        print(
            f"{kind:>3} speed-up: {speedup:5.1f}x  ({results['batched']['model']}, "
            f"D={results['batched']['D']})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

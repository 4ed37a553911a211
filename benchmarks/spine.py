"""Benchmarks of the spine: the 100-architecture sweep and the book build.

    python benchmarks/spine.py            # all three figures
    python benchmarks/spine.py --sweep    # only the sweep (seconds)

Prints the wall time of Marcotte et al.'s 100-architecture check (target ≤ 60 s on
2 cores), of a quick-profile build of the whole book from a clean copy of the
repository (target ≤ 10 min) and of an unchanged rebuild (target ≤ 60 s).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def sweep_seconds() -> float:
    from conslaw.sweeps.marcotte import marcotte_sweep

    start = time.perf_counter()
    rows = marcotte_sweep(50)
    seconds = time.perf_counter() - start
    complete = sum(r["complete"] for r in rows)
    print(f"sweep: {len(rows)} architectures, {complete} complete, {seconds:.1f} s")
    return seconds


def build_seconds() -> tuple[float, float]:
    files = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    jupyter_book = str(Path(sys.executable).parent / "jupyter-book")
    env = {**os.environ, "CONSLAW_PROFILE": "quick"}
    with tempfile.TemporaryDirectory(prefix="conslaw-bench-") as tmp:
        for name in files:
            target = Path(tmp) / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, target)
        times = []
        for label in ("clean build", "unchanged rebuild"):
            start = time.perf_counter()
            subprocess.run(
                [jupyter_book, "build", tmp], env=env, check=True, capture_output=True
            )
            times.append(time.perf_counter() - start)
            print(f"{label}: {times[-1]:.1f} s")
    return times[0], times[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sweep", action="store_true", help="only the sweep")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} CPU cores, python {sys.version.split()[0]}")
    sweep_seconds()
    if not args.sweep:
        build_seconds()


if __name__ == "__main__":
    main()

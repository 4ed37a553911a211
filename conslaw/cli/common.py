"""Argument parsing shared by the ``conslaw`` subcommands."""

from __future__ import annotations

import argparse
import math
import sys


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on stderr and exit status 2."""

    def error(self, message: str):
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(2)


def int_list(text: str) -> list[int]:
    """Parse ``3,4,2`` into ``[3, 4, 2]`` (an argparse ``type``)."""
    try:
        values = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated positive integers such as 3,4,2, got {text!r}"
        ) from None
    if any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(
            f"expected comma-separated positive integers such as 3,4,2, got {text!r}"
        )
    return values


def positive_int(text: str) -> int:
    """A positive integer (an argparse ``type``)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """A positive finite number (an argparse ``type``)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def seed_int(text: str) -> int:
    """A non-negative integer seed (an argparse ``type``)."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(
            f"expected a non-negative integer seed, got {text!r}"
        )
    return value


def add_common(parser: argparse.ArgumentParser) -> None:
    """The options every ``certify`` subcommand takes."""
    parser.add_argument(
        "--seed",
        type=seed_int,
        default=0,
        help="seed of the point and the sampled fields (default 0)",
    )
    parser.add_argument(
        "--json", action="store_true", help="print one JSON object instead of a summary"
    )
    parser.add_argument(
        "--max-memory-gb",
        type=positive_float,
        default=None,
        metavar="GB",
        help="refuse models whose certificate is estimated to need more than GB "
        "gigabytes (default: the memory available now; see "
        "conslaw.certificate.certificate_memory)",
    )

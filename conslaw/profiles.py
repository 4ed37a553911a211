"""Profiles: the sizes each chapter runs at, in one table.

A chapter's ``parameters`` cell names the profile (``quick`` unless papermill or
``CONSLAW_PROFILE`` says otherwise) and may override single settings; everything
else comes from :data:`SETTINGS`. Unknown names are rejected.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

PROFILES = ("quick", "gpu", "paper")

# what each profile costs, for the README and the status page
PROFILE_COST = {
    "quick": "CPU, the whole book in minutes; what CI builds",
    "gpu": "one GPU, about ten minutes a chapter: full seed grids at reduced sizes",
    "paper": "one GPU, hours: the paper's App. D sizes and data sets",
}

# chapter -> profile -> settings; a chapter without an entry takes only the
# common settings
SETTINGS: dict[str, dict[str, dict[str, Any]]] = {
    "framework": {
        "quick": {"architectures": 50, "seeds": 12},
        "gpu": {"architectures": 50, "seeds": 40},
        "paper": {"architectures": 50, "seeds": 40},
    },
    "feedforward": {
        "quick": {
            "samples": 256,
            "hidden": 16,
            "flow_time": 40.0,
            "seeds": 1,
            "rtol": 1e-9,
        },
        "gpu": {
            "samples": 1797,
            "hidden": 64,
            "flow_time": 200.0,
            "seeds": 3,
            "rtol": 1e-10,
        },
        "paper": {
            "samples": 1797,
            "hidden": 128,
            "flow_time": 400.0,
            "seeds": 10,
            "rtol": 1e-10,
        },
    },
    # filled in by their chapters
    "attention": {"quick": {}, "gpu": {}, "paper": {}},
    "moe": {"quick": {}, "gpu": {}, "paper": {}},
    "dynamics": {"quick": {}, "gpu": {}, "paper": {}},
    "protocol": {"quick": {}, "gpu": {}, "paper": {}},
    "discovery": {"quick": {}, "gpu": {}, "paper": {}},
    "performance": {"quick": {}, "gpu": {}, "paper": {}},
}

COMMON = {"device": "auto", "seed": 0}


def active_profile(default: str = "quick") -> str:
    """The profile named by ``CONSLAW_PROFILE``, or ``default``."""
    name = os.environ.get("CONSLAW_PROFILE", "").strip() or default
    return check_profile(name)


def check_profile(name: str) -> str:
    if name not in PROFILES:
        raise ValueError(
            f"unknown profile {name!r}: expected one of {', '.join(PROFILES)}; "
            "set CONSLAW_PROFILE or pass -p profile NAME"
        )
    return name


class Settings(dict):
    """A chapter's resolved settings; attribute access for reading."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def line(self) -> str:
        """One fixed-format line, sorted by name, for the chapter's output."""
        return "settings: " + ", ".join(f"{k}={self[k]!r}" for k in sorted(self))

    def save(self, path) -> None:
        with open(path, "w") as f:
            json.dump(dict(self), f, indent=1, sort_keys=True)


def settings(chapter: str, profile: str = "quick", **overrides: Any) -> Settings:
    """Resolve a chapter's settings for ``profile``.

    ``overrides`` whose value is ``None`` keep the profile's value; any other value
    replaces it. A name the chapter does not know raises a ValueError listing the
    valid ones.
    """
    profile = check_profile(profile)
    table = SETTINGS.get(chapter, {}).get(profile, {})
    resolved = Settings(COMMON | table, chapter=chapter, profile=profile)
    unknown = sorted(set(overrides) - set(resolved))
    if unknown:
        raise ValueError(
            f"unknown setting(s) {unknown} for chapter {chapter!r}: expected some of "
            f"{sorted(set(resolved) - {'chapter', 'profile'})}"
        )
    resolved.update({k: v for k, v in overrides.items() if v is not None})
    return resolved


def profile_table() -> Mapping[str, str]:
    return dict(PROFILE_COST)

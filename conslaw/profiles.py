"""Profiles: the sizes each chapter runs at, in one table.

A chapter's ``parameters`` cell names the profile (``quick`` unless papermill or
``CONSLAW_PROFILE`` says otherwise) and may override single settings; everything
else comes from :data:`SETTINGS` (the table in :mod:`conslaw.profile_table`).
Unknown names and values a setting cannot take are rejected.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping
from typing import Any

from .profile_table import COMMON, PROFILE_COST, SETTINGS

PROFILES = ("quick", "gpu", "paper")

PROFILE_ENV = "CONSLAW_PROFILE"


def active_profile(default: str = "quick") -> str:
    """The profile named by ``CONSLAW_PROFILE``, or ``default``.

    Raises:
        ValueError: one line naming the variable when it names no profile.
    """
    name = os.environ.get(PROFILE_ENV, "").strip()
    if not name:
        return check_profile(default)
    return check_profile(
        name,
        hint=f"set {PROFILE_ENV} to one of {', '.join(PROFILES)} (or unset it)",
        what=f"{PROFILE_ENV}={name!r} names no profile",
    )


def check_profile(name: str, hint: str | None = None, what: str | None = None) -> str:
    """``name`` if it is a profile, else a one-line ValueError ending in ``hint``
    (what to do; by default: set CONSLAW_PROFILE or pass ``profile=``)."""
    if name not in PROFILES:
        what = what or f"unknown profile {name!r}"
        hint = hint or f"set {PROFILE_ENV} or pass profile=NAME"
        raise ValueError(f"{what}: expected one of {', '.join(PROFILES)}; {hint}")
    return name


# --- checking the values a chapter is given -------------------------------------
# A value replacing a profile's setting must have that setting's type: an int
# where the profiles hold ints (bools, fractions and text refused; 2.0 is 2), a
# number where they hold floats, a non-empty list (or tuple) of such values where
# they hold lists, True/False where they hold bools. The sign follows the
# profiles: where every profile's value is positive the setting is a count or a
# size (seeds, samples, steps, widths) or a time or tolerance, so it must stay
# positive; a setting some profile puts at 0 (seed) must stay non-negative. The
# tables below name what the profiles' values cannot say.

# the digits data set (scikit-learn's load_digits) has this many images
DIGITS = 1797

# the chapters whose ``samples`` are digits
DIGIT_CHAPTERS = ("feedforward", "attention", "moe", "dynamics")

# settings that take one of a few words; "device" also takes cuda:N
CHOICES: dict[str, tuple[str, ...]] = {
    "device": ("auto", "cpu", "cuda"),
    "dtype": ("float64", "float32"),
    "pairs": ("halves", "all"),
}

# (chapter or "*", setting) -> (low, high, low inclusive, high inclusive); a
# None bound is open. Applies to a setting's value and to each entry of a list.
RANGES: dict[tuple[str, str], tuple[float | None, float | None, bool, bool]] = {
    ("*", "beta"): (0.0, 1.0, True, False),  # a momentum
    ("*", "betas"): (0.0, 1.0, True, False),
    ("*", "weight_decay"): (0.0, None, True, False),  # 0 switches the decay off
    # the chapters that train on the digits cannot take more than there are
    **{(c, "samples"): (1, DIGITS, True, True) for c in DIGIT_CHAPTERS},
}

# why an explicit range holds, said when a value falls outside it
REASONS = {"samples": f"the digits data set has {DIGITS} images"}

# list settings that also take one comma-separated string "a,b,c" of numbers
# (the protocol chapter's learning rates, see conslaw.protocol.parse_lrs)
TEXT_LISTS = {("protocol", "vit_lrs"), ("protocol", "lm_lrs")}

# settings whose profiles all say None: a folder (str or path), or anything
PATHS = {"data_dir"}


def _examples(chapter: str, name: str) -> list[Any]:
    """Every profile's value of one setting, None left out."""
    values = [SETTINGS.get(chapter, {}).get(p, {}).get(name) for p in PROFILES]
    values.append(COMMON.get(name))
    return [v for v in values if v is not None]


def _kind(examples: list[Any]) -> str | None:
    """ "bool", "int", "float", "str", "list" or None (no example)."""
    for cls in (bool, int, float, str):
        if examples and all(type(v) is cls for v in examples):
            return cls.__name__
    if examples and all(isinstance(v, (int, float)) for v in examples):
        return "float"
    if examples and all(isinstance(v, list) for v in examples):
        return "list"
    return None


def _describe(value: Any) -> str:
    return f"{value!r} ({type(value).__name__})"


class _Bad(ValueError):
    """A value that does not fit; the message says what was expected."""


def _bounds(chapter: str, name: str, examples: list[Any]):
    explicit = RANGES.get((chapter, name)) or RANGES.get(("*", name))
    if explicit is not None:
        return explicit
    numbers = [v for v in examples if isinstance(v, (int, float))]
    if not numbers or any(isinstance(v, bool) for v in numbers):
        return None
    if all(v > 0 for v in numbers):
        return (0, None, False, False)
    if all(v >= 0 for v in numbers):
        return (0, None, True, False)
    return None


def _expect(noun: str, bounds) -> str:
    """``"a positive integer"``, ``"a number in [0, 1)"``, ...: what a value must be."""
    if bounds is None:
        return f"{'an' if noun[0] in 'aeiou' else 'a'} {noun}"
    low, high, low_in, high_in = bounds
    if low == 0 and high is None:
        return f"a {'non-negative' if low_in else 'positive'} {noun}"
    if high is None:
        return f"a {noun} {'≥' if low_in else '>'} {low:g}"
    if low_in and high_in and noun == "integer":
        return f"an integer from {low:g} to {high:g}"
    left, right = "[" if low_in else "(", "]" if high_in else ")"
    return f"a {noun} in {left}{low:g}, {high:g}{right}"


def _in_range(value, bounds) -> bool:
    low, high, low_in, high_in = bounds
    if low is not None and (value < low or (value == low and not low_in)):
        return False
    return not (high is not None and (value > high or (value == high and not high_in)))


def _check_value(chapter: str, name: str, value: Any, examples: list[Any]):
    """``value`` converted to the setting's type, or _Bad saying what is expected."""
    kind = _kind(examples)
    if name in CHOICES:
        words = CHOICES[name]
        ok = isinstance(value, str) and (
            value in words or (name == "device" and re.fullmatch(r"cuda:\d+", value))
        )
        if not ok:
            extra = " or cuda:N" if name == "device" else ""
            raise _Bad(f"one of {', '.join(words)}{extra}")
        return value
    if kind is None:
        if name in PATHS and not isinstance(value, (str, os.PathLike)):
            raise _Bad("a folder (a str or a path)")
        return value
    if kind == "list":
        if (chapter, name) in TEXT_LISTS and isinstance(value, str):
            try:
                value = [float(v) for v in value.split(",") if v.strip()]
            except ValueError:
                raise _Bad("a list of numbers or a string 'a,b,c'") from None
        if not isinstance(value, (list, tuple)) or not value:
            raise _Bad(f"a non-empty list such as {examples[0]!r}")
        inner = [v for e in examples for v in e]
        out = []
        for item in value:
            try:
                out.append(_check_value(chapter, name, item, inner))
            except _Bad as err:
                raise _Bad(f"a list whose entries are each {err}") from None
        return out
    bounds = _bounds(chapter, name, examples)
    if kind == "bool":
        if not isinstance(value, bool):
            raise _Bad("True or False")
        return value
    if kind == "str":
        if not isinstance(value, str):
            raise _Bad(f"a string such as {examples[0]!r}")
        return value
    if kind == "int":
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise _Bad(_expect("integer", bounds))
    else:  # float
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _Bad(_expect("number", bounds))
        value = float(value)
        if not math.isfinite(value):
            raise _Bad(_expect("finite number", bounds))
    if bounds is not None and not _in_range(value, bounds):
        reason = REASONS.get(name, "") if (chapter, name) in RANGES else ""
        noun = "integer" if kind == "int" else "number"
        raise _Bad(_expect(noun, bounds) + (f" ({reason})" if reason else ""))
    return value


def check_setting(chapter: str, profile: str, name: str, value: Any) -> Any:
    """``value`` for the setting ``name`` of ``chapter``, checked and converted
    (2.0 to 2 for an int setting, 1 to 1.0 for a float one, tuples to lists).

    Raises:
        ValueError: one line naming the chapter, the setting, what was expected,
            what came and what to pass instead.
    """
    examples = _examples(chapter, name)
    try:
        return _check_value(chapter, name, value, examples)
    except _Bad as err:
        default = SETTINGS.get(chapter, {}).get(profile, {}).get(name, COMMON.get(name))
        fix = "" if default is None else f"e.g. {default!r} (the {profile} profile's), "
        raise ValueError(
            f"chapter {chapter!r}: setting {name!r} expects {err}, got "
            f"{_describe(value)}; pass {fix}or None for the profile's value"
        ) from None


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
    replaces it, once :func:`check_setting` found it of the setting's type and
    range. A name the chapter does not know raises a ValueError listing the
    valid ones; so does a value that does not fit, in one line naming the
    chapter, the setting, what was expected and what came.
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
    resolved.update(
        {
            k: check_setting(chapter, profile, k, v)
            for k, v in overrides.items()
            if v is not None
        }
    )
    return resolved


def profile_table() -> Mapping[str, str]:
    return dict(PROFILE_COST)

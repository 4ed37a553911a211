"""Verdict formatting: bounds never print below the value they bound."""

import math
import random

import pytest

from conslaw.book.verdicts import round_up


@pytest.mark.parametrize(
    "value, digits, text",
    [
        (1.2e-08, 2, "1.2e-08"),
        (1.21e-08, 2, "1.3e-08"),
        (9.4e-10, 2, "9.4e-10"),
        (9.41e-10, 2, "9.5e-10"),
        (9.96e-10, 2, "1.0e-09"),
        (2.5e-08, 1, "3e-08"),
        (123.0, 3, "1.23e+02"),
        (0.0, 2, "0.0e+00"),
    ],
)
def test_round_up(value, digits, text):
    assert round_up(value, digits) == text


def test_round_up_never_below_the_value():
    rng = random.Random(0)
    for _ in range(2000):
        value = 10 ** rng.uniform(-16, 3)
        assert float(round_up(value)) >= value
        assert float(round_up(value)) <= value * (1 + 0.11)


def test_round_up_needs_a_digit():
    with pytest.raises(ValueError, match="at least 1 significant digit"):
        round_up(1.0, 0)


def test_round_up_passes_non_finite_through():
    assert round_up(math.inf) == "inf"

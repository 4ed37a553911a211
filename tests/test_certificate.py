import pytest
import torch

from conslaw import certify
from conslaw.certificate import (
    bracket_field,
    generator_field,
    generic_point,
    numerical_rank,
)
from conslaw.laws import LawSet, neuron_balances
from conslaw.models import FFN, GLU, MaskedFFN, WithUnused


@pytest.mark.parametrize(
    "model, laws",
    [
        (FFN([3, 4, 2], "relu"), 4),
        (FFN([3, 4, 2], "relu", bias=False), 4),
        (FFN([4, 3, 4], "linear", bias=False), 6),
        (FFN([3, 4, 2], "gelu"), 0),
        (FFN([3, 4, 2], "silu", bias=False), 0),
        (GLU([3, 4, 2], "silu"), 4),
        (GLU([3, 4, 2], "relu"), 8),
        (MaskedFFN([3, 3, 4, 2], bias=True), 7),
    ],
    ids=lambda v: v.describe() if hasattr(v, "describe") else str(v),
)
def test_certificate_agrees_with_design(model, laws):
    cert = certify(model, seed=0)
    assert cert.complete, cert.summary()
    assert cert.certified == cert.predicted == laws
    assert cert.gap is None or cert.gap > 1e6


def test_linear_net_needs_brackets():
    cert = certify(FFN([4, 3, 4], "linear", bias=False), seed=0)
    # the gradients alone span r (d + o - r) = 15 directions: 9 would-be laws
    assert cert.levels[0].rank == 15
    assert cert.rank == 18 and cert.certified == 6
    assert len(cert.levels) == 2


def test_unused_parameter_shows_as_an_extra_law():
    cert = certify(WithUnused(FFN([3, 4, 2], "relu"), 2), seed=0)
    assert not cert.complete
    assert cert.status == "extra laws"
    assert cert.extra == 2


def test_missing_law_is_never_claimed_complete():
    # drop the laws of a ReLU net: the certificate must find them as extra laws
    cert = certify(FFN([3, 4, 2], "relu"), predicted=LawSet(), seed=0)
    assert not cert.complete and cert.extra == 4


def test_weak_rank_deficiency_is_not_claimed_as_extra_laws():
    # causal RoPE on two positions: at base 1000 and seed 0 the rank stalls three
    # below D - 5 with a gap near 1e3; seed 1 certifies the 5 laws, so extra laws
    # would be a false claim
    from conslaw.models import MultiHeadAttention

    model = MultiHeadAttention(
        d=2, heads=1, d_k=8, d_v=1, seq_len=2, pe="rope", causal=True, rope_base=1e3
    )
    weak = certify(model, seed=0)
    assert weak.status.startswith("inconclusive") and not weak.complete
    assert certify(model, seed=1).complete


def test_wrong_law_is_reported_violated():
    model = FFN([3, 4, 2], "gelu")
    cert = certify(model, predicted=neuron_balances(model), seed=0)
    assert cert.status == "predicted laws are violated"
    assert not cert.complete


def test_scalar_network_has_d_minus_one_laws():
    # f(θ, x) = φ(θ) x: one field, so every other direction is conserved
    model = FFN([1, 3, 3, 1], "linear", bias=False)
    cert = certify(model, seed=0)
    assert cert.certified == model.num_parameters - 1
    assert cert.levels[-1].vanished > 0  # the brackets vanish identically


def test_bracket_matches_jacobians():
    model = FFN([2, 3, 2], "gelu")
    theta = model.flatten(model.init(0))
    gen = torch.Generator().manual_seed(0)
    xs = torch.randn(2, 3, 2, generator=gen)
    us = torch.randn(2, 3, 2, generator=gen)
    base = generator_field(model)

    def X(t):
        return base(t, xs[0], us[0])

    def Y(t):
        return base(t, xs[1], us[1])

    jx = torch.func.jacrev(X)(theta)
    jy = torch.func.jacrev(Y)(theta)
    expected = jy @ X(theta) - jx @ Y(theta)
    value, ratio = bracket_field(model, 1)(theta, xs, us)
    assert torch.allclose(value, expected, atol=1e-13)
    assert ratio > 1e-3


def test_numerical_rank_reports_gap():
    gen = torch.Generator().manual_seed(0)
    rows = torch.randn(6, 3, generator=gen) @ torch.randn(3, 8, generator=gen)
    r = numerical_rank(rows)
    assert r.rank == 3 and r.gap > 1e10 and r.clear


def test_generic_point_makes_every_unit_switch():
    model = FFN([3, 3, 4, 2], "relu", bias=False)
    params, draws = generic_point(model, seed=1)
    x = model.sample_inputs(4096, torch.Generator().manual_seed(1))
    for z in model.preactivations(params, x):
        assert ((z > 0).any(0) & (z < 0).any(0)).all()
    assert draws >= 1


def test_certificate_json_has_contract_keys():
    cert = certify(GLU([3, 4, 2], "silu"), seed=0)
    data = cert.to_dict()
    for key in ("parameters", "predicted", "certified", "complete", "gap", "seconds"):
        assert key in data
    assert "spectra" not in data

"""Exact proofs of the feedforward and gated laws (conslaw.symbolic)."""

import pytest
import sympy as sp
import torch

from conslaw.laws import glu_balances, neuron_balances, predicted_laws
from conslaw.models import ACTIVATIONS, FFN, GLU
from conslaw.models.activations import NONHOMOGENEITY
from conslaw.symbolic import (
    DSIGMA,
    SIGMA,
    check_closed_forms,
    evaluate_laws,
    ffn_balance_drift,
    glu_balance_drift,
    glu_balance_laws,
    linear_block_laws,
    neuron_balance_laws,
    nonhomogeneity,
    predicted_symbolic_laws,
    prove_ffn_laws,
    prove_glu_laws,
    prove_law,
    silu_poles,
    singular_points,
    symbolic_ffn,
    symbolic_glu,
    sympy_activation,
    vanishes,
)
from conslaw.symbolic.activations import z

# float64 laws of a handful of terms agree with their sympy values to rounding
NUMERIC_TOL = 1e-12


def _numeric(net, params, x):
    """Symbols of ``net`` to the numbers of torch ``params`` and one input ``x``."""
    sub = net.substitution(params)
    sub.update({s: sp.Float(float(v)) for s, v in zip(net.x, x)})
    return sub


# ---------------------------------------------------------------- activations
@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_sympy_activation_matches_torch(name):
    zs = torch.tensor([-2.5, -0.7, 0.3, 1.9], dtype=torch.float64)
    expected = ACTIVATIONS[name](zs)
    got = [float(sympy_activation(name, sp.Float(float(v)))) for v in zs]
    assert torch.allclose(torch.tensor(got, dtype=torch.float64), expected)


@pytest.mark.parametrize("name", list(NONHOMOGENEITY))
def test_nonhomogeneity_matches_torch(name):
    zs = torch.tensor([-2.5, -0.7, 0.3, 1.9], dtype=torch.float64)
    defect = nonhomogeneity(name)
    got = [float(defect.subs(z, sp.Float(float(v)))) for v in zs]
    assert torch.allclose(
        torch.tensor(got, dtype=torch.float64), NONHOMOGENEITY[name](zs)
    )


@pytest.mark.parametrize(
    "call",
    [
        lambda: sympy_activation("swish", z),
        lambda: nonhomogeneity("swish"),
        lambda: symbolic_ffn([2, 2, 1], "swish"),
    ],
)
def test_bad_activation_name_lists_the_choices(call):
    with pytest.raises(ValueError, match=r"'swish'.*linear, relu, gelu, gelu-tanh"):
        call()


def test_bad_glu_activation_and_weight():
    with pytest.raises(ValueError, match="unknown GLU activation 'gelu-tanh'"):
        symbolic_glu([2, 2, 1], "gelu-tanh")
    with pytest.raises(ValueError, match="expected weight 'B' or 'C', got 'D'"):
        glu_balance_laws(symbolic_glu([1, 1, 1]), "D")
    with pytest.raises(TypeError, match="expected an activation name"):
        symbolic_ffn([1, 1, 1], 3)


def test_nonhomogeneity_closed_forms():
    phi = sp.exp(-(z**2) / 2) / sp.sqrt(2 * sp.pi)
    s = 1 / (1 + sp.exp(-z))
    assert nonhomogeneity("linear") == 0
    assert nonhomogeneity("relu") == 0
    assert nonhomogeneity("gelu") == -sp.sqrt(2) * z**2 * sp.exp(-(z**2) / 2) / (
        2 * sp.sqrt(sp.pi)
    )
    assert sp.simplify(nonhomogeneity("gelu") + z**2 * phi) == 0
    assert vanishes(nonhomogeneity("silu") + z**2 * s * (1 - s))
    assert check_closed_forms() == dict.fromkeys(ACTIVATIONS, True)


def test_wrong_closed_form_is_rejected():
    s = 1 / (1 + sp.exp(-z))
    assert not vanishes(nonhomogeneity("silu") + z**2 * s)
    assert not vanishes(nonhomogeneity("gelu") - z**2 * sp.exp(-(z**2) / 2))


@pytest.mark.parametrize("lam", [2, sp.Rational(1, 2), -1, -2, 3])
def test_rescaled_silu_keeps_no_residue(lam):
    from conslaw.symbolic.activations import rescaled_silu_residues

    ((got, q, res, own),) = rescaled_silu_residues([lam])
    assert got == lam and sp.simplify(q - sp.I * sp.pi / lam) == 0
    # SiLU(λz)/λ has residue q/λ at q = iπ/λ; SiLU has q there iff q is its pole
    assert sp.simplify(res - q / lam) == 0
    assert sp.simplify(own - (q if lam in (1, -1) else 0)) == 0
    assert sp.simplify(res - own) != 0


def test_rescaled_silu_residues_rejects_zero():
    from conslaw.symbolic.activations import rescaled_silu_residues

    with pytest.raises(ValueError, match="non-zero rescaling"):
        rescaled_silu_residues([0])


def test_silu_poles_are_simple_with_residue_the_pole():
    poles = silu_poles(range(-3, 3))
    points = {p["pole"] for p in poles}
    assert points == {sp.I * sp.pi * (2 * k + 1) for k in range(-3, 3)}
    for p in poles:
        assert p["order"] == 1
        assert sp.simplify(p["residue"] - p["pole"]) == 0


def test_gelu_is_entire_and_relu_has_no_singular_points():
    assert singular_points("gelu") == sp.S.EmptySet
    assert singular_points("linear") == sp.S.EmptySet
    with pytest.raises(ValueError, match="ReLU is not analytic"):
        singular_points("relu")


# ---------------------------------------------------------------- models
@pytest.mark.parametrize(
    "model", [FFN([2, 3, 1], "relu"), FFN([2, 2, 2, 1], "gelu", bias=False)]
)
def test_symbolic_ffn_forward_matches_torch(model):
    params = model.init(seed=1)
    x = torch.tensor([[0.4, -1.3]], dtype=torch.float64)
    net = symbolic_ffn(model.widths, model.activation_name, bias=model.bias)
    got = [float(v.xreplace(_numeric(net, params, x[0]))) for v in net.out]
    assert torch.allclose(torch.tensor(got, dtype=torch.float64), model(params, x)[0])
    assert len(net.theta) == model.num_parameters


@pytest.mark.parametrize("act", ["silu", "relu", "linear"])
def test_symbolic_glu_forward_matches_torch(act):
    model = GLU([2, 3, 2], act)
    params = model.init(seed=2)
    x = torch.tensor([[0.8, -0.5]], dtype=torch.float64)
    net = symbolic_glu(model.widths, act)
    got = [float(v.xreplace(_numeric(net, params, x[0]))) for v in net.out]
    assert torch.allclose(torch.tensor(got, dtype=torch.float64), model(params, x)[0])


# ---------------------------------------------------------------- consistency
@pytest.mark.parametrize(
    "model",
    [
        FFN([2, 3, 1], "relu"),
        FFN([2, 2, 2, 1], "relu", bias=False),
        FFN([2, 2, 2, 1], "linear"),
        FFN([3, 2, 2], "linear", bias=False),
        GLU([2, 2, 2], "silu"),
        GLU([2, 3, 1], "relu"),
        GLU([2, 2, 1], "linear"),
    ],
)
def test_laws_agree_with_torch(model):
    params = model.init(seed=3)
    if isinstance(model, FFN):
        net = symbolic_ffn(model.widths, model.activation_name, bias=model.bias)
    else:
        net = symbolic_glu(model.widths, model.activation_name)
    predicted = predicted_laws(model)
    laws = predicted_symbolic_laws(net)
    assert [label for label, _ in laws] == predicted.labels
    values = torch.tensor(evaluate_laws(laws, net, params), dtype=torch.float64)
    assert torch.allclose(values, predicted.vector(params), atol=NUMERIC_TOL)


def test_would_be_laws_agree_with_torch():
    model = FFN([2, 2, 2], "gelu")
    params = model.init(seed=4)
    net = symbolic_ffn(model.widths, "gelu")
    law_set = neuron_balances(model)
    laws = neuron_balance_laws(net)
    assert [label for label, _ in laws] == law_set.labels
    values = torch.tensor(evaluate_laws(laws, net, params), dtype=torch.float64)
    assert torch.allclose(values, law_set.vector(params), atol=NUMERIC_TOL)
    glu = GLU([2, 2, 1], "silu")
    b_laws = glu_balance_laws(symbolic_glu(glu.widths), "B")
    assert [label for label, _ in b_laws] == glu_balances(glu, "B").labels


# ---------------------------------------------------------------- proofs
@pytest.mark.parametrize("widths", [[2, 3, 1], [2, 2, 2, 1]])
@pytest.mark.parametrize("bias", [True, False])
def test_relu_neuron_balances_hold(widths, bias):
    proofs = prove_ffn_laws(widths, "relu", bias=bias)
    assert len(proofs) == predicted_laws(FFN(widths, "relu", bias=bias)).count
    assert all(p.holds and p.residuals == (0,) * widths[-1] for p in proofs)
    assert {p.activation for p in proofs} == {
        "sigma positively homogeneous: sigma(u) = u*dsigma(u)"
    }


@pytest.mark.parametrize("widths", [[2, 2, 2], [2, 2, 2, 1]])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_blocks_hold(widths, bias):
    proofs = prove_ffn_laws(widths, "linear", bias=bias)
    assert len(proofs) == len(predicted_laws(FFN(widths, "linear", bias=bias)).labels)
    assert all(p.holds for p in proofs)


@pytest.mark.parametrize("act", ["silu", "gelu", "relu", "linear"])
def test_glu_predicted_laws_hold(act):
    proofs = prove_glu_laws([2, 2, 2], act)
    assert [p.label for p in proofs] == predicted_laws(GLU([2, 2, 2], act)).labels
    assert all(p.holds for p in proofs)
    # the C-balances are proved for an undefined activation, not for act alone
    assert proofs[0].activation == "sigma"


def test_wrong_laws_have_nonzero_residuals():
    relu = symbolic_ffn([2, 2, 1], SIGMA)
    w1, w2 = relu.params["W1"], relu.params["W2"]
    no_bias = w1[0, 0] ** 2 + w1[0, 1] ** 2 - w2[0, 0] ** 2
    proof = prove_law(relu, "no bias term", no_bias, homogeneous=True)
    assert not proof.holds and abs(proof.witness["value"]) > 1
    b1 = relu.params["b1"][0]
    assert proof.residuals[0] == -2 * w2[0, 0] * b1 * DSIGMA(
        w1[0, 0] * relu.x[0] + w1[0, 1] * relu.x[1] + b1
    )

    # the linear-net off-diagonal law is not a ReLU law
    label, h = linear_block_laws(symbolic_ffn([2, 2, 1], "linear"))[1]
    assert not prove_law(relu, label, h, homogeneous=True).holds

    # a GELU neuron balance in a deep net, and SwiGLU's B-balance
    gelu = symbolic_ffn([2, 2, 2, 1], "gelu")
    assert not prove_law(gelu, *neuron_balance_laws(gelu)[2]).holds
    swiglu = symbolic_glu([2, 2, 1], "silu")
    proof = prove_law(swiglu, *glu_balance_laws(swiglu, "B")[0])
    assert not proof.holds and proof.witness is not None


def test_homogeneous_needs_sigma():
    with pytest.raises(ValueError, match="needs a net built with SIGMA, got 'relu'"):
        net = symbolic_ffn([1, 1, 1], "relu")
        prove_law(net, "h", net.theta[0] ** 2, homogeneous=True)


@pytest.mark.parametrize("act", ["gelu", "silu"])
def test_ffn_balance_drift_closed_form(act):
    proofs = ffn_balance_drift(act, (2, 2, 2))
    net = symbolic_ffn([2, 2, 2], act)
    pre = net.params["W1"] * net.x + net.params["b1"]
    for j, p in enumerate(proofs):
        assert p.matches_closed_form and not p.holds
        for k, r in enumerate(p.residuals):
            expected = -2 * net.params["W2"][k, j] * nonhomogeneity(act).subs(z, pre[j])
            assert r == expected


@pytest.mark.parametrize("act", ["relu", "linear"])
def test_ffn_balance_drift_vanishes_for_homogeneous(act):
    proofs = ffn_balance_drift(act, (2, 2, 1))
    assert all(p.holds and p.matches_closed_form for p in proofs)


def test_ffn_balance_drift_matches_torch_autograd():
    # the sign: ⟨∇h_j, ∇f_k⟩ = −2 W2[k,j] (act − z act′), checked against autograd
    model = FFN([2, 2, 2], "silu")
    params = model.init(seed=5)
    x = torch.tensor([[0.7, -1.1]], dtype=torch.float64)
    theta = model.flatten(params).requires_grad_(True)
    h = neuron_balances(model).vector(model.unflatten(theta))
    f = model.apply_flat(theta, x)[0]
    net = symbolic_ffn([2, 2, 2], "silu")
    sub = _numeric(net, params, x[0])
    for j, p in enumerate(ffn_balance_drift("silu", (2, 2, 2))):
        (grad_h,) = torch.autograd.grad(h[j], theta, retain_graph=True)
        for k, r in enumerate(p.residuals):
            (grad_f,) = torch.autograd.grad(f[k], theta, retain_graph=True)
            assert float(r.xreplace(sub)) == pytest.approx(float(grad_h @ grad_f))


def test_swiglu_b_balance_drifts_and_c_balance_holds():
    (p,) = glu_balance_drift("silu", (2, 1, 1))
    net = symbolic_glu([2, 1, 1], "silu")
    gate, value = (net.params["B"] * net.x)[0], (net.params["C"] * net.x)[0]
    a = net.params["A"][0, 0]
    assert p.matches_closed_form and not p.holds
    assert p.residuals[0] == -2 * a * value * nonhomogeneity("silu").subs(z, gate)
    assert all(p.holds for p in glu_balance_drift("silu", (2, 2, 1), "C"))
    for act in ("relu", "linear"):
        assert all(p.holds for p in glu_balance_drift(act, (2, 2, 1)))


def test_substitution_names_missing_parameters():
    net = symbolic_glu([1, 1, 1])
    with pytest.raises(
        ValueError, match=r"no value for parameter 'B'.*\['B', 'C', 'A'\]"
    ):
        net.substitution({"A": [[1.0]]})

"""count_laws and discover_laws on modules, functions and functional models."""

import math

import numpy as np
import pytest
import torch
from torch import nn
from torch.func import grad, jacrev, jvp

import conslaw
from conslaw.certificate import generator_field
from conslaw.discovery import adapt, count_laws, discover_laws
from conslaw.discovery.blocks import LinearNorm, PreNormBlock, ResidualMLP
from conslaw.discovery.norms import CompositeNorms, derivative_check
from conslaw.discovery.readable import boxes, format_law, rationalize, rref
from conslaw.laws import neuron_balances, predicted_laws
from conslaw.models import FFN, GLU, MoE
from conslaw.sweeps import discovery as sweep
from conslaw.symbolic.normalization import gain_laws, normalized_layer_laws


class UsesItem(nn.Module):
    """Calls ``.item()`` in its forward: torch.func cannot transform it."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.randn(2, 3))

    def forward(self, x):
        return x @ self.w.T * float(x.sum().item())


class SumOnly(nn.Module):
    """Uses its two weights only through ``a + b``: ``a − b`` is conserved,
    a symmetry nothing in the code announces."""

    def __init__(self):
        super().__init__()
        self.a = nn.Parameter(torch.randn(2, 3))
        self.b = nn.Parameter(torch.randn(2, 3))

    def forward(self, x):
        return torch.tanh(x @ (self.a + self.b).T)


def two_linear():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 2, bias=False), nn.Linear(2, 3, bias=False))


def gelu_net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.GELU(), nn.Linear(4, 2))


# ------------------------------------------------------------------ count_laws
def test_hidden_symmetry_is_counted_and_discovered():
    torch.manual_seed(0)
    count = count_laws(SumOnly(), (3,))
    assert count.conclusive and count.count == 6
    found = discover_laws(SumOnly(), (3,))
    assert found.dimension == 6 + 21  # six linear laws and their 21 products
    assert found.independent == 6 and found.products == 21
    assert found.lines() == [
        f"a[{i},{j}] − b[{i},{j}]" for i in range(2) for j in range(3)
    ]


def test_two_linear_layers_have_the_balance_laws():
    count = count_laws(two_linear(), (3,))
    found = discover_laws(two_linear(), (3,))
    # W1 W1ᵀ − W2ᵀ W2 with a hidden width of 2: three laws
    assert count.count == found.independent == found.dimension == 3
    assert found.lines()[0] == "‖0.weight[0,:]‖² − ‖1.weight[:,0]‖²"
    assert found.exact and found.residual < 1e-12


def test_gelu_network_has_no_law():
    count = count_laws(gelu_net(), torch.randn(50, 3))
    assert count.count == 0 and count.basis.shape == (26, 0)
    found = discover_laws(gelu_net(), (3,))
    assert found.dimension == 0 and found.laws == []


def test_basis_is_orthonormal_and_holds_the_law_gradients():
    model = FFN([3, 4, 2], "relu")
    count = count_laws(model)
    assert count.count == 4
    eye = count.basis.T @ count.basis
    assert torch.allclose(eye, torch.eye(4, dtype=eye.dtype), atol=1e-12)
    laws = neuron_balances(model)
    grads = jacrev(lambda th: laws.vector(model.unflatten(th)))(count.theta)
    outside = grads - grads @ count.basis @ count.basis.T
    assert outside.norm() / grads.norm() < 1e-10
    assert set(count.by_parameter()) == {"W1", "b1", "W2"}


def test_function_of_a_parameter_dict():
    def f(p, x):
        return torch.sin(x @ (p["a"] + p["b"]).T)

    params = {"a": torch.randn(2, 3), "b": torch.randn(2, 3)}
    assert count_laws(f, (3,), params=params).count == 6
    assert discover_laws(f, (3,), params=params).independent == 6


@pytest.mark.parametrize(
    "frozen, trainable, laws",
    [
        ({"2.bias"}, 24, 4),
        # without trainable biases a ReLU neuron cannot rescale: no law left
        (lambda name: name.endswith("bias"), 20, 0),
        # the output layer frozen: nothing balances the first layer's rows
        ({"2.weight", "2.bias"}, 16, 0),
    ],
    ids=["output-bias", "all-biases", "output-layer"],
)
def test_frozen_parameters(frozen, trainable, laws):
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    count = count_laws(net, (3,), frozen=frozen, params="generic")
    assert count.parameters == trainable and count.count == laws


def test_requires_grad_false_freezes():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    net[0].bias.requires_grad_(False)
    count = count_laws(net, (3,), params="generic")
    assert count.frozen == ["0.bias"] and count.count == 0


def test_frozen_parameters_of_a_functional_model():
    # the C rows of a SwiGLU frozen: its laws ‖C[j,:]‖² − ‖A[:,j]‖² go with them
    model = GLU([3, 4, 2], "silu")
    assert count_laws(model).count == 4
    assert count_laws(model, frozen={"C"}).count == 0


def test_example_inputs_and_callable_sampler():
    net = gelu_net()
    examples = torch.randn(20, 3)
    assert count_laws(net, examples).count == 0

    def sampler(n, generator):
        return torch.randn(n, 3, generator=generator, dtype=torch.float64)

    assert count_laws(two_linear(), sampler).count == 3


def test_module_in_training_mode_warns_and_runs_in_eval():
    net = nn.Sequential(nn.Linear(3, 3), nn.Dropout(0.5), nn.Linear(3, 2))
    with pytest.warns(UserWarning, match="eval mode"):
        adapted = adapt(net, (3,))
    x = torch.randn(4, 3, dtype=torch.float64)
    assert torch.equal(adapted(adapted.point, x), adapted(adapted.point, x))


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: count_laws(3, (3,)), TypeError, "torch.nn.Module"),
        (lambda: count_laws(gelu_net(), "x"), TypeError, "sample_inputs must be"),
        (lambda: count_laws(gelu_net(), (5,)), TypeError, "failed on float64"),
        (lambda: count_laws(gelu_net()), ValueError, "sample_inputs is required"),
        (lambda: count_laws(lambda p, x: x, (3,)), ValueError, "needs params="),
        (
            lambda: count_laws(gelu_net(), (3,), frozen={"0.wieght"}),
            ValueError,
            "not parameters of the model",
        ),
        (
            lambda: count_laws(gelu_net(), (3,), frozen=lambda n: True),
            ValueError,
            "every parameter is frozen",
        ),
        (
            lambda: count_laws(gelu_net(), (3,), params={"x": torch.zeros(1)}),
            ValueError,
            "params names",
        ),
        (lambda: count_laws(gelu_net(), (3,), params="random"), ValueError, "generic"),
        (
            lambda: count_laws(gelu_net(), lambda n, g: torch.zeros(n + 1, 3)),
            ValueError,
            "must return a tensor",
        ),
        (
            lambda: count_laws(lambda p, x: (x, x), (3,), params={"w": torch.ones(1)}),
            TypeError,
            "must return one tensor",
        ),
        (
            lambda: discover_laws(FFN([4, 8, 4], "relu"), max_unknowns=100),
            ValueError,
            "pass blocks=",
        ),
        (lambda: discover_laws(gelu_net(), (3,), degree=3), ValueError, "degree"),
        (lambda: count_laws(UsesItem(), (3,)), TypeError, "torch.func"),
        (lambda: discover_laws(UsesItem(), (3,)), TypeError, "torch.func"),
        (
            lambda: discover_laws(gelu_net(), (3,), blocks="0.weight"),
            TypeError,
            "groups",
        ),
        (
            lambda: discover_laws(
                gelu_net(), (3,), parameters={"0.weight"}, blocks=[("2.weight",)]
            ),
            ValueError,
            "not among the selected",
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_bad_input_is_explained(call, error, match):
    with pytest.raises(error, match=match):
        call()


# ----------------------------------------------------- rediscovering the paper
@pytest.mark.parametrize(
    "model, blocks, laws",
    [
        (FFN([2, 3, 2], "relu"), None, 3),
        (GLU([2, 2, 2], "silu"), None, 2),
        (conslaw.MultiHeadAttention(2, 1, 2, 2, seq_len=3), None, 6),
        (
            conslaw.MultiHeadAttention(3, 1, 4, 2, seq_len=3, pe="rope"),
            [("Q", "K"), ("V", "O")],
            5,
        ),
        (MoE([2, 1, 2], 2, gate="softmax", expert="swiglu"), None, 4),
    ],
    ids=["relu", "swiglu", "mha", "rope", "moe-softmax"],
)
def test_discovery_finds_exactly_the_predicted_laws(model, blocks, laws):
    found = discover_laws(model, blocks=blocks)
    predicted = predicted_laws(model)
    assert found.independent == predicted.count == laws
    assert found.contains(predicted.vector) < 1e-10
    assert found.exact and found.clear


def test_contains_rejects_a_function_that_is_not_a_law():
    model = FFN([2, 3, 2], "gelu")
    found = discover_laws(model)
    assert found.contains(neuron_balances(model).vector) > 0.1


def test_restriction_to_parameters():
    found = discover_laws(GLU([2, 2, 2], "silu"), parameters={"B", "A"})
    # the SwiGLU laws need C: none is left among polynomials of A and B
    assert found.dimension == 0 and "parameters ['A', 'B']" in found.restriction


# -------------------------------------------------------- the blocks and norms
@pytest.mark.parametrize(
    "block, shape, lines",
    [
        (
            LinearNorm(2, 3, "layer", eps=0.0),
            (2,),
            [
                "Σ linear.weight[:,0]",
                "Σ linear.weight[:,1]",
                "Σ linear.bias",
                "‖linear.weight‖² + ‖linear.bias‖²",
            ],
        ),
        (LinearNorm(2, 3, "rms", eps=0.0), (2,), ["‖linear.weight‖² + ‖linear.bias‖²"]),
        (
            LinearNorm(2, 3, "layer", eps=1e-5),
            (2,),
            ["Σ linear.weight[:,0]", "Σ linear.weight[:,1]", "Σ linear.bias"],
        ),
    ],
    ids=["layernorm", "rmsnorm", "layernorm-eps"],
)
def test_normalized_layers(block, shape, lines):
    found = discover_laws(block, shape)
    assert found.lines() == lines
    assert count_laws(block, shape, params="generic").count == found.independent


def test_residual_block_keeps_the_neuron_laws():
    found = discover_laws(ResidualMLP(2, 3, "relu"), (2,))
    assert found.independent == 3
    assert found.lines()[0] == "‖fc1.weight[0,:]‖² + fc1.bias[0]² − ‖fc2.weight[:,0]‖²"


def test_composite_layer_norm_has_the_right_third_derivative():
    torch.manual_seed(0)
    z0, t1, t2 = (torch.randn(3, dtype=torch.float64) for _ in range(3))

    def reference(z):
        c = z - z.mean()
        return c / torch.sqrt((c * c).mean() + 1e-5)

    def third(norm):
        g = grad(lambda z: norm(z)[0] ** 2)
        return jvp(lambda z: jvp(g, (z,), (t1,))[1], (z0,), (t2,))[1]

    def composite(z):
        with CompositeNorms():
            return torch.nn.functional.layer_norm(z, (3,), eps=1e-5)

    assert torch.allclose(third(composite), third(reference), rtol=1e-12)


def test_composite_instance_norm_matches_the_kernel():
    x = torch.randn(2, 3, 4, dtype=torch.float64)
    w, b = torch.randn(3, dtype=torch.float64), torch.randn(3, dtype=torch.float64)
    fused = torch.nn.functional.instance_norm(x, weight=w, bias=b, eps=1e-5)
    with CompositeNorms():
        ours = torch.nn.functional.instance_norm(x, weight=w, bias=b, eps=1e-5)
    assert torch.allclose(ours, fused, atol=1e-12)


def test_batch_statistics_are_refused():
    net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4, track_running_stats=False))
    with pytest.raises(ValueError, match="normalizes over the batch"):
        count_laws(net, (3,))


def test_prenorm_block_count_equals_discovered_laws():
    torch.manual_seed(0)
    block = PreNormBlock(3, 1, 1, 2, activation="gelu")
    count = count_laws(block, (2, 3), params="generic")
    found = discover_laws(block, (2, 3))
    # per LayerNorm coordinate a gain law (2 × 3), one QK and one VO law
    assert count.conclusive and count.count == found.independent == 8


# ------------------------------------------------------------- readable form
def test_boxes_cover_a_set_exactly():
    pts = {(0, 0), (0, 1), (1, 0), (1, 1), (2, 1)}
    assert boxes(pts, 2) == [((0, 2), (0, 2)), ((2, 3), (1, 2))]


def test_format_law_groups_terms():
    names = [("W", (i, j)) for i in range(2) for j in range(2)] + [("b", (0,))]
    shapes = {"W": (2, 2), "b": (1,)}
    coefficients = {(0, 0): 1, (1, 1): 1, (2, 2): -1, (3, 3): -1, (0, 2): 2, (4,): 1}
    text = format_law(coefficients, names, shapes)
    assert text == "‖W[0,:]‖² + 2 W[0,0]·W[1,0] − ‖W[1,:]‖² + b[0]"


def test_rationalize_and_rref():
    coefs, exact = rationalize(np.array([0.5, 1 / 3, 1e-12, math.pi]))
    assert coefs[:3] == [0.5, pytest.approx(1 / 3), 0] and not exact
    rows, pivots = rref(np.array([[2.0, 4.0, 0.0], [1.0, 2.0, 1.0]]), [0, 1, 2])
    assert pivots == [0, 2] and np.allclose(rows, [[1, 2, 0], [0, 0, 1]])


# ------------------------------------------------------ sympy and the chapter
@pytest.mark.parametrize("norm, laws", [("layer", 4), ("rms", 1)])
def test_normalization_laws_are_proved(norm, laws):
    proofs = normalized_layer_laws(norm, 2, 3)
    assert len(proofs) == laws and all(p.holds for p in proofs)


def test_rmsnorm_has_no_translation_law():
    proofs = normalized_layer_laws("rms", 1, 3, translations=True)
    assert [p.holds for p in proofs] == [True, False, False]


def test_gain_laws_are_proved_and_a_wrong_one_is_not():
    assert all(p.holds for p in gain_laws(2, 3, 1))
    with pytest.raises(ValueError, match="positive sizes"):
        gain_laws(0)
    with pytest.raises(ValueError, match="norm must be"):
        normalized_layer_laws("batch")


def test_discovered_laws_are_orthogonal_to_fields_and_evaluate():
    found = discover_laws(LinearNorm(2, 3, "layer", eps=0.0), (2,))
    model = found.model_ref
    gen = torch.Generator().manual_seed(3)
    theta = torch.randn(found.parameters, generator=gen, dtype=torch.float64)
    x = torch.randn(5, 2, generator=gen, dtype=torch.float64)
    u = torch.randn(5, 3, generator=gen, dtype=torch.float64)
    field = generator_field(model)(theta, x, u)  # a field at a fresh point
    g = found.gradients(theta)
    cos = (g @ field) / (g.norm(dim=1) * field.norm())
    assert cos.abs().max() < 1e-12
    p = model.unflatten(theta)
    values = found.values(p)
    assert found.lines()[2] == "Σ linear.bias"
    assert torch.isclose(values[2], p["linear.bias"].sum())
    scale = (p["linear.weight"] ** 2).sum() + (p["linear.bias"] ** 2).sum()
    assert torch.isclose(values[3], scale)


def test_chapter_helpers():
    cases = sweep.extension_cases(2, 2, 2, "halves", seed=0)
    row = cases["rmsnorm"].run(0)
    assert row["independent"] == row["certified"] == 1
    fields = sweep.verdict_fields(cases["rmsnorm"], 1, "prop-layernorm")
    assert fields["verdict"] == "confirmed"
    assert sweep.derived_count("prenorm", 3, 3) == 12
    with pytest.raises(ValueError, match="unknown block"):
        sweep.derived_count("batchnorm", 3, 3)
    with pytest.raises(ValueError, match="halves"):
        sweep.extension_cases(pairs="some")


@pytest.mark.parametrize("norm", ["layer_norm", "instance_norm"])
def test_derivative_check_composite_matches_a_central_difference(norm):
    second, third = derivative_check(norm, seed=1)
    assert (second["order"], third["order"]) == (2, 3)
    # the fused second derivative is right (only the third is wrong upstream)
    assert second["|fused − composite|"] < 1e-12
    for row in (second, third):
        # a central difference of step 1e-4 is accurate to ~1e-7 relative
        assert row["composite"] == pytest.approx(row["difference"], rel=1e-6)
        assert row["|fused − composite|"] == abs(row["fused"] - row["composite"])


def test_derivative_check_rejects_bad_input():
    with pytest.raises(ValueError, match="unknown norm"):
        derivative_check("batch_norm")
    with pytest.raises(ValueError, match="size must be"):
        derivative_check("layer_norm", size=1)


def test_count_status_is_final_and_explained():
    count = count_laws(FFN([2, 2, 2], "relu"), seed=0)
    assert count.status == "final" and count.conclusive
    assert "status          final: the Lie rank stopped growing" in count.summary()


def test_timing_sweep_times_the_svd_inside_the_run():
    rows = sweep.timing_sweep([2, 3], seed=0)
    assert all(0 < r["svd seconds"] <= r["seconds"] for r in rows)
    slopes = sweep.time_slopes(rows)
    assert set(slopes) == {"fit", "last"}
    with pytest.raises(ValueError, match="at least two"):
        sweep.time_slopes(rows[:1])

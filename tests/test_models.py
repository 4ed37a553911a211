import pytest
import torch

from conslaw.models import FFN, GLU, MaskedFFN, WithUnused, activation
from conslaw.models.activations import NONHOMOGENEITY


def test_ffn_shapes_and_flat_view():
    model = FFN([3, 4, 2], "relu")
    assert model.shapes == {"W1": (4, 3), "b1": (4,), "W2": (2, 4), "b2": (2,)}
    assert model.num_parameters == 26
    params = model.init(0)
    theta = model.flatten(params)
    assert theta.shape == (26,)
    back = model.unflatten(theta)
    assert all(torch.equal(back[k], params[k]) for k in params)
    x = torch.randn(5, 3)
    assert torch.allclose(model(params, x), model.apply_flat(theta, x))


def test_ffn_matches_hand_computation():
    model = FFN([2, 3, 1], "gelu", bias=False)
    p = model.init(1)
    x = torch.randn(4, 2)
    expected = torch.nn.functional.gelu(x @ p["W1"].T) @ p["W2"].T
    assert torch.allclose(model(p, x), expected)


def test_deep_ffn_depth_and_preactivations():
    model = FFN([2, 3, 4, 1], "relu")
    p = model.init(0)
    z = model.preactivations(p, torch.randn(7, 2))
    assert [t.shape for t in z] == [(7, 3), (7, 4)]
    assert model.depth == 3


def test_glu_is_the_papers_form():
    model = GLU([3, 4, 2], "silu")
    p = model.init(0)
    x = torch.randn(5, 3)
    expected = (torch.nn.functional.silu(x @ p["B"].T) * (x @ p["C"].T)) @ p["A"].T
    assert torch.allclose(model(p, x), expected)
    assert model.variant == "SwiGLU"


def test_masked_ffn_with_all_ones_is_linear_network():
    model = MaskedFFN([2, 3, 2], bias=True)
    linear = FFN([2, 3, 2], "linear", bias=True)
    p = model.init(0)
    x = torch.randn(4, 2)
    masked = torch.cat([x, torch.ones(4, 3)], 1)
    assert torch.allclose(model(p, masked), linear(p, x))


def test_with_unused_ignores_its_parameter():
    inner = FFN([2, 2, 1], "relu")
    model = WithUnused(inner, 2)
    assert model.num_parameters == inner.num_parameters + 2
    p = model.init(0)
    x = torch.randn(3, 2)
    assert torch.equal(model(p, x), inner(p, x))


def test_init_fan_in_scales_weights_not_biases():
    model = FFN([100, 5, 1], "relu")
    p = model.init(0, scale="fan_in")
    assert p["W1"].std() < 0.2
    assert p["b1"].abs().max() > 0.2 or p["b1"].std() > 0.3


@pytest.mark.parametrize("name", ["gelu", "silu"])
def test_nonhomogeneity_closed_form_matches_autograd(name):
    z = torch.linspace(-4, 4, 101, requires_grad=True)
    act = activation(name)(z)
    (slope,) = torch.autograd.grad(act.sum(), z)
    assert torch.allclose(NONHOMOGENEITY[name](z), act - z * slope, atol=1e-14)


def test_bad_inputs_raise_teaching_errors():
    with pytest.raises(ValueError, match="unknown activation 'tanh'.*expected one of"):
        FFN([2, 2, 1], "tanh")
    with pytest.raises(ValueError, match="positive integers"):
        FFN([2, 0, 1], "relu")
    with pytest.raises(ValueError, match="expected 3 widths"):
        GLU([2, 3, 3, 1])
    with pytest.raises(ValueError, match="unknown GLU activation"):
        GLU([2, 2, 1], "tanh")
    with pytest.raises(ValueError, match=r"shape \(9,\)"):
        FFN([2, 2, 1], "relu").unflatten(torch.zeros(3))
    with pytest.raises(ValueError, match="missing"):
        FFN([2, 2, 1], "relu").flatten({"W1": torch.zeros(2, 2)})
    with pytest.raises(ValueError, match="unknown scale"):
        FFN([2, 2, 1], "relu").init(0, scale="xavier")

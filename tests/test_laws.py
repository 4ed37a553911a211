import pytest
import torch
from torch.func import jacrev

from conslaw.certificate import generic_point
from conslaw.laws import (
    balance_rank,
    balance_rates,
    glu_balances,
    linear_laws,
    neuron_balances,
    predicted_laws,
)
from conslaw.laws.base import LawSet
from conslaw.models import FFN, GLU, WithUnused

# largest |<∇h, ∇f_k(x)>| relative to the sizes of the two gradients that counts as
# zero: float64 round-off of a dot product of a few hundred terms
ORTHOGONAL = 1e-12


def _max_cosine(model, laws, seed=0):
    params, _ = generic_point(model, seed)
    theta = model.flatten(params)
    x = torch.randn(16, *model.in_shape, generator=torch.Generator().manual_seed(1))
    jac = jacrev(lambda th: model.apply_flat(th, x).reshape(-1))(theta)
    jac = jac[jac.norm(dim=1) > 0]  # outputs a dead unit cuts off
    grads = jacrev(lambda th: laws.vector(model.unflatten(th)))(theta)
    cos = (grads / grads.norm(dim=1, keepdim=True)) @ (
        jac / jac.norm(dim=1, keepdim=True)
    ).T
    return cos.abs().max().item()


@pytest.mark.parametrize(
    "model",
    [
        FFN([3, 4, 2], "linear"),
        FFN([3, 4, 4, 2], "linear", bias=False),
        FFN([3, 4, 2], "relu"),
        FFN([2, 3, 3, 2], "relu", bias=False),
        GLU([3, 4, 2], "silu"),
        GLU([3, 4, 2], "gelu"),
        GLU([3, 4, 2], "relu"),
        GLU([3, 4, 2], "linear"),
    ],
    ids=lambda m: m.describe(),
)
def test_predicted_laws_are_orthogonal_to_output_gradients(model):
    laws = predicted_laws(model)
    assert laws.count > 0
    assert _max_cosine(model, laws) < ORTHOGONAL


@pytest.mark.parametrize("act", ["gelu", "silu"])
def test_relu_laws_are_not_laws_for_smooth_activations(act):
    model = FFN([3, 4, 2], act)
    assert predicted_laws(model).count == 0
    assert _max_cosine(model, neuron_balances(model)) > 1e-3


def test_swiglu_b_balance_is_not_a_law():
    model = GLU([3, 4, 2], "silu")
    assert _max_cosine(model, glu_balances(model, "B")) > 1e-3


def test_counts():
    assert predicted_laws(FFN([3, 4, 2], "relu")).count == 4
    assert predicted_laws(FFN([4, 3, 4], "linear", bias=False)).count == 6
    assert predicted_laws(GLU([3, 4, 2], "silu")).count == 4
    assert predicted_laws(GLU([3, 4, 2], "relu")).count == 8
    assert predicted_laws(WithUnused(FFN([3, 4, 2], "relu"))).count == 4


def test_balance_rank_bounds_the_symmetric_block():
    # a layer wider than its neighbours together: fewer than m(m+1)/2 laws
    assert balance_rank(5, 2, 2) == 14
    assert balance_rank(3, 4, 4) == 6
    laws = linear_laws(FFN([2, 5, 2], "linear", bias=False))
    assert laws.count == 14 and laws.laws[0].size == 15


def test_law_blocks_and_labels():
    laws = predicted_laws(FFN([2, 3, 1], "linear", bias=False))
    p = FFN([2, 3, 1], "linear", bias=False).init(0)
    (block,) = laws.blocks(p).values()
    assert block.shape == (3, 3)
    assert torch.allclose(block, block.T)
    assert len(laws.labels) == 6 and laws.vector(p).shape == (6,)


def test_balance_rates_match_autograd():
    from conslaw.data import digits
    from conslaw.training import full_batch_loss

    data = digits(64)
    model = FFN([64, 5, 10], "silu")
    params = model.init(0, scale="fan_in")
    theta = model.flatten(params)
    laws = neuron_balances(model)
    grads = jacrev(lambda th: laws.vector(model.unflatten(th)))(theta)
    loss_grad = torch.func.grad(full_batch_loss(model, data, "cross-entropy"))(theta)
    assert torch.allclose(
        balance_rates(model, data)(params), -grads @ loss_grad, atol=1e-14
    )


def test_balance_rates_rejects_deep_nets():
    with pytest.raises(ValueError, match="one hidden layer"):
        balance_rates(FFN([2, 2, 2, 1], "gelu"), None)


def test_unregistered_model_has_no_prediction():
    class Odd(FFN):
        pass

    assert predicted_laws(Odd([2, 2, 1], "relu")).count == 2  # inherits FFN's rule

    from conslaw.models.base import FunctionalModel

    class Bare(FunctionalModel):
        shapes, in_shape, out_shape = {"w": (1,)}, (1,), (1,)

    with pytest.raises(TypeError, match="no predicted laws are registered"):
        predicted_laws(Bare())
    assert LawSet().count == 0

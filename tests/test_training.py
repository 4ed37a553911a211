import pytest
import torch

from conslaw.data import digits, teacher_student
from conslaw.laws import balance_rates, neuron_balances, predicted_laws
from conslaw.models import FFN, GLU
from conslaw.training import (
    LOSSES,
    gradient_descent,
    gradient_flow,
    loss_fn,
    relative_deviation,
)


@pytest.fixture(scope="module")
def data():
    return digits(64, seed=0)


def test_digits_are_standardized_and_offline():
    d = digits()
    assert d.x.shape == (1797, 64) and d.y.shape == (1797,)
    assert d.x.dtype == torch.float64
    assert torch.allclose(d.x.mean(0), torch.zeros(64), atol=1e-12)
    tokens = digits(10, as_tokens=True)
    assert tokens.x.shape == (10, 8, 8)
    with pytest.raises(ValueError, match="expected 1 <= n <= 1797"):
        digits(0)


def test_teacher_student_is_reproducible():
    teacher = FFN([3, 4, 2], "relu")
    a, pa = teacher_student(teacher, 32, seed=3)
    b, pb = teacher_student(teacher, 32, seed=3)
    assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y)
    assert a.y.shape == (32, 2)


def test_gradient_flow_conserves_swiglu_laws(data):
    model = GLU([64, 4, 10], "silu")
    laws = predicted_laws(model)
    result = gradient_flow(
        model,
        model.init(0, scale="fan_in"),
        data,
        t_final=5.0,
        points=6,
        rtol=1e-10,
        atol=1e-10,
        track=laws.blocks,
    )
    assert result.loss[-1] < 0.5 * result.loss[0]
    assert relative_deviation(result.tracked)[-1] < 1e-7


def test_gradient_flow_integrates_the_balance_rate(data):
    model = FFN([64, 4, 10], "gelu")
    balance = neuron_balances(model)
    result = gradient_flow(
        model,
        model.init(0, scale="fan_in"),
        data,
        t_final=5.0,
        points=6,
        rtol=1e-10,
        atol=1e-10,
        track=lambda p: {"h": balance.vector(p)},
        rates={"h": balance_rates(model, data)},
    )
    change = result.tracked["h"] - result.tracked["h"][0]
    assert change.abs().max() > 1e-3
    assert (change - result.integrals["h"]).abs().max() < 1e-7


def test_gradient_descent_step_and_quadratic_drift(data):
    model = FFN([64, 4, 10], "relu")
    laws = neuron_balances(model)
    params = model.init(0, scale="fan_in")
    small = gradient_descent(model, params, data, lr=1e-3, steps=20, track=laws.blocks)
    large = gradient_descent(model, params, data, lr=1e-2, steps=20, track=laws.blocks)
    # the drift of a quadratic law is O(τ²k): ten times the step, ~100 times it
    ratio = (
        relative_deviation(large.tracked)[-1] / relative_deviation(small.tracked)[-1]
    )
    assert 30 < ratio < 300
    assert small.steps.tolist() == list(range(21))


def test_relative_deviation_is_eq_10():
    values = {
        "a": torch.tensor([[1.0, 0.0], [1.0, 1.0]]),
        "b": torch.tensor([2.0, 3.0]),
    }
    eps = relative_deviation(values)
    assert torch.allclose(eps, torch.tensor([0.0, (1.0 + 0.5) / 2]))
    with pytest.raises(ValueError, match="at least one law block"):
        relative_deviation({})


def test_device_fallback_warns():
    from conslaw.device import resolve_device

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.warns(RuntimeWarning, match="CUDA is not available"):
        assert resolve_device("cuda").type == "cpu"
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        resolve_device("tpu")


def test_step_limit_is_a_clear_error(data):
    model = FFN([64, 4, 10], "relu")
    with pytest.raises(RuntimeError, match="loosen rtol"):
        gradient_flow(
            model,
            model.init(0, scale="fan_in"),
            data,
            t_final=20.0,
            rtol=1e-12,
            atol=1e-12,
            max_steps=20,
        )


def test_loss_fn_resolves_names_and_passes_functions_through():
    out, y = torch.randn(2, 3, 5, dtype=torch.float64), torch.tensor([[0, 1, 2]] * 2)
    tokens = loss_fn("token-cross-entropy")(out, y)
    assert tokens == pytest.approx(
        float(LOSSES["cross-entropy"](out.reshape(6, 5), y.reshape(6)))
    )

    def mine(o, t):
        return o.sum()

    assert loss_fn(mine) is mine
    for bad in ("hinge", None):
        with pytest.raises(ValueError, match="unknown loss .*expected one of"):
            loss_fn(bad)

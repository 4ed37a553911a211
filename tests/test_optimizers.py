"""Optimizers' update rules, the one-step law change and the closed forms."""

import math

import pytest
import torch

from conslaw.data import digits
from conslaw.laws import gate_laws, predicted_laws
from conslaw.models import FFN, GLU, MoE
from conslaw.symbolic import dynamics as sym
from conslaw.training import predictions as pred
from conslaw.training.optimizers import (
    Optimizer,
    adam_step,
    gradient_flow_with_decay,
    momentum_step,
    sgd_step,
    train,
)

# float64 round-off of a difference of two law values of size |h|, with slack
# for the accumulation over a few hundred terms
ROUNDOFF = 64 * torch.finfo(torch.float64).eps


@pytest.fixture(scope="module")
def data():
    return digits(48, seed=1)


def t(*values):
    return torch.tensor(values, dtype=torch.float64)


# ------------------------------------------------------------ update rules
def test_sgd_step_by_hand():
    theta, g = t(1.0, -2.0), t(0.5, 1.0)
    assert torch.allclose(sgd_step(theta, g, 0.1), t(0.95, -2.1))
    # coupled: θ − 0.1 (g + 0.5 θ); decoupled: 0.95 θ − 0.1 g; both (0.9, −2.0)
    for decoupled in (False, True):
        new = sgd_step(theta, g, 0.1, weight_decay=0.5, decoupled=decoupled)
        assert torch.allclose(new, t(0.9, -2.0), atol=1e-15)


@pytest.mark.parametrize(
    ("weight_decay", "decoupled", "expected"),
    [
        # L = θ²/2, θ₀ = 1, τ = 0.1, β = 0.9:
        # v₁ = 1, θ₁ = 0.9; v₂ = 0.9 + 0.9 = 1.8, θ₂ = 0.72
        (0.0, False, (0.9, 0.72)),
        # coupled λ = 1: v₁ = 2, θ₁ = 0.8; v₂ = 1.8 + 1.6 = 3.4, θ₂ = 0.46
        (1.0, False, (0.8, 0.46)),
        # decoupled λ = 1: v₁ = 1, θ₁ = 0.9 − 0.1 = 0.8; v₂ = 0.9 + 0.8 = 1.7,
        # θ₂ = 0.72 − 0.17 = 0.55
        (1.0, True, (0.8, 0.55)),
    ],
)
def test_momentum_steps_by_hand(weight_decay, decoupled, expected):
    theta, velocity = t(1.0), t(0.0)
    out = []
    for _ in range(2):
        theta, velocity = momentum_step(
            theta, velocity, theta.clone(), 0.1, 0.9, weight_decay, decoupled
        )
        out.append(theta.item())
    assert out == pytest.approx(expected, abs=1e-14)


def test_adam_steps_by_hand():
    # β₁ = 1/2, β₂ = 3/4, ε = 0, τ = 1, gradients 2 then 1:
    # m₁ = 1, v₁ = 1, m̂ = 2, v̂ = 4: step 1
    # m₂ = 1, v₂ = 1, m̂ = 4/3, v̂ = 16/7: step (4/3)/(4/√7) = √7/3
    theta, m, v = t(0.0), t(0.0), t(0.0)
    theta, m, v = adam_step(theta, m, v, t(2.0), 1, 1.0, (0.5, 0.75), 0.0)
    assert theta.item() == pytest.approx(-1.0, abs=1e-15)
    theta, m, v = adam_step(theta, m, v, t(1.0), 2, 1.0, (0.5, 0.75), 0.0)
    assert theta.item() == pytest.approx(-1.0 - math.sqrt(7) / 3, abs=1e-15)


def test_adam_first_step_is_the_symbolic_one():
    # bias correction makes the first step τ g / (|g| + ε) for any betas
    theta, g = t(1.0, -2.0, 0.0), t(0.5, -4.0, 1e-3)
    new, _, _ = adam_step(theta, theta * 0, theta * 0, g, 1, 0.1, (0.3, 0.7), 1e-3)
    assert torch.allclose(new, theta - 0.1 * g / (g.abs() + 1e-3), atol=1e-15)
    assert str(sym.adam_first_step()) == "g/(epsilon + Abs(g))"


@pytest.mark.parametrize("decoupled", [False, True])
def test_adam_weight_decay_coupled_and_decoupled(decoupled):
    theta, g = t(2.0), t(1.0)
    new, m, v = adam_step(theta, t(0.0), t(0.0), g, 1, 0.1, weight_decay=0.5,
                          eps=0.0, decoupled=decoupled)  # fmt: skip
    if decoupled:  # AdamW: θ (1 − τλ) − τ sign(g) = 1.9 − 0.1
        assert new.item() == pytest.approx(1.8, abs=1e-15)
        assert m.item() == pytest.approx(0.1 * 1.0)
    else:  # Adam: g + λθ = 2 enters the moments; first step still τ sign
        assert new.item() == pytest.approx(1.9, abs=1e-15)
        assert m.item() == pytest.approx(0.1 * 2.0)


def _torch_reference(kind, theta0, grads, lr):
    """The same steps with torch.optim, gradients injected by hand."""
    p = torch.nn.Parameter(theta0.clone())
    make = {
        "momentum": lambda: torch.optim.SGD([p], lr=lr, momentum=0.8,
                                            weight_decay=0.3),
        "adam": lambda: torch.optim.Adam([p], lr=lr, weight_decay=0.3),
        "adamw": lambda: torch.optim.AdamW([p], lr=lr, weight_decay=0.3),
    }  # fmt: skip
    opt = make[kind]()
    for g in grads:
        p.grad = g.clone()
        opt.step()
    return p.detach()


@pytest.mark.parametrize("kind", ["momentum", "adam", "adamw"])
def test_rules_match_torch_optim(kind):
    gen = torch.Generator().manual_seed(0)
    theta0 = torch.randn(5, generator=gen, dtype=torch.float64)
    grads = torch.randn(6, 5, generator=gen, dtype=torch.float64)
    name = "momentum" if kind == "momentum" else "adam"
    opt = Optimizer(name, lr=0.05, beta=0.8, weight_decay=0.3,
                    decoupled=kind == "adamw")  # fmt: skip
    theta, state = theta0.clone(), opt.init(theta0)
    for k, g in enumerate(grads):
        theta, state = opt.step(theta, g, state, k)
    ref = _torch_reference(kind, theta0, grads, 0.05)
    assert torch.allclose(theta, ref, atol=1e-14, rtol=0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"name": "rmsprop"}, "unknown optimizer 'rmsprop'"),
        ({"lr": -0.1}, "positive learning rate"),
        ({"lr": 0.0}, "positive learning rate"),
        ({"beta": 1.0}, "0 <= beta < 1"),
        ({"betas": (0.9, 1.5)}, r"0 <= betas\[1\] < 1"),
        ({"weight_decay": -1.0}, "weight_decay >= 0"),
    ],
)
def test_bad_optimizer_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Optimizer(**kwargs)


def test_bad_training_arguments(data):
    model = FFN([64, 3, 10], "relu")
    params = model.init(0, scale="fan_in")
    with pytest.raises(ValueError, match="batch_size <= 48"):
        train(model, params, data, Optimizer(), steps=2, batch_size=49)
    with pytest.raises(ValueError, match="keep_gradients=True records every"):
        train(model, params, data, Optimizer(), steps=4, every=2, keep_gradients=True)
    with pytest.raises(ValueError, match="starts at 1"):
        adam_step(t(0.0), t(0.0), t(0.0), t(1.0), 0, 0.1)
    with pytest.raises(ValueError, match="quadratic form"):
        pred.check_quadratic_form(lambda v: (v**3).sum(0, keepdim=True), 4)


def test_full_batch_sgd_is_gradient_descent(data):
    from conslaw.training import gradient_descent

    model = FFN([64, 3, 10], "relu")
    params = model.init(0, scale="fan_in")
    ours = train(model, params, data, Optimizer("sgd", lr=0.1), steps=5)
    ref = gradient_descent(model, params, data, lr=0.1, steps=5)
    assert torch.allclose(ours.thetas, ref.thetas, atol=1e-14)
    assert ours.lrs.tolist() == [0.1] * 5


def test_minibatches_are_seeded(data):
    model = FFN([64, 3, 10], "relu")
    params = model.init(0, scale="fan_in")
    opt = Optimizer("sgd", lr=0.1)
    a = train(model, params, data, opt, steps=3, batch_size=8, seed=4)
    b = train(model, params, data, opt, steps=3, batch_size=8, seed=4)
    c = train(model, params, data, opt, steps=3, batch_size=8, seed=5)
    assert torch.equal(a.thetas, b.thetas)
    assert not torch.equal(a.thetas, c.thetas)


# ------------------------------------------------------ one-step law change
NETS = {
    "relu": lambda: FFN([64, 5, 10], "relu"),
    "swiglu": lambda: GLU([64, 5, 10], "silu"),
    "linear": lambda: FFN([64, 5, 10], "linear"),
}


@pytest.mark.parametrize("net", list(NETS))
@pytest.mark.parametrize("batch_size", [None, 8])
def test_one_step_change_is_tau_squared_h_of_g(data, net, batch_size):
    model = NETS[net]()
    law = pred.flat_law(model, predicted_laws(model))
    pred.check_quadratic_form(law, model.num_parameters)
    run = train(model, model.init(0, scale="fan_in"), data, Optimizer("sgd", lr=0.2),
                steps=20, batch_size=batch_size, keep_gradients=True)  # fmt: skip
    h = pred.along(law, run.thetas)
    formula = pred.quadratic_step_change(law, run.grads, run.lrs)
    assert formula.abs().max() > 1e3 * ROUNDOFF * h.abs().max()  # not trivial
    assert (h[1:] - h[:-1] - formula).abs().max() < ROUNDOFF * h.abs().max()
    first, second = pred.step_split(law, run.thetas)
    assert first.abs().max() < ROUNDOFF * h.abs().max()
    assert torch.allclose(second, formula, atol=1e-15)


def test_eq9_bound_holds_and_basel_limit(data):
    model = FFN([64, 5, 10], "relu")
    law = pred.flat_law(model, predicted_laws(model))
    c_h = pred.hessian_norm(law, model.num_parameters).max().item()
    assert c_h == pytest.approx(2.0, rel=1e-12)
    opt = Optimizer("sgd", lr=lambda k: 0.4 / (k + 1))
    run = train(model, model.init(0, scale="fan_in"), data, opt, steps=30,
                batch_size=8, keep_gradients=True)  # fmt: skip
    h = pred.along(law, run.thetas)
    c_l = (run.grads**2).sum(1).max().item()
    bound = pred.eq9_bound(run.lrs, c_h, c_l)
    assert ((h - h[0]).abs().max(1).values <= bound).all()
    assert bound[-1] < 0.5 * c_h * c_l * pred.basel_sum(0.4)
    assert pred.eq9_bound(t(0.1, 0.2), 2.0, 3.0).tolist() == pytest.approx(
        [0.0, 0.03, 0.15]
    )


def test_hessian_norm_of_the_linear_net_law():
    # diagonal entries of W1W1ᵀ − W2ᵀW2 have ‖M‖ = 2, off-diagonal ones 1
    model = FFN([2, 2, 2], "linear", bias=False)
    law = pred.flat_law(model, predicted_laws(model))
    norms = pred.hessian_norm(law, model.num_parameters)
    assert norms.tolist() == pytest.approx([2.0, 1.0, 2.0], rel=1e-10)


# ------------------------------------------------------------ closed forms
def test_weight_decay_step_recurrence_is_exact(data):
    model = FFN([64, 5, 10], "relu")
    law = pred.flat_law(model, predicted_laws(model))
    lr, lam = 0.1, 0.3
    run = train(model, model.init(0, scale="fan_in"), data,
                Optimizer("sgd", lr=lr, weight_decay=lam), steps=25,
                keep_gradients=True)  # fmt: skip
    h = pred.along(law, run.thetas)
    hg = torch.stack([law(g) for g in run.grads])
    exact = pred.decayed_quadratic(h[0], hg, lr, lam)
    assert (exact - h).abs().max() < ROUNDOFF * h.abs().max()
    # the continuous forms are first and second order in the step
    plain = (pred.kunin_decay(h[0], hg, lr, lam) - h).abs().max()
    refined = (pred.kunin_decay(h[0], hg, lr, lam, step_rate=True) - h).abs().max()
    assert refined < 0.2 * plain


@pytest.mark.parametrize("experts", [2, 3])
def test_linear_law_under_each_optimizer(data, experts):
    model = MoE([64, 2, 10], experts, "softmax", "swiglu")
    law = pred.flat_law(model, gate_laws(model))
    start = model.init(0, scale="fan_in")
    s0 = law(model.flatten(start))
    # with two experts the gate's gradient rows are opposite, and so are
    # Adam's per-coordinate updates: the law survives Adam only there
    for opt, kept in [
        (Optimizer("sgd", lr=0.1), True),
        (Optimizer("momentum", lr=0.1, beta=0.9), True),
        (Optimizer("adam", lr=0.01), experts == 2),
    ]:
        run = train(model, start, data, opt, steps=10, batch_size=16)
        change = (pred.along(law, run.thetas) - s0).abs().max() / s0.abs().max()
        assert (change < ROUNDOFF) == kept, opt.describe()
    lr, lam = 0.1, 0.5
    run = train(model, start, data, Optimizer("sgd", lr=lr, weight_decay=lam),
                steps=10)  # fmt: skip
    expected = (1 - lr * lam) ** torch.arange(11.0)[:, None] * s0
    assert torch.allclose(pred.along(law, run.thetas), expected, atol=1e-14)


def test_heavy_ball_recurrence_and_modified_law(data):
    model = FFN([64, 5, 10], "relu")
    law = pred.flat_law(model, predicted_laws(model))
    lr, beta, lam = 0.1, 0.9, 0.2
    opt = Optimizer("momentum", lr=lr, beta=beta, weight_decay=lam)
    run = train(model, model.init(0, scale="fan_in"), data, opt, steps=30)
    h = pred.along(law, run.thetas)
    q = pred.momentum_forcing(law, run.thetas)
    scale = h.abs().max()
    ahead = pred.momentum_recurrence(h, q, lr, beta, lam)
    assert (ahead - h[1:]).abs().max() < ROUNDOFF * scale
    # without the forcing the recurrence is wrong by far more than round-off
    wrong = pred.momentum_recurrence(h, 0 * q, lr, beta, lam)
    assert (wrong - h[1:]).abs().max() > 1e6 * ROUNDOFF * scale
    modified = pred.momentum_modified_law(h, q, lr, beta, lam)
    assert (modified - h[0]).abs().max() < 10 * ROUNDOFF * scale


def test_momentum_roots_agree_for_small_steps():
    for lr in (0.1, 0.01):
        r = pred.momentum_roots(lr, 0.9, 0.1)
        assert abs(r["discrete"] - r["continuous"]) < 0.05 * lr * abs(r["discrete"])


def test_kunin_oscillator_solves_its_equation():
    # homogeneous solution against the ODE, checked by finite differences
    lr, beta, lam = 0.1, 0.9, 0.1
    tt = torch.linspace(0, 5, 5001, dtype=torch.float64)
    h = pred.kunin_momentum(tt, t(1.0), t(-0.3), lr, beta, lam)[:, 0]
    dt = float(tt[1] - tt[0])
    d1 = (h[2:] - h[:-2]) / (2 * dt)
    d2 = (h[2:] - 2 * h[1:-1] + h[:-2]) / dt**2
    m = lr * (1 + beta) / 2
    residual = m * d2 + (1 - beta) * d1 + 2 * lam * h[1:-1]
    assert residual.abs().max() < 1e-5
    assert h[0].item() == pytest.approx(1.0)
    # a constant forcing F settles at h = m F / (2λ)
    long = torch.linspace(0, 80, 2001, dtype=torch.float64)
    force = torch.full((len(long), 1), 4.0, dtype=torch.float64)
    settled = pred.kunin_momentum(long, t(0.0), t(0.0), lr, beta, lam,
                                  forcing=force)  # fmt: skip
    assert settled[-1, 0].item() == pytest.approx(m * 4.0 / (2 * lam), rel=0.02)
    with pytest.raises(ValueError, match="one row per time"):
        pred.kunin_momentum(tt, t(0.0), t(0.0), lr, beta, lam, forcing=force)


def test_gradient_flow_with_decay_rescaled_laws(data):
    model = GLU([64, 3, 10], "silu")
    laws = predicted_laws(model)
    lam = 0.3
    flow = gradient_flow_with_decay(model, model.init(0, scale="fan_in"), data,
                                    lam, t_final=2.0, points=5, rtol=1e-10,
                                    atol=1e-10, track=laws.blocks)  # fmt: skip
    (values,) = flow.tracked.values()
    scaled = values * torch.exp(2 * lam * flow.t)[:, None]
    assert (scaled - values[0]).abs().max() < 1e-7 * values[0].abs().max()
    assert (values - values[0]).abs().max() > 0.1 * values[0].abs().max()
    with pytest.raises(ValueError, match="weight_decay >= 0"):
        gradient_flow_with_decay(model, model.init(0), data, -1.0)


def test_fit_exponent_and_richardson():
    x = [0.1, 0.05, 0.025]
    assert pred.fit_exponent(x, [v**2 for v in x]) == pytest.approx(2.0)
    assert pred.richardson(1.0 + 0.5, 1.0 + 1.0) == pytest.approx(1.0)


@pytest.mark.parametrize("limit, order", [(0.0, 1.0), (0.7, 1.7), (-2.0, 0.5)])
def test_power_law_limit_recovers_limit_and_order(limit, order):
    x = [0.04, 0.02, 0.01, 0.005]  # only the three smallest are used
    y = [limit + 3.0 * v**order if v < 0.03 else 99.0 for v in x]
    y0, p = pred.power_law_limit(x, y)
    assert y0 == pytest.approx(limit, abs=1e-12)
    assert p == pytest.approx(order, rel=1e-9)


def test_power_law_limit_is_richardson_at_order_one():
    x = [0.01, 0.02, 0.04]
    y = [1.0 + v + v**2 for v in x]  # order 1 with a small τ² term
    y0, _ = pred.power_law_limit(x, [1.0 + 2 * v for v in x])
    assert y0 == pytest.approx(pred.richardson(1.02, 1.04))
    assert pred.power_law_limit(x, y)[0] == pytest.approx(1.0, abs=1e-3)


def test_power_law_limit_rejects_bad_input():
    with pytest.raises(ValueError, match="constant ratio"):
        pred.power_law_limit([0.01, 0.02, 0.05], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="three or more"):
        pred.power_law_limit([0.01, 0.02], [1.0, 2.0])
    with pytest.warns(UserWarning, match="no power law"):
        y0, p = pred.power_law_limit([0.01, 0.02, 0.04], [1.0, 2.0, 1.5])
    assert math.isnan(y0) and math.isnan(p)


def test_local_orders():
    orders = pred.local_orders([0.01, 0.04, 0.02], [0.1, 1.6, 0.4])
    assert orders == pytest.approx([2.0, 2.0])
    with pytest.raises(ValueError, match="positive"):
        pred.local_orders([0.01, 0.02], [0.0, 1.0])


def test_symbolic_step_is_tau():
    assert sym.eta is sym.tau and str(sym.tau) == "tau"
    assert all("η" not in i.label for i in sym.all_identities(2))


# ------------------------------------------------------------------ sympy
def test_symbolic_identities_hold():
    identities = sym.all_identities(2)
    assert len(identities) == 8
    assert all(i.holds for i in identities), [i.label for i in identities]


def test_symbolic_check_rejects_a_wrong_claim():
    # the heavy ball does not change a law by (η²/2) gᵀMg, as GD would
    theta, prev, g = (sym._vector(s, 2) for s in ("theta", "prev", "g"))
    M = sym._symmetric(2)
    h = sym.quadratic(M)
    nxt = theta + sym.beta * (theta - prev) - sym.eta * g
    claim = h(nxt) - h(theta) - sym.eta**2 * h(g)
    assert not sym.check_identity("wrong", claim, (g.T * M * theta)[0]).holds


def test_symbolic_closed_forms():
    eq = sym.modified_equation()
    assert eq["mass"] == sym.eta * (sym.beta + 1) / 2
    assert eq["friction"] == 1 - sym.beta
    change = sym.adam_neuron_change()
    w, a = (sym.sp.Symbol(s, positive=True) for s in "wa")
    r, x = (sym.sp.Symbol(s, real=True, nonzero=True) for s in "rx")
    expected = 2 * sym.eta * (a - w) * sym.sp.sign(r * x)
    assert sym.sp.simplify(change["adam"] - expected) == 0
    with pytest.raises(ValueError, match="positive vector size"):
        sym.descent_identities(0)


def test_adam_breaks_a_neuron_balance_as_predicted():
    # one ReLU neuron f = a relu(w x), w = 1, a = 2, x = 1, target 0, square loss
    model = FFN([1, 1, 1], "relu", bias=False)
    params = {"W1": t(1.0).reshape(1, 1), "W2": t(2.0).reshape(1, 1)}
    theta = model.flatten(params)
    x, lr = t(1.0).reshape(1, 1), 1e-3

    def loss(th):
        return 0.5 * (model.apply_flat(th, x) ** 2).sum()

    leaf = theta.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(loss(leaf), leaf)
    new, _, _ = adam_step(theta, 0 * theta, 0 * theta, g, 1, lr, eps=0.0)
    law = pred.flat_law(model, predicted_laws(model))
    # r = f = 2, x = 1: the change is 2τ (a − w) sign(r x) = 2τ
    assert (law(new) - law(theta)).item() == pytest.approx(2 * lr, rel=1e-12)

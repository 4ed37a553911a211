"""Mixture of Experts: gates, experts, laws, Theorem 4.7 and the command line."""

from __future__ import annotations

import json
import math

import pytest
import torch
from helpers import cli_status
from torch.func import grad, jacrev, jvp, vmap

import conslaw.laws.moe  # noqa: F401  (registers the MoE laws)
from conslaw.certificate.certify import certify
from conslaw.cli import main
from conslaw.data import Dataset, digits
from conslaw.laws.base import predicted_laws
from conslaw.laws.moe import (
    TRANSLATION_RATE_GATES,
    gate_gradient,
    paper_claim_note,
    paper_claimed_count,
    translation_derivative,
    translation_rates,
)
from conslaw.models.ffn import FFN
from conslaw.models.glu import GLU
from conslaw.models.moe import EXPERTS, GATES, TOPK_GATES, CenteredSigmoidMoE, MoE
from conslaw.profiles import PROFILES, settings
from conslaw.sweeps.moe import Size, away_from_ties, moe_grid, moe_sweep, tie_margin
from conslaw.symbolic import moe as sym
from conslaw.training.flow import full_batch_loss
from conslaw.training.moe import moe_gate_flow

# a law holds when the cosine between its gradient and every output gradient is
# round-off: float64 first derivatives give about 1e-15; a violated law gives ~1e-2
LAW_COS_TOL = 1e-10

# gradient descent keeps a linear law exactly: only round-off of the updates moves it
LINEAR_LAW_DRIFT_TOL = 1e-12


# the pairs whose prediction is empty
NO_LAWS = {
    (g, "gelu") for g in ("normalized-sigmoid", "normalized-sigmoid-topk", "sigmoid")
}


def model_for(gate, expert="swiglu", widths=(3, 2, 2), experts=3, **kw):
    top_k = kw.pop("top_k", 2 if gate in TOPK_GATES else None)
    return MoE(list(widths), experts, gate, expert, top_k=top_k, **kw)


def inputs(n=64, d=3, seed=1):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn((n, d), generator=gen, dtype=torch.float64)


# ------------------------------------------------------------------------ gates


def test_softmax_gates_are_a_distribution():
    model = model_for("softmax")
    g = model.gates(model.init(0), inputs())
    assert (g > 0).all()
    torch.testing.assert_close(g.sum(-1), torch.ones(64, dtype=torch.float64))


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_topk_renormalizes_over_the_chosen_k(k):
    model = model_for("topk", experts=4, top_k=k)
    params, x = model.init(0), inputs()
    g = model.gates(params, x)
    z = model.logits(params, x)
    chosen = torch.topk(z, k, dim=-1).indices
    assert ((g > 0).sum(-1) == k).all()
    torch.testing.assert_close(g.sum(-1), torch.ones(64, dtype=torch.float64))
    expect = torch.softmax(torch.gather(z, 1, chosen), dim=-1)
    torch.testing.assert_close(torch.gather(g, 1, chosen), expect)


def test_softmax_then_topk_does_not_renormalize():
    model = model_for("softmax-topk", experts=4, top_k=2)
    params, x = model.init(0), inputs()
    g = model.gates(params, x)
    p = torch.softmax(model.logits(params, x), dim=-1)
    mask = model.selected(model.logits(params, x))
    torch.testing.assert_close(g, p * mask)
    assert (g.sum(-1) < 1).all()


def test_normalized_sigmoid_gates():
    model = model_for("normalized-sigmoid")
    params, x = model.init(0), inputs()
    s = torch.sigmoid(x @ params["W"].T)
    torch.testing.assert_close(model.gates(params, x), s / s.sum(-1, keepdim=True))
    g = model_for("normalized-sigmoid-topk", top_k=2).gates(params, x)
    assert ((g > 0).sum(-1) == 2).all()
    torch.testing.assert_close(g.sum(-1), torch.ones(64, dtype=torch.float64))


def test_sigmoid_linear_and_cosine_gates():
    params, x = model_for("sigmoid").init(0), inputs()
    z = x @ params["W"].T
    torch.testing.assert_close(model_for("sigmoid").gates(params, x), torch.sigmoid(z))
    torch.testing.assert_close(model_for("linear").gates(params, x), z)
    cosine = model_for("cosine", temperature=0.5)
    scaled = params | {"W": params["W"] * torch.tensor([[2.0], [0.3], [5.0]])}
    g = cosine.gates(params, x)
    torch.testing.assert_close(cosine.gates(scaled, 7 * x), g)
    assert cosine.logits(params, x).abs().max() <= 2.0


def test_topk_gate_works_under_torch_func():
    model = model_for("topk", "relu", experts=4, top_k=2)
    theta = model.flatten(model.init(0))
    x, u = inputs(8), torch.randn(8, 2, dtype=torch.float64)

    def pairing(th, xb, ub):
        return (model.apply_flat(th, xb) * ub).sum()

    fields = vmap(grad(pairing), in_dims=(None, 0, 0))(theta, x[:, None], u[:, None])
    assert fields.shape == (8, model.num_parameters)
    _, tangent = jvp(lambda th: grad(pairing)(th, x, u), (theta,), (fields[0],))
    assert torch.isfinite(tangent).all()


def test_topk_kinks_identify_the_chosen_set():
    model = model_for("topk", "relu", experts=4, top_k=2)
    params, x = model.init(0), inputs()
    kinks = model.kink_preactivations(params, x)
    chosen = model.selected(model.logits(params, x))
    assert len(kinks) == 1 + model.num_experts
    assert torch.equal(kinks[0] > 0, chosen)
    # an expert's units count only where the gate uses that expert
    for e in range(model.num_experts):
        assert (kinks[1 + e][~chosen[:, e]] == 0).all()
    dense = model_for("softmax", "relu", experts=4)
    assert [k.shape for k in dense.kink_preactivations(params, x)] == [(64, 2)] * 4
    full = model_for("topk", "relu", experts=4, top_k=4)
    assert len(full.kink_preactivations(params, x)) == 4  # k = E: no gate kink


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"gate": "argmax"}, "unknown gate"),
        ({"expert": "tanh"}, "unknown expert"),
        ({"gate": "topk", "top_k": None}, "needs top_k"),
        ({"gate": "topk", "top_k": 4}, "from 1 to num_experts=3"),
        ({"gate": "softmax", "top_k": 2}, "dense gate"),
        ({"expert": "swiglu", "expert_bias": True}, "no biases"),
        ({"temperature": 0.0}, "temperature"),
    ],
)
def test_bad_models_are_refused(kwargs, match):
    args = {"gate": "softmax", "expert": "swiglu"} | kwargs
    with pytest.raises(ValueError, match=match):
        MoE([3, 2, 2], 3, args.pop("gate"), args.pop("expert"), **args)


# ---------------------------------------------------------------------- experts


@pytest.mark.parametrize("expert", list(EXPERTS))
def test_experts_reuse_the_blocks(expert):
    model = model_for("softmax", expert, expert_bias=expert != "swiglu")
    params, x = model.init(0), inputs()
    block = GLU([3, 2, 2], "silu") if expert == "swiglu" else FFN([3, 2, 2], expert)
    outs = model.expert_outputs(params, x)
    for e in range(model.num_experts):
        torch.testing.assert_close(
            outs[:, e], block.forward(model.expert_params(params, e), x)
        )
    mix = (model.gates(params, x)[..., None] * outs).sum(1)
    torch.testing.assert_close(model.forward(params, x), mix)


# ------------------------------------------------------------------------- laws


@pytest.mark.parametrize("expert", list(EXPERTS))
@pytest.mark.parametrize("gate", list(GATES))
def test_predicted_laws_are_orthogonal_to_the_output_gradients(gate, expert):
    model = model_for(gate, expert, gate_bias=True)
    theta = model.flatten(model.init(3))
    laws = predicted_laws(model)
    if laws.count == 0:  # GELU experts under a gate without laws
        assert (gate, expert) in NO_LAWS
        return
    x = inputs(16)
    law_grads = jacrev(lambda th: laws.vector(model.unflatten(th)))(theta)
    out_grads = jacrev(lambda th: model.apply_flat(th, x).reshape(-1))(theta)
    cos = torch.nn.functional.normalize(law_grads, dim=1) @ (
        torch.nn.functional.normalize(out_grads, dim=1).T
    )
    assert cos.abs().max() < LAW_COS_TOL


@pytest.mark.parametrize(
    "gate, top_k, bias, count",
    [
        ("softmax", None, False, 4 + 4),
        ("softmax", None, True, 4 + 1 + 4),
        ("normalized-sigmoid", None, False, 4),
        ("topk", 1, True, 2 * 4 + 2 + 4),
        ("softmax-topk", 1, False, 4 + 4),
        ("normalized-sigmoid-topk", 1, False, 2 * 4 + 4),
        ("cosine", None, True, 2 + 1 + 4),
        ("linear", None, False, 2 + 4),
    ],
)
def test_predicted_counts(gate, top_k, bias, count):
    model = MoE([4, 2, 4], 2, gate, "swiglu", top_k=top_k, gate_bias=bias)
    assert predicted_laws(model).count == count


def test_paper_count_differs_only_for_the_normalized_sigmoid():
    for gate in GATES:
        model = model_for(gate)
        ours = predicted_laws(model).count
        extra = 3 if gate == "normalized-sigmoid" else 0
        assert paper_claimed_count(model) == ours + extra


def _translation_drift(gate, steps=40, lr=0.05):
    """Largest drift of ``Σ_e W_e`` over a short gradient-descent run (square loss).

    Descent keeps a linear law exactly (its gradient is constant), so it stands in
    for the flow here: any drift beyond round-off is the law failing.
    """
    model = MoE([3, 2, 2], 3, gate, "swiglu")
    params = model.init(0, scale="fan_in")
    theta = model.flatten(params)
    x = inputs(32)
    gen = torch.Generator().manual_seed(2)
    y = torch.randn((32, 2), generator=gen, dtype=torch.float64)

    def loss(th):
        return 0.5 * ((model.apply_flat(th, x) - y) ** 2).mean()

    law = conslaw.laws.moe.translation_laws(model)
    start = law.vector(model.unflatten(theta))
    for _ in range(steps):
        theta = theta - lr * grad(loss)(theta)
    return (law.vector(model.unflatten(theta)) - start).abs().max().item()


def test_translation_law_flat_under_softmax_and_drifts_under_normalized_sigmoid():
    assert _translation_drift("softmax") < LINEAR_LAW_DRIFT_TOL
    assert _translation_drift("normalized-sigmoid") > 1e-4


# ------------------------------------------------------------- Theorem 4.7 exactly


def test_theorem_4_7_counterexample_is_exact():
    import sympy as sp

    rate = sym.translation_rate("normalized-sigmoid")
    assert rate == (sp.Rational(9, 250), 0, 0)
    assert all(isinstance(v, sp.Rational) for v in rate)
    assert sym.translation_rate("softmax") == (0, 0, 0)
    assert sym.expert_law_rates("normalized-sigmoid") == (0, 0)
    assert sym.translation_sums("softmax", 3) == [0, 0, 0]
    assert sym.normalized_sigmoid_closed_form(3)


def test_theorem_4_7_counterexample_in_float64():
    """The torch model at the same point moves Σ_e W[e, 0] at 9/250 = 0.036."""
    point = {str(k): float(v) for k, v in sym.counterexample_point().items()}
    rates = {}
    for gate in ("normalized-sigmoid", "softmax"):
        model = MoE([3, 1, 3], 2, gate, "swiglu")
        rows = [[point[f"W{e}{i}"] for i in (1, 2, 3)] for e in (1, 2)]
        params = {"W": torch.tensor(rows, dtype=torch.float64)}
        for e in range(2):
            for name, shape in model.block.shapes.items():
                values = [point[f"{name}{e + 1}_{i}"] for i in (1, 2, 3)]
                t = torch.tensor(values, dtype=torch.float64)
                params[f"E{e}.{name}"] = t.reshape(shape)
        x = torch.tensor([[1.0, 0.0, 0.0]], dtype=torch.float64)

        def loss(w, params=params, x=x, model=model):
            return 0.5 * (model.forward(params | {"W": w}, x) ** 2).sum()

        rates[gate] = -grad(loss)(params["W"]).sum(0)
    expect = torch.tensor([9 / 250, 0.0, 0.0], dtype=torch.float64)
    torch.testing.assert_close(rates["normalized-sigmoid"], expect)
    torch.testing.assert_close(rates["softmax"], torch.zeros(3, dtype=torch.float64))


# ------------------------------------------------------------------ certificate


@pytest.mark.parametrize(
    "gate, expert, top_k, experts, widths",
    [
        ("normalized-sigmoid", "swiglu", None, 2, (4, 2, 4)),
        ("softmax", "swiglu", None, 2, (4, 2, 4)),
        ("topk", "relu", 2, 3, (3, 2, 2)),
        ("topk", "gelu", 1, 3, (3, 2, 2)),
        ("cosine", "linear", None, 2, (3, 2, 2)),
        ("linear", "gelu", None, 2, (3, 2, 2)),
    ],
)
def test_certificate_agrees(gate, expert, top_k, experts, widths):
    model = MoE(list(widths), experts, gate, expert, top_k=top_k)
    if top_k is None:
        cert = certify(model)
    else:
        params, seed = away_from_ties(model)
        cert = certify(model, params, seed=seed)
    assert cert.complete, cert.summary()
    assert cert.certified == predicted_laws(model).count


def test_design_counts_for_the_dense_swiglu_moe():
    """DESIGN §4: d = 4, width 2, two SwiGLU experts: 4 laws, 8 under softmax."""
    counts = {
        gate: certify(MoE([4, 2, 4], 2, gate, "swiglu")).certified
        for gate in ("normalized-sigmoid", "softmax")
    }
    assert counts == {"normalized-sigmoid": 4, "softmax": 8}


def test_sweep_rows():
    rows = moe_sweep([Size(3, 1, 1, 2, 1)], ["softmax", "topk"], ["gelu"])
    assert [(r.gate, r.predicted, r.certified, r.status) for r in rows] == [
        ("softmax", 3, 3, "complete"),
        ("topk", 6, 6, "complete"),
    ]
    model = model_for("topk")
    assert tie_margin(model, model.init(0)) > 0.1
    with pytest.raises(ValueError, match="unknown gate or expert"):
        moe_sweep(gates=["argmax"])


# ---------------------------------------------------------------- command line

MOE = ["certify", "moe", "--experts", "2", "--expert", "swiglu", "--widths", "4,2,4"]


def test_cli_normalized_sigmoid_shows_the_paper_count(capsys):
    assert main([*MOE, "--gate", "normalized-sigmoid"]) == 0
    out = capsys.readouterr().out
    assert "certified laws  4" in out
    assert "paper's count   8" in out


def test_cli_json(capsys):
    assert main([*MOE, "--gate", "softmax", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["predicted"], result["certified"], result["complete"]) == (
        8,
        8,
        True,
    )


@pytest.mark.parametrize(
    "extra, match",
    [
        (["--gate", "topk", "--top-k", "5"], "--top-k 5 is larger than --experts 2"),
        (["--gate", "softmax", "--top-k", "1"], "--top-k applies only"),
        (["--gate", "argmax"], "invalid choice: 'argmax'"),
        (["--gate", "topk", "--top-k", "0"], "expected a positive integer"),
        (["--gate", "softmax", "--widths", "4,2"], "three widths"),
    ],
)
def test_cli_bad_input_is_one_line(capsys, extra, match):
    assert cli_status([*MOE, *extra]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert match in err


# ------------------------------------------------------- the book chapter's additions

# the closed-form rates against autograd: both are float64 sums of a few hundred
# terms of order one, so they agree to round-off
RATE_TOL = 1e-12

# the translation law under the softmax along an adaptive Runge–Kutta flow: the
# method keeps linear invariants exactly, so only round-off moves it
FLOW_LINEAR_TOL = 1e-12

# gradient of a constant gate weight s/s: round-off of float64 divisions
CONSTANT_GATE_TOL = 1e-15

# quadratic laws along the flow move by about the solver's tolerance (1e-9 here)
FLOW_QUADRATIC_TOL = 1e-6


@pytest.mark.parametrize("gate", sym.LAW_GATES)
def test_gate_laws_proved_and_sigmoid_candidates_refuted(gate):
    checks = sym.gate_law_residuals(gate, 3, 2)
    assert checks
    fails = gate in ("normalized-sigmoid", "sigmoid")
    for c in checks:
        assert c.holds is not fails, c.law
        if fails:
            assert c.witness > sym.WITNESS_THRESHOLD and c.residual != 0
        else:
            assert c.witness is None and c.residual == 0


@pytest.mark.parametrize(
    "args, match",
    [
        (("argmax",), "unknown gate"),
        (("softmax", 1), "num_experts must be an integer >= 2"),
        (("softmax", 2, 0), "d must be a positive integer"),
    ],
)
def test_gate_law_residuals_refuses_bad_input(args, match):
    with pytest.raises(ValueError, match=match):
        sym.gate_law_residuals(*args)


def test_counterexample_chain_and_shift():
    import sympy as sp

    chain = sym.counterexample_chain("normalized-sigmoid")
    assert chain["rate"] == sym.translation_rate("normalized-sigmoid")[0]
    assert sum(chain["T"]) == 0  # the weights sum to one
    assert sym.counterexample_chain("softmax")["T"] == (0, 0)
    rates = [float(sym.translation_rate("normalized-sigmoid", s)[0]) for s in (0, 4, 8)]
    assert rates[0] == 9 / 250 and rates[0] > rates[1] > rates[2] > 0
    # the drift fades like e^(-s): rate × e^s settles
    scaled = [r * math.exp(s) for r, s in zip(rates, (0, 4, 8))]
    assert abs(scaled[2] / scaled[1] - 1) < 0.1
    assert sym.translation_rate("softmax", 5) == (0, 0, 0)
    assert sym.counterexample_point(2)[sp.Symbol("W11", real=True)] == -2
    with pytest.raises(ValueError, match="finite real number"):
        sym.counterexample_point(sp.I)


@pytest.mark.parametrize("gate", ["normalized-sigmoid", "softmax"])
def test_counterexample_model_matches_the_exact_rate(gate):
    model, params, data = sym.counterexample_model(gate)
    rate = -gate_gradient(model, params, data, "square").sum(0)
    exact = torch.tensor([float(v) for v in sym.translation_rate(gate)])
    torch.testing.assert_close(rate, exact.double(), atol=RATE_TOL, rtol=0)


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("gate", TRANSLATION_RATE_GATES)
def test_translation_rates_match_autograd(gate, bias):
    top_k = 2 if gate in TOPK_GATES else None
    model = MoE([5, 2, 3], 4, gate, "swiglu", top_k=top_k, gate_bias=bias)
    params = model.init(1, scale="fan_in")
    data = Dataset(inputs(32, 5), torch.arange(32) % 3, "random")
    rate = translation_rates(model, data)(params)
    expect = -gate_gradient(model, params, data).sum(0)
    if bias:
        objective = full_batch_loss(model, data, "cross-entropy")
        db = grad(lambda b: objective(model.flatten({**params, "b": b})))(params["b"])
        expect = torch.cat([expect, -db.sum()[None]])
    torch.testing.assert_close(rate, expect, atol=RATE_TOL, rtol=0)
    if gate in ("softmax", "topk", "softmax-topk"):
        assert rate.abs().max() < RATE_TOL
    else:
        assert rate.abs().max() > 1e-4


def test_translation_derivative_refuses_the_cosine_router():
    model = model_for("cosine")
    with pytest.raises(ValueError, match="no closed-form translation rate"):
        translation_derivative(model, torch.zeros(2, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match="cosine router"):
        translation_rates(model, Dataset(inputs(4), torch.zeros(4), "x"))


def test_renormalized_top1_gets_no_gate_gradient():
    data = Dataset(inputs(64, 3), torch.arange(64) % 2, "random")
    for gate, k, zero in [
        ("topk", 1, True),
        ("normalized-sigmoid-topk", 1, True),
        ("softmax-topk", 1, False),
        ("topk", 2, False),
    ]:
        model = MoE([3, 2, 2], 3, gate, "swiglu", top_k=k)
        g = gate_gradient(model, model.init(0), data)
        # the renormalized softmax top-1 weight is exp(0) = 1 and its gradient
        # exactly 0; the normalized sigmoid's s/s leaves round-off
        assert bool(g.abs().max() < CONSTANT_GATE_TOL) is zero, gate
        if gate == "topk" and k == 1:
            assert g.abs().max() == 0


def test_paper_count_for_the_dense_top_k_and_the_notes():
    full = MoE([4, 2, 4], 3, "normalized-sigmoid-topk", "swiglu", top_k=3)
    assert paper_claimed_count(full) == predicted_laws(full).count + 4
    assert "Theorem 4.7" in paper_claim_note(full)
    part = MoE([4, 2, 4], 3, "normalized-sigmoid-topk", "swiglu", top_k=2)
    assert paper_claim_note(part).startswith("–")
    one = MoE([4, 2, 4], 1, "normalized-sigmoid", "swiglu")
    assert "constant" in paper_claim_note(one)
    biased = MoE([4, 2, 4], 2, "normalized-sigmoid", "swiglu", gate_bias=True)
    assert paper_claimed_count(biased) == predicted_laws(biased).count + 5
    assert paper_claim_note(model_for("softmax")) is None


def test_moe_grid_rows_and_bad_sizes():
    rows = moe_grid([[3, 1, 1, 2, 1]], [[3, 1, 1, 1, 1]], [True], seed=0)
    assert len(rows) == len(GATES) * (len(EXPERTS) + 1)
    assert all(r["status"] == "complete" for r in rows)
    assert all(r["certified"] == r["predicted"] for r in rows)
    assert {r["edge"] for r in rows} == {False, True}
    one = [r for r in rows if r["experts"] == 1]
    assert all(r["expert"] == "swiglu" and r["gate_bias"] for r in one)
    dense = [r for r in rows if r["gate"] == "softmax"]
    assert all(r["top_k"] is None and "k=" not in r["sizes"] for r in dense)
    with pytest.raises(ValueError, match="five positive integers"):
        moe_grid([[3, 1, 1, 2]])
    with pytest.raises(TypeError, match="booleans"):
        moe_grid([[3, 1, 1, 2, 1]], gate_biases=[1])
    assert Size(3, 1, 1, 2, 1).label(False) == "d=3 m=1 o=1 E=2"


def test_gate_flow_on_digits():
    data = digits(48, seed=0)
    kw = dict(experts=2, hidden=2, t_final=3.0, rtol=1e-9, points=7, device="cpu")
    soft = moe_gate_flow("softmax", data, **kw)
    nsig = moe_gate_flow("normalized-sigmoid", data, **kw)
    assert soft.loss[-1] < soft.loss[0] and nsig.loss[-1] < nsig.loss[0]
    assert soft.eps_translation.max() < FLOW_LINEAR_TOL
    assert nsig.eps_translation[-1] > 1e-3
    for run in (soft, nsig):
        assert run.eps_experts.max() < FLOW_QUADRATIC_TOL
        gap = run.translation - run.translation[0] - run.integral
        assert gap.abs().max() < FLOW_LINEAR_TOL
    with pytest.raises(ValueError, match="integer labels"):
        moe_gate_flow("softmax", Dataset(data.x, data.x, "bad"), **kw)


@pytest.mark.parametrize("profile", PROFILES)
def test_moe_settings(profile):
    cfg = settings("moe", profile)
    for size in cfg.sizes + cfg.edge_sizes:
        assert len(size) == 5 and all(isinstance(v, int) and v > 0 for v in size)
        assert size[4] <= size[3]  # top_k at most the experts
    assert set(cfg.gate_biases) <= {False, True}
    assert cfg.samples <= 1797 and cfg.seeds >= 1 and cfg.rtol < 1e-6


def test_cli_predicted_is_our_finding(capsys):
    assert main([*MOE, "--gate", "normalized-sigmoid", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["predicted"] == 4 and result["certified"] == 4
    assert "paper" not in json.dumps(list(result))  # the spine's keys only


def test_cli_top_k_note_and_default(capsys):
    args = [
        "certify",
        "moe",
        "--experts",
        "3",
        "--expert",
        "relu",
        "--widths",
        "3,2,2",
        "--gate",
        "normalized-sigmoid-topk",
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "k=2" in out and "complete" in out
    assert "paper's count   –" in out
    assert cli_status([*MOE[:3], "1", *MOE[4:], "--gate", "topk"]) == 2
    assert "--top-k defaults to 2, more than --experts 1" in capsys.readouterr().err


@pytest.mark.parametrize("bias", [False, True])
def test_centred_normalized_sigmoid_keeps_the_softmax_laws(bias):
    model = CenteredSigmoidMoE([4, 2, 4], 2, gate_bias=bias)
    softmax = MoE([4, 2, 4], 2, "softmax", "swiglu", gate_bias=bias)
    params, x = model.init(0), inputs(16, 4)
    g = model.gates(params, x)
    shifted = {**params, "W": params["W"] + torch.tensor([1.0, -2.0, 0.5, 3.0])}
    torch.testing.assert_close(model.gates(shifted, x), g)
    torch.testing.assert_close(g.sum(-1), torch.ones(16, dtype=torch.float64))
    cert = certify(model)
    assert cert.complete and cert.certified == predicted_laws(softmax).count
    assert paper_claimed_count(model) == cert.predicted
    assert paper_claim_note(model) is None
    data = Dataset(x, torch.arange(16) % 4, "random")
    assert translation_rates(model, data)(params).abs().max() == 0
    assert sym.translation_sums("normalized-sigmoid-centred", 3) == [0, 0, 0]
    with pytest.raises(TypeError, match="fixed dense gate"):
        CenteredSigmoidMoE([4, 2, 4], 2, gate="softmax")
    with pytest.raises(ValueError, match="unknown gate"):
        sym.translation_sums("cosine")

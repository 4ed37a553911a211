"""Multi-head attention: model, laws, symbolic facts, certificate, command line."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
import sympy as sp
import torch
from helpers import cli_status
from torch.func import grad, jacrev, jvp

import conslaw.laws.attention as attention_laws_module
import conslaw.symbolic.attention as sym
from conslaw.certificate import certify
from conslaw.certificate.fields import bracket_field, generator_field
from conslaw.cli import main
from conslaw.data import Dataset
from conslaw.laws.attention import (
    attention_laws,
    classifier_laws,
    complex_balance_rank,
    frequency_classes,
    paper_law_count,
    paper_laws,
    readout_laws,
)
from conslaw.laws.base import predicted_laws
from conslaw.models.attention import (
    MultiHeadAttention,
    rope_frequencies,
    rope_rotate,
    sinusoidal_encoding,
)
from conslaw.models.readout import AttentionClassifier
from conslaw.sweeps.attention import (
    BASE_EQUAL,
    BASE_HALF_TURN,
    BASE_OPPOSITE,
    HARD,
    HARD_CONTROLS,
    HEADER,
    SWEEP,
    certify_attention_sweep,
    format_table,
    size_range,
)
from conslaw.training import gradient_descent, gradient_flow
from conslaw.training.attention import (
    PARTS,
    attention_tracker,
    descent_law_steps,
    deviations,
    query_key_parts,
)

# float64 round-off of one forward pass and its gradient on these sizes
EXACT = 1e-12
# cosine between a law's gradient and a field: round-off of nested derivatives is
# near 1e-14, a law that does not hold shows cosines of order 0.1
ORTHOGONAL = 1e-9
# relative change of a law over a short RK4 gradient flow: the integrator's local
# error (step 1e-2, order 4) is near 1e-10; a quantity that is not conserved moves
# by order one relative to its size
FLOW_DRIFT = 1e-7
MOVES = 1e-3


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """These models are tiny: on a shared CPU intra-op threads only add
    synchronization (10-100× slower under load), so use one."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def _x(model, n=5, seed=1):
    gen = torch.Generator().manual_seed(seed)
    return model.sample_inputs(n, gen)


# ------------------------------------------------------------------------ the model
@pytest.mark.parametrize(
    "kw",
    [
        dict(pe="none"),
        dict(pe="sinusoidal", causal=True),
        dict(pe="learned", residual=True),
        dict(pe="rope", kv_groups=1),
    ],
)
def test_shapes_and_parameter_count(kw):
    m = MultiHeadAttention(5, 4, 2, 3, 6, **kw)
    G = m.kv_groups
    assert m.shapes["Q"] == (4, 5, 2) and m.shapes["O"] == (4, 3, 5)
    assert m.shapes["K"] == (G, 5, 2) and m.shapes["V"] == (G, 5, 3)
    learned = 6 * 5 if kw["pe"] == "learned" else 0
    assert m.num_parameters == 4 * 5 * 2 + 4 * 3 * 5 + G * 5 * 5 + learned
    params = m.init(0)
    y = m(params, _x(m))
    assert y.shape == (5, 6, 5) and y.dtype == torch.float64
    assert torch.isfinite(y).all()
    a = m.attention(params, _x(m))
    assert torch.allclose(a.sum(-1), torch.ones(()).double(), atol=EXACT)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(d_k=3, pe="rope"), "d_k must be even; got d_k=3"),
        (dict(heads=3, kv_groups=2), "kv_groups must divide heads"),
        (dict(pe="alibi"), "unknown positional encoding 'alibi'"),
        (dict(d=0), "d must be a positive integer, got 0"),
        (dict(seq_len=2.5), "seq_len must be a positive integer"),
        (dict(rope_base=-1.0), "rope_base must be positive"),
    ],
)
def test_bad_arguments_teach(kwargs, match):
    args = dict(d=4, heads=2, d_k=2, d_v=2, seq_len=3) | kwargs
    with pytest.raises(ValueError, match=match):
        MultiHeadAttention(**args)


def test_rope_base_without_rope_warns():
    with pytest.warns(UserWarning, match="rope_base=100.0 is ignored with pe='none'"):
        MultiHeadAttention(4, 2, 2, 2, 3, rope_base=100.0)


def test_flags_must_be_bool():
    with pytest.raises(TypeError, match="causal must be True or False"):
        MultiHeadAttention(4, 2, 2, 2, 3, causal="yes")


def test_rope_scores_depend_on_relative_position_only():
    m = MultiHeadAttention(3, 2, 4, 2, 7, pe="rope", rope_base=10.0)
    params = m.init(0)
    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(2, 3, generator=gen, dtype=torch.float64)
    scores = []
    for shift in range(4):
        x = torch.randn(1, 7, 3, generator=gen, dtype=torch.float64)
        x[0, shift], x[0, shift + 2] = a, b
        scores.append(m.scores(params, x)[0, :, shift, shift + 2])  # (H,)
    for s in scores[1:]:
        torch.testing.assert_close(s, scores[0], rtol=0, atol=EXACT)
    # an absolute encoding breaks it
    m_abs = MultiHeadAttention(3, 2, 4, 2, 7, pe="sinusoidal")
    x0, x1 = torch.zeros(2, 1, 7, 3, dtype=torch.float64)
    x0[0, 0], x0[0, 2], x1[0, 1], x1[0, 3] = a, b, a, b
    s0 = m_abs.scores(params, x0)[0, :, 0, 2]
    s1 = m_abs.scores(params, x1)[0, :, 1, 3]
    assert (s0 - s1).abs().max() > 1e-3


def test_rope_pairing_convention():
    theta = rope_frequencies(4, 100.0)
    torch.testing.assert_close(theta, torch.tensor([1.0, 0.1], dtype=torch.float64))
    z = torch.eye(4, dtype=torch.float64)[None]  # (1, seq=4, d_k=4): e_t at t
    angles = torch.arange(4, dtype=torch.float64)[:, None] * theta
    out = rope_rotate(z, torch.cos(angles), torch.sin(angles))[0]
    # position 1, coordinate 1 is the odd member of pair 0: rotates to (−sin, cos)
    torch.testing.assert_close(
        out[1, :2], torch.stack([-torch.sin(theta[0]), torch.cos(theta[0])])
    )
    torch.testing.assert_close(out.norm(dim=-1), torch.ones(4, dtype=torch.float64))


def test_sinusoidal_encoding_values():
    pe = sinusoidal_encoding(3, 5)
    torch.testing.assert_close(pe[0], torch.tensor([0.0, 1, 0, 1, 0]).double())
    assert pe[2, 0].item() == pytest.approx(math.sin(2.0))
    assert pe[1, 3].item() == pytest.approx(math.cos(10_000 ** (-2 / 5)))


@pytest.mark.parametrize("pe", ["none", "rope"])
def test_grouped_query_equals_attention_with_repeated_keys(pe):
    gqa = MultiHeadAttention(3, 4, 2, 2, 4, pe=pe, kv_groups=2)
    mha = MultiHeadAttention(3, 4, 2, 2, 4, pe=pe)
    p = gqa.init(0)
    q = {**p, "K": p["K"].repeat_interleave(2, 0), "V": p["V"].repeat_interleave(2, 0)}
    x = _x(gqa)
    torch.testing.assert_close(gqa(p, x), mha(q, x), rtol=0, atol=EXACT)
    # G = H is plain multi-head attention
    same = MultiHeadAttention(3, 4, 2, 2, 4, pe=pe, kv_groups=4)
    torch.testing.assert_close(same(q, x), mha(q, x), rtol=0, atol=0)


def test_causal_mask_hides_the_future():
    m = MultiHeadAttention(3, 2, 2, 2, 5, causal=True, pe="rope")
    p, x = m.init(0), _x(m)
    x2 = x.clone()
    x2[:, 3:] += 1.0
    y, y2 = m(p, x), m(p, x2)
    torch.testing.assert_close(y[:, :3], y2[:, :3], rtol=0, atol=EXACT)
    assert (y[:, 3:] - y2[:, 3:]).abs().max() > 1e-3
    assert (m.attention(p, x)[..., 0, 1:] == 0).all()


def test_residual_adds_the_encoded_input():
    plain = MultiHeadAttention(3, 2, 2, 2, 4, pe="learned")
    res = MultiHeadAttention(3, 2, 2, 2, 4, pe="learned", residual=True)
    p, x = plain.init(0), _x(plain)
    torch.testing.assert_close(res(p, x) - plain(p, x), x + p["P"], rtol=0, atol=EXACT)


@pytest.mark.parametrize("kw", [dict(causal=True, pe="rope"), dict(pe="learned")])
def test_composable_with_torch_func(kw):
    m = MultiHeadAttention(3, 2, 2, 2, 3, **kw)
    theta = m.flatten(m.init(0))
    x = _x(m, 3)
    jac = jacrev(lambda th: m.apply_flat(th, x))(theta)
    assert jac.shape == (3, 3, 3, m.num_parameters) and torch.isfinite(jac).all()
    _, tangent = jvp(
        lambda th: m.apply_flat(th, x), (theta,), (torch.ones_like(theta),)
    )
    assert torch.isfinite(tangent).all()
    # a level-2 bracket (nested jvp through the masked softmax) stays finite
    xs, us = (
        x[:3, None].expand(3, 2, 3, 3),
        torch.randn(3, 2, 3, 3, dtype=torch.float64),
    )
    value, ratio = bracket_field(m, 2)(theta, xs, us)
    assert torch.isfinite(value).all() and ratio > 0


# ------------------------------------------------------------------------- the laws
LAW_CASES = [
    dict(d=3, heads=2, d_k=2, d_v=2, seq_len=3),
    dict(d=3, heads=2, d_k=4, d_v=2, seq_len=3, pe="rope", causal=True),
    dict(d=3, heads=1, d_k=4, d_v=2, seq_len=3, pe="rope", rope_base=1.0),
    dict(d=3, heads=1, d_k=4, d_v=2, seq_len=3, pe="rope", rope_base=BASE_OPPOSITE),
    dict(d=3, heads=1, d_k=4, d_v=2, seq_len=3, pe="rope", rope_base=BASE_HALF_TURN),
    dict(d=1, heads=2, d_k=6, d_v=1, seq_len=3, pe="rope", rope_base=1.0, kv_groups=1),
    dict(d=2, heads=4, d_k=2, d_v=2, seq_len=3, pe="learned", kv_groups=2),
    dict(d=2, heads=4, d_k=2, d_v=1, seq_len=1, kv_groups=2, residual=True),
]


@pytest.mark.parametrize("kw", LAW_CASES)
def test_law_gradients_are_orthogonal_to_the_fields(kw):
    m = MultiHeadAttention(**kw)
    laws = attention_laws(m)
    field = generator_field(m)
    gen = torch.Generator().manual_seed(3)
    for seed in range(2):
        theta = m.flatten(m.init(seed))
        grads = jacrev(lambda th: laws.vector(m.unflatten(th)))(theta)  # (N, D)
        x = m.sample_inputs(12, gen).reshape(6, 2, *m.in_shape)
        u = torch.randn(6, 2, *m.out_shape, generator=gen, dtype=torch.float64)
        fields = torch.stack([field(theta, xi, ui) for xi, ui in zip(x, u)])
        cos = (grads / grads.norm(dim=1, keepdim=True)) @ (
            fields / fields.norm(dim=1, keepdim=True)
        ).T
        assert cos.abs().max() < ORTHOGONAL


def _rk4_flow(model, theta, x, y, steps=60, dt=1e-2):
    """Gradient flow of the square loss on ``(x, y)``, by classical RK4."""

    def loss(th):
        return 0.5 * ((model.apply_flat(th, x) - y) ** 2).mean()

    g = grad(loss)
    for _ in range(steps):
        k1 = -g(theta)
        k2 = -g(theta + dt / 2 * k1)
        k3 = -g(theta + dt / 2 * k2)
        k4 = -g(theta + dt * k3)
        theta = theta + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return theta, loss


def test_rope_laws_stay_while_off_pair_entries_drift():
    m = MultiHeadAttention(3, 2, 4, 2, 4, pe="rope", rope_base=10.0)
    theta0 = m.flatten(m.init(0, scale="fan_in"))
    gen = torch.Generator().manual_seed(1)
    x = m.sample_inputs(16, gen)
    y = torch.randn(16, 4, 3, generator=gen, dtype=torch.float64)
    theta1, loss = _rk4_flow(m, theta0, x, y)
    assert loss(theta1) < loss(theta0)
    laws = attention_laws(m)
    h0, h1 = laws.vector(m.unflatten(theta0)), laws.vector(m.unflatten(theta1))
    assert ((h1 - h0).abs() / h0.abs().clamp_min(1e-3)).max() < FLOW_DRIFT

    # the entries of QᵀQ − KᵀK that RoPE breaks: off-pair blocks and the
    # diagonal entries one by one (only their pairwise sum is a law)
    def gram(th):
        p = m.unflatten(th)
        return p["Q"].mT @ p["Q"] - p["K"].mT @ p["K"]  # (H, d_k, d_k)

    change = gram(theta1) - gram(theta0)
    scale = gram(theta0).abs().max()
    assert change[:, 0, 2].abs().max() / scale > MOVES  # off the pair blocks
    assert change[:, 0, 0].abs().max() / scale > MOVES  # one diagonal entry
    pair = change[:, 0, 0] + change[:, 1, 1]
    assert pair.abs().max() / scale < FLOW_DRIFT  # ...but not the pair's trace


def test_gradient_descent_law_change_is_second_order():
    m = MultiHeadAttention(3, 2, 2, 2, 3)
    theta = m.flatten(m.init(0, scale="fan_in"))
    gen = torch.Generator().manual_seed(2)
    x, y = m.sample_inputs(8, gen), torch.randn(8, 3, 3, generator=gen).double()

    def loss(th):
        return 0.5 * ((m.apply_flat(th, x) - y) ** 2).mean()

    laws = attention_laws(m)
    g = grad(loss)(theta)
    changes = []
    for lr in (1e-2, 1e-3):
        h0 = laws.vector(m.unflatten(theta))
        h1 = laws.vector(m.unflatten(theta - lr * g))
        changes.append((h1 - h0).abs().max().item())
    assert changes[1] / changes[0] == pytest.approx(1e-2, rel=1e-3)  # ∝ lr²


@pytest.mark.parametrize(
    "kw, count, paper",
    [
        (dict(d=3, heads=2, d_k=2, d_v=2, seq_len=3), 12, 12),
        (dict(d=3, heads=1, d_k=4, d_v=2, seq_len=3, pe="rope"), 5, 5),
        (dict(d=1, heads=1, d_k=4, d_v=2, seq_len=3), 10, 13),
        (dict(d=3, heads=2, d_k=2, d_v=2, seq_len=1), 34, 12),
        (dict(d=3, heads=2, d_k=2, d_v=2, seq_len=1, kv_groups=1), 27, 6),
        (dict(d=3, heads=1, d_k=4, d_v=2, seq_len=3, pe="rope", rope_base=1.0), 7, 5),
        (dict(d=1, heads=1, d_k=4, d_v=2, seq_len=3, pe="rope", rope_base=1.0), 8, 5),
        (dict(d=2, heads=4, d_k=2, d_v=2, seq_len=3, kv_groups=2), 12, 12),
    ],
)
def test_counts(kw, count, paper):
    m = MultiHeadAttention(**kw)
    assert predicted_laws(m).count == count
    assert paper_law_count(m) == paper


def test_frequency_classes():
    generic = frequency_classes(rope_frequencies(6))
    assert [(c.kind, c.pairs) for c in generic] == [("complex", (j,)) for j in range(3)]
    assert [c.pairs for c in frequency_classes(rope_frequencies(6, 1.0))] == [(0, 1, 2)]
    (cls,) = frequency_classes(rope_frequencies(4, BASE_EQUAL))
    assert cls.kind == "complex" and cls.signs == (1, 1)
    (cls,) = frequency_classes(rope_frequencies(4, BASE_OPPOSITE))
    assert cls.signs == (1, -1)
    kinds = [c.kind for c in frequency_classes(rope_frequencies(4, BASE_HALF_TURN))]
    assert kinds == ["complex", "flipped"]
    assert frequency_classes([2 * math.pi])[0].kind == "fixed"
    assert complex_balance_rank(3, 2) == 8


def test_paper_laws_are_conserved_but_incomplete_at_the_edges():
    m = MultiHeadAttention(3, 1, 4, 2, 3, pe="rope", rope_base=1.0)
    cert = certify(m, predicted=paper_laws(m))
    assert cert.status == "extra laws" and cert.extra == 2
    m = MultiHeadAttention(1, 1, 4, 2, 3)
    cert = certify(m, predicted=paper_laws(m))
    assert cert.status == "predicted laws are not independent"


# --------------------------------------------------------------------- symbolic
def test_symbolic_invariances():
    assert sym.score_invariance(2, 2, 2).is_zero_matrix
    assert sym.output_invariance(2, 2, 2).is_zero_matrix
    assert not sym.rope_score_change().is_zero_matrix


def test_symbolic_commutant():
    half, third = sp.Rational(1, 2), sp.Rational(1, 3)
    m = sym.rope_commutant([half, third])
    j = sp.Matrix([[0, -1], [1, 0]])
    a, b = m[1, 1], m[1, 0]
    assert m[:2, :2] == a * sp.eye(2) + b * j and m[:2, 2:].is_zero_matrix
    assert sym.commutant_dimension([half, third, 2]) == 6
    assert sym.commutant_dimension([half, third, 2], symmetric=True) == 3
    assert sym.commutant_dimension([half, half], symmetric=True) == 4
    t1, t2 = sp.symbols("t_1 t_2", real=True)
    det = sym.coupling_determinant()
    assert det.subs(t2, t1) == 0 and det.subs(t2, -t1) == 0
    assert det.subs({t1: half, t2: third}) != 0


def test_symbolic_surviving_entries():
    combos = sym.surviving_combinations([sp.Rational(1, 2), sp.Rational(1, 3)])
    names = {str(c) for c in combos}
    assert names == {"Δ_0_0 + Δ_1_1", "Δ_2_2 + Δ_3_3"}
    assert len(sym.surviving_combinations([0, 0])) == 10  # no RoPE: all entries
    # the generic drift at N = Qᵀ x yᵀ K is what sympy's own gradients give
    d, dk = 2, 2
    drift = sym.score_gradient_drift(d, (sp.Rational(1, 2),))
    q = sp.Matrix(d, dk, lambda i, k: sp.Symbol(f"q_{i}_{k}", real=True))
    k = sp.Matrix(d, dk, lambda i, k: sp.Symbol(f"k_{i}_{k}", real=True))
    x = sp.Matrix(d, 1, lambda i, _: sp.Symbol(f"x_{i}_0", real=True))
    y = sp.Matrix(d, 1, lambda i, _: sp.Symbol(f"y_{i}_0", real=True))
    n_value = q.T * x * y.T * k
    general = sym.qk_drift([sp.Rational(1, 2)])
    subs = {
        sp.Symbol(f"n_{a}_{b}", real=True): n_value[a, b]
        for a in range(2)
        for b in range(2)
    }
    assert (general.subs(subs) - drift).applyfunc(sp.expand).is_zero_matrix


# ------------------------------------------------------------------ certificate
CERT_CASES = [
    dict(d=3, heads=2, d_k=2, d_v=2, seq_len=3),
    dict(d=2, heads=2, d_k=4, d_v=2, seq_len=3, pe="rope", causal=True),
    dict(d=3, heads=1, d_k=4, d_v=2, seq_len=3, pe="rope", rope_base=BASE_EQUAL),
    dict(d=1, heads=1, d_k=4, d_v=2, seq_len=3, pe="rope", rope_base=1.0),
    dict(d=3, heads=2, d_k=2, d_v=2, seq_len=1, pe="learned"),
    dict(d=2, heads=3, d_k=2, d_v=2, seq_len=3, kv_groups=1, residual=True),
    dict(d=1, heads=1, d_k=4, d_v=4, seq_len=3, pe="sinusoidal"),
]


@pytest.mark.parametrize("kw", CERT_CASES)
def test_certificate_agrees(kw):
    cert = certify(MultiHeadAttention(**kw))
    assert cert.complete, cert.summary()


def test_sweep_rows():
    rows = certify_attention_sweep(SWEEP[:2] + [("T = 1", dict(SWEEP[21][1]))])
    assert [r["status"] for r in rows] == ["complete"] * 3
    assert {"config", "D", "predicted", "certified", "gap", "status", "seconds"} <= set(
        rows[0]
    )
    assert rows[2]["paper"] < rows[2]["predicted"]
    table = format_table(rows).splitlines()
    assert table[0] == HEADER and len(table) == 4


# ------------------------------------------------------------------ command line
def test_cli_json(capsys):
    argv = "certify attention --d 3 --heads 2 --dk 2 --dv 2 --seq-len 3 --pe rope"
    assert main([*argv.split(), "--kv-groups", "1", "--causal", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["complete"] and out["predicted"] == out["certified"] == 4
    assert {"parameters", "status", "gap", "seconds", "extra"} <= set(out)


def test_cli_summary_names_the_paper_count_at_an_edge(capsys):
    assert main(["certify", "attention", "--d", "3", "--seq-len", "1"]) == 0
    out = capsys.readouterr().out
    assert "complete" in out and "paper's count   12" in out


@pytest.mark.parametrize(
    "extra, message",
    [
        ("--pe rope --dk 3", "--dk must be even; got --dk 3 (use --dk 4"),
        ("--heads 3 --kv-groups 2", "--kv-groups must divide --heads"),
        ("--rope-base 100", "--rope-base only applies with --pe rope"),
        ("--heads 0", "argument --heads: expected a positive integer"),
        ("--seq-len two", "argument --seq-len: expected a positive integer"),
        ("--seed -1", "expected a non-negative integer seed"),
        ("--rope-base 0", "expected a positive number"),
        ("--pe alibi", "invalid choice: 'alibi'"),
    ],
)
def test_cli_bad_input_is_one_line_and_exit_2(capsys, extra, message):
    assert cli_status(["certify", "attention", *extra.split()]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]


def test_cli_exit_status_from_the_shell():
    entry = "import sys; from conslaw.cli import main; sys.exit(main())"
    cmd = [sys.executable, "-c", entry, "certify", "attention", "--pe", "rope"]
    run = subprocess.run([*cmd, "--dk", "5"], capture_output=True, text=True)
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr.count("\n") == 1 and "--dk must be even" in run.stderr


def test_module_registers_the_laws():
    assert attention_laws_module.attention_laws is attention_laws
    model = MultiHeadAttention(2, 1, 2, 2, 2)
    assert predicted_laws(model).count == attention_laws(model).count


# --------------------------------------------------------- the read-out model
def _classifier(pool="mean", classes=3, **kw):
    args = dict(d=3, heads=2, d_k=2, d_v=2, seq_len=4) | kw
    return AttentionClassifier(MultiHeadAttention(**args), classes, pool=pool)


@pytest.mark.parametrize("pool", ["mean", "last"])
def test_classifier_pools_then_reads_out(pool):
    m = _classifier(pool, pe="learned")
    assert m.shapes["W"] == (3, 3) and m.shapes["b"] == (3,)
    assert m.num_parameters == m.attention.num_parameters + 3 * 3 + 3
    p, x = m.init(0), _x(m)
    h = m.attention(p, x)  # (5, 4, 3)
    pooled = h.mean(1) if pool == "mean" else h[:, -1]
    expected = pooled @ p["W"].T + p["b"]
    torch.testing.assert_close(m(p, x), expected, rtol=0, atol=EXACT)
    assert m(p, x).shape == (5, 3) and m.fan_in("W") == 3 and m.fan_in("O") == 2


@pytest.mark.parametrize(
    "args, error, match",
    [
        (dict(classes=0), ValueError, "classes must be a positive integer, got 0"),
        (dict(classes=2.0), ValueError, "classes must be a positive integer"),
        (dict(pool="max"), ValueError, "unknown pooling 'max': expected one of"),
        (dict(block="ffn"), TypeError, "expected a conslaw.models.MultiHeadAtt"),
    ],
)
def test_classifier_bad_arguments_teach(args, error, match):
    kw = dict(block=MultiHeadAttention(3, 1, 2, 2, 3), classes=2, pool="mean")
    kw |= args
    with pytest.raises(error, match=match):
        AttentionClassifier(kw["block"], kw["classes"], pool=kw["pool"])


@pytest.mark.parametrize(
    "kw, pool, readout",
    [
        (dict(), "mean", True),
        (dict(pe="rope"), "last", True),
        (dict(pe="sinusoidal", causal=True), "mean", True),
        (dict(residual=True), "mean", False),
        (dict(d=2, heads=2, kv_groups=1), "last", True),
        (dict(seq_len=1), "mean", True),
    ],
)
def test_classifier_laws_are_certified_complete(kw, pool, readout):
    m = _classifier(pool, **kw)
    laws = predicted_laws(m)
    assert laws.count == attention_laws(m.attention).count + readout_laws(m).count
    assert (readout_laws(m).count > 0) == readout
    cert = certify(m)
    assert cert.complete, cert.summary()


def test_readout_law_is_the_output_change_of_basis():
    m = _classifier()
    (law,) = readout_laws(m).laws
    p = m.init(1)
    gram = sum(p["O"][h].T @ p["O"][h] for h in range(2)) - p["W"].T @ p["W"]
    torch.testing.assert_close(law.value(p), gram, rtol=0, atol=EXACT)
    # the symmetry behind it: O_h C for every head and W C^{−T} change nothing
    c = torch.randn(3, 3, generator=torch.Generator().manual_seed(2)).double()
    c = c + 3 * torch.eye(3, dtype=torch.float64)
    q = {**p, "O": p["O"] @ c, "W": p["W"] @ torch.linalg.inv(c).T}
    torch.testing.assert_close(m(q, _x(m)), m(p, _x(m)), rtol=0, atol=1e-10)
    assert classifier_laws(m).count == predicted_laws(m).count


# ------------------------------------------------------- training helpers
def test_query_key_parts_split_the_gram_matrix():
    m = MultiHeadAttention(3, 4, 6, 2, 3, kv_groups=2)
    p = m.init(0)
    parts = query_key_parts(m, p)
    assert tuple(parts) == PARTS
    q = p["Q"].reshape(2, 2, 3, 6)
    delta = torch.einsum("grdk,grdl->gkl", q, q) - p["K"].mT @ p["K"]  # (2, 6, 6)
    assert parts["pair traces"].shape == (2, 3)
    torch.testing.assert_close(
        parts["pair traces"][:, 1], delta[:, 2, 2] + delta[:, 3, 3], rtol=0, atol=0
    )
    torch.testing.assert_close(
        parts["within pairs"][:, 2],
        torch.stack([delta[:, 4, 4] - delta[:, 5, 5], delta[:, 4, 5]], -1),
    )
    # 3 pairs: 4 entries between each of the 3 couples of pairs
    assert parts["off pairs"].shape == (2, 12)
    assert (
        delta[1, 0, 2] in parts["off pairs"][1]
        and delta[1, 1, 5] in parts["off pairs"][1]
    )
    # an odd key width leaves its last coordinate out
    odd = MultiHeadAttention(3, 1, 3, 2, 3)
    assert query_key_parts(odd, odd.init(0))["off pairs"].shape == (1, 0)
    with pytest.raises(TypeError, match="expected a MultiHeadAttention or an"):
        query_key_parts(object(), p)


@pytest.fixture(scope="module")
def token_data():
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(24, 4, 3, generator=gen, dtype=torch.float64)
    return Dataset(x, torch.randint(3, (24,), generator=gen), "tokens")


@pytest.mark.parametrize("pe", ["none", "rope"])
def test_flow_keeps_laws_and_rope_frees_the_entries_between_pairs(pe, token_data):
    m = _classifier(d_k=4, pe=pe, rope_base=10.0 if pe == "rope" else 10_000.0)
    run = gradient_flow(
        m, m.init(0, scale="fan_in"), token_data, t_final=3.0, points=5,
        rtol=1e-10, atol=1e-10, track=attention_tracker(m), device="cpu",
    )  # fmt: skip
    assert run.loss[-1] < run.loss[0]
    eps = deviations(run.tracked)
    assert list(eps)[0] == "laws" and set(PARTS) | {"QᵀQ"} <= set(eps)
    assert eps["laws"].max() < FLOW_DRIFT and eps["pair traces"].max() < FLOW_DRIFT
    assert eps["QᵀQ"][-1] > MOVES  # no symmetry protects QᵀQ alone
    for part in ("within pairs", "off pairs"):
        if pe == "rope":
            assert eps[part][-1] > MOVES
        else:
            assert eps[part].max() < FLOW_DRIFT


def test_deviations_need_law_blocks():
    with pytest.raises(ValueError, match="expected tracked law blocks named"):
        deviations({"QᵀQ": torch.zeros(3, 2)})


def test_descent_changes_each_law_by_its_value_at_the_step(token_data):
    m = _classifier(pe="rope")
    run = gradient_descent(m, m.init(0, scale="fan_in"), token_data, lr=0.3,
                           steps=12, every=1, device="cpu")  # fmt: skip
    laws = predicted_laws(m)
    h = torch.stack([laws.vector(m.unflatten(th)) for th in run.thetas])
    steps = descent_law_steps(m, run.thetas)
    assert steps.shape == (12, laws.count)
    measured = h[1:] - h[:-1]
    assert measured.abs().max() > 1e-6  # descent does move the laws...
    # ...by exactly h(δ_k), to round-off
    torch.testing.assert_close(steps, measured, rtol=0, atol=1e-13)
    with pytest.raises(ValueError, match="expected parameters at two or more"):
        descent_law_steps(m, run.thetas[:1])


def test_descent_law_steps_rejects_laws_that_are_not_quadratic():
    # base 1, d = 1, two query heads sharing one key: three equal pairs and three
    # rows, so a 3 × 3 complex determinant is a law, and it is cubic
    m = MultiHeadAttention(1, 2, 6, 1, 3, pe="rope", rope_base=1.0, kv_groups=1)
    assert any("det" in law.name for law in attention_laws(m).laws)
    thetas = torch.stack([m.flatten(m.init(s)) for s in range(2)])
    with pytest.raises(ValueError, match="needs laws that are quadratic forms"):
        descent_law_steps(m, thetas)


# ------------------------------------------------------------ sweep helpers
def test_sweep_cases_may_carry_their_seed():
    case = ("plain", dict(SWEEP[0][1]))
    rows = certify_attention_sweep([case, (*case, 3)], seed=1)
    assert [r["seed"] for r in rows] == [1, 3]
    assert rows[0]["spectrum"] and max(rows[0]["spectrum"]) == pytest.approx(1.0)
    # the margins of the rank decision and of the law check come with each row
    assert rows[0]["kept"] > rows[0]["dropped"] > 0
    assert rows[0]["gap"] == pytest.approx(rows[0]["kept"] / rows[0]["dropped"])
    assert 0 <= rows[0]["law cosine"] < 1e-8
    with pytest.raises(ValueError, match=r"expected cases \(name, config\)"):
        certify_attention_sweep([("only a name",)])


def test_hard_lists_and_size_range():
    assert all(len(c) == 2 for c in HARD) and all(len(c) == 3 for c in HARD_CONTROLS)
    rows = [{"config": c} for _, c in SWEEP]
    assert size_range(rows) == "d 1–4, H 1–4, d_k 2–8, d_v 1–4, T 1–4"
    assert size_range(rows[:1]) == "d 3, H 1, d_k 2, d_v 2, T 3"
    with pytest.raises(ValueError, match="at least one sweep row"):
        size_range([])

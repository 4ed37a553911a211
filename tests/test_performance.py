import pytest
import torch

import conslaw.laws.attention  # noqa: F401  (registers the attention laws)
from conslaw import certify
from conslaw.certificate.certify import STACK_UP_TO
from conslaw.certificate.rank import RowSpace, numerical_rank
from conslaw.models import FFN, GLU, MaskedFFN, MoE, MultiHeadAttention, WithUnused
from conslaw.sweeps import performance as perf
from conslaw.symbolic.lie import Echelon, polynomial_net, symbolic_count


def _low_rank(rows, rank, dim, seed):
    gen = torch.Generator().manual_seed(seed)
    left = torch.randn(rows, rank, generator=gen, dtype=torch.float64)
    return left @ torch.randn(rank, dim, generator=gen, dtype=torch.float64)


@pytest.mark.parametrize("block", [1, 7, 64])
def test_incremental_rank_equals_one_shot_svd(block):
    a, b, c = _low_rank(40, 12, 60, 0), _low_rank(30, 20, 60, 1), _low_rank(9, 3, 60, 2)
    space = RowSpace(60, block=block)
    ranks = [space.add(m).rank for m in (a, b, c)]
    expected = [
        numerical_rank(torch.cat(blocks)).rank for blocks in ([a], [a, b], [a, b, c])
    ]
    assert ranks == expected
    eye = torch.eye(space.rank, dtype=torch.float64)
    assert torch.allclose(space.basis @ space.basis.T, eye, atol=1e-12)
    assert space._so_far(torch.zeros(0)).clear


def test_row_space_rejects_wrong_width():
    with pytest.raises(ValueError, match=r"shape \(n, 5\)"):
        RowSpace(5).add(torch.zeros(3, 4, dtype=torch.float64))


@pytest.mark.parametrize(
    "model",
    [
        FFN([4, 3, 4], "linear", bias=False),
        MaskedFFN([3, 3, 4, 2], bias=True),
        GLU([3, 4, 2], "silu"),
        MultiHeadAttention(4, 2, 2, 2, 3, pe="rope"),
        MoE([4, 2, 4], 2, "softmax", "swiglu"),
        WithUnused(FFN([3, 4, 2], "relu"), 2),
    ],
    ids=lambda m: m.describe(),
)
def test_incremental_certificate_matches_stacked(model):
    stack = certify(model, seed=0, method="stack")
    inc = certify(model, seed=0, method="incremental")
    assert inc.method == "incremental" and stack.method == "stack"
    assert inc.certified == stack.certified
    assert inc.status == stack.status
    assert [lv.rank for lv in inc.levels] == [lv.rank for lv in stack.levels]
    assert inc.gap is None or inc.gap > 1e6


def test_auto_method_switches_at_the_threshold():
    small = certify(GLU([3, 4, 2], "silu"), seed=0)
    assert small.method == "stack" and small.device == "cpu"
    assert STACK_UP_TO >= 256


def test_unknown_rank_method_is_rejected():
    with pytest.raises(ValueError, match="unknown rank method 'svd'"):
        certify(GLU([3, 4, 2], "silu"), method="svd")


def test_echelon_rank_is_exact():
    e = Echelon()
    assert e.add({0: 1, 1: 2}) and e.add({1: 1}) and not e.add({0: 3, 1: 5})
    assert e.rank == 2


@pytest.mark.parametrize(
    "kind, widths, bias, laws",
    [
        ("linear", [2, 3, 2], False, 6),  # m(m+1)/2 with m = 3, full rank product
        ("linear", [4, 3, 4], False, 6),  # needs one level of brackets
        ("linear", [1, 3, 3, 1], False, 14),  # one field: D - 1 laws
        ("relu", [3, 4, 2], True, 4),  # one rescaling law per hidden neuron
        ("relu", [2, 3, 2], False, 3),
    ],
)
def test_symbolic_peer_known_counts(kind, widths, bias, laws):
    result = symbolic_count(kind, widths, bias)
    assert result.laws == laws
    assert result.stopped == "stalled"


def test_symbolic_linear_net_needs_brackets():
    result = symbolic_count("linear", [4, 3, 4])
    assert result.ranks[:2] == [15, 18]


def test_symbolic_peer_agrees_with_certificate():
    rows = perf.peer_rows(perf.peer_architectures(2), budget=60)
    assert len(rows) == 4
    for row in rows:
        assert row["symbolic"] == row["certificate"] == row["known"], row


def test_path_products_count_every_path():
    net = polynomial_net("relu", [2, 3, 2], bias=True)
    # 2·3·2 input paths, 3·2 paths from the hidden biases, 2 output biases
    assert len(net.lifting) == 12 + 6 + 2
    assert net.num_parameters == FFN([2, 3, 2], "relu").num_parameters


@pytest.mark.parametrize(
    "kind, widths, bias, match",
    [
        ("tanh", [2, 2], False, "expected kind 'linear' or 'relu'"),
        ("linear", [2, 2], True, "without biases"),
        ("relu", [2, 0, 2], False, "positive integers"),
    ],
)
def test_symbolic_peer_bad_input(kind, widths, bias, match):
    with pytest.raises(ValueError, match=match):
        polynomial_net(kind, widths, bias)


def test_time_block_reports_reference_ratio_and_phases():
    rows = perf.time_block("glu", [2, 3])
    assert [r["D"] for r in rows] == [24, 54]
    for r in rows:
        assert r["status"] == "complete" and r["device"] == "cpu"
        assert r["reference"] > 0
        assert r["ratio"] == pytest.approx(r["seconds"] / r["reference"])
        phases = r["level 0 s"] + r["brackets s"] + r["law check s"]
        assert 0 < phases <= r["seconds"]


def test_wait_policy_seconds_times_each_policy():
    out = perf.wait_policy_seconds(size=20, repeats=1)
    assert set(out) == {"unset", "PASSIVE"} and all(v > 0 for v in out.values())
    with pytest.raises(ValueError, match="integer size"):
        perf.wait_policy_seconds(size=0)


@pytest.mark.parametrize("block, width", [("mlp", 4), ("attention", 5), ("ffn", 1)])
def test_block_model_bad_input(block, width):
    with pytest.raises(ValueError, match="unknown block|width must be"):
        perf.block_model(block, width)


def test_machine_names_cores_and_threads():
    info = perf.machine("cpu")
    assert info["cpu cores"] >= 1 and info["torch threads"] >= 1
    assert info["device"].startswith("cpu")

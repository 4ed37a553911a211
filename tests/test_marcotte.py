"""The accounting of ReLU laws beyond the rescaling ones (conslaw.sweeps.marcotte)."""

import pytest
import torch

from conslaw import certify
from conslaw.models import FFN, WithUnused
from conslaw.sweeps import marcotte


def _inputs(model, n=256, seed=0):
    return model.sample_inputs(n, torch.Generator().manual_seed(seed))


def test_idle_parameters_finds_exactly_the_unused_one():
    model = WithUnused(FFN([3, 4, 2], "gelu"), unused=2)
    params = model.init(0)
    idle = marcotte.idle_parameters(model, params, _inputs(model))
    assert idle.shape == (model.num_parameters,)
    assert idle.dtype == torch.bool
    # the unused parameters come last in the flat vector
    assert idle.tolist() == [False] * (model.num_parameters - 2) + [True, True]


def test_idle_parameters_of_a_dead_unit():
    model = FFN([2, 3, 1], "relu", bias=True)
    params = model.init(0)
    params["W1"][0] = 0.0
    params["b1"][0] = -1.0  # unit 0 never fires: W1[0], b1[0], W2[:, 0] idle
    idle = marcotte.idle_parameters(model, params, _inputs(model))
    idle = model.unflatten(idle.to(torch.float64))
    assert idle["W1"][0].tolist() == [1.0, 1.0]
    assert idle["b1"].tolist() == [1.0, 0.0, 0.0]
    assert idle["W2"][:, 0].tolist() == [1.0]
    assert float(idle["W1"][1:].sum() + idle["W2"][:, 1:].sum()) == 0.0


def test_idle_parameters_needs_inputs():
    model = FFN([2, 3, 1], "relu")
    with pytest.raises(ValueError, match="at least one input"):
        marcotte.idle_parameters(model, model.init(0), _inputs(model, n=0))


@pytest.mark.parametrize("bias", [True, False])
def test_one_per_pattern_keeps_one_input_per_pattern(bias):
    model = FFN([2, 4, 3, 1], "relu", bias=bias)
    params = model.init(1)
    x = _inputs(model, n=4096)
    reps = marcotte.one_per_pattern(model, params, x)

    def patterns(inputs):
        zs = model.kink_preactivations(params, inputs)
        return torch.cat([(z > 0) for z in zs], 1)

    assert len(torch.unique(patterns(reps), dim=0)) == len(reps)
    assert len(reps) == len(torch.unique(patterns(x), dim=0))


def test_one_per_pattern_without_kinks_returns_the_inputs():
    model = FFN([2, 4, 1], "gelu")
    x = _inputs(model, n=10)
    assert torch.equal(marcotte.one_per_pattern(model, model.init(0), x), x)


def test_unit_states_counts_never_and_always_active_units():
    model = FFN([2, 3, 1], "relu", bias=True)
    params = model.init(0)
    params["W1"][0], params["b1"][0] = 0.0, -1.0  # never active
    params["W1"][1], params["b1"][1] = 0.0, 1.0  # always active
    params["W1"][2], params["b1"][2] = torch.tensor([1.0, 0.0]), 0.0  # switches
    states = marcotte.unit_states(model, params, _inputs(model))
    assert states == [{"never": 1, "always": 1}]


# seeds of a 3-3-4-2 ReLU net (no bias) at raw standard-normal points: a dead
# unit, three always-active units of one layer, one idle weight, and a plain one
RAW_SEEDS = [0, 1, 7, 9]


def test_raw_point_counts_are_explained_by_the_accounting():
    rows = marcotte.raw_point_counts([3, 3, 4, 2], bias=False, seeds=RAW_SEEDS)
    assert [r["seed"] for r in rows] == RAW_SEEDS
    for r in rows:
        assert r["accounted"] == r["certified"], r
        assert (r["status"] == "complete") == (r["certified"] == r["predicted"])
    # the degeneracies show up at least once among these seeds
    assert any(r["never active"] for r in rows)
    assert any(r["always active"] >= 2 for r in rows)
    assert any(r["idle parameters"] and not r["never active"] for r in rows)


def test_excess_accounting_of_a_dead_unit():
    model = FFN([3, 3, 4, 2], "relu", bias=False)
    params = model.init(0)
    params["W2"][0] = -params["W2"][0].abs()  # fed by ReLUs only: never active
    acc = marcotte.excess_accounting(model, params, seed=0)
    assert acc["never"] == 1 and acc["always"] == 0
    # its 3 input and 2 output weights are idle; its own law is among them
    assert acc["idle"] == 5 and acc["beyond"] == 4
    cert = certify(model, params, seed=0)
    assert cert.certified == cert.predicted + acc["beyond"]


def test_realizable_row_counts_idle_weights_only_when_incomplete():
    row = marcotte.relu_realizable_row([2, 3, 2], bias=True, seed=0)
    assert row["status"] == "complete"
    assert row["idle"] is None and row["seed"] == 0


def test_wider_probe_row(monkeypatch):
    monkeypatch.setattr(marcotte, "WIDE_PROBE", 1 << 12)
    row = marcotte.wider_probe_row([3, 4, 2], bias=True, seed=0)
    assert row["status"] == "complete"
    assert row["certified (wider)"] == row["predicted"] == 4
    assert row["patterns (wider)"] >= 1

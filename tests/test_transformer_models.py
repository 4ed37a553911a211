import pytest
import torch

from conslaw.laws.transformer import (
    ORTHOGONALITY_TOL,
    law_groups,
    law_orthogonality,
    one_step_change,
)
from conslaw.models.transformer import LanguageModel, ViT, layer_norm, rms_norm
from conslaw.training.losses import cross_entropy, token_cross_entropy

# tiny sizes: the checks are about structure, not scale
VIT = dict(image_shape=(1, 4, 4), patch=2, width=4, heads=2, layers=1, mlp=3)
LM = dict(vocab=7, seq_len=4, width=4, heads=2, layers=1, mlp=2, experts=2)


def _models():
    return [
        ViT(**VIT),
        LanguageModel(**LM),
        LanguageModel(**LM, gate="normalized-sigmoid", tied=False),
    ]


@pytest.mark.parametrize("model", _models(), ids=lambda m: m.describe())
def test_shapes_and_batch_independence(model):
    params = model.init(0, scale="fan_in")
    x = model.sample_inputs(3, torch.Generator().manual_seed(0))
    out = model(params, x)
    assert out.shape == (3, *model.out_shape)
    # every example is computed on its own
    assert torch.allclose(model(params, x[:1]), out[:1], atol=1e-12)


def test_lm_is_causal():
    model = LanguageModel(**LM)
    params = model.init(1)
    x = torch.tensor([[1, 2, 3, 4]])
    y = x.clone()
    y[0, -1] = 0
    # changing the last token changes no earlier prediction
    a, b = model(params, x), model(params, y)
    assert torch.allclose(a[:, :-1], b[:, :-1], atol=1e-12)
    assert not torch.allclose(a[:, -1], b[:, -1])


def test_norms():
    x = torch.randn(5, 6)
    g, b = torch.full((6,), 2.0), torch.ones(6)
    r = rms_norm(x, g)
    assert torch.allclose((r**2).mean(-1), torch.full((5,), 4.0), rtol=1e-5)
    n = layer_norm(x, torch.ones(6), b)
    assert torch.allclose(n.mean(-1), torch.ones(5), atol=1e-12)


def test_training_init_sets_norms_and_biases():
    model = ViT(**VIT)
    p = model.init(0, scale="fan_in")
    assert torch.equal(p["L0.ln1.g"], torch.ones(4))
    assert torch.equal(p["head.b"], torch.zeros(10))
    assert not torch.equal(model.init(0)["L0.ln1.g"], torch.ones(4))


@pytest.mark.parametrize("model", _models(), ids=lambda m: m.describe())
def test_block_laws_hold_in_the_network_and_controls_do_not(model):
    params = model.init(2)
    x = model.sample_inputs(3, torch.Generator().manual_seed(1))
    for key, group in law_groups(model).items():
        cos = law_orthogonality(model, group.laws, params, x, fields=6, seed=3)
        if group.conserved:
            assert cos < ORTHOGONALITY_TOL, key
        else:
            assert cos > 1e-4, key


def test_paper_claim_differs_only_for_the_normalized_sigmoid_gate():
    for model in _models():
        for key, group in law_groups(model).items():
            differs = group.conserved != group.paper
            expected = key == "gate" and model.gate == "normalized-sigmoid"
            assert differs == expected


def test_one_step_change_is_tau_squared_h_of_g():
    model = ViT(**VIT)
    params = model.init(0, scale="fan_in")
    x = model.sample_inputs(5, torch.Generator().manual_seed(0))
    y = torch.arange(5)
    for key, group in law_groups(model).items():
        out = one_step_change(model, group, params, x, y, 0.1, cross_entropy)
        if group.conserved:
            assert out["mismatch"] < 1e-12 * max(1.0, out["change"]), key
        else:
            assert out["mismatch"] > 1e-6, key


def test_lm_one_step_gate_sum_is_exact():
    model = LanguageModel(**LM)
    params = model.init(0, scale="fan_in")
    x = model.sample_inputs(2, torch.Generator().manual_seed(0))
    group = law_groups(model)["gate"]
    out = one_step_change(model, group, params, x, x, 0.5, token_cross_entropy)
    assert group.degree == 1 and out["change"] < 1e-14


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(patch=3), "patch=3 must divide"),
        (dict(width=5), "multiple of the number of heads"),
        (dict(layers=0), "layers must be a positive integer"),
    ],
)
def test_vit_rejects_bad_sizes(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ViT(**{**VIT, **kwargs})


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(gate="topk"), "unknown gate 'topk'"),
        (dict(width=6, heads=2), "RoPE needs an even head width"),
    ],
)
def test_lm_rejects_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LanguageModel(**{**LM, **kwargs})
    with pytest.raises(TypeError, match="tied must be True or False"):
        LanguageModel(**LM, tied="yes")


def test_random_combinations_check_agrees_with_the_full_check():
    model = LanguageModel(**LM, gate="normalized-sigmoid")
    params = model.init(4)
    x = model.sample_inputs(3, torch.Generator().manual_seed(2))
    for key, group in law_groups(model).items():
        cos = law_orthogonality(model, group.laws, params, x, fields=6, combos=3)
        assert (cos < ORTHOGONALITY_TOL) == group.conserved, key

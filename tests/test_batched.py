import pytest
import torch

from conslaw import protocol
from conslaw.data import Dataset
from conslaw.data_text import text_corpus
from conslaw.device import cpu_threads
from conslaw.laws.transformer import law_groups
from conslaw.models import GLU
from conslaw.models.transformer import LanguageModel, ViT
from conslaw.profiles import PROFILES, SETTINGS, settings
from conslaw.training import relative_deviation
from conslaw.training.batched import ADAM_BETAS, ADAM_EPS, train_grid, train_run
from conslaw.training.grid import BatchSampler

# the batched kernels sum in another order than the unbatched ones: float64
# round-off, amplified a little over a few steps, stays far below this
SAME_RUN_RTOL = 1e-9


@pytest.fixture(scope="module")
def images():
    gen = torch.Generator().manual_seed(0)
    return Dataset(torch.randn(40, 1, 4, 4, generator=gen), torch.arange(40) % 3, "t")


def _vit():
    return ViT((1, 4, 4), patch=2, width=4, heads=2, layers=1, mlp=3, classes=3)


def _laws(model):
    return {k: g.laws for k, g in law_groups(model).items()}


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_grid_reproduces_single_runs(images, optimizer):
    model = _vit()
    kw = dict(steps=6, batch_size=5, every=2, optimizer=optimizer, progress=False)
    grid = train_grid(model, images, _laws(model), lrs=[0.05, 0.2], seeds=[3, 4], **kw)
    assert grid.lrs == [0.05, 0.05, 0.2, 0.2] and grid.seeds == [3, 4, 3, 4]
    assert grid.steps.tolist() == [0, 2, 4, 6]
    for r, (lr, seed) in enumerate(zip(grid.lrs, grid.seeds)):
        one = train_run(model, images, _laws(model), lr=lr, seed=seed, **kw)
        torch.testing.assert_close(
            grid.loss[r], one.loss[0], rtol=SAME_RUN_RTOL, atol=0
        )
        for g in grid.tracked:
            torch.testing.assert_close(
                grid.deviation(g)[r],
                one.deviation(g)[0],
                rtol=SAME_RUN_RTOL,
                atol=1e-15,
            )


def test_chunks_give_the_same_grid(images):
    model = _vit()
    kw = dict(lrs=[0.1], seeds=[0, 1, 2], steps=3, batch_size=4, progress=False)
    whole = train_grid(model, images, _laws(model), **kw)
    parts = train_grid(model, images, _laws(model), chunk=2, **kw)
    torch.testing.assert_close(whole.loss, parts.loss, rtol=SAME_RUN_RTOL, atol=0)


def test_sgd_and_adam_update_rules():
    # a linear model on fixed data: compare with hand-written updates
    model = GLU([2, 1, 1], "linear")
    x = torch.tensor([[1.0, 2.0], [0.5, -1.0]])
    data = Dataset(x, torch.tensor([[1.0], [0.0]]), "t")
    none = {}
    for opt in ("sgd", "adam"):
        res = train_run(
            model,
            data,
            none,
            lr=0.1,
            seed=0,
            steps=2,
            batch_size=2,
            loss="square",
            optimizer=opt,
        )
        p = model.init(0, scale="fan_in")
        m = {n: torch.zeros_like(v) for n, v in p.items()}
        v2 = {n: torch.zeros_like(v) for n, v in p.items()}
        gen = torch.Generator().manual_seed(0)
        losses = []
        for k in range(2):
            idx = torch.randint(2, (2,), generator=gen)
            p = {n: t.requires_grad_() for n, t in p.items()}
            out = model(p, x[idx])
            loss = 0.5 * ((out - data.y[idx]) ** 2).sum(1).mean()
            losses.append(loss.item())
            grads = torch.autograd.grad(loss, list(p.values()))
            new = {}
            for (n, t), g in zip(p.items(), grads):
                if opt == "sgd":
                    new[n] = t.detach() - 0.1 * g
                else:
                    b1, b2 = ADAM_BETAS
                    m[n] = b1 * m[n] + (1 - b1) * g
                    v2[n] = b2 * v2[n] + (1 - b2) * g * g
                    mh, vh = m[n] / (1 - b1 ** (k + 1)), v2[n] / (1 - b2 ** (k + 1))
                    new[n] = t.detach() - 0.1 * mh / (vh.sqrt() + ADAM_EPS)
            p = new
        # step 0 records the first loss, each later record the mean since the
        # previous one: with every=1, the loss of that step
        assert res.loss[0, 0].item() == pytest.approx(losses[0], rel=1e-12)
        assert res.loss[0, 1].item() == pytest.approx(losses[0], rel=1e-12)
        assert res.loss[0, 2].item() == pytest.approx(losses[1], rel=1e-12)


def test_deviation_is_eq_10_per_run(images):
    model = _vit()
    grid = train_grid(
        model,
        images,
        _laws(model),
        lrs=[0.1],
        seeds=[0, 1],
        steps=2,
        batch_size=4,
        progress=False,
    )
    for r in range(2):
        expected = relative_deviation({k: v[r] for k, v in grid.tracked["mha"].items()})
        torch.testing.assert_close(grid.deviation("mha")[r], expected)
    with pytest.raises(ValueError, match="unknown law group 'nope'"):
        grid.deviation("nope")
    data = grid.to_dict()
    assert set(data["deviation"]) == set(grid.tracked)
    assert len(data["loss"]) == 2 and data["dtype"] == "float64"


def test_language_model_grid_on_token_windows():
    text = text_corpus("pydoc", 4, level="chars")
    model = LanguageModel(text.vocab, 4, 4, 2, 1, 2, 2)
    grid = train_grid(
        model,
        text,
        _laws(model),
        lrs=[0.1],
        seeds=[0, 1],
        steps=3,
        batch_size=2,
        loss="token-cross-entropy",
        progress=False,
    )
    assert grid.loss.shape == (2, 4)
    assert grid.deviation("gate").max() < 1e-13  # a linear law: exact


def test_batch_sampler_depends_on_the_seed_only():
    a = BatchSampler([5, 6], 100, 3)()
    b = BatchSampler([7, 5], 100, 3)()
    assert torch.equal(a[0], b[1]) and a.shape == (2, 3)


def test_progress_lines_are_fixed_format(images, capsys):
    model = _vit()
    train_grid(
        model, images, {}, lrs=[0.1], seeds=[0], steps=4, batch_size=2, label="demo"
    )
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1].startswith("demo runs 1-1/1: step      4/4 mean loss")
    assert len(lines) == 4


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(lrs=[]), "at least one learning rate"),
        (dict(lrs=[-1.0]), "positive and finite"),
        (dict(steps=0), "steps must be a positive integer"),
        (dict(batch_size=1000), "exceeds the 40 examples"),
        (dict(optimizer="lion"), "unknown optimizer 'lion'"),
        (dict(dtype="float16"), "unknown dtype 'float16'"),
        (dict(chunk=0), "chunk must be a positive integer"),
        (dict(threads=0), "threads must be a positive integer"),
    ],
)
def test_bad_arguments(images, kwargs, match):
    args = dict(lrs=[0.1], seeds=[0], steps=1, batch_size=2, progress=False)
    with pytest.raises(ValueError, match=match):
        train_grid(_vit(), images, {}, **{**args, **kwargs})


def test_float32_warns(images):
    with pytest.warns(RuntimeWarning, match="laws are checked in float32"):
        r = train_grid(
            _vit(),
            images,
            {},
            lrs=[0.1],
            seeds=[0],
            steps=1,
            batch_size=2,
            dtype="float32",
            progress=False,
        )
    assert r.dtype == "float32"


def test_cpu_threads_restores():
    before = torch.get_num_threads()
    with cpu_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


# ------------------------------------------------------------ profile selection
def test_protocol_profiles_select_their_sizes():
    quick, gpu, paper = (settings("protocol", p) for p in PROFILES)
    assert set(SETTINGS["protocol"]) == set(PROFILES)
    assert quick.dtype == gpu.dtype == "float64" and paper.dtype == "float32"
    assert (paper.vit_data, paper.vit_layers, paper.vit_width) == ("cifar10", 6, 256)
    assert (paper.lm_layers, paper.lm_width, paper.lm_mlp) == (12, 192, 768)
    assert (paper.lm_heads, paper.lm_experts, paper.lm_steps) == (3, 4, 15000)
    assert (paper.lm_batch, paper.lm_seq) == (48, 256)
    assert quick.seeds == gpu.seeds == paper.seeds == 10
    s = settings("protocol", "quick", seeds=2, vit_lrs="0.1,0.2")
    assert s.seeds == 2 and protocol.parse_lrs(s.vit_lrs) == [0.1, 0.2]


def test_profile_models_build():
    rows = protocol.profile_rows()
    assert [r["profile"] for r in rows] == list(PROFILES)
    assert "D=23,066,304" in rows[2]["LM"]


def test_parse_lrs_rejects_garbage():
    with pytest.raises(ValueError, match="expected learning rates like"):
        protocol.parse_lrs("fast")
    with pytest.raises(ValueError, match="at least one learning rate"):
        protocol.parse_lrs([])


# ------------------------------------------------------------- chapter helpers
@pytest.mark.parametrize(
    "x, text",
    [
        (5.04e-16, "5.1e-16"),
        (5e-16, "5.0e-16"),
        (1.2e-8, "1.2e-08"),
        (9.96e-3, "1.0e-02"),
    ],
)
def test_bound_text_never_rounds_below(x, text):
    assert protocol.bound_text(x) == text
    assert float(protocol.bound_text(x)) >= x


def test_profile_note_names_what_never_ran():
    quick = protocol.profile_note("quick")
    assert quick.startswith("```{admonition} Profiles executed\n:class: important")
    assert quick.endswith("```")
    never = [p for p in PROFILES if p not in protocol.EXECUTED_PROFILES]
    assert all(f"`{p}`" in quick for p in never)
    assert "`paper` runs the same code" in protocol.profile_note("gpu")
    with pytest.raises(ValueError, match="unknown profile"):
        protocol.profile_note("huge")


def test_verdict_rule_prints_its_constants():
    rule = protocol.verdict_rule()
    lo, hi = protocol.EXPONENT_BAND
    assert f"[{lo}, {hi}]" in rule and f"{protocol.LINEAR_TOL:.0e}" in rule


def test_quick_grid_is_silent_and_ranges_split_laws_from_controls(images, capsys):
    cfg = settings("protocol", "quick", seeds=1, vit_steps=2, vit_lrs="0.01,0.1")
    cfg.update(vit_patch=2, vit_width=4, vit_heads=2, vit_layers=1, vit_mlp=3)
    exp = protocol.run_grid(
        "vit", protocol.build_vit(cfg, images), images, cfg, kind="vit"
    )
    assert capsys.readouterr().out == ""  # quick: progress off
    pairs = [("vit", k) for k in exp.groups]
    ranges = protocol.scaling_ranges([exp], pairs)
    assert set(ranges) == {"quadratic laws", "controls"}
    laws = [k for k, g in exp.groups.items() if g.role == "law" and g.degree == 2]
    assert ranges["quadratic laws"]["count"] == len(laws)
    lo, hi = ranges["quadratic laws"]["exponent"]
    assert lo <= hi

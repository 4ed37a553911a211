"""The settings table: what each chapter runs at under each profile.

Data only; :mod:`conslaw.profiles` resolves and checks a chapter's settings from
it. A chapter's knobs go under ``SETTINGS["NAME"]``, one dict per profile.
"""

from __future__ import annotations

from typing import Any

# what each profile costs, for the README and the status page
PROFILE_COST = {
    "quick": "CPU, the whole book in minutes; what CI builds",
    "gpu": "one GPU, about ten minutes a chapter: full seed grids at reduced sizes",
    "paper": "one GPU, hours: the paper's App. D sizes and data sets",
}


def _protocol(
    *, seeds, records, dtype, chunk, threads, combos, vit, lm, progress=True
) -> dict[str, Any]:
    """The protocol chapter's settings from compact model tuples:
    ``vit = (data, patch, width, heads, layers, mlp, steps, batch)`` and
    ``lm = (data, level, seq, width, heads, layers, mlp, experts, steps, batch)``."""
    vit_keys = ("data", "patch", "width", "heads", "layers", "mlp", "steps", "batch")
    lm_keys = (
        "data",
        "level",
        "seq",
        "width",
        "heads",
        "layers",
        "mlp",
        "experts",
        "steps",
        "batch",
    )
    return {
        "seeds": seeds,
        "records": records,
        "optimizer": "sgd",
        "dtype": dtype,
        "chunk": chunk,
        "threads": threads,
        "check_combos": combos,
        # the trainer's progress lines (a quick grid takes seconds: none)
        "progress": progress,
        "data_dir": None,
        "vit_lrs": [0.01, 0.03, 0.1],
        "lm_lrs": [0.03, 0.1, 0.3],
        "lm_tied": True,
        **{f"vit_{k}": v for k, v in zip(vit_keys, vit, strict=True)},
        **{f"lm_{k}": v for k, v in zip(lm_keys, lm, strict=True)},
    }


# chapter -> profile -> settings; a chapter without an entry takes only the
# common settings
SETTINGS: dict[str, dict[str, dict[str, Any]]] = {
    "framework": {
        "quick": {"architectures": 50, "seeds": 12},
        "gpu": {"architectures": 50, "seeds": 40},
        "paper": {"architectures": 50, "seeds": 40},
    },
    "feedforward": {
        "quick": {
            "samples": 256,
            "hidden": 16,
            "flow_time": 40.0,
            "seeds": 1,
            "rtol": 1e-9,
        },
        "gpu": {
            "samples": 1797,
            "hidden": 64,
            "flow_time": 200.0,
            "seeds": 3,
            "rtol": 1e-10,
        },
        "paper": {
            "samples": 1797,
            "hidden": 128,
            "flow_time": 400.0,
            "seeds": 10,
            "rtol": 1e-10,
        },
    },
    # filled in by their chapters
    # the attention chapter: an attention block (`heads` heads of width `d_k`
    # = d_v on 8 tokens of 8 pixels) with a linear read-out, trained on
    # `samples` digits by gradient flow on [0, flow_time] (`seeds` starts) and
    # by gradient descent over the same time at each of `step_sizes`; the
    # certificate's undecidable case at each of `hard_seeds`; `threads` caps
    # torch's CPU threads (None: torch's default)
    "attention": {
        "quick": {
            "samples": 256,
            "heads": 2,
            "d_k": 4,
            "flow_time": 20.0,
            "rtol": 1e-9,
            "seeds": 1,
            "step_sizes": [0.8, 0.4, 0.2],
            "hard_seeds": [0],
            "threads": 1,
        },
        "gpu": {
            "samples": 1797,
            "heads": 2,
            "d_k": 4,
            "flow_time": 60.0,
            "rtol": 1e-10,
            "seeds": 3,
            "step_sizes": [0.4, 0.2, 0.1, 0.05],
            "hard_seeds": [0, 1, 2, 3],
            "threads": None,
        },
        "paper": {
            "samples": 1797,
            "heads": 4,
            "d_k": 8,
            "flow_time": 100.0,
            "rtol": 1e-10,
            "seeds": 10,
            "step_sizes": [0.4, 0.2, 0.1, 0.05],
            "hard_seeds": [0, 1, 2, 3],
            "threads": None,
        },
    },
    # the MoE chapter: gradient flow of `experts` SwiGLU experts of width
    # `hidden` on `samples` digits; the certificate at `sizes` (every gate ×
    # expert pair) and `edge_sizes` (every gate, SwiGLU experts), each size
    # (d, m, o, experts, top_k), once per entry of `gate_biases`; `threads`
    # caps torch's CPU threads (None: torch's default)
    "moe": {
        "quick": {
            "samples": 256,
            "experts": 4,
            "hidden": 8,
            "flow_time": 40.0,
            "rtol": 1e-9,
            "seeds": 1,
            "sizes": [[3, 2, 2, 3, 2]],
            "edge_sizes": [[4, 2, 4, 2, 1], [3, 2, 2, 1, 1], [3, 1, 1, 3, 3]],
            "gate_biases": [False, True],
            "threads": 1,
        },
        "gpu": {
            "samples": 1797,
            "experts": 8,
            "hidden": 16,
            "flow_time": 100.0,
            "rtol": 1e-10,
            "seeds": 3,
            "sizes": [
                [4, 2, 4, 2, 1],
                [3, 2, 2, 3, 2],
                [5, 3, 3, 4, 2],
                [4, 2, 3, 4, 3],
            ],
            "edge_sizes": [
                [3, 2, 2, 1, 1],
                [3, 1, 1, 3, 3],
                [2, 1, 1, 2, 1],
                [6, 2, 2, 3, 1],
            ],
            "gate_biases": [False, True],
            "threads": None,
        },
        "paper": {
            "samples": 1797,
            "experts": 8,
            "hidden": 32,
            "flow_time": 200.0,
            "rtol": 1e-10,
            "seeds": 10,
            "sizes": [
                [4, 2, 4, 2, 1],
                [3, 2, 2, 3, 2],
                [5, 3, 3, 4, 2],
                [4, 2, 3, 4, 3],
                [6, 3, 4, 6, 2],
            ],
            "edge_sizes": [
                [3, 2, 2, 1, 1],
                [3, 1, 1, 3, 3],
                [2, 1, 1, 2, 1],
                [6, 2, 2, 3, 1],
            ],
            "gate_biases": [False, True],
            "threads": None,
        },
    },
    # discrete optimizers against their closed forms: constant steps `lrs`,
    # `steps` long; heavy-ball and weight-decay runs over `decay_time` at each of
    # `decay_lrs`; the MoE comparison over a fixed time `horizon` at `scaling_lrs`
    "dynamics": {
        "quick": {
            "samples": 256,
            "hidden": 16,
            "steps": 300,
            "lrs": [0.2, 0.1, 0.05],
            "batch_size": 32,
            "tau0": 0.1,
            "betas": [0.5, 0.8, 0.9],
            "beta": 0.9,
            "weight_decay": 0.1,
            "decay_lrs": [0.1, 0.05, 0.025],
            "decay_time": 10.0,
            "experts": 3,
            "horizon": 1.0,
            "scaling_lrs": [0.02, 0.01, 0.005, 0.0025, 0.00125],
            "flow_time": 5.0,
            "rtol": 1e-9,
        },
        "gpu": {
            "samples": 1797,
            "hidden": 64,
            "steps": 2000,
            "lrs": [0.2, 0.1, 0.05, 0.025],
            "batch_size": 64,
            "tau0": 0.1,
            "betas": [0.5, 0.7, 0.8, 0.9, 0.95],
            "beta": 0.9,
            "weight_decay": 0.1,
            "decay_lrs": [0.1, 0.05, 0.025, 0.0125],
            "decay_time": 20.0,
            "experts": 4,
            "horizon": 2.0,
            "scaling_lrs": [0.04, 0.02, 0.01, 0.005, 0.0025],
            "flow_time": 10.0,
            "rtol": 1e-10,
        },
        "paper": {
            "samples": 1797,
            "hidden": 128,
            "steps": 5000,
            "lrs": [0.2, 0.1, 0.05, 0.025],
            "batch_size": 64,
            "tau0": 0.1,
            "betas": [0.5, 0.7, 0.8, 0.9, 0.95, 0.99],
            "beta": 0.9,
            "weight_decay": 0.1,
            "decay_lrs": [0.1, 0.05, 0.025, 0.0125, 0.00625],
            "decay_time": 20.0,
            "experts": 4,
            "horizon": 2.0,
            "scaling_lrs": [0.04, 0.02, 0.01, 0.005, 0.0025, 0.00125],
            "flow_time": 20.0,
            "rtol": 1e-10,
        },
    },
    # the paper's Figure 2 protocol: a ViT and a Qwen-3-style MoE language model,
    # 3 learning rates x `seeds` seeds as one batched grid each. The paper does not
    # publish its learning rates or optimizer: plain mini-batch SGD here, rates
    # chosen so that the loss falls and the largest stays stable.
    "protocol": {
        "quick": _protocol(
            seeds=10,
            records=20,
            dtype="float64",
            chunk=None,
            threads=1,
            combos=None,
            progress=False,
            vit=("digits", 4, 16, 2, 2, 32, 100, 16),
            lm=("pydoc", "chars", 16, 16, 2, 1, 16, 4, 100, 8),
        ),
        "gpu": _protocol(
            seeds=10,
            records=50,
            dtype="float64",
            chunk=None,
            threads=None,
            combos=16,
            vit=("digits", 2, 64, 4, 4, 256, 2000, 64),
            lm=("pydoc", "bytes", 64, 64, 4, 4, 128, 4, 2000, 32),
        ),
        # App. D: ViT 6 layers, width 256, MLP 1024, 4 heads on CIFAR-10; LM 12
        # layers, width 192, MLP 768, 3 heads, 4 experts, WikiText-103, 15,000
        # steps of batch 48 and length 256. float32 (warns) and 3 runs at a time
        # to fit one 80 GB GPU.
        "paper": _protocol(
            seeds=10,
            records=100,
            dtype="float32",
            chunk=3,
            threads=None,
            combos=16,
            vit=("cifar10", 4, 256, 4, 6, 1024, 5000, 128),
            lm=("wikitext103", "bytes", 256, 192, 3, 12, 768, 4, 15000, 48),
        ),
    },
    "discovery": {
        "quick": {
            "width": 3,
            "hidden": 3,
            "tokens": 3,
            "pairs": "halves",
            "timing_widths": [2, 4, 6, 8],
            "samples": 64,
            "flow_time": 20.0,
            "rtol": 1e-9,
        },
        "gpu": {
            "width": 4,
            "hidden": 4,
            "tokens": 4,
            "pairs": "all",
            "timing_widths": [2, 4, 6, 8, 10, 12],
            "samples": 256,
            "flow_time": 40.0,
            "rtol": 1e-10,
        },
        "paper": {
            "width": 4,
            "hidden": 6,
            "tokens": 4,
            "pairs": "all",
            "timing_widths": [2, 4, 6, 8, 10, 12, 14],
            "samples": 512,
            "flow_time": 80.0,
            "rtol": 1e-10,
        },
    },
    "performance": {
        # block widths timed (D grows as the square, see
        # conslaw.sweeps.performance.block_model), the smallest architectures of
        # each family given to the symbolic peer, and its budget per architecture
        "quick": {
            "ffn": [4, 8, 12, 16],
            "glu": [4, 8, 12, 14],
            "attention": [4, 8, 12, 18],
            "moe": [4, 8, 12, 14],
            # 4 per family: the fifth ReLU net alone took ~11 s of the symbolic
            # peer, too much for the quick build's minute
            "peer_architectures": 4,
            "peer_budget": 15.0,
        },
        "gpu": {
            "ffn": [8, 16, 32, 48, 64],
            "glu": [8, 16, 32, 48, 56],
            "attention": [8, 16, 32, 48, 72],
            "moe": [8, 16, 32, 48, 56],
            "peer_architectures": 8,
            "peer_budget": 60.0,
        },
        "paper": {
            "ffn": [8, 16, 32, 48, 64, 72],
            "glu": [8, 16, 32, 48, 56, 60],
            "attention": [8, 16, 32, 48, 64, 72],
            "moe": [8, 16, 32, 48, 56, 60],
            "peer_architectures": 12,
            "peer_budget": 600.0,
        },
    },
}

COMMON = {"device": "auto", "seed": 0}

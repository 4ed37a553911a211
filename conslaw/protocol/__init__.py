"""The paper's Figure 2 protocol: models, data, grids, summaries and figures.

The protocol chapter calls these with its resolved settings (``SETTINGS["protocol"]``
in :mod:`conslaw.profiles`): a ViT on images and a Qwen-3-style language model on
text, each trained for every (learning rate, seed) pair as one batched program
(:func:`conslaw.training.batched.train_grid`), with the laws of every block and
their controls tracked inside the loop.

- :mod:`~conslaw.protocol.experiment`: the models, the data, the trained grid and
  what each profile runs;
- :mod:`~conslaw.protocol.summaries`: ε at the end, learning-rate exponents;
- :mod:`~conslaw.protocol.figures`: the panels of the chapter's figures;
- :mod:`~conslaw.protocol.verdicts`: the checks in the networks and the verdicts.
"""

from .experiment import (
    EXECUTED_PROFILES,
    Experiment,
    build_lm,
    build_vit,
    load_data,
    parse_lrs,
    profile_note,
    profile_rows,
    run_grid,
    save_experiment,
)
from .figures import deviation_panel, lr_legend, scaling_panel
from .summaries import final_deviation, lr_exponent, scaling_ranges, summary_rows
from .verdicts import (
    EXPONENT_BAND,
    LINEAR_TOL,
    bound_text,
    claimed_verdict,
    one_step_rows,
    orthogonality_rows,
    training_verdict,
    verdict_rule,
)

__all__ = [
    "EXECUTED_PROFILES",
    "EXPONENT_BAND",
    "LINEAR_TOL",
    "Experiment",
    "bound_text",
    "build_lm",
    "build_vit",
    "claimed_verdict",
    "deviation_panel",
    "final_deviation",
    "load_data",
    "lr_exponent",
    "lr_legend",
    "one_step_rows",
    "orthogonality_rows",
    "parse_lrs",
    "profile_note",
    "profile_rows",
    "run_grid",
    "save_experiment",
    "scaling_panel",
    "scaling_ranges",
    "summary_rows",
    "training_verdict",
    "verdict_rule",
]

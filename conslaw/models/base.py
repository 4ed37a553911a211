"""Functional models: named parameter tensors, a flat view, a forward pass.

A model here holds no tensors. It knows the names and shapes of its parameters and
computes ``forward(params, x)`` from a dict of tensors, so that ``torch.func`` can
differentiate it with respect to a flat parameter vector ``theta`` of length ``D``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch

Params = dict[str, torch.Tensor]


class FunctionalModel:
    """Base class of the functional models.

    Subclasses set ``shapes`` (parameter name to shape, in a fixed order),
    ``in_shape`` and ``out_shape`` (of one example, without the batch dimension) and
    implement :meth:`forward`.
    """

    shapes: dict[str, tuple[int, ...]]
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]

    # ------------------------------------------------------------------ sizes
    @property
    def names(self) -> list[str]:
        """Parameter names, in the order of the flat view."""
        return list(self.shapes)

    @property
    def num_parameters(self) -> int:
        """``D``, the length of the flat parameter vector."""
        return sum(math.prod(s) for s in self.shapes.values())

    def slices(self) -> dict[str, slice]:
        """Where each named parameter sits in the flat vector."""
        out, start = {}, 0
        for name, shape in self.shapes.items():
            stop = start + math.prod(shape)
            out[name] = slice(start, stop)
            start = stop
        return out

    # ------------------------------------------------------------- flat view
    def flatten(self, params: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Concatenate ``params`` into a vector of shape ``(D,)``."""
        missing = set(self.shapes) - set(params)
        if missing:
            raise ValueError(
                f"parameters {sorted(missing)} are missing: expected the names "
                f"{self.names}"
            )
        return torch.cat([params[n].reshape(-1) for n in self.shapes])

    def unflatten(self, theta: torch.Tensor) -> Params:
        """Split a vector of shape ``(D,)`` into named tensors (views)."""
        if theta.shape != (self.num_parameters,):
            raise ValueError(
                f"expected a flat parameter vector of shape ({self.num_parameters},), "
                f"got {tuple(theta.shape)}"
            )
        return {n: theta[s].reshape(self.shapes[n]) for n, s in self.slices().items()}

    # ---------------------------------------------------------------- forward
    def forward(self, params: Mapping[str, torch.Tensor], x: torch.Tensor):
        """Outputs ``(batch, *out_shape)`` for inputs ``(batch, *in_shape)``."""
        raise NotImplementedError

    def __call__(self, params, x):
        return self.forward(params, x)

    def apply_flat(self, theta: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """``forward`` on a flat parameter vector."""
        return self.forward(self.unflatten(theta), x)

    # ---------------------------------------------------------------- points
    def init(
        self,
        seed: int = 0,
        *,
        dtype: torch.dtype = torch.float64,
        device: str | torch.device = "cpu",
        scale: str = "normal",
    ) -> Params:
        """Random parameters.

        ``scale="normal"`` draws every entry from N(0, 1): the generic point of the
        certificate. ``scale="fan_in"`` divides weight matrices by the square root of
        their input width, the usual start of a training run.
        """
        if scale not in ("normal", "fan_in"):
            raise ValueError(f"unknown scale {scale!r}: expected 'normal' or 'fan_in'")
        gen = torch.Generator().manual_seed(int(seed))
        params = {}
        for name, shape in self.shapes.items():
            t = torch.randn(shape, generator=gen, dtype=torch.float64)
            if scale == "fan_in" and len(shape) >= 2:
                t = t / math.sqrt(self.fan_in(name))
            params[name] = t.to(dtype=dtype, device=device)
        return params

    def fan_in(self, name: str) -> int:
        """Input width of weight ``name`` for the ``fan_in`` scale (last axis)."""
        return self.shapes[name][-1]

    def sample_inputs(
        self,
        n: int,
        generator: torch.Generator,
        scales: tuple[float, ...] = (0.3, 1.0, 3.0),
        dtype: torch.dtype = torch.float64,
    ) -> torch.Tensor:
        """``n`` Gaussian inputs, each multiplied by a scale drawn from ``scales``.

        Several scales make the inputs reach every region where a unit switches,
        as the characterization (all inputs of ``R^d``) requires.
        """
        x = torch.randn((n, *self.in_shape), generator=generator, dtype=dtype)
        pick = torch.randint(len(scales), (n,), generator=generator)
        s = torch.tensor(scales, dtype=dtype)[pick]
        return x * s.reshape((n,) + (1,) * len(self.in_shape))

    def describe(self) -> str:
        """One line naming the model and its sizes."""
        return type(self).__name__

    def __repr__(self) -> str:
        return f"<{self.describe()}, D={self.num_parameters}>"


class WithUnused(FunctionalModel):
    """``model`` with ``unused`` extra parameters that the output ignores.

    Each unused parameter is trivially conserved, so a certificate that knows only
    ``model``'s laws must report that many extra laws.
    """

    def __init__(self, model: FunctionalModel, unused: int = 1):
        if unused < 1:
            raise ValueError(f"expected at least one unused parameter, got {unused}")
        self.model = model
        self.unused = int(unused)
        self.shapes = {**model.shapes, "unused": (self.unused,)}
        self.in_shape, self.out_shape = model.in_shape, model.out_shape

    def forward(self, params, x):
        return self.model.forward(params, x)

    def kink_preactivations(self, params, x):
        hook = getattr(self.model, "kink_preactivations", None)
        return [] if hook is None else hook(params, x)

    def describe(self) -> str:
        return f"{self.model.describe()} + {self.unused} unused"

"""Conservation laws as torch functions of the parameters."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import singledispatch

import torch

from ..models.base import FunctionalModel, WithUnused

LawFn = Callable[[Mapping[str, torch.Tensor]], torch.Tensor]


@dataclass(frozen=True)
class Law:
    """One block of laws: a tensor-valued function of the parameters.

    ``kind="entries"``: every entry of the tensor is one law (a vector of per-neuron
    laws, say). ``kind="symmetric"``: a symmetric matrix whose upper triangle holds
    the laws. ``labels`` name those entries in order. ``independent`` is how many of
    them are functionally independent at a generic point (all, unless the block is
    constrained, as ``AAᵀ − BᵀB`` is when ``A`` and ``B`` are thin).
    """

    name: str
    fn: LawFn
    kind: str
    labels: tuple[str, ...]
    independent: int | None = None

    @property
    def size(self) -> int:
        """Number of scalar entries in the block."""
        return len(self.labels)

    @property
    def count(self) -> int:
        """Number of functionally independent laws in the block."""
        return self.size if self.independent is None else self.independent

    def value(self, params: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """The whole block (vector or matrix)."""
        return self.fn(params)

    def entries(self, params: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """The independent entries, shape ``(size,)``."""
        t = self.fn(params)
        if self.kind == "symmetric":
            i, j = torch.triu_indices(t.shape[-1], t.shape[-1])
            return t[..., i, j]
        return t.reshape(-1)


@dataclass(frozen=True)
class LawSet:
    """The laws a theorem predicts for one model, with their count."""

    laws: tuple[Law, ...] = field(default_factory=tuple)
    source: str = ""

    @property
    def count(self) -> int:
        """Number of functionally independent scalar laws."""
        return sum(law.count for law in self.laws)

    @property
    def labels(self) -> list[str]:
        return [lab for law in self.laws for lab in law.labels]

    def vector(self, params: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """All independent laws stacked, shape ``(count,)``."""
        if not self.laws:
            any_t = next(iter(params.values()))
            return any_t.new_zeros(0)
        return torch.cat([law.entries(params) for law in self.laws])

    def blocks(self, params: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Each block by name: the tensors the paper's relative deviation compares."""
        return {law.name: law.value(params) for law in self.laws}

    def __add__(self, other: LawSet) -> LawSet:
        return LawSet(
            self.laws + other.laws,
            " + ".join(s for s in (self.source, other.source) if s),
        )


def entries_law(name: str, fn: LawFn, labels: Sequence[str]) -> Law:
    """A block whose every entry is a law."""
    return Law(name, fn, "entries", tuple(labels))


def symmetric_law(
    name: str, fn: LawFn, n: int, entry: str, independent: int | None = None
) -> Law:
    """An ``n × n`` symmetric block; ``entry`` is a format string with ``{i}, {j}``."""
    i, j = torch.triu_indices(n, n).tolist()
    labels = tuple(entry.format(i=a, j=b) for a, b in zip(i, j))
    return Law(name, fn, "symmetric", labels, independent)


def balance_rank(n: int, positive: int, negative: int) -> int:
    """Dimension of ``{AAᵀ − BᵀB}`` for ``A (n × positive)`` and ``B (negative × n)``.

    Such a difference is a symmetric ``n × n`` matrix of rank at most
    ``k = min(n, positive + negative)``, and the symmetric matrices of rank ``k``
    form a manifold of dimension ``k n − k (k − 1) / 2``; generic ``A, B`` fill it.

    >>> balance_rank(3, 4, 4), balance_rank(5, 2, 2)
    (6, 14)
    """
    k = min(n, positive + negative)
    return k * n - k * (k - 1) // 2


@singledispatch
def predicted_laws(model: FunctionalModel) -> LawSet:
    """The conservation laws the theory predicts for ``model``.

    Each architecture registers its own rule; a model without one has no prediction.
    """
    raise TypeError(
        f"no predicted laws are registered for {type(model).__name__}: register a "
        "rule with @predicted_laws.register, or certify with predicted=LawSet()"
    )


@predicted_laws.register
def _(model: WithUnused) -> LawSet:
    # only the wrapped model's laws: the unused parameters are left for the
    # certificate to find
    return predicted_laws(model.model)

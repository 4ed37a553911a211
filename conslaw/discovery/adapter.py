"""Any model as a :class:`~conslaw.models.FunctionalModel`.

The certificate and the discovery of laws work on functional models: named
parameter shapes, a flat view, ``forward(params, x)`` and a way to draw inputs.
:func:`adapt` turns a ``torch.nn.Module`` (called through
``torch.func.functional_call``), a plain function ``f(params, x)`` of a parameter
dict, or a functional model itself into one, with some parameters frozen: a frozen
parameter keeps its value and is not part of ``θ``, exactly as a tensor with
``requires_grad=False`` in training.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import warnings
from collections.abc import Callable, Iterable, Mapping

import torch
from torch.func import functional_call

from ..models.base import FunctionalModel, Params
from .norms import CompositeNorms

Frozen = Iterable[str] | Callable[[str], bool] | None
Sampler = torch.Tensor | tuple[int, ...] | Callable | None

# modules whose inputs are kinks (piecewise-linear units): the certificate puts a
# representative of every activation pattern of them into every sampled field
KINKED_MODULES = (
    torch.nn.ReLU,
    torch.nn.LeakyReLU,
    torch.nn.PReLU,
    torch.nn.ReLU6,
    torch.nn.Hardtanh,
)


# modules whose behaviour differs between training and evaluation: the copy that
# is analysed runs in eval mode, with a warning when the module was training
MODE_DEPENDENT = (
    torch.nn.Dropout,
    torch.nn.AlphaDropout,
    torch.nn.modules.batchnorm._BatchNorm,
    torch.nn.modules.instancenorm._InstanceNorm,
)


def _select(names: list[str], spec, what: str) -> set[str]:
    """The names picked by ``spec``: a collection of names or a predicate."""
    if spec is None:
        return set()
    if callable(spec):
        return {n for n in names if spec(n)}
    if isinstance(spec, str):
        spec = [spec]
    try:
        picked = set(spec)
    except TypeError:
        raise TypeError(
            f"{what} must be a collection of parameter names or a predicate "
            f"name -> bool, got {type(spec).__name__}"
        ) from None
    unknown = sorted(picked - set(names))
    if unknown:
        raise ValueError(
            f"{what} names {unknown} are not parameters of the model: expected "
            f"some of {names}"
        )
    return picked


class Adapted(FunctionalModel):
    """A model seen as a functional model of its trainable parameters.

    Built by :func:`adapt`; ``point`` holds the trainable parameters' values
    (float64) and ``constants`` the frozen parameters and buffers.
    """

    def __init__(
        self,
        fn: Callable,
        params: Mapping[str, torch.Tensor],
        constants: Mapping[str, torch.Tensor],
        sampler: Sampler,
        *,
        name: str,
        frozen: list[str] = (),
        module: torch.nn.Module | None = None,
        base: FunctionalModel | None = None,
        fused_norms: bool = False,
    ):
        self.fn = fn
        self.fused_norms = fused_norms
        self.point: Params = {
            n: t.detach().to(torch.float64) for n, t in params.items()
        }
        self.shapes = {n: tuple(t.shape) for n, t in self.point.items()}
        self.constants = dict(constants)
        self.module, self.base, self.name = module, base, name
        self.frozen = list(frozen)
        self._examples = self._callable = None
        self.in_shape = self._read_sampler(sampler)
        self.out_shape = self._probe_output()

    # ---------------------------------------------------------------- inputs
    def _read_sampler(self, sampler) -> tuple[int, ...]:
        if sampler is None:
            if self.base is None:
                raise ValueError(
                    "sample_inputs is required for a module or a function: pass a "
                    "tensor of example inputs (n, *in_shape), the shape of one "
                    "input as a tuple, or a callable (n, generator) -> inputs"
                )
            self._base_sampler = True
            return tuple(self.base.in_shape)
        self._base_sampler = False
        if isinstance(sampler, torch.Tensor):
            if sampler.ndim < 1 or len(sampler) == 0:
                raise ValueError(
                    "sample_inputs as a tensor must hold example inputs "
                    f"(n, *in_shape) with n >= 1, got shape {tuple(sampler.shape)}"
                )
            if not sampler.is_floating_point():
                raise TypeError(
                    f"sample_inputs must be floating point, got {sampler.dtype}; "
                    "convert with .double()"
                )
            self._examples = sampler.detach().to(torch.float64)
            return tuple(sampler.shape[1:])
        if isinstance(sampler, tuple | list) and all(
            isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in sampler
        ):
            return tuple(sampler)
        if callable(sampler):
            self._callable = sampler
            x = self._call_sampler(2, torch.Generator().manual_seed(0), None)
            return tuple(x.shape[1:])
        raise TypeError(
            "sample_inputs must be a tensor of example inputs (n, *in_shape), the "
            "shape of one input as a tuple of positive ints, or a callable "
            f"(n, generator) -> inputs; got {sampler!r:.60}"
        )

    def _call_sampler(self, n, generator, in_shape):
        x = self._callable(n, generator)
        if not isinstance(x, torch.Tensor) or x.ndim < 1 or len(x) != n:
            got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(
                f"sample_inputs({n}, generator) must return a tensor (n, *in_shape) "
                f"with n = {n}, got {got}"
            )
        if in_shape is not None and tuple(x.shape[1:]) != in_shape:
            raise ValueError(
                f"sample_inputs returned inputs of shape {tuple(x.shape[1:])}, "
                f"expected {in_shape} as on its first call"
            )
        return x.detach().to(torch.float64)

    def sample_inputs(self, n, generator, scales=(0.3, 1.0, 3.0), dtype=None):
        """``n`` inputs: the base model's, scaled examples, scaled Gaussians of the
        given shape, or the callable's draws (not rescaled)."""
        dtype = torch.float64 if dtype is None else dtype
        if self._base_sampler:
            return self.base.sample_inputs(n, generator, scales, dtype=dtype)
        if self._callable is not None:
            return self._call_sampler(n, generator, self.in_shape).to(dtype)
        if self._examples is None:
            return super().sample_inputs(n, generator, scales, dtype=dtype)
        pick = torch.randint(len(self._examples), (n,), generator=generator)
        x = self._examples[pick].to(dtype)
        which = torch.randint(len(scales), (n,), generator=generator)
        s = torch.tensor(scales, dtype=dtype)[which]
        return x * s.reshape((n,) + (1,) * len(self.in_shape))

    # --------------------------------------------------------------- forward
    def _probe_output(self) -> tuple[int, ...]:
        x = self.sample_inputs(2, torch.Generator().manual_seed(0))
        try:
            out = self.forward(self.point, x)
        except Exception as err:
            first = str(err).strip().splitlines()[0] if str(err).strip() else ""
            raise TypeError(
                f"{self.name} failed on float64 inputs of shape {tuple(x.shape)} "
                f"(a batch of 2): {type(err).__name__}: {first}; check "
                "sample_inputs' shape and that the model accepts a batch"
            ) from err
        if not isinstance(out, torch.Tensor):
            raise TypeError(
                f"{self.name} must return one tensor (batch, *out_shape), got "
                f"{type(out).__name__}; wrap it to return the output you train on"
            )
        if out.ndim < 1 or len(out) != len(x):
            raise ValueError(
                f"{self.name} must keep the batch dimension first: inputs "
                f"{tuple(x.shape)} gave outputs {tuple(out.shape)}"
            )
        return tuple(out.shape[1:])

    def forward(self, params, x):
        if self.fused_norms:
            return self.fn({**self.constants, **params}, x)
        with CompositeNorms():
            return self.fn({**self.constants, **params}, x)

    def kink_preactivations(self, params, x):
        """Inputs of the model's ReLU-like submodules, each ``(batch, units)``, or
        the base model's kinks; empty for a plain function."""
        if self.base is not None:
            hook = getattr(self.base, "kink_preactivations", None)
            return [] if hook is None else hook({**self.constants, **params}, x)
        if self.module is None:
            return []
        seen, handles = [], []
        for sub in self.module.modules():
            if isinstance(sub, KINKED_MODULES):
                handles.append(
                    sub.register_forward_hook(
                        lambda _m, inp, _out: seen.append(inp[0].reshape(len(x), -1))
                    )
                )
        if not handles:
            return []
        try:
            with torch.no_grad():
                self.forward(params, x)
        finally:
            for h in handles:
                h.remove()
        return seen

    def init(self, seed=0, *, dtype=torch.float64, device="cpu", scale="normal"):
        if self.base is not None:
            params = self.base.init(seed, dtype=dtype, device=device, scale=scale)
            return {n: params[n] for n in self.shapes}
        return super().init(seed, dtype=dtype, device=device, scale=scale)

    def describe(self) -> str:
        tail = f", {len(self.frozen)} frozen" if self.frozen else ""
        return f"{self.name}{tail}"


@contextlib.contextmanager
def transformable(model: FunctionalModel):
    """Turn torch.func's failures on ``model`` into one-line TypeErrors."""
    try:
        yield
    except RuntimeError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else ""
        raise TypeError(
            f"{model.describe()} could not be differentiated with torch.func "
            f"(vmap, grad, jvp): {first[:160]}; rewrite its forward without "
            ".item(), in-place updates of inputs or data-dependent Python branches"
        ) from err


def adapt(
    model,
    sample_inputs: Sampler = None,
    *,
    params: Mapping[str, torch.Tensor] | None = None,
    frozen: Frozen = None,
    fused_norms: bool = False,
) -> Adapted:
    """Any model as a functional model of its trainable parameters, in float64.

    Args:
        model: a ``torch.nn.Module`` (a deep copy is moved to float64 and called
            through ``torch.func.functional_call``); a function ``f(params, x)``
            of a dict of tensors; or a :class:`~conslaw.models.FunctionalModel`.
        sample_inputs: the input distribution. A tensor of example inputs
            ``(n, *in_shape)``: drawn at random and multiplied by a random scale
            (the characterization quantifies over all inputs, so scales reach
            every region where a unit switches); a tuple ``in_shape``: Gaussian
            inputs of that shape, scaled the same way; a callable
            ``(n, generator) -> (n, *in_shape)``, used as it is. Optional for a
            functional model, which has its own.
        params: the point. Required for a function; for a module it replaces
            the named entries of the module's current values, for a functional
            model those of its standard-normal draw at seed 0.
        frozen: names of parameters that do not train, or a predicate
            ``name -> bool``. They keep their values and are not part of ``θ``.
            A module's parameters with ``requires_grad=False`` are frozen too.
        fused_norms: keep torch's fused ``layer_norm``. By default it is replaced
            by its composite formula (same values), because the fused kernel's
            third derivatives are wrong (:class:`CompositeNorms`).

    A module is analysed in eval mode (dropout off, batch norm with its running
    statistics, which are then constants); a warning says so when the module
    was training and has such layers.

    Returns:
        an :class:`Adapted` model; its ``point`` holds the trainable values.
    """
    params = {} if params is None else dict(params)
    constants, module, base, auto = {}, None, None, set()
    if isinstance(model, FunctionalModel):
        values, names = model.init(0), list(model.shapes)
        fn, name, base = model.forward, model.describe(), model
    elif isinstance(model, torch.nn.Module):
        module = copy.deepcopy(model).to(torch.float64)
        coupled = [
            n
            for n, m in module.named_modules()
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)
            and not m.track_running_stats
        ]
        if coupled:
            raise ValueError(
                f"{type(model).__name__} normalizes over the batch ({coupled}: "
                "BatchNorm without running statistics), so one example's output "
                "depends on the others, which the characterization does not "
                "cover; use track_running_stats=True or another norm"
            )
        dependent = [
            type(m).__name__ for m in module.modules() if isinstance(m, MODE_DEPENDENT)
        ]
        if model.training and dependent:
            warnings.warn(
                f"{type(model).__name__} is in training mode and has "
                f"{sorted(set(dependent))}: analysing it in eval mode (dropout "
                "off, running statistics as constants); call .eval() to silence",
                stacklevel=3,
            )
        module.eval()
        values = dict(module.named_parameters())
        names = list(values)
        auto = {n for n, p in values.items() if not p.requires_grad}
        constants = {n: b.detach() for n, b in module.named_buffers()}
        module.requires_grad_(False)
        name = type(model).__name__

        def fn(p, x):
            return functional_call(module, p, (x,))

    elif callable(model):
        if not params:
            raise ValueError(
                "a function f(params, x) needs params=: a dict of the parameter "
                "tensors at the point to study"
            )
        values, names = {}, list(params)
        fn, name = model, getattr(model, "__name__", "function")
    else:
        raise TypeError(
            "model must be a torch.nn.Module, a function f(params, x) or a "
            f"conslaw FunctionalModel, got {type(model).__name__}"
        )
    unknown = sorted(set(params) - set(names))
    if unknown:
        raise ValueError(
            f"params names {unknown} are not parameters of the model: expected "
            f"some of {names}"
        )
    bad = sorted(n for n, t in params.items() if not isinstance(t, torch.Tensor))
    if bad:
        raise TypeError(f"params values must be tensors, got non-tensors for {bad}")
    values.update(params)
    fixed = _select(names, frozen, "frozen") | auto
    trainable = {n: values[n] for n in names if n not in fixed}
    if not trainable:
        raise ValueError(
            f"every parameter is frozen ({sorted(fixed)}): leave at least one trainable"
        )
    for n in names:
        if n in fixed:
            constants[n] = values[n].detach().to(torch.float64)
    return Adapted(
        fn,
        trainable,
        constants,
        sample_inputs,
        name=name,
        frozen=[n for n in names if n in fixed],
        fused_norms=fused_norms,
        module=module,
        base=base,
    )


def flat_names(model: FunctionalModel) -> list[tuple[str, tuple[int, ...]]]:
    """``(name, index)`` of every entry of the flat parameter vector, in order."""
    return [
        (name, index)
        for name, shape in model.shapes.items()
        for index in itertools.product(*map(range, shape))
    ]

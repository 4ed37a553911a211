"""Normalization layers evaluated by their composite formulas.

torch's fused ``layer_norm`` and ``instance_norm`` kernels have correct first and
second derivatives but silently wrong third and higher ones: their double
backward treats the saved mean and inverse standard deviation as constants
(pytorch/pytorch#175754, and #186256 for batch statistics). The certificate's
level-2 brackets are third derivatives of the model, so the adapter evaluates
both by the formulas below, which give the same values with exact derivatives.
``group_norm`` and ``rms_norm`` are correct as they are.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode


def _layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5, *_):
    dims = tuple(range(-len(tuple(normalized_shape)), 0))
    mean = x.mean(dims, keepdim=True)
    centred = x - mean
    var = (centred * centred).mean(dims, keepdim=True)
    y = centred * torch.rsqrt(var + eps)
    if weight is not None:
        y = y * weight
    return y if bias is None else y + bias


def _instance_norm(
    x,
    running_mean=None,
    running_var=None,
    weight=None,
    bias=None,
    use_input_stats=True,
    momentum=0.1,
    eps=1e-5,
):
    """``F.instance_norm``; composite when it normalizes by the input's own
    statistics, the fused op (affine in the input) otherwise."""
    if not use_input_stats:
        return F.instance_norm(
            x, running_mean, running_var, weight, bias, False, momentum, eps
        )
    dims = tuple(range(2, x.ndim))  # (batch, channels, *spatial)
    mean = x.mean(dims, keepdim=True)
    centred = x - mean
    y = centred * torch.rsqrt((centred * centred).mean(dims, keepdim=True) + eps)
    shape = (1, -1) + (1,) * len(dims)
    if weight is not None:
        y = y * weight.reshape(shape)
    return y if bias is None else y + bias.reshape(shape)


class CompositeNorms(TorchFunctionMode):
    """Evaluate ``layer_norm`` and ``instance_norm`` by their composite formulas
    (see the module's docstring) inside a ``with`` block."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is F.layer_norm or func is torch.layer_norm:
            return _layer_norm(*args, **kwargs)
        if func is F.instance_norm:
            return _instance_norm(*args, **kwargs)
        return func(*args, **kwargs)

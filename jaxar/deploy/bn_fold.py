"""Batch-norm folding, kernel re-layout and named access to trained variables.

An eval-mode BN ``y = (x - mean) / sqrt(var + eps) * scale + bias`` is the
per-channel affine map ``y = s * x + b`` with::

    s = scale / sqrt(var + eps)        b = bias - mean * s

so a linear op followed by BN equals the same op with its output channels
multiplied by ``s``, plus the bias ``b``. The arithmetic is done in float64
and rounded once to float32, so folding adds no error beyond one rounding.
``eps`` is :data:`BN_EPS`, which the training BN
(:class:`jaxar.modules.layers.BatchNorm`) reads from here.

Kernel layouts: the training model stores convs as in
:mod:`jaxar.ops.conv` (HWIO / ``(C_in, C_out)`` / ``(k_t, C)``); the deploy
graph uses ONNX ``OIHW``.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np

BN_EPS = 1e-5          # PyTorch's BatchNorm default; the training BN and the folding share it


def bn_affine(params: Mapping, stats: Mapping, eps: float = BN_EPS) -> tuple[np.ndarray, np.ndarray]:
    """``(s, b)`` of an eval-mode BN from its ``{"scale","bias"}`` params and
    ``{"mean","var"}`` batch statistics, each ``(C,)``; float64."""
    for key, tree in (("scale", params), ("bias", params), ("mean", stats), ("var", stats)):
        if key not in tree:
            raise KeyError(f"BatchNorm variables lack {key!r} (have {sorted(tree)})")
    scale = np.asarray(params["scale"], np.float64)
    var = np.asarray(stats["var"], np.float64)
    if np.any(var + eps <= 0):
        raise ValueError("BatchNorm running variance + eps is not positive; corrupt batch_stats?")
    s = scale / np.sqrt(var + eps)
    b = np.asarray(params["bias"], np.float64) - np.asarray(stats["mean"], np.float64) * s
    return s, b


def hwio_to_oihw(kernel) -> np.ndarray:
    """``(k, k, C_in/groups, C_out)`` -> ``(C_out, C_in/groups, k, k)``."""
    k = np.asarray(kernel, np.float64)
    if k.ndim != 4:
        raise ValueError(f"expected a 4-D HWIO kernel, got shape {k.shape}")
    return np.transpose(k, (3, 2, 0, 1))


def pointwise_to_oihw(kernel) -> np.ndarray:
    """``(C_in, C_out)`` -> ``(C_out, C_in, 1, 1)``."""
    k = np.asarray(kernel, np.float64)
    if k.ndim != 2:
        raise ValueError(f"expected a 2-D pointwise kernel, got shape {k.shape}")
    return k.T[:, :, None, None]


def fold_into_oihw(w_oihw: np.ndarray, s: np.ndarray, b: np.ndarray,
                   conv_bias: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Folds ``BN(conv(x) + conv_bias)`` into one conv: returns ``(w', b')``."""
    if w_oihw.shape[0] != s.shape[0]:
        raise ValueError(f"BN has {s.shape[0]} channels but the conv has {w_oihw.shape[0]} outputs")
    w = w_oihw * s[:, None, None, None]
    bias = b if conv_bias is None else b + s * np.asarray(conv_bias, np.float64)
    return w, bias


def f32(a) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(a, np.float64).astype(np.float32))


class Variables:
    """A module's slice of trained ``{"params", "batch_stats"}``, read by name.

    Errors name the full path (``stage2/block0/expand/primary/kernel``) so a
    checkpoint that does not belong to the config says where it differs.
    """

    def __init__(self, params: Mapping, stats: Mapping, path: str = ""):
        self.params, self.stats, self.path = params, stats, path

    @classmethod
    def of(cls, variables: Mapping) -> "Variables":
        if not isinstance(variables, Mapping) or "params" not in variables:
            got = sorted(variables) if isinstance(variables, Mapping) else type(variables).__name__
            raise ValueError(f"variables must be a mapping with 'params' and 'batch_stats' (got {got})")
        return cls(variables["params"], variables.get("batch_stats", {}))

    def _where(self, name: str) -> str:
        return f"{self.path}/{name}" if self.path else name

    def has(self, name: str) -> bool:
        return isinstance(self.params, Mapping) and name in self.params

    def child(self, name: str) -> "Variables":
        if not self.has(name):
            raise KeyError(f"variables lack {self._where(name)!r} (missing {name!r}); do they belong "
                           f"to this model config?")
        stats = self.stats.get(name, {}) if isinstance(self.stats, Mapping) else {}
        return Variables(self.params[name], stats, self._where(name))

    def param(self, name: str) -> np.ndarray:
        if not self.has(name):
            raise KeyError(f"variables lack {self._where(name)!r} (missing {name!r}); do they belong "
                           f"to this model config?")
        return np.asarray(self.params[name], np.float64)

    def bn(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """``(s, b)`` of the eval-mode BN ``name`` (float64)."""
        v = self.child(name)
        if not v.stats:
            raise KeyError(f"batch_stats lack {self._where(name)!r}")
        return bn_affine(v.params, v.stats)

    def conv_bn(self, conv: str, bn: str) -> dict[str, np.ndarray]:
        """Conv ``conv`` (HWIO or pointwise ``(C_in, C_out)`` kernel) followed by
        BN ``bn`` as one OIHW conv with bias: ``{"w", "b"}`` float32."""
        kernel = self.child(conv).param("kernel")
        w = pointwise_to_oihw(kernel) if kernel.ndim == 2 else hwio_to_oihw(kernel)
        w, b = fold_into_oihw(w, *self.bn(bn))
        return {"w": f32(w), "b": f32(b)}

    def dense(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """``(kernel (C_in, C_out), bias)`` of a dense layer (float64)."""
        v = self.child(name)
        return v.param("kernel"), v.param("bias")


def count_params(tree: Mapping) -> int:
    """Number of scalars in a deploy tree (BN gone, so fewer than training)."""
    n = 0
    for v in tree.values():
        n += count_params(v) if isinstance(v, Mapping) else int(np.asarray(v).size)
    return n


"""Batch-norm folding and kernel re-layout (numpy, float64 internally).

An eval-mode BN ``y = (x - mean) / sqrt(var + eps) * scale + bias`` is the
per-channel affine map ``y = s * x + b`` with::

    s = scale / sqrt(var + eps)        b = bias - mean * s

so a linear op followed by BN equals the same op with its output channels
multiplied by ``s``, plus the bias ``b``. The arithmetic is done in float64
and rounded once to float32, so folding adds no error beyond one rounding.

Kernel layouts: the training model stores convs as in
:mod:`jaxar.ops.conv` (HWIO / ``(C_in, C_out)`` / ``(k_t, C)``); the deploy
graph uses ONNX ``OIHW``.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np

BN_EPS = 1e-5   # jaxar.modules.layers.batch_norm


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

"""The frozen raw-frame teacher of CD-KD and its per-frame features ``h_t``.

A teacher is any jaxar checkpoint (:func:`jaxar.checkpoint.restore_inference`)
whose family keeps the time axis up to a known per-frame feature layer:

* TSM-ResNet (``tsm_resnet*``, ARC excluded): the output of the last stage,
  ``(N, T, h, w, 4 x width)`` (2048 channels for ResNet-50);
* TSM-MobileNetV2: the output of ``head_proj`` (``last_width`` channels);
* X3D-UGT (:class:`jaxar.models.x3d_ugt.X3DUGTConfig`): the output of ``head_proj``,
  the Ghost projection to ``head_width`` before the spatio-temporal pooling
  (no temporal stride in X3D-UGT, so one map per input frame).

``h_t`` is that map averaged over space, ``(N, T, D)`` float32: the input of
the teacher's classifier for frame ``t`` (the last layer that still has one
vector per frame, and the most class-specific one). The layer is captured with
Flax's ``capture_intermediates`` from the unmodified family module.

Frozen: :meth:`Teacher.features` runs the module with ``train=False`` (BN on
its running statistics, no ``mutable`` collections, so nothing can update
them) and wraps its output in ``jax.lax.stop_gradient``; the teacher's
variables are a separate argument of the train step, never part of the
student's :class:`jaxar.train.state.TrainState`, so the optimizer cannot see
them. ``tests/test_cdkd_distill.py`` checks both.

The teacher runs on the clip's decoded frames ``(N, T, S, S, 3)`` at the
student's ``T`` and ``S`` (the families are fully convolutional and their
temporal shift / convolutions take any ``T``); its trained ``frames`` /
``size`` need not match.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Mapping

import jax
import jax.numpy as jnp


def feature_layer_of(config: Any) -> str:
    """Name of the top-level module of ``config``'s network that gives per-frame maps."""
    from jaxar.models.cdkd import feature_layer
    family = config.family
    if family == "x3d_ugt":
        return "head_proj"
    if family in ("tsm_resnet", "tsm_mobilenetv2"):
        return feature_layer(config)
    raise ValueError(f"a CD-KD teacher must keep one feature map per frame (TSM-ResNet, "
                     f"TSM-MobileNetV2 or X3D-UGT); {type(config).__name__} (family "
                     f"{family!r}) has no such layer here")


@dataclasses.dataclass(frozen=True, eq=False)
class Teacher:
    config: Any
    variables: Mapping            # {"params", "batch_stats"}; held outside the student's state
    origin: str = ""

    def __post_init__(self):
        feature_layer_of(self.config)

    @classmethod
    def from_checkpoint(cls, path: str | Path) -> "Teacher":
        from jaxar.checkpoint import restore_inference
        record = restore_inference(path)
        return cls(record.config, record.variables, record.origin)

    @property
    def module(self):
        from jaxar.deploy import model_for
        return model_for(self.config)

    def features(self, variables: Mapping, frames: jax.Array) -> jax.Array:
        """``(N, T, S, S, 3)`` decoded frames -> ``h (N, T, D)`` float32, no gradient."""
        layer = feature_layer_of(self.config)
        _, state = self.module.apply(
            variables, frames, train=False, mutable=["intermediates"],
            capture_intermediates=lambda mdl, name: name == "__call__" and mdl.name == layer)
        found = state["intermediates"].get(layer, {}).get("__call__")
        if not found:
            raise ValueError(f"teacher {type(self.config).__name__} produced no {layer!r} output")
        maps = found[0]
        if maps.ndim != 5 or maps.shape[1] != frames.shape[1]:
            raise ValueError(f"teacher layer {layer!r} gives {maps.shape}, not one (h, w, C) map per "
                             f"input frame (T={frames.shape[1]})")
        return jax.lax.stop_gradient(jnp.mean(maps.astype(jnp.float32), axis=(2, 3)))

    def feature_dim(self, frames: int, size: int) -> int:
        x = jax.ShapeDtypeStruct((1, frames, size, size, 3), jnp.float32)
        return int(jax.eval_shape(lambda v, x: self.features(v, x), self.variables, x).shape[-1])

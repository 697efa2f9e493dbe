"""The frozen raw-frame teacher of CD-KD and its per-frame features ``h_t``.

A teacher is any jaxar checkpoint (:func:`jaxar.checkpoint.restore_inference`)
of an RGB family that declares where its network keeps one feature map per
input frame (:meth:`jaxar.models.base.ModelConfigBase.frame_features`, a
:class:`~jaxar.models.base.FrameFeatures`: module path, width, activation):

==================  ==========================================  ==================
family              per-frame map ``(N, T, h, w, C)``           ``C``
==================  ==========================================  ==================
X3D-UGT             ``head_proj`` (Ghost projection)            ``head_width``
X3D (XS/S/M)        ``head/conv_bn`` + ReLU (head 1x1x1 conv)   ``head_width``
TSM-ResNet, ARC     last stage                                  4 x width (bottleneck)
TSM-MobileNetV2     ``head_proj``                               ``last_width``
EAN (RGB)           ``layer4`` (``eab5`` if present)            4 x last width
==================  ==========================================  ==================

Refused, with the family's reason (:class:`jaxar.models.base.NoFrameFeaturesError`):
EAN with the Latent Motion Code (one map per 5-frame segment) and the CD-KD
students themselves (compressed-domain input).

``h_t`` is that map averaged over space, ``(N, T, C)`` float32: the last
layer that still has one vector per frame (for the TSM families and EAN the
input of the per-frame / pooled classifier; for the X3D families the map the
spatio-temporal pooling reads). It is captured with Flax's
``capture_intermediates`` from the unmodified family module.

Frozen: :meth:`Teacher.features` runs the module with ``train=False`` (BN on
its running statistics, no ``mutable`` collections except the captured
intermediates, so nothing can update them) and wraps its output in
``jax.lax.stop_gradient``; the teacher's variables are a separate argument of
the train step, never part of the student's
:class:`jaxar.train.state.TrainState`, so the optimizer cannot see them.
``tests/test_cdkd_distill.py`` checks both.

The teacher runs on the clip's decoded frames ``(N, T, S, S, 3)`` at the
student's ``T`` and ``S`` (the families are fully convolutional and their
temporal shift / convolutions take any ``T``; EAN needs its own ``frames``);
its trained ``frames`` / ``size`` need not match.

:func:`teacher_width` reads the width ``C`` from a checkpoint's model config
alone (no weights loaded): the distillation config fills
``model.teacher_features`` with it (:func:`jaxar.distill.config.resolve_teacher_features`).
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Mapping

import jax
import jax.numpy as jnp

from jaxar.models.base import FrameFeatures, NoFrameFeaturesError

ACTIVATIONS = {"": lambda x: x, "relu": jax.nn.relu, "relu6": lambda x: jnp.clip(x, 0.0, 6.0)}


def frame_features_of(config: Any) -> FrameFeatures:
    """The per-frame feature layer a teacher with model config ``config`` exposes;
    :class:`NoFrameFeaturesError` naming the family and why it cannot teach."""
    if getattr(config, "input_domain", "rgb") != "rgb":
        raise NoFrameFeaturesError(
            f"{type(config).__name__} cannot be a CD-KD teacher: its input domain is "
            f"{config.input_domain!r}, a teacher sees decoded RGB frames")
    try:
        return config.frame_features()
    except NoFrameFeaturesError as e:
        raise NoFrameFeaturesError(f"{type(config).__name__} cannot be a CD-KD teacher: {e}") from e


def feature_layer_of(config: Any) -> str:
    """``"/"``-joined module path of ``config``'s per-frame feature layer (e.g. ``"stage4"``)."""
    return "/".join(frame_features_of(config).path)


def teacher_width(path: str | Path) -> int:
    """Width ``C`` of the per-frame features of the teacher checkpoint at ``path``
    (work directory or step directory), from its model config only."""
    from jaxar.checkpoint import read_meta, resolve_checkpoint
    from jaxar.registry import config_from_json
    step_dir = resolve_checkpoint(path)
    meta = read_meta(step_dir)
    if "model_config" not in meta:
        raise ValueError(f"{step_dir}/meta: missing 'model_config'; was it written by jaxar.train?")
    return frame_features_of(config_from_json(meta["model_config"], where=str(step_dir))).width


@dataclasses.dataclass(frozen=True, eq=False)
class Teacher:
    config: Any
    variables: Mapping            # {"params", "batch_stats"}; held outside the student's state
    origin: str = ""

    def __post_init__(self):
        frame_features_of(self.config)

    @classmethod
    def from_checkpoint(cls, path: str | Path) -> "Teacher":
        from jaxar.checkpoint import restore_inference
        record = restore_inference(path)
        return cls(record.config, record.variables, record.origin)

    @property
    def module(self):
        from jaxar.deploy import model_for
        return model_for(self.config)

    @property
    def width(self) -> int:
        """Channels ``C`` of ``h_t`` (the family's declared width)."""
        return frame_features_of(self.config).width

    def features(self, variables: Mapping, frames: jax.Array) -> jax.Array:
        """``(N, T, S, S, 3)`` decoded frames -> ``h (N, T, C)`` float32, no gradient."""
        spec = frame_features_of(self.config)
        path = tuple(spec.path)
        _, state = self.module.apply(
            variables, frames, train=False, mutable=["intermediates"],
            capture_intermediates=lambda mdl, name: name == "__call__" and tuple(mdl.path) == path)
        found: Any = state["intermediates"]
        for name in path:
            found = found.get(name, {}) if isinstance(found, Mapping) else {}
        found = found.get("__call__") if isinstance(found, Mapping) else None
        where = "/".join(path)
        if not found:
            raise ValueError(f"teacher {type(self.config).__name__} produced no {where!r} output")
        maps = ACTIVATIONS[spec.activation](found[0])
        if maps.ndim != 5 or maps.shape[1] != frames.shape[1] or maps.shape[-1] != spec.width:
            raise ValueError(f"teacher layer {where!r} gives {maps.shape}, not one (h, w, "
                             f"{spec.width}) map per input frame (T={frames.shape[1]})")
        return jax.lax.stop_gradient(jnp.mean(maps.astype(jnp.float32), axis=(2, 3)))

    def feature_dim(self, frames: int, size: int) -> int:
        """``C`` as the traced network gives it for ``(1, frames, size, size, 3)`` input."""
        x = jax.ShapeDtypeStruct((1, frames, size, size, 3), jnp.float32)
        return int(jax.eval_shape(lambda v, x: self.features(v, x), self.variables, x).shape[-1])

"""Deploy form of a jaxar network (pytorchvideo's "deployable blocks" pattern).

The training form (e.g. :class:`jaxar.models.x3d_ugt.X3DUGT`: BN, dropout,
channels-last video) and the deploy form compute the same function::

    from jaxar.deploy import DeployModel
    dm = DeployModel.from_variables(config, variables)     # BN folded, TAda beta folded
    logits = dm(x_ntchw)                                    # (N, T, 3, H, W) -> (N, classes)
    logits = dm.apply_channels_last(x)                      # (N, T, H, W, 3), like the training form
    dm = DeployModel.from_variables(config, variables, layout="frames-major")

It is what the exporters trace (``dm.as_function()``). Every model family
provides it the same way:

**Per block.** Next to each training module (a ``flax.linen.Module`` in
``jaxar/modules`` or ``jaxar/models``: UIB-3D, Ghost, TAda, SE, the X3D
bottleneck, the TSM basic/bottleneck block, the inverted residual, the ARC
conv, the conv layers) live two ``@nn.nowrap`` methods:

* ``deploy_params(self, v: Variables) -> dict`` -- folds the block's own
  trained variables (``v`` is :class:`jaxar.deploy.bn_fold.Variables`, the
  block's slice of ``{"params", "batch_stats"}``: ``v.conv_bn(conv, bn)``,
  ``v.bn(name)``, ``v.dense(name)``, ``v.child(name)``) into a nested dict of
  float32 numpy arrays (OIHW kernels, BN folded, dead channels trimmed); a
  conv layer followed by a BN beside it takes ``(v_parent, bn_name)``;
* ``deploy_apply(self, p: dict, x: Act) -> Act`` -- the block's forward on a
  :class:`jaxar.deploy.ops.Act` using only :mod:`jaxar.deploy.ops` (the
  channels-first 4-D op library; it handles both layouts, so blocks are
  written once).

Both read the block's wiring (stride, sub-modules, shortcut rule, activation
names) from the same attributes and ``nowrap`` helpers the training
``__call__`` uses -- the module instance itself: an unbound copy made by the
same factory as in training (e.g. :func:`jaxar.models.x3d_ugt.stage_blocks`),
so nothing is restated. Sub-blocks are converted by calling their own methods
(``UIB3D`` calls ``GhostPointwise``, ``TAdaGate``, ``SqueezeExcite``).
Parameter-free ops pair a training function with a deploy one in the same file
(``temporal_shift``/``deploy_temporal_shift``, ``simam``/``deploy_simam``).

**Per network.** :func:`model_for` is ``config.build()``, the family's Flax
module. It lists its parts in execution order (``deploy_parts()``, see
:mod:`jaxar.deploy.network`) and inherits from
:class:`jaxar.deploy.network.DeployNetwork` the two methods of the protocol:

* ``deploy_params(self, variables) -> tree`` -- every part's
  ``deploy_params`` (the tree's keys follow the training parameter tree);
* ``deploy_apply(self, params, x, layout) -> logits`` -- ``x`` is
  ``(N, T, 3, H, W)`` float32; the stem part runs per frame on
  ``(N*T, 3, H, W)`` and makes the :class:`Act` of ``layout``, then every
  block's ``deploy_apply``, then the head's.

``tests/test_deploy_equivalence.py`` checks deploy == training for every
registered variant in both layouts (a new family is covered by registering
its variants).
"""
from __future__ import annotations

import dataclasses
from typing import Any, Mapping

import jax
import jax.numpy as jnp

from jaxar.deploy.bn_fold import Variables, count_params
from jaxar.deploy.ops import LAYOUTS, Act, check_layout

__all__ = ["DeployModel", "deploy_apply", "reparameterize", "count_params", "model_for",
           "Variables", "Act", "LAYOUTS"]


def model_for(config: Any):
    """The network module of ``config`` (``config.build()``), checked to
    provide ``deploy_params`` and ``deploy_apply``."""
    build = getattr(config, "build", None)
    if not callable(build):
        raise TypeError(f"no deploy form for config type {type(config).__name__}: it has no build() "
                        f"(model configs derive from jaxar.models.base.ModelConfigBase)")
    model = build()
    for name in ("deploy_params", "deploy_apply"):
        if not callable(getattr(model, name, None)):
            raise TypeError(f"{type(model).__name__} has no {name}(); see jaxar.deploy for the "
                            f"deploy-form protocol")
    return model


def reparameterize(config: Any, variables: Mapping) -> dict:
    """Folds trained ``{"params", "batch_stats"}`` into the deploy parameter tree
    (float32 numpy; layout-independent). Pure numpy; no tracing."""
    return model_for(config).deploy_params(variables)


def deploy_apply(config: Any, params: Mapping, x: jax.Array, layout: str = "channels-major") -> jax.Array:
    """Deploy-form forward: ``(N, T, 3, H, W)`` -> logits ``(N, num_classes)``."""
    return model_for(config).deploy_apply(params, x, check_layout(layout))


_jit_apply = jax.jit(deploy_apply, static_argnames=("config", "layout"))


@dataclasses.dataclass(frozen=True, eq=False)   # identity hash: usable as a jit static
class DeployModel:
    config: Any
    params: Mapping            # folded float32 numpy tree (reparameterize)
    layout: str = "channels-major"

    def __post_init__(self):
        check_layout(self.layout)

    @classmethod
    def from_variables(cls, config: Any, variables: Mapping, layout: str = "channels-major") -> "DeployModel":
        """``layout``: ``"channels-major"`` (default; ``(N, C, T, H*W)``, depthwise
        kernels repeated per frame) or ``"frames-major"`` (``(N*T, C, H, W)``, one
        copy of each kernel, only temporal ops see time); see :mod:`jaxar.deploy.ops`."""
        return cls(config, reparameterize(config, variables), layout)

    def __call__(self, x: jax.Array) -> jax.Array:
        """``(N, T, 3, H, W)`` float32 -> logits ``(N, num_classes)``.

        Jitted with the params as arguments (closing over them as constants
        makes XLA's CPU compile constant-fold every weight: minutes, not seconds).
        """
        return _jit_apply(self.config, self.params, x, layout=self.layout)

    def as_function(self):
        """``fn(x)`` with the folded weights closed over, for exporters
        (jax2onnx makes them initializers, jax2tf constants)."""
        model, params, layout = model_for(self.config), self.params, self.layout
        return lambda x: model.deploy_apply(params, x, layout)

    def apply_channels_last(self, x: jax.Array) -> jax.Array:
        """Same, on the training layout ``(N, T, H, W, 3)`` (one transpose first)."""
        return self(jnp.transpose(x, (0, 1, 4, 2, 3)))

    @property
    def num_params(self) -> int:
        """Values in the folded tree, the exact-zero alignment channels of
        the expanded width included (so more than the training form's
        parameters less its BN statistics)."""
        return count_params(self.params)

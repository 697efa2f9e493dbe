"""Deploy form of X3D-UGT (pytorchvideo/timm ``reparameterize`` style).

The training form is :class:`jaxar.network.X3DUGT` (BN, dropout, channels-last
video). The deploy form is separate and explicit::

    from jaxar.deploy import DeployModel
    dm = DeployModel.from_variables(config, variables)   # BN folded, TAda beta folded
    logits = dm(x_ntchw)                                  # (N, T, 3, H, W) -> (N, classes)
    logits = dm.apply_channels_last(x)                    # (N, T, H, W, 3), like X3DUGT

It is what the exporters trace (:mod:`export.pipeline`). See
:mod:`jaxar.deploy.network` for the graph and
:mod:`jaxar.deploy.reparameterize` for the folding rules.
"""
from __future__ import annotations

import dataclasses
from typing import Mapping

import jax
import jax.numpy as jnp

from jaxar.config import ModelConfig
from jaxar.deploy.network import deploy_apply
from jaxar.deploy.reparameterize import count_params, reparameterize


def _apply(config, params, x):
    build = getattr(config, "build", None)      # other model families own their deploy form
    if callable(build):
        return build().deploy_apply(params, x)
    return deploy_apply(config, params, x)


_jit_apply = jax.jit(_apply, static_argnums=0)

__all__ = ["DeployModel", "deploy_apply", "reparameterize", "count_params"]


@dataclasses.dataclass(frozen=True, eq=False)   # identity hash: usable as a jit static
class DeployModel:
    config: ModelConfig
    params: Mapping            # folded float32 numpy tree (reparameterize)

    @classmethod
    def from_variables(cls, config: ModelConfig, variables: Mapping) -> "DeployModel":
        build = getattr(config, "build", None)
        if callable(build):
            return cls(config, build().deploy_params(variables))
        return cls(config, reparameterize(config, variables))

    def __call__(self, x: jax.Array) -> jax.Array:
        """``(N, T, 3, H, W)`` float32 -> logits ``(N, num_classes)``.

        Jitted with the params as arguments (closing over them as constants
        makes XLA's CPU compile constant-fold every weight: minutes, not seconds).
        """
        return _jit_apply(self.config, self.params, x)

    def as_function(self):
        """``fn(x)`` with the folded weights closed over, for exporters
        (jax2onnx makes them initializers, jax2tf constants)."""
        config, params = self.config, self.params
        return lambda x: _apply(config, params, x)

    def apply_channels_last(self, x: jax.Array) -> jax.Array:
        """Same, on the training layout ``(N, T, H, W, 3)`` (one transpose first)."""
        return self(jnp.transpose(x, (0, 1, 4, 2, 3)))

    @property
    def num_params(self) -> int:
        return count_params(self.params)

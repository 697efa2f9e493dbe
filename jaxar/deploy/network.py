"""The one walker that converts and runs a whole network's deploy form.

A network module lists its deployable parts in execution order
(``deploy_parts() -> list[Part]``); :class:`DeployNetwork` (a mixin for the
network's Flax module) gives it the protocol of :mod:`jaxar.deploy` from that
list alone, as pytorchvideo's ``convert_to_deployable_form`` walks a module
tree:

* ``deploy_params(variables)`` -- for each part with a ``key``,
  ``part.block.deploy_params(v)`` on the part's slice ``v`` of the trained
  ``{"params", "batch_stats"}`` (a :class:`~jaxar.deploy.bn_fold.Variables`
  at ``scope``, which defaults to ``key``), stored at ``key`` in the deploy
  tree;
* ``deploy_apply(params, x, layout)`` -- ``x`` ``(N, T, 3, H, W)`` is
  checked and cast to float32; the first part (the stem) runs
  ``deploy_apply(p, x, layout)`` and returns a :class:`~jaxar.deploy.ops.Act`;
  every later part ``deploy_apply(p, a)``; the last one (the head) returns
  the logits ``(N, num_classes)``.

A block's own ``deploy_params`` / ``deploy_apply`` live next to its training
``__call__`` and read the same wiring (see :mod:`jaxar.deploy`).
Parameter-free steps between blocks (SimAM, a max-pool) are :class:`Op`
parts (``key=None``: no deploy parameters).
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, Mapping, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxar.deploy.bn_fold import Variables
from jaxar.deploy.ops import Act, check_layout, from_frames, pooled_vector


@dataclasses.dataclass(frozen=True)
class Part:
    """One deployable step of a network.

    ``key``: path of its parameters in the deploy tree (``None``: it has none);
    ``scope``: path of its trained variables when not ``key`` (``()``: the
    network's root, for a stem whose conv and BN sit there side by side)."""
    key: tuple[str, ...] | None
    block: Any
    scope: tuple[str, ...] | None = None

    @property
    def variables_path(self) -> tuple[str, ...]:
        return self.key if self.scope is None else self.scope


@dataclasses.dataclass(frozen=True)
class Op:
    """A parameter-free deploy step ``fn(a: Act) -> Act`` (use with ``key=None``)."""
    fn: Callable[[Act], Act]

    def deploy_params(self, v: Variables) -> None:
        return None

    def deploy_apply(self, p: None, a: Act) -> Act:
        return self.fn(a)


def _identity(x):
    return x


def _at(v: Variables, path: Sequence[str]) -> Variables:
    for name in path:
        v = v.child(name)
    return v


def _get(tree: Mapping, path: Sequence[str], where: str = "deploy params"):
    node = tree
    for name in path:
        if not isinstance(node, Mapping) or name not in node:
            raise KeyError(f"{where} lack {'/'.join(path)!r}; were they made for this config?")
        node = node[name]
    return node


def convert(parts: Sequence[Part], variables: Mapping) -> dict:
    """Trained variables -> deploy tree, one part at a time (float32 numpy)."""
    v = Variables.of(variables)
    tree: dict = {}
    for part in parts:
        if part.key is None:
            continue
        node = tree
        for name in part.key[:-1]:
            node = node.setdefault(name, {})
        node[part.key[-1]] = part.block.deploy_params(_at(v, part.variables_path))
    return tree


def run(parts: Sequence[Part], params: Mapping, x: jax.Array, layout: str):
    """The deploy forward over ``parts`` (see the module docstring)."""
    a: Any = x
    for i, part in enumerate(parts):
        p = None if part.key is None else _get(params, part.key)
        a = part.block.deploy_apply(p, a, layout) if i == 0 else part.block.deploy_apply(p, a)
    return a


class DeployNetwork:
    """Mixin for a network's Flax module (``self.config`` its family config):
    the deploy protocol from its ``deploy_parts()``."""

    @nn.nowrap
    def deploy_parts(self) -> list[Part]:
        raise NotImplementedError(f"{type(self).__name__} lists no deploy_parts()")

    @nn.nowrap
    def deploy_params(self, variables: Mapping) -> dict:
        """Trained ``{"params", "batch_stats"}`` -> folded float32 numpy tree."""
        return convert(self.deploy_parts(), variables)

    @nn.nowrap
    def deploy_apply(self, params: Mapping, x: jax.Array, layout: str = "channels-major") -> jax.Array:
        """``(N, T, 3, H, W)`` float32 -> logits ``(N, num_classes)``."""
        frames = self.config.frames
        if x.ndim != 5 or x.shape[2] != 3 or x.shape[1] != frames:
            raise ValueError(f"{type(self).__name__} deploy form expects (N, {frames}, 3, H, W) "
                             f"clips (channels-first frames), got shape {tuple(x.shape)}")
        return run(self.deploy_parts(), params, jnp.asarray(x).astype(jnp.float32), check_layout(layout))


@dataclasses.dataclass(frozen=True)
class StemConv:
    """Deploy part of a per-frame stem: the conv module ``conv`` (a
    :class:`~jaxar.modules.layers.SpatialConv` or an ARC conv, named as in the
    parameter tree) followed by the BN ``bn`` beside it, then ``act``.

    ``deploy_apply(p, x, layout)``: ``x`` ``(N, T, 3, H, W)`` -> the conv per
    frame on ``(N*T, 3, H, W)`` -> an :class:`Act` of ``layout`` (the 3-D
    networks' one Transpose); ``frames_only=True`` (2-D frame networks, which
    are frames-major throughout) ignores ``layout``."""
    conv: Any
    bn: str
    act: Callable = _identity
    frames_only: bool = False

    def deploy_params(self, v: Variables) -> dict:
        return self.conv.deploy_params(v, self.bn)

    def deploy_apply(self, p: Mapping, x: jax.Array, layout: str) -> Act:
        _, t, c, h, w = x.shape
        a = Act(x.reshape(-1, c, h, w), c, t, h, w, "frames-major", "planes")
        a = self.conv.deploy_apply(p, a)
        a = a.replace(self.act(a.data))
        if self.frames_only or layout == "frames-major":
            return a
        return from_frames(a.data, t, layout)


@dataclasses.dataclass(frozen=True)
class Pooled:
    """Deploy part: clip mean ``(N, C)`` of the activation, then ``block``'s
    deploy form on it (a classifier's :meth:`Dense.deploy_apply`)."""
    block: Any

    def deploy_params(self, v: Variables):
        return self.block.deploy_params(v)

    def deploy_apply(self, p, a: Act):
        return self.block.deploy_apply(p, pooled_vector(a))

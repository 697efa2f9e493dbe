"""The deploy form of X3D-UGT: a pure function of (config, folded params, clip).

Input ``(N, T, 3, H, W)`` float32 (normalised RGB, channels-first per frame);
output logits ``(N, num_classes)`` float32. The stem runs per frame on
``(N*T, 3, H, W)``; one Transpose then switches to ``(N, C, T, H*W)``, where
every op is a 4-D Conv / elementwise / Slice / ReduceMean (see
:mod:`jaxar.deploy.ops` for the sequence and plane views). No BN, no dropout,
no grouped 3-D conv, no tensor above 4-D after the input. Per UIB block::

    x -> shift (Slice/Pad/Concat) -> [pre_dw: depthwise Conv on the plane view, BN folded]
      -> Ghost expand (Conv 1x1 + Relu, depthwise Conv + Relu, Concat)
      -> depthwise Conv 1xkxk (BN scale folded) -> depthwise Conv k_tx1 (time; BN
         shift as its bias, + Relu)   or, in T-UIB blocks, without bias, then
         * TAda calibration (ReduceMean, Conv 1x1, Relu, Conv k_tx1, Conv 1x1) + BN shift, Relu
      -> [SE] -> Ghost project -> + shortcut

It computes the same function as ``X3DUGT(config).apply(variables, x,
train=False)`` on the transposed input; ``tests/test_deploy_equivalence.py``
proves it for every registered variant. Build params with
:func:`jaxar.deploy.reparameterize.reparameterize`.
"""
from __future__ import annotations

from typing import Mapping

import jax
import jax.numpy as jnp

from jaxar.config import ModelConfig
from jaxar.deploy import ops


def activation(name: str):
    """The activation by name, looked up in ``jax.nn`` at call time (exporters
    such as jax2onnx patch ``jax.nn.relu`` while tracing to emit a single
    ``Relu``; a reference captured at import time would export as ``Max``)."""
    if name == "identity":
        return lambda x: x
    if name not in ("relu", "hard_swish", "swish"):
        raise ValueError(f"unknown activation {name!r}")
    return lambda x: getattr(jax.nn, name)(x)


def ghost(x: jax.Array, p: Mapping, features: int, ratio: int, act, height: int,
          stride: int = 1) -> tuple[jax.Array, int]:
    """Ghost pointwise on ``(N, C_in, T, H*W)`` -> ``((N, features, T, H'*W'), H')``.

    The cheap depthwise conv (channel multiplier ``ratio - 1``) only reads the
    primary channels whose outputs survive the final slice to ``features``.
    """
    y, height = ops.pointwise_strided(x, p["primary_w"], p["primary_b"], height, stride)
    y = act(y)
    m = y.shape[1]
    if "cheap_w" not in p or features <= m:
        return ops.channel_slice(y, 0, features), height
    used = p["cheap_w"].shape[0] // (ratio - 1)                        # input channels read
    g, _ = ops.depthwise_spatial(ops.channel_slice(y, 0, used), p["cheap_w"], p["cheap_b"], height)
    g = ops.channel_slice(act(g), 0, features - m)
    return jnp.concatenate([y, g], axis=1), height


def _tada(ctx: jax.Array, p: Mapping) -> jax.Array:
    """Calibration ``a = 1 + beta*g`` as ``(N, E, T, 1)`` from the expand output ``(N, E, T, S)``."""
    c = jnp.mean(ctx, axis=3, keepdims=True)                            # (N, E, T, 1)
    z = jax.nn.relu(ops.pointwise(c, ops.dense_as_conv(p["reduce_w"]), p["reduce_b"]))
    z = ops.temporal_conv(z, p["temporal_w"]) + jnp.asarray(p["temporal_b"]).reshape(1, -1, 1, 1)
    return ops.pointwise(z, ops.dense_as_conv(p["expand_w"]), p["expand_b"])


def _se(x: jax.Array, p: Mapping) -> jax.Array:
    s = jnp.mean(x, axis=(2, 3), keepdims=True)                         # (N, C, 1, 1)
    s = jax.nn.relu(ops.pointwise(s, ops.dense_as_conv(p["reduce_w"]), p["reduce_b"]))
    s = jax.nn.sigmoid(ops.pointwise(s, ops.dense_as_conv(p["expand_w"]), p["expand_b"]))
    return x * s


def uib_block(x: jax.Array, p: Mapping, cfg: ModelConfig, stage: int, stride: int,
              height: int) -> tuple[jax.Array, int]:
    """One UIB-3D / T-UIB block on ``(N, C_in, T, H*W)``; returns ``(y, H')``."""
    act = activation(cfg.activation)
    ident = activation("identity")
    r = cfg.ghost_ratio
    h = ops.temporal_shift(x, cfg.shift_div)
    mid_stride, hh = stride, height
    if "pre_dw" in p:
        h, hh = ops.depthwise_spatial(h, p["pre_dw"]["w"], p["pre_dw"]["b"], hh, stride)
        mid_stride = 1
    h, hh = ghost(h, p["expand"], cfg.expanded(stage), r, act, hh)
    ctx = h
    h, hh = ops.depthwise_spatial(h, p["dw_spatial"], None, hh, mid_stride)
    if "tada" in p:                                                     # (N, E, T, S)
        h = ops.temporal_conv(h, p["dw_temporal"]) * _tada(ctx, p["tada"])
        h = act(h + jnp.asarray(p["dw_bias"]).reshape(1, -1, 1, 1))
    else:                                                               # BN shift = conv bias
        h = act(ops.temporal_conv(h, p["dw_temporal"], p["dw_bias"]))
    if "se" in p:
        h = _se(h, p["se"])
    h, _ = ghost(h, p["project"], cfg.widths[stage - 1], r, ident, hh)
    if "shortcut" in p:
        x, _ = ghost(x, p["shortcut"], cfg.widths[stage - 1], r, ident, height, stride)
    return x + h, hh


def deploy_apply(config: ModelConfig, params: Mapping, x: jax.Array) -> jax.Array:
    """Deploy-form forward: ``(N, T, 3, H, W)`` -> logits ``(N, num_classes)``."""
    if x.ndim != 5 or x.shape[2] != 3 or x.shape[1] != config.frames:
        raise ValueError(f"deploy form expects (N, {config.frames}, 3, H, W) clips "
                         f"(channels-first frames), got shape {x.shape}")
    act = activation(config.activation)
    _, t, c, hh, ww = x.shape
    h = x.astype(jnp.float32).reshape(-1, c, hh, ww)                   # (N*T, 3, H, W)
    h = act(ops.conv(h, params["stem"]["w"], params["stem"]["b"], stride=(2, 2), padding=((1, 1), (1, 1))))
    _, c0, hh, ww = h.shape
    # the one layout switch: frames-major (N, T, C0, S) -> channels-major (N, C0, T, S)
    h = jnp.transpose(h.reshape(-1, t, c0, hh * ww), (0, 2, 1, 3))
    for s in range(1, len(config.widths) + 1):
        for b in range(config.depths[s - 1]):
            stride = config.strides[s - 1] if b == 0 else 1
            h, hh = uib_block(h, params[f"stage{s}"][f"block{b}"], config, s, stride, hh)
        if s in config.simam_stages:
            h = ops.simam(h, config.simam_pool, config.simam_lambda)
    h, _ = ghost(h, params["head_proj"], config.head_width, config.ghost_ratio, act, hh)
    pooled = jnp.mean(h, axis=(2, 3))                                   # (N, C_head)
    return ops.dense(pooled, params["classifier"]["w"], params["classifier"]["b"])

"""The deploy form of X3D-UGT: a pure function of (config, folded params, clip).

Input ``(N, T, 3, H, W)`` float32 (normalised RGB, channels-first per frame);
output logits ``(N, num_classes)`` float32. Internally every activation is a
4-D tensor in the frame view ``(N*T, C, H, W)`` or the clip view
``(N, T, C, H*W)`` (see :mod:`jaxar.deploy.ops`); the graph has no
Transpose, no grouped 3-D conv, no BN and no dropout. Per UIB block::

    x -> shift (Slice/Pad/Concat) -> [pre_dw Conv dw, BN folded]
      -> Ghost expand (Conv 1x1 + Relu, Conv dw + Relu, Concat)
      -> Conv dw 1xkxk (BN scale folded) -> 3 temporal taps (Pad, Slice, Mul, Add)
      -> [* TAda calibration (ReduceMean, Gemm, Relu, taps, Gemm)] -> + BN shift -> Relu
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


def ghost(x: jax.Array, p: Mapping, features: int, ratio: int, act, stride: int = 1) -> jax.Array:
    """Ghost pointwise on the frame view: ``(B, C_in, H, W) -> (B, features, H', W')``.

    The cheap depthwise conv (channel multiplier ``ratio - 1``) only reads the
    primary channels whose outputs survive the final slice to ``features``.
    """
    y = act(ops.conv2d(x, p["primary_w"], p["primary_b"], stride=stride))
    m = y.shape[1]
    if "cheap_w" not in p or features <= m:
        return ops.channel_slice(y, 0, features)
    used = p["cheap_w"].shape[0] // (ratio - 1)                        # input channels read
    src = ops.channel_slice(y, 0, used)
    g = act(ops.conv2d(src, p["cheap_w"], p["cheap_b"], groups=used))
    g = ops.channel_slice(g, 0, features - m)
    return jnp.concatenate([y, g], axis=1)


def _tada(ctx: jax.Array, p: Mapping, frames: int) -> jax.Array:
    """Calibration ``a = 1 + beta*g`` as ``(N, T, E, 1)`` from the expand output
    (frame view ``(N*T, E, H, W)``)."""
    c = jnp.mean(ctx, axis=(2, 3))                                      # (N*T, E)
    z = jax.nn.relu(ops.dense(c, p["reduce_w"], p["reduce_b"]))         # (N*T, h)
    h = z.shape[1]
    z = ops.temporal_taps(z.reshape(-1, frames, h, 1), p["temporal_w"])
    z = z + jnp.asarray(p["temporal_b"]).reshape(1, 1, h, 1)
    a = ops.dense(z.reshape(-1, h), p["expand_w"], p["expand_b"])       # (N*T, E)
    return a.reshape(-1, frames, a.shape[1], 1)


def _se(x: jax.Array, p: Mapping, frames: int) -> jax.Array:
    s = ops.clip_mean(x, frames)                                        # (N, C)
    s = jax.nn.relu(ops.dense(s, p["reduce_w"], p["reduce_b"]))
    s = jax.nn.sigmoid(ops.dense(s, p["expand_w"], p["expand_b"]))
    _, c, hh, ww = x.shape
    v = ops.to_clip(x, frames) * s.reshape(-1, 1, c, 1)
    return ops.to_frames(v, hh, ww)


def uib_block(x: jax.Array, p: Mapping, cfg: ModelConfig, stage: int, stride: int) -> jax.Array:
    """One UIB-3D / T-UIB block on the frame view ``(N*T, C_in, H, W)``."""
    act = activation(cfg.activation)
    ident = activation("identity")
    t, r = cfg.frames, cfg.ghost_ratio
    h = ops.temporal_shift(x, t, cfg.shift_div)
    mid_stride = stride
    if "pre_dw" in p:
        h = ops.conv2d(h, p["pre_dw"]["w"], p["pre_dw"]["b"], stride=stride, groups=h.shape[1])
        mid_stride = 1
    h = ghost(h, p["expand"], cfg.expanded(stage), r, act)
    ctx = h
    h = ops.conv2d(h, p["dw_spatial"], stride=mid_stride, groups=h.shape[1])
    _, e, hh, ww = h.shape
    v = ops.temporal_taps(ops.to_clip(h, t), p["dw_temporal"])          # (N, T, E, H*W)
    if "tada" in p:
        v = v * _tada(ctx, p["tada"], t)
    v = act(v + jnp.asarray(p["dw_bias"]).reshape(1, 1, e, 1))
    h = ops.to_frames(v, hh, ww)
    if "se" in p:
        h = _se(h, p["se"], t)
    h = ghost(h, p["project"], cfg.widths[stage - 1], r, ident)
    shortcut = ghost(x, p["shortcut"], cfg.widths[stage - 1], r, ident, stride) if "shortcut" in p else x
    return shortcut + h


def deploy_apply(config: ModelConfig, params: Mapping, x: jax.Array) -> jax.Array:
    """Deploy-form forward: ``(N, T, 3, H, W)`` -> logits ``(N, num_classes)``."""
    if x.ndim != 5 or x.shape[2] != 3 or x.shape[1] != config.frames:
        raise ValueError(f"deploy form expects (N, {config.frames}, 3, H, W) clips "
                         f"(channels-first frames), got shape {x.shape}")
    act = activation(config.activation)
    _, t, c, hh, ww = x.shape
    h = x.astype(jnp.float32).reshape(-1, c, hh, ww)                   # (N*T, 3, H, W)
    h = act(ops.conv2d(h, params["stem"]["w"], params["stem"]["b"], stride=2))
    for s in range(1, len(config.widths) + 1):
        for b in range(config.depths[s - 1]):
            stride = config.strides[s - 1] if b == 0 else 1
            h = uib_block(h, params[f"stage{s}"][f"block{b}"], config, s, stride)
        if s in config.simam_stages:
            h = ops.simam(h, t, config.simam_pool, config.simam_lambda)
    h = ghost(h, params["head_proj"], config.head_width, config.ghost_ratio, act)
    pooled = ops.clip_mean(h, t)                                        # (N, C_head)
    return ops.dense(pooled, params["classifier"]["w"], params["classifier"]["b"])

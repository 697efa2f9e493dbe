"""X3D-UGT assembled from a :class:`~jaxar.config.ModelConfig`.

Input ``(N, T, H, W, 3)`` float (normalised RGB, channels-last); output
logits ``(N, num_classes)`` float32.

    stem:    1x3x3 conv, stride (1,2,2) -> BN -> act
    stage s: depths[s] UIB-3D blocks (T-UIB: TAda in the first K blocks of
             the TAda stages; SE in the SE stages); the first block of the
             stage strides by strides[s]; SimAM after the SimAM stages
    head:    Ghost 1x1x1 projection to head_width (BN, act) -> global average
             pool -> dropout -> linear classifier

Parameter tree: ``stem``, ``stem_bn``, ``stage{s}/block{b}/...``, ``head_proj``,
``classifier`` (see the block modules for the inner names).

The module list comes from :func:`stage_blocks` and :meth:`X3DUGT.head`, read
by both the training forward and the deploy form
(:meth:`X3DUGT.deploy_params`, :meth:`X3DUGT.deploy_apply`; see
:mod:`jaxar.deploy`), which walks the same blocks and calls each block's own
conversion and deploy apply.
"""
from __future__ import annotations

from typing import Mapping

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxar.config import DTYPES, ModelConfig
from jaxar.deploy import ops as dops
from jaxar.deploy.bn_fold import Variables, f32
from jaxar.modules.ghost import GhostPointwise
from jaxar.modules.layers import Dense, SpatialConv, activation, batch_norm
from jaxar.modules.simam import deploy_simam, simam
from jaxar.modules.squeeze_excite import make_divisible
from jaxar.modules.tada import tada_hidden
from jaxar.modules.uib import UIB3D
from jaxar.ops.conv import same_pad

STEM_STRIDE = 2


def stage_blocks(cfg: ModelConfig, s: int, train: bool = False) -> list[UIB3D]:
    """The UIB-3D blocks of stage ``s`` (1-based), named ``block{b}``."""
    expanded = cfg.expanded(s)
    se_hidden = make_divisible(expanded * cfg.se_ratio) if s in cfg.se_stages else 0
    blocks = []
    for b in range(cfg.depths[s - 1]):
        use_tada = s in cfg.tada_stages and b < cfg.tada_blocks
        stride = cfg.strides[s - 1] if b == 0 else 1
        blocks.append(UIB3D(
            out_channels=cfg.widths[s - 1], expanded=expanded, stride=stride,
            pre_dw=cfg.pre_dw == "all" or (cfg.pre_dw == "stride" and stride > 1),
            kernel_size=cfg.kernel_size, temporal_kernel=cfg.temporal_kernel,
            shift_div=cfg.shift_div, ghost_ratio=cfg.ghost_ratio,
            ghost_kernel=cfg.ghost_kernel, se_hidden=se_hidden,
            tada_hidden=tada_hidden(expanded, cfg.tada_reduction) if use_tada else 0,
            act=cfg.activation, train=train, dtype=DTYPES[cfg.dtype], impl=cfg.impl,
            name=f"block{b}"))
    return blocks


class Stage(nn.Module):
    """One stage: its UIB-3D blocks, then optional SimAM."""
    config: ModelConfig
    index: int                    # 1-based stage number
    train: bool = False

    @nn.compact
    def __call__(self, x):
        cfg, s = self.config, self.index
        for block in stage_blocks(cfg, s, self.train):
            x = block(x)
        if s in cfg.simam_stages:
            x = simam(x, cfg.simam_pool, cfg.simam_lambda)
        return x


class X3DUGT(nn.Module):
    config: ModelConfig

    @nn.nowrap
    def head(self, train: bool = False) -> GhostPointwise:
        cfg = self.config
        return GhostPointwise(cfg.head_width, cfg.ghost_ratio, cfg.ghost_kernel, 1, cfg.activation,
                              train, DTYPES[cfg.dtype], cfg.impl, name="head_proj")

    @nn.compact
    def __call__(self, x, train: bool = False):
        cfg = self.config
        if x.ndim != 5 or x.shape[-1] != 3:
            raise ValueError(f"X3DUGT expects (N, T, H, W, 3) clips, got shape {x.shape}")
        dtype = DTYPES[cfg.dtype]
        act = activation(cfg.activation)
        x = x.astype(dtype)
        x = SpatialConv(cfg.stem_width, 3, STEM_STRIDE, impl=cfg.impl, name="stem")(x)
        x = act(batch_norm(train, dtype, name="stem_bn")(x))
        for s in range(1, len(cfg.widths) + 1):
            x = Stage(cfg, s, train, name=f"stage{s}")(x)
        x = self.head(train)(x)
        x = jnp.mean(x, axis=(1, 2, 3))
        x = nn.Dropout(cfg.dropout, deterministic=not train)(x)
        x = Dense(cfg.num_classes, kernel_init=nn.initializers.normal(0.01), name="classifier")(x)
        return x.astype(jnp.float32)

    # -- deploy form (the hook of jaxar.deploy) --------------------------------
    @nn.nowrap
    def deploy_params(self, variables: Mapping) -> dict:
        """Trained ``{"params", "batch_stats"}`` -> folded float32 numpy tree:
        ``stem {w (C0,3,3,3), b}``, ``stage{s}/block{b}`` (:meth:`UIB3D.deploy_params`),
        ``head_proj`` (Ghost), ``classifier {w (C_head, classes), b}``."""
        cfg = self.config
        v = Variables.of(variables)
        tree: dict = {"stem": v.conv_bn("stem", "stem_bn")}
        for s in range(1, len(cfg.widths) + 1):
            vs = v.child(f"stage{s}")
            tree[f"stage{s}"] = {blk.name: blk.deploy_params(vs.child(blk.name))
                                 for blk in stage_blocks(cfg, s)}
        tree["head_proj"] = self.head().deploy_params(v.child("head_proj"))
        w, b = v.dense("classifier")
        tree["classifier"] = {"w": f32(w), "b": f32(b)}
        return tree

    @nn.nowrap
    def deploy_apply(self, params: Mapping, x: jax.Array, layout: str = "channels-major") -> jax.Array:
        """Deploy forward: ``(N, T, 3, H, W)`` float32 -> logits ``(N, num_classes)``.

        The stem runs per frame on ``(N*T, 3, H, W)``; then every block's
        :meth:`deploy_apply` on a :class:`jaxar.deploy.ops.Act` of ``layout``."""
        cfg = self.config
        if x.ndim != 5 or x.shape[2] != 3 or x.shape[1] != cfg.frames:
            raise ValueError(f"deploy form expects (N, {cfg.frames}, 3, H, W) clips "
                             f"(channels-first frames), got shape {tuple(x.shape)}")
        _, t, c, hh, ww = x.shape
        pad = same_pad(params["stem"]["w"].shape[-1])
        h = dops.conv(x.astype(jnp.float32).reshape(-1, c, hh, ww), params["stem"]["w"],
                      params["stem"]["b"], stride=(STEM_STRIDE, STEM_STRIDE), padding=(pad, pad))
        a = dops.from_frames(activation(cfg.activation)(h), t, layout)
        for s in range(1, len(cfg.widths) + 1):
            for blk in stage_blocks(cfg, s):
                a = blk.deploy_apply(params[f"stage{s}"][blk.name], a)
            if s in cfg.simam_stages:
                a = deploy_simam(a, cfg.simam_pool, cfg.simam_lambda)
        a = self.head().deploy_apply(params["head_proj"], a)
        return dops.dense(dops.pooled_vector(a), params["classifier"]["w"], params["classifier"]["b"])

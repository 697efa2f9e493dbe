"""The ARC conv layer (Lin, Zhao and Wu, "Adaptive Recursive Circle"), training
and deploy form; the network around it is :mod:`jaxar.models.arc`.

A ``kxk`` conv whose ``c`` output channels are produced in ``n`` steps of
``g = c/n`` channels; before each step after the first the layer input
evolves (the paper's Eqs. 2-5; see :mod:`jaxar.models.arc` for the
equations and the choices where the paper is silent)::

    X_i = phi(phi(X + We X + A(F)) + R(F)),   A(F) = Wa_F (maxpool_space(F) (+) maxpool_time(F)),
    R(F) = Wf_F F

Deploy form (:meth:`ARCConv.deploy_params` / :meth:`ARCConv.deploy_apply`):
frames-major ``(N*T, C_in, H, W)``; the BN after the conv is not folded into
it (the recursion reads the raw conv outputs, and a max-pool does not commute
with a negative BN scale), it stays a per-channel Mul + Add after the Concat.
"""
from __future__ import annotations

from typing import Mapping

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxar import macs
from jaxar.deploy import ops as dops
from jaxar.deploy.bn_fold import Variables, f32, hwio_to_oihw
from jaxar.modules.layers import conv_init
from jaxar.ops import conv as ops


def upsample_nearest(x: jax.Array, stride: int, height: int, width: int,
                     axes: tuple[int, int] = (2, 3)) -> jax.Array:
    """Repeats each pixel ``stride`` times along ``axes`` and crops to ``(height, width)``."""
    if stride == 1:
        return x
    for ax, size in zip(axes, (height, width)):
        x = jax.lax.slice_in_dim(jnp.repeat(x, stride, axis=ax), 0, size, axis=ax)
    return x


def _linear_init(fan_in: int):
    """PyTorch's default linear-layer init: ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``."""
    bound = 1.0 / np.sqrt(max(fan_in, 1))

    def init(key, shape, dtype=jnp.float32):
        return jax.random.uniform(key, shape, dtype, -bound, bound)
    return init


class ARCConv(nn.Module):
    """ARC-augmented ``kxk`` conv on ``(N, T, H, W, C_in)`` -> ``(N, T, H', W', features)``.

    Parameters: ``kernel (k, k, C_in, c)`` (the wrapped conv, HWIO), ``embed``
    ``We (C_in, C_in)``, ``attention`` ``Wa (c - g, C_in)``, ``fusion`` ``Wf (c - g, C_in)``
    (row ``m`` belongs to output channel ``m``; these are the transposes of the
    paper's ``C_in x c`` matrices).
    """
    features: int
    kernel_size: int = 3
    stride: int = 1
    steps: int = 4
    negative_slope: float = 0.01
    impl: str = "lowered"

    @nn.compact
    def __call__(self, x):
        n_, t, h, w, cin = x.shape
        c, n, k = self.features, self.steps, self.kernel_size
        if n < 1 or c % n:
            raise ValueError(f"{'/'.join(self.scope.path)}: {c} output channels cannot be made "
                             f"in {n} equal steps")
        g = c // n
        used = c - g
        kernel = self.param("kernel", conv_init, (k, k, cin, c), jnp.float32)
        embed = self.param("embed", nn.initializers.zeros, (cin, cin), jnp.float32)
        attention = self.param("attention", _linear_init(used), (used, cin), jnp.float32)
        fusion = self.param("fusion", nn.initializers.zeros, (used, cin), jnp.float32)
        dt = x.dtype
        phi = lambda v: nn.leaky_relu(v, self.negative_slope)           # noqa: E731
        base = x + ops.pointwise(x, embed.astype(dt))                    # X + We X, once
        outs, a_space, a_time, fused = [], 0.0, 0.0, 0.0
        for i in range(n):
            if i:
                f = outs[-1]                                             # the g newest channels
                rows = slice((i - 1) * g, i * g)
                wa, wf = attention[rows].astype(dt), fusion[rows].astype(dt)
                a_space = a_space + jnp.max(f, axis=(2, 3), keepdims=True) @ wa   # (N, T, 1, 1, C_in)
                a_time = a_time + jnp.max(f, axis=1, keepdims=True) @ wa          # (N, 1, H', W', C_in)
                fused = fused + ops.pointwise(f, wf)                               # (N, T, H', W', C_in)
                up = lambda v: upsample_nearest(v, self.stride, h, w)              # noqa: E731
                state = phi(phi(base + a_space + up(a_time)) + up(fused))
            else:
                state = x
            outs.append(ops.spatial_conv(state, kernel[..., i * g:(i + 1) * g].astype(dt),
                                         self.stride, 1, self.impl))
        y = jnp.concatenate(outs, axis=-1)
        ho, wo = y.shape[2], y.shape[3]
        macs.record(self.scope.path, n_ * t * ho * wo * c * k * k * cin      # the conv
                    + n_ * t * h * w * cin * cin                             # We X
                    + n_ * (t + ho * wo) * used * cin                        # Wa on pooled F
                    + n_ * t * ho * wo * used * cin)                         # Wf F
        return y

    @nn.nowrap
    def deploy_params(self, v: Variables, bn: str) -> dict:
        """This layer (``self.name`` in the parent's slice ``v``) and the BN ``bn``
        beside it::

            w (c, C_in, k, k) raw conv;  embed (C_in, C_in, 1, 1) = I + We;
            attention (C_in, c - g, 1, 1), fusion (C_in, c - g, 1, 1);
            scale, shift (c,): the BN as a per-channel affine
        """
        p = v.child(self.name)
        embed = p.param("embed")
        cin = embed.shape[0]
        s, b = v.bn(bn)
        return {"w": f32(hwio_to_oihw(p.param("kernel"))),
                "embed": f32((np.eye(cin) + embed).T[:, :, None, None]),
                "attention": f32(p.param("attention").T[:, :, None, None]),
                "fusion": f32(p.param("fusion").T[:, :, None, None]),
                "scale": f32(s), "shift": f32(b)}

    @nn.nowrap
    def deploy_apply(self, p: dict, a: dops.Act) -> dops.Act:
        """ARC conv + BN on a frames-major activation ``(N*T, C_in, H, W)``."""
        if a.layout != "frames-major":
            raise ValueError(f"{self.name}: the ARC conv runs on frames-major activations, got {a.layout}")
        y = deploy_arc_conv(a.view_as("planes"), p, self.stride, a.frames, self.steps, self.negative_slope)
        return a.replace(y, "planes", channels=y.shape[1], height=y.shape[2], width=y.shape[3])


def _upsample_4d(v: jax.Array, stride: int, height: int, width: int) -> jax.Array:
    """Nearest upsampling of ``(B, C, H', W')`` with Reshape + Concat only (all 4-D)."""
    if stride == 1:
        return v
    b, c, hh, ww = v.shape
    v = v.reshape(b, c * hh, ww, 1)
    v = jnp.concatenate([v] * stride, axis=3).reshape(b, c * hh, 1, ww * stride)
    v = jnp.concatenate([v] * stride, axis=2).reshape(b, c, hh * stride, ww * stride)
    if hh * stride != height:
        v = jax.lax.slice_in_dim(v, 0, height, axis=2)
    if ww * stride != width:
        v = jax.lax.slice_in_dim(v, 0, width, axis=3)
    return v


def deploy_arc_conv(x: jax.Array, p: Mapping, stride: int, frames: int, steps: int,
                    negative_slope: float) -> jax.Array:
    """ARC conv + BN on frames-major ``(N*T, C_in, H, W)`` -> ``(N*T, c, H', W')``."""
    bt, cin, h, w = x.shape
    c, k = p["w"].shape[0], p["w"].shape[-1]
    g = c // steps
    pad = ((k // 2, k // 2),) * 2
    phi = lambda v: jax.nn.leaky_relu(v, negative_slope)               # noqa: E731
    base = dops.conv(x, p["embed"])                                     # (I + We) X
    outs = []
    a_space = a_time = fused = None
    for i in range(steps):
        if i:
            f = outs[-1]                                                # (N*T, g, H', W')
            _, _, ho, wo = f.shape
            cols = slice((i - 1) * g, i * g)
            wa, wf = p["attention"][:, cols], p["fusion"][:, cols]
            ps = dops.conv(jnp.max(f, axis=(2, 3), keepdims=True), wa)  # (N*T, C_in, 1, 1)
            pt = jnp.max(f.reshape(-1, frames, g, ho * wo), axis=1)      # (N, g, H'W')
            pt = dops.conv(pt.reshape(-1, g, ho, wo), wa)                # (N, C_in, H', W')
            fu = dops.conv(f, wf)                                       # (N*T, C_in, H', W')
            a_space = ps if a_space is None else a_space + ps
            a_time = pt if a_time is None else a_time + pt
            fused = fu if fused is None else fused + fu
            # (N, T, C_in, H'W'): time pool repeated over frames by a Concat, space pool
            # broadcast; a two-sided broadcast Add gets a wrong inferred shape from
            # jax2onnx when the batch is dynamic
            att = (jnp.concatenate([a_time.reshape(-1, 1, cin, ho * wo)] * frames, axis=1)
                   + a_space.reshape(-1, frames, cin, 1))
            att = _upsample_4d(att.reshape(bt, cin, ho, wo), stride, h, w)
            state = phi(phi(base + att) + _upsample_4d(fused, stride, h, w))
        else:
            state = x
        outs.append(dops.conv(state, p["w"][i * g:(i + 1) * g], None, (stride, stride), pad))
    y = jnp.concatenate(outs, axis=1)
    return y * jnp.asarray(p["scale"]).reshape(1, -1, 1, 1) + jnp.asarray(p["shift"]).reshape(1, -1, 1, 1)

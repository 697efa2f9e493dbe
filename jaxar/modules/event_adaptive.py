"""Event Adaptive Block (EAB, Tian et al. 2022, Sec. 3.1, Eq. 2 and Fig. 3).

``(N, T, H, W, C) -> (N, T, H, W, C)``, residual::

    x -> compress (grouped 1x1x1, C -> c = C / reduction)       = h
      -> first convs on G = 3 channel groups of h (kernel sizes 1, 3, 5):
           spatial_first (paper, Eq. 2):  identity | 1x3x3 | 1x3x3 dilation 2
           temporal_first (authors' code): identity | 3x1x1 | 3x1x1 dilation 2
      -> concat -> BN -> ReLU
      -> per-video mixing  y[n, i] = sum_j M[n, i, j] y[n, j]  (M = ESP-Net(.), c x c)
      -> second convs on the 3 groups (the other kind: temporal | spatial)
      -> + pool_proj(max-pool 3x3x3(h))        (the max-pool branch, 1x1x1 projection)
      -> expand (grouped 1x1x1, c -> C, ZERO-initialised) -> + x

Group sizes ``(c//3, c//3, c - 2*(c//3))``. The large kernel (5) is a dilated
3-tap conv as the paper says; the size-1 "kernel" is the identity (the mixing
matrix already gives that group a learned linear map). The convs inside a group
are dense over the group's channels. With M restricted to blocks that connect
equal-sized spatial and temporal kernels the block is a (2+1)-D conv (Eq. 2's
special case; ``tests/test_ean_identities.py``).

ESP-Net (Eq. 3) makes M from the compressed features:

* ``esp_form="code"`` (default; the authors' code, and what the paper's
  parameter counts add up to): 1x1x1 ``c -> p = c/16``, six 3x3x3 convs
  (``p, p, 2p`` stride 2, ``2p, 2p, 4p`` stride 2), BN+ReLU after each, global
  average pool, linear ``4p -> c*c``;
* ``esp_form="paper"`` (Sec. 3.1's text): 1x1x1 ``C -> C/16`` of the block
  input, two 5x5x5 stride-2 convs written as dilated 3x3x3 convs, BN+ReLU,
  global average pool, linear ``C/16 -> c*c``.

The linear layer's kernel starts at zero and its bias at the flattened
identity, so every video starts with ``M = I`` (the paper's "Identity
(Incep-Block)" of Table 9) and the video-dependent part is learned.

Deploy form (frames-major ``(N*T, C, H, W)``): BN folded into the convs
before it (into a per-channel Mul/Add for the identity group), M applied as
one broadcast ``MatMul`` ``(N, 1, c, c) @ (N, T, c, H*W)``, 3-D convs as
per-tap 2-D convs (:mod:`jaxar.modules.ean_layers`).
"""
from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxar import macs
from jaxar.deploy.bn_fold import Variables, f32
from jaxar.modules import ean_layers as el
from jaxar.modules.layers import batch_norm

ORDERS = ("spatial_first", "temporal_first")
ESP_FORMS = ("code", "paper")


def group_sizes(c: int) -> tuple[int, int, int]:
    """Channels of the three kernel-size groups (1, 3, 5) of ``c``."""
    return (c // 3, c // 3, c - 2 * (c // 3))


def scale_conv(kind: str, features: int, scale: int, name: str) -> el.Conv3D:
    """The group conv of kernel size ``2*scale + 1`` (3: plain, 5: dilation 2)."""
    kernel = (1, 3, 3) if kind == "spatial" else (3, 1, 1)
    dil = (1, scale) if kind == "spatial" else (scale, 1)
    return el.Conv3D(features, kernel, dilation=dil, name=name)


class ESPNet(nn.Module):
    """Event Scale Perceiving Network: ``(N, T, H, W, C_in) -> M (N, c, c)``."""
    c: int
    form: str = "code"
    reduction: int = 16
    train: bool = False
    dtype: Any = jnp.float32

    @nn.nowrap
    def layers(self, cin: int) -> list[tuple[int, tuple, tuple, tuple]]:
        """``(features, kernel, (stride_t, stride_s), (dil_t, dil_s))`` per conv."""
        p = max(1, cin // self.reduction)
        k3 = (3, 3, 3)
        if self.form == "code":
            return [(p, (1, 1, 1), (1, 1), (1, 1)), (p, k3, (1, 1), (1, 1)), (p, k3, (1, 1), (1, 1)),
                    (2 * p, k3, (2, 2), (1, 1)), (2 * p, k3, (1, 1), (1, 1)),
                    (2 * p, k3, (1, 1), (1, 1)), (4 * p, k3, (2, 2), (1, 1))]
        return [(p, (1, 1, 1), (1, 1), (1, 1)), (p, k3, (2, 2), (2, 2)), (p, k3, (2, 2), (2, 2))]

    @nn.compact
    def __call__(self, x):
        h = x
        for i, (f, k, s, d) in enumerate(self.layers(x.shape[-1])):
            h = el.Conv3D(f, k, s, d, name=f"conv{i}")(h)
            h = nn.relu(batch_norm(self.train, self.dtype, name=f"bn{i}")(h))
        m = _MatrixHead(self.c, name="fc")(jnp.mean(h, axis=(1, 2, 3)))
        return m.reshape(-1, self.c, self.c)

    @nn.nowrap
    def deploy_params(self, v: Variables, cin: int) -> dict:
        out = {f"conv{i}": el.Conv3D(f, k, s, d).deploy_params(v.child(f"conv{i}"), v.child(f"bn{i}"))
               for i, (f, k, s, d) in enumerate(self.layers(cin))}
        w, b = v.dense("fc")
        out["fc"] = {"w": f32(w), "b": f32(b)}
        return out

    @nn.nowrap
    def deploy_apply(self, p: dict, x: jax.Array, frames: int) -> jax.Array:
        """``(N*T, C_in, H, W)`` -> ``M (N, c, c)``."""
        h, t = x, frames
        for i, (f, k, s, d) in enumerate(self.layers(x.shape[1])):
            h, t = el.deploy_conv3d(h, t, p[f"conv{i}"]["w"], p[f"conv{i}"]["b"], s, d)
            h = jax.nn.relu(h)
        pooled = el.clip_mean(h, t)
        m = jnp.dot(pooled, jnp.asarray(p["fc"]["w"])) + jnp.asarray(p["fc"]["b"])
        return m.reshape(-1, self.c, self.c)


class _MatrixHead(nn.Module):
    """Linear ``d -> c*c``: kernel zeros, bias the flattened identity (M = I at init)."""
    c: int

    @nn.compact
    def __call__(self, x):
        c = self.c
        kernel = self.param("kernel", nn.initializers.zeros, (x.shape[-1], c * c), jnp.float32)
        bias = self.param("bias", lambda *_: jnp.eye(c, dtype=jnp.float32).reshape(-1), (c * c,))
        macs.record(self.scope.path, x.shape[0] * x.shape[-1] * c * c)
        return jnp.dot(x, kernel.astype(x.dtype)) + bias.astype(x.dtype)


class EventAdaptiveBlock(nn.Module):
    """EAB (module docstring). Parameter names: ``compress``, ``esp``, ``first{1,2}``,
    ``mid_bn``, ``second{1,2}``, ``pool_proj``, ``expand``."""
    reduction: int = 4
    squeeze_groups: int = 4
    order: str = "spatial_first"
    esp_form: str = "code"
    esp_reduction: int = 16
    train: bool = False
    dtype: Any = jnp.float32

    @nn.nowrap
    def kinds(self) -> tuple[str, str]:
        if self.order not in ORDERS:
            raise ValueError(f"EAB order must be one of {ORDERS}, got {self.order!r}")
        return ("spatial", "temporal") if self.order == "spatial_first" else ("temporal", "spatial")

    @nn.nowrap
    def width(self, channels: int) -> int:
        c = channels // self.reduction
        if c < 3 or c % self.squeeze_groups or channels % self.squeeze_groups:
            raise ValueError(f"EAB on {channels} channels: C/{self.reduction} = {c} must be >= 3 "
                             f"and both divisible by squeeze_groups={self.squeeze_groups}")
        return c

    @nn.nowrap
    def esp(self, c: int) -> ESPNet:
        if self.esp_form not in ESP_FORMS:
            raise ValueError(f"esp_form must be one of {ESP_FORMS}, got {self.esp_form!r}")
        return ESPNet(c, self.esp_form, self.esp_reduction, self.train, self.dtype, name="esp")

    @nn.nowrap
    def group_convs(self, kind: str, c: int, prefix: str) -> list[el.Conv3D | None]:
        g = group_sizes(c)
        return [None, scale_conv(kind, g[1], 1, f"{prefix}1"), scale_conv(kind, g[2], 2, f"{prefix}2")]

    @nn.nowrap
    def squeeze(self, features: int, name: str, zero: bool = False) -> el.Conv3D:
        init = nn.initializers.zeros if zero else el.conv_init
        return el.Conv3D(features, groups=self.squeeze_groups, kernel_init=init, name=name)

    @staticmethod
    def _groups(h, convs, c):
        parts = jnp.split(h, np.cumsum(group_sizes(c))[:-1], axis=-1)
        return jnp.concatenate([p if conv is None else conv(p) for p, conv in zip(parts, convs)], -1)

    @nn.compact
    def __call__(self, x):
        cin = x.shape[-1]
        c = self.width(cin)
        first, second = self.kinds()
        h = self.squeeze(c, "compress")(x)
        m = self.esp(c)(h if self.esp_form == "code" else x)            # (N, c, c)
        pooled = el.Conv3D(c, name="pool_proj")(el.max_pool3d(h))
        y = self._groups(h, self.group_convs(first, c, "first"), c)
        y = nn.relu(batch_norm(self.train, self.dtype, name="mid_bn")(y))
        y = jnp.einsum("nij,nthwj->nthwi", m.astype(y.dtype), y)
        macs.record(self.scope.path + ("mix",), int(np.prod(y.shape)) * c)
        y = self._groups(y, self.group_convs(second, c, "second"), c) + pooled
        return x + self.squeeze(cin, "expand", zero=True)(y)

    # -- deploy form ----------------------------------------------------------
    @nn.nowrap
    def deploy_params(self, v: Variables, cin: int) -> dict:
        c = self.width(cin)
        first, second = self.kinds()
        s, b = v.bn("mid_bn")
        g = group_sizes(c)
        out = {"compress": self.squeeze(c, "compress").deploy_params(v.child("compress")),
               "esp": self.esp(c).deploy_params(v.child("esp"), c if self.esp_form == "code" else cin),
               "pool_proj": el.Conv3D(c).deploy_params(v.child("pool_proj")),
               "expand": self.squeeze(cin, "expand").deploy_params(v.child("expand"))}
        # mid BN: folded into the first convs of groups 1, 2; a Mul/Add on the identity group
        out["identity_affine"] = {"s": f32(s[:g[0]]), "b": f32(b[:g[0]])}
        start = g[0]
        for i, conv in ((1, self.group_convs(first, c, "first")[1]), (2, self.group_convs(first, c, "first")[2])):
            q = conv.deploy_params(v.child(f"first{i}"))
            sl = slice(start, start + g[i])
            w = np.asarray(q["w"], np.float64) * s[sl, None, None, None, None]
            out[f"first{i}"] = {"w": f32(w), "b": f32(b[sl])}
            start += g[i]
        for i in (1, 2):
            out[f"second{i}"] = self.group_convs(second, c, "second")[i].deploy_params(v.child(f"second{i}"))
        return out

    @nn.nowrap
    def deploy_apply(self, p: dict, x: jax.Array, frames: int) -> jax.Array:
        """``(N*T, C, H, W)`` -> same shape."""
        nt, cin, hh, ww = x.shape
        c = self.width(cin)
        first, second = self.kinds()
        h, _ = el.deploy_conv3d(x, frames, p["compress"]["w"], None, groups=self.squeeze_groups)
        m = self.esp(c).deploy_apply(p["esp"], h if self.esp_form == "code" else x, frames)
        pooled, _ = el.deploy_conv3d(el.deploy_max_pool3d(h, frames), frames, p["pool_proj"]["w"], None)
        parts = el.channel_split(h, group_sizes(c))
        y = [el.affine(parts[0], p["identity_affine"]["s"], p["identity_affine"]["b"])]
        for i, conv in enumerate(self.group_convs(first, c, "first")[1:], start=1):
            y.append(el.deploy_conv3d(parts[i], frames, p[f"first{i}"]["w"], p[f"first{i}"]["b"],
                                      conv.stride, conv.dilation)[0])
        y = jax.nn.relu(jnp.concatenate(y, axis=1))
        y = jnp.matmul(m[:, None], el.frames_view(y, frames)).reshape(nt, c, hh, ww)   # per-video mix
        parts = el.channel_split(y, group_sizes(c))
        y = [parts[0]]
        for i, conv in enumerate(self.group_convs(second, c, "second")[1:], start=1):
            y.append(el.deploy_conv3d(parts[i], frames, p[f"second{i}"]["w"], None,
                                      conv.stride, conv.dilation)[0])
        y = jnp.concatenate(y, axis=1) + pooled
        y, _ = el.deploy_conv3d(y, frames, p["expand"]["w"], None, groups=self.squeeze_groups)
        return x + y

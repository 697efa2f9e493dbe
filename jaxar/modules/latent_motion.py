"""Latent Motion Code (LMC, Tian et al. 2022, Sec. 3.3, Eqs. 7-11, Fig. 5c).

Per segment ``S_t`` of ``F`` adjacent frames (``(N, S, F, H, W, 3)``, paper: F=5)::

    d_i = S_t[i] - S_t[i-1]                      i = 2..F  (RGB differences, Eq. 7)
    v_i = H_e(patches_P(d_i))                    P x P x 3 patches -> latent L (linear, Eq. 8)
    c   = v + H_m(v)                             H_m: grouped 3x3x3 conv, ReLU, grouped
                                                 3x3x3 conv (bias-free; over i and the patch grid; Eq. 9)
    m_i = unpatch(H_d(c_i))                      linear L -> (C1/(F-1)) x (P/4) x (P/4) (Eq. 10)
    m_t = [m_2; ...; m_F]                        stacked on channels: (H/4, W/4, C1)  (Eq. 11)

Paper sizes: P = 32 (7 x 7 patches of 224), L = 128, 16 groups, C1 = 64 (the
ResNet stem's width at stride 4). ``m_t`` is added to the stem features of
the segment's anchor frame (Eq. 12; the network does that). ``H_d`` is
zero-initialised, so LMC adds exactly nothing at initialisation; a constant
segment gives ``d = 0`` and, the encoder and decoder being bias-free and
``H_m`` bias-free (no BN: the paper names none, and a BN shift would make a
still segment move), ``m = 0`` exactly for ANY weights
(``tests/test_ean_identities.py``).

Deploy form: the differences on a ``(N*S, F, 3*H*W)`` view, the patch
encoder as one ``P x P`` stride-``P`` Conv, ``H_m`` as per-tap 2-D convs,
the decoder as a 1x1 Conv whose output pixels are interleaved back to the
``H/4 x W/4`` map by two MatMuls with 0/1 permutation matrices (exact: each
output is one input times 1 plus zeros) -- no Transpose, no rank > 4.
"""
from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxar.deploy import ops as dops
from jaxar.deploy.bn_fold import Variables, f32
from jaxar.modules import ean_layers as el
from jaxar.modules.layers import Dense


class LatentMotionCode(nn.Module):
    """``(N, S, F, H, W, 3) -> (N, S, H/stride, W/stride, out_channels)``."""
    out_channels: int = 64
    patch: int = 32
    latent: int = 128
    groups: int = 16
    stem_stride: int = 4

    @nn.nowrap
    def geometry(self, frames: int, h: int, w: int) -> tuple[int, int, int, int, int]:
        """``(diffs, per-diff channels, sub-patch q, grid h, grid w)``, checked."""
        nd = frames - 1
        p, s = self.patch, self.stem_stride
        if nd < 1 or self.out_channels % nd:
            raise ValueError(f"LMC: {frames} frames per segment give {nd} differences; the stem "
                             f"width {self.out_channels} must be a positive multiple of it")
        if h % p or w % p or p % s:
            raise ValueError(f"LMC: frame size {h}x{w} must be a multiple of the patch {p}, and the "
                             f"patch a multiple of the stem stride {s}")
        if self.latent % self.groups:
            raise ValueError(f"LMC: latent {self.latent} not divisible by groups {self.groups}")
        return nd, self.out_channels // nd, p // s, h // p, w // p

    @nn.nowrap
    def motion_convs(self) -> list[el.Conv3D]:
        return [el.Conv3D(self.latent, (3, 3, 3), groups=self.groups, name=f"motion{i}") for i in (1, 2)]

    @nn.compact
    def __call__(self, x):
        n, s, f, hh, ww, _ = x.shape
        nd, co, q, gh, gw = self.geometry(f, hh, ww)
        p = self.patch
        d = (x[:, :, 1:] - x[:, :, :-1]).reshape(n * s, nd, gh, p, gw, p, 3)
        patches = d.transpose(0, 1, 2, 4, 3, 5, 6).reshape(n * s, nd, gh, gw, p * p * 3)
        v = Dense(self.latent, use_bias=False, name="encode")(patches)        # (NS, nd, gh, gw, L)
        c1, c2 = self.motion_convs()
        c = v + c2(nn.relu(c1(v)))
        m = Dense(q * q * co, use_bias=False, kernel_init=nn.initializers.zeros, name="decode")(c)
        m = m.reshape(n * s, nd, gh, gw, q, q, co).transpose(0, 2, 4, 3, 5, 1, 6)
        return m.reshape(n, s, gh * q, gw * q, nd * co)

    # -- deploy form ----------------------------------------------------------
    @nn.nowrap
    def deploy_params(self, v: Variables) -> dict:
        p = self.patch
        enc = v.child("encode").param("kernel")                              # (P*P*3, L), rows (a, b, ch)
        enc = enc.reshape(p, p, 3, self.latent).transpose(3, 2, 0, 1)          # (L, 3, P, P)
        dec = v.child("decode").param("kernel")                              # (L, q*q*co)
        c1, c2 = self.motion_convs()
        return {"encode": f32(enc), "decode": f32(dec.T[:, :, None, None]),
                "motion1": c1.deploy_params(v.child("motion1")),
                "motion2": c2.deploy_params(v.child("motion2"))}

    @nn.nowrap
    def deploy_apply(self, p: dict, x: jax.Array, frames: int) -> jax.Array:
        """``(N*S*F, 3, H, W)`` segments (frame-major within each) ->
        ``(N*S, out_channels, H/stride, W/stride)``."""
        _, _, hh, ww = x.shape
        nd, co, q, gh, gw = self.geometry(frames, hh, ww)
        seg = x.reshape(-1, frames, 3 * hh * ww)
        d = lax.slice_in_dim(seg, 1, frames, axis=1) - lax.slice_in_dim(seg, 0, frames - 1, axis=1)
        d = d.reshape(-1, 3, hh, ww)                                          # (NS*nd, 3, H, W)
        v = dops.conv(d, p["encode"], None, (self.patch, self.patch))      # (NS*nd, L, gh, gw)
        h = jax.nn.relu(el.deploy_conv3d(v, nd, p["motion1"]["w"], None, groups=self.groups)[0])
        h, _ = el.deploy_conv3d(h, nd, p["motion2"]["w"], None, groups=self.groups)
        y = dops.conv(v + h, p["decode"])                                  # (NS*nd, q*q*co, gh, gw)
        return pixel_interleave(y, q, co).reshape(-1, nd * co, gh * q, gw * q)


def _perm(rows: int, q: int) -> np.ndarray:
    """0/1 ``(q*rows, rows*q)``: entry ``[a*rows + i, i*q + a] = 1``."""
    m = np.zeros((q * rows, rows * q), np.float32)
    for a in range(q):
        for i in range(rows):
            m[a * rows + i, i * q + a] = 1.0
    return m


def pixel_interleave(y: jax.Array, q: int, co: int) -> jax.Array:
    """``(B, q*q*co, gh, gw)`` with channel ``(a*q + b)*co + k`` ->
    ``(B, co, gh*q, gw*q)`` with pixel ``(i*q + a, j*q + b)`` (depth-to-space)
    as Slices, Concats and two constant 0/1 MatMuls."""
    _, _, gh, gw = y.shape
    pc, pr = _perm(gw, q), _perm(gh, q).T                 # cols: (b*gw + j) -> j*q + b; rows likewise
    rows = []
    for a in range(q):
        cols = [lax.slice_in_dim(y, (a * q + b) * co, (a * q + b + 1) * co, axis=1) for b in range(q)]
        rows.append(jnp.matmul(jnp.concatenate(cols, axis=3), pc))     # (B, co, gh, gw*q)
    return jnp.matmul(pr, jnp.concatenate(rows, axis=2))               # (B, co, gh*q, gw*q)

"""Sparse Object Interaction Transformer (SOI-Tr, Tian et al. 2022, Sec. 3.2, Eqs. 4-6, Fig. 4).

On the last-stage features ``X (N, T, H, W, C)``::

    h  = squeeze(X)                      1x1, C -> c = C / reduction (bottleneck ÷4)
    O  = softmax_HW(Saliency-Net(h))     (N, T, H, W, K): K = 4 object maps per frame,
                                         each sums to 1 over space (Eq. 4)
         Saliency-Net: 1x1 (c -> c/8) | 3x1x1 (time) | 1x5x5 | 1x3x3 -> K,
                       BN + ReLU after the first three
    F[k, t] = sum_HW (E_t + h_t) * O[k, t]        tokens (N, K*T, c), object-major (Eq. 5)
    F' = Transformer(F)                  2 blocks: x + Attn(Norm(x)); x + FFN(Norm(x)) (Eq. 6)
         Attn: 8 heads, q/k/v without bias, output linear with bias
         FFN:  c -> c -> c -> c, Norm + ReLU after the first two (authors' code)
    out = mean_HWT(X) + BN0(expand(mean_tokens(F')))  expand: c -> C, BN0 zero-initialised

so at initialisation the module returns the plain global average pool of X
(the backbone's head input).

``output="map"`` (a SOI-Tr inside the network, Table 6 rows 1-2; the paper does
not say how its output reaches the next stage, docs/ean.md) hands a feature map
on instead: each updated token is scattered back to its object's positions
with that object's saliency map, ``U[t, h, w] = sum_k O[k, t, h, w] F'[k, t]``,
and ``out = X + BN0(expand(U))`` with ``expand`` a 1x1x1 conv ``c -> C`` and BN0
zero-initialised, so the module starts as the identity. ``norm="batch"`` is the paper's BatchNorm over
tokens (BoTNet practice); ``norm="layer"`` is LayerNorm (see docs/ean.md:
BN's token statistics are fragile at tiny per-device batches).

Deploy form (frames-major ``(N*T, C, H, W)``): every BN folded into the
linear op before it (or, for a pre-norm BN, into the linear op after it), the
pooling of Eq. 5 as a Mul + ReduceSum per object, attention on rank-4 tensors
without Transpose or Einsum: ``q_i * k_j`` broadcast to ``(N, K, K, c)``,
summed per head by a MatMul with a 0/1 head-indicator matrix, Softmax, spread
back per channel by the transposed indicator, Mul by ``v_j`` and ReduceSum.
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
from jaxar.modules.layers import Dense, batch_norm

NORMS = ("batch", "layer")


def _norm(kind: str, train: bool, dtype, name: str) -> nn.Module:
    if kind == "batch":
        return batch_norm(train, dtype, name=name)
    if kind == "layer":
        return nn.LayerNorm(epsilon=1e-5, dtype=dtype, name=name)
    raise ValueError(f"SOI-Tr norm must be one of {NORMS}, got {kind!r}")


def _norm_affine(v: Variables, kind: str, name: str) -> tuple[np.ndarray, np.ndarray]:
    """(s, b) of an eval-mode BN, or LayerNorm's affine (applied after normalising)."""
    if kind == "batch":
        return v.bn(name)
    n = v.child(name)
    return n.param("scale"), n.param("bias")


class SaliencyNet(nn.Module):
    """``(N, T, H, W, c) -> O (N, T, H, W, K)``, softmax over ``H x W`` per map."""
    objects: int = 4
    reduction: int = 8
    train: bool = False
    dtype: Any = jnp.float32

    @nn.nowrap
    def convs(self, c: int) -> list[el.Conv3D]:
        r = max(1, c // self.reduction)
        return [el.Conv3D(r, (1, 1, 1), name="conv0"), el.Conv3D(r, (3, 1, 1), name="conv1"),
                el.Conv3D(r, (1, 5, 5), name="conv2"),
                el.Conv3D(self.objects, (1, 3, 3), use_bias=True, name="conv3")]

    @nn.compact
    def __call__(self, h):
        convs = self.convs(h.shape[-1])
        for i, conv in enumerate(convs[:-1]):
            h = nn.relu(batch_norm(self.train, self.dtype, name=f"bn{i}")(conv(h)))
        logits = convs[-1](h).astype(jnp.float32)
        n, t, hh, ww, k = logits.shape
        o = jax.nn.softmax(logits.reshape(n, t, hh * ww, k), axis=2)
        return o.reshape(n, t, hh, ww, k)

    @nn.nowrap
    def deploy_params(self, v: Variables, c: int) -> dict:
        convs = self.convs(c)
        out = {f"conv{i}": conv.deploy_params(v.child(f"conv{i}"), v.child(f"bn{i}"))
               for i, conv in enumerate(convs[:-1])}
        out["conv3"] = convs[-1].deploy_params(v.child("conv3"))
        return out

    @nn.nowrap
    def deploy_apply(self, p: dict, h: jax.Array, frames: int) -> jax.Array:
        """``(N*T, c, H, W)`` -> ``(N, T, K, H*W)`` (softmax over the last axis)."""
        for i, conv in enumerate(self.convs(h.shape[1])):
            h, _ = el.deploy_conv3d(h, frames, p[f"conv{i}"]["w"], p[f"conv{i}"].get("b"),
                                    conv.stride, conv.dilation)
            if i < 3:
                h = jax.nn.relu(h)
        return jax.nn.softmax(el.frames_view(h, frames), axis=-1)


class TokenAttention(nn.Module):
    """Multi-head self-attention over ``(N, K, c)`` tokens (no class token)."""
    heads: int = 8

    @nn.compact
    def __call__(self, x):
        n, k, c = x.shape
        if c % self.heads:
            raise ValueError(f"SOI-Tr width {c} is not divisible by {self.heads} heads")
        d = c // self.heads
        qkv = Dense(3 * c, use_bias=False, name="qkv")(x).reshape(n, k, 3, self.heads, d)
        q, kk, v = qkv[:, :, 0], qkv[:, :, 1], qkv[:, :, 2]
        att = jax.nn.softmax(jnp.einsum("nihd,njhd->nhij", q, kk) * d ** -0.5, axis=-1)
        out = jnp.einsum("nhij,njhd->nihd", att, v).reshape(n, k, c)
        macs.record(self.scope.path + ("attention",), 2 * n * k * k * c)
        return Dense(c, name="out")(out)


class TransformerBlock(nn.Module):
    """``x + Attn(Norm(x))`` then ``x + FFN(Norm(x))`` on ``(N, K, c)``."""
    heads: int = 8
    norm: str = "batch"
    train: bool = False
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x):
        c = x.shape[-1]
        nrm = lambda name: _norm(self.norm, self.train, self.dtype, name)  # noqa: E731
        x = x + TokenAttention(self.heads, name="attn")(nrm("norm1")(x))
        h = nrm("norm2")(x)
        h = nn.relu(nrm("ffn_norm1")(Dense(c, name="ffn1")(h)))
        h = nn.relu(nrm("ffn_norm2")(Dense(c, name="ffn2")(h)))
        return x + Dense(c, name="ffn3")(h)

    @nn.nowrap
    def deploy_params(self, v: Variables) -> dict:
        """Pre-norms folded into the linear op after them (qkv, ffn1) when BN;
        the FFN's inner BNs folded into ffn1/ffn2."""
        out: dict = {}
        qkv = v.child("attn").child("qkv").param("kernel")
        ffn1, b1 = v.dense("ffn1")
        s1, t1 = _norm_affine(v, self.norm, "norm1")
        s2, t2 = _norm_affine(v, self.norm, "norm2")
        # Linear(s*x + t) = x @ (s[:, None] * W) + t @ W
        out["qkv"] = {"w": f32(s1[:, None] * qkv), "b": f32(t1 @ qkv)}
        w1, bb1 = s2[:, None] * ffn1, t2 @ ffn1 + b1
        if self.norm == "batch":
            fs, ft = v.bn("ffn_norm1")
            w1, bb1 = w1 * fs[None], fs * bb1 + ft
            w2, b2 = v.dense("ffn2")
            fs, ft = v.bn("ffn_norm2")
            out["ffn2"] = {"w": f32(w2 * fs[None]), "b": f32(fs * b2 + ft)}
        else:
            for name in ("ffn_norm1", "ffn_norm2"):
                s, b = _norm_affine(v, self.norm, name)
                out[name] = {"s": f32(s), "b": f32(b)}
            w2, b2 = v.dense("ffn2")
            out["ffn2"] = {"w": f32(w2), "b": f32(b2)}
        out["ffn1"] = {"w": f32(w1), "b": f32(bb1)}
        w3, b3 = v.dense("ffn3")
        wo, bo = v.child("attn").dense("out")
        out["ffn3"] = {"w": f32(w3), "b": f32(b3)}
        out["out"] = {"w": f32(wo), "b": f32(bo)}
        return out

    @nn.nowrap
    def deploy_apply(self, p: dict, x: jax.Array) -> jax.Array:
        """``(N, K, c)`` tokens -> same shape (attention as in the module docstring)."""
        n, k, c = x.shape
        d = c // self.heads
        lin = lambda z, q: _linear(z, q["w"], q["b"])  # noqa: E731
        ln = self.norm == "layer"
        h = _layer_norm(x) if ln else x
        qkv = lin(h, p["qkv"])                                               # (N, K, 3c)
        q, kk, v = (qkv[..., i * c:(i + 1) * c] for i in range(3))
        heads = np.kron(np.eye(self.heads, dtype=np.float32), np.ones((d, 1), np.float32))  # (c, h)
        prod = q[:, :, None, :] * kk[:, None, :, :]                          # (N, K_i, K_j, c)
        att = jax.nn.softmax(jnp.matmul(prod, heads) * np.float32(d ** -0.5), axis=2)   # over j
        out = jnp.sum(jnp.matmul(att, heads.T) * v[:, None, :, :], axis=2)  # (N, K, c)
        x = x + lin(out, p["out"])
        h = _layer_norm(x) if ln else x
        h = lin(h, p["ffn1"])
        h = jax.nn.relu(el.affine(_layer_norm(h), p["ffn_norm1"]["s"], p["ffn_norm1"]["b"], -1) if ln else h)
        h = lin(h, p["ffn2"])
        h = jax.nn.relu(el.affine(_layer_norm(h), p["ffn_norm2"]["s"], p["ffn_norm2"]["b"], -1) if ln else h)
        return x + lin(h, p["ffn3"])


def _slice_axis(x: jax.Array, start: int, size: int, axis: int = 1) -> jax.Array:
    return jax.lax.slice_in_dim(x, start, start + size, axis=axis)


def _linear(x: jax.Array, w, b) -> jax.Array:
    """``x @ w + b`` on the last axis of ``(N, K, C)`` as a 2-D GEMM (a rank-3
    dot becomes an ONNX Einsum, which the TensorRT allow-list forbids)."""
    y = jnp.dot(x.reshape(-1, x.shape[-1]), jnp.asarray(w)) + jnp.asarray(b)
    return y.reshape(*x.shape[:-1], y.shape[-1])


def _layer_norm(x: jax.Array, eps: float = 1e-5) -> jax.Array:
    """LayerNorm without affine (the affine is folded into the next linear op)."""
    mean = jnp.mean(x, axis=-1, keepdims=True)
    var = jnp.mean(jnp.square(x - mean), axis=-1, keepdims=True)
    return (x - mean) * jax.lax.rsqrt(var + eps)


class SOITransformer(nn.Module):
    """SOI-Tr (module docstring): ``(N, T, H, W, C) -> (N, C)`` clip feature
    (``output="clip"``) or ``-> (N, T, H, W, C)`` feature map (``output="map"``).

    Parameter names: ``squeeze``, ``saliency``, ``pos_embedding (T, H, W, c)``,
    ``block{i}``, ``expand`` (dense ``(c, C)``; map: 1x1x1 conv), ``fuse_bn``."""
    reduction: int = 4
    objects: int = 4
    heads: int = 8
    depth: int = 2
    saliency_reduction: int = 8
    norm: str = "batch"
    train: bool = False
    dtype: Any = jnp.float32
    output: str = "clip"                      # "clip": (N, C) head feature; "map": X + residual

    @nn.nowrap
    def saliency(self) -> SaliencyNet:
        return SaliencyNet(self.objects, self.saliency_reduction, self.train, self.dtype, name="saliency")

    @nn.nowrap
    def block(self, i: int) -> TransformerBlock:
        return TransformerBlock(self.heads, self.norm, self.train, self.dtype, name=f"block{i}")

    @nn.compact
    def __call__(self, x):
        n, t, hh, ww, cin = x.shape
        c = cin // self.reduction
        clip_avg = jnp.mean(x, axis=(1, 2, 3))
        h = el.Conv3D(c, name="squeeze")(x)
        o = self.saliency()(h)                                                # (N, T, H, W, K)
        pos = self.param("pos_embedding", nn.initializers.normal(0.02), (t, hh, ww, c), jnp.float32)
        tokens = jnp.einsum("nthwc,nthwk->nktc", h + pos.astype(h.dtype), o.astype(h.dtype))
        macs.record(self.scope.path + ("pool",), n * t * hh * ww * c * self.objects)
        tokens = tokens.reshape(n, self.objects * t, c)
        for i in range(self.depth):
            tokens = self.block(i)(tokens)
        if self.output == "map":
            f = tokens.reshape(n, self.objects, t, c)
            u = jnp.einsum("nktc,nthwk->nthwc", f, o.astype(f.dtype))          # scatter back
            macs.record(self.scope.path + ("scatter",), n * t * hh * ww * c * self.objects)
            u = el.Conv3D(cin, name="expand")(u)
            u = batch_norm(self.train, self.dtype, name="fuse_bn", zero_init=True)(u)
            return x + u.astype(x.dtype)
        if self.output != "clip":
            raise ValueError(f"SOI-Tr output must be 'clip' or 'map', got {self.output!r}")
        g = Dense(cin, use_bias=False, name="expand")(jnp.mean(tokens, axis=1))
        g = batch_norm(self.train, self.dtype, name="fuse_bn", zero_init=True)(g)
        return clip_avg + g

    # -- deploy form ----------------------------------------------------------
    @nn.nowrap
    def deploy_params(self, v: Variables, cin: int) -> dict:
        c = cin // self.reduction
        pos = v.param("pos_embedding")                                        # (T, H, W, c)
        t, hh, ww, _ = pos.shape
        if self.output == "map":
            expand = el.Conv3D(cin).deploy_params(v.child("expand"), v.child("fuse_bn"))
        else:
            w = v.child("expand").param("kernel")
            s, b = v.bn("fuse_bn")
            expand = {"w": f32(w * s[None]), "b": f32(b)}
        return {"squeeze": el.Conv3D(c).deploy_params(v.child("squeeze")),
                "saliency": self.saliency().deploy_params(v.child("saliency"), c),
                "pos": f32(np.transpose(pos, (0, 3, 1, 2)).reshape(t, c, hh * ww)),
                **{f"block{i}": self.block(i).deploy_params(v.child(f"block{i}")) for i in range(self.depth)},
                "expand": expand}

    @nn.nowrap
    def deploy_apply(self, p: dict, x: jax.Array, frames: int) -> jax.Array:
        """``(N*T, C, H, W)`` -> ``(N, C)`` (clip) or ``(N*T, C, H, W)`` (map)."""
        clip_avg = el.clip_mean(x, frames) if self.output == "clip" else None
        h, _ = el.deploy_conv3d(x, frames, p["squeeze"]["w"], None)
        o = self.saliency().deploy_apply(p["saliency"], h, frames)            # (N, T, K, HW)
        hp = el.frames_view(h, frames) + jnp.asarray(p["pos"])[None]          # (N, T, c, HW)
        tokens = jnp.concatenate([jnp.sum(hp * o[:, :, k:k + 1, :], axis=-1)  # (N, T, c) each
                                  for k in range(self.objects)], axis=1)      # (N, K*T, c)
        for i in range(self.depth):
            tokens = self.block(i).deploy_apply(p[f"block{i}"], tokens)
        if self.output == "map":
            nt, _, hh, ww = x.shape
            c = tokens.shape[-1]
            f = tokens.reshape(-1, self.objects, frames, c)                    # (N, K, T, c)
            u = None
            for k in range(self.objects):                                     # (N, T, c, 1) * (N, T, 1, HW)
                fk = _slice_axis(f, k, 1).reshape(-1, frames, c, 1)
                uk = fk * o[:, :, k:k + 1, :]
                u = uk if u is None else u + uk
            u, _ = el.deploy_conv3d(u.reshape(nt, c, hh, ww), frames, p["expand"]["w"], p["expand"]["b"])
            return x + u
        g = jnp.dot(jnp.mean(tokens, axis=1), jnp.asarray(p["expand"]["w"])) + jnp.asarray(p["expand"]["b"])
        return clip_avg + g

"""CD-KD pseudo-decoder (Liu et al., ICASSP 2023, Eqs. 1-2): compressed-domain
features -> the student's reconstructed per-frame features ``h_hat_t``.

Eq. 1, one cross-attention per compressed modality over the spatial tokens of
frame ``t``; queries and values from the I-frame features, keys from the
motion-vector (resp. residual) features::

    h_rec_t = Attn(Q^I, K^M_t, V^I) + Attn(Q^I, K^R_t, V^I)
    Q^I = f^I W^Q,  V^I = f^I W^V  (shared by both branches),
    K^M_t = f^M_t W^{K^M},  K^R_t = f^R_t W^{K^R}

``Attn`` is multi-head scaled dot-product attention over the ``h*w`` positions
of one frame (``heads`` heads of ``width // heads`` channels), followed by one
output projection. Query position ``i`` weighs the I-frame value at position
``j`` by how its query matches the motion (residual) key at ``j``: a learned
motion compensation, which is what the paper's "decoder" analogy asks for. No
positional encoding (the paper names none; the keys already carry position-
dependent motion).

Eq. 2, a bidirectional ConvLSTM over the ``T`` reconstructed maps (Flax's
:class:`flax.linen.ConvLSTMCell`, ``lstm_features`` channels per direction,
``lstm_kernel`` x ``lstm_kernel``), the two directions concatenated and
projected by a 1x1 conv to ``out_features`` (the teacher's feature width)::

    {h_hat_t} = W_out . BiConvLSTM({h_rec_t})

Shapes: ``f_i``, ``f_m``, ``f_r``: ``(N, T, h, w, C_I|C_M|C_R)`` channels-last
per-frame feature maps on one spatial grid (``f_i[:, t]`` is the feature of
the I-frame of frame ``t``'s GOP); output ``(N, T, h, w, out_features)`` float32.
"""
from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp


def check_grids(f_i: jax.Array, f_m: jax.Array, f_r: jax.Array) -> None:
    shapes = {"iframe": f_i.shape, "mv": f_m.shape, "residual": f_r.shape}
    if any(len(s) != 5 for s in shapes.values()):
        raise ValueError(f"pseudo-decoder expects (N, T, h, w, C) feature maps, got {shapes}")
    if len({s[:4] for s in shapes.values()}) != 1:
        raise ValueError(f"pseudo-decoder needs the three streams' features on one (N, T, h, w) "
                         f"grid, got {shapes}")


def split_heads(x: jax.Array, heads: int) -> jax.Array:
    """``(B, L, H*d)`` -> ``(B, H, L, d)``."""
    b, l, c = x.shape
    return x.reshape(b, l, heads, c // heads).transpose(0, 2, 1, 3)


def attend(q: jax.Array, k: jax.Array, v: jax.Array) -> jax.Array:
    """Scaled dot-product attention ``(B, H, L, d)`` x3 -> ``(B, L, H*d)`` (rank <= 4 throughout)."""
    logits = jnp.matmul(q, jnp.swapaxes(k, -1, -2)) / jnp.sqrt(jnp.float32(q.shape[-1]))
    out = jnp.matmul(jax.nn.softmax(logits, axis=-1), v)              # (B, H, L, d)
    b, h, l, d = out.shape
    return out.transpose(0, 2, 1, 3).reshape(b, l, h * d)


class CrossModalAttention(nn.Module):
    """Eq. 1: ``(N, T, h, w, C_*)`` x3 -> ``h_rec`` ``(N, T, h, w, width)``.

    Parameters: ``query``, ``value`` (shared), ``key_mv``, ``key_residual``,
    ``out_mv``, ``out_residual`` (Dense, ``(C_in, width)`` / ``(width, width)``).
    """
    width: int = 256
    heads: int = 4

    @nn.compact
    def __call__(self, f_i, f_m, f_r):
        check_grids(f_i, f_m, f_r)
        if self.width % self.heads:
            raise ValueError(f"attention width {self.width} is not divisible by heads {self.heads}")
        n, t, h, w, _ = f_i.shape
        tokens = lambda f: f.astype(jnp.float32).reshape(n * t, h * w, f.shape[-1])  # noqa: E731
        dense = lambda name: nn.Dense(self.width, name=name)                      # noqa: E731
        fi = tokens(f_i)
        q = split_heads(dense("query")(fi), self.heads)
        v = split_heads(dense("value")(fi), self.heads)
        rec = 0.0
        for name, f in (("mv", f_m), ("residual", f_r)):
            k = split_heads(dense(f"key_{name}")(tokens(f)), self.heads)
            rec = rec + dense(f"out_{name}")(attend(q, k, v))
        return rec.reshape(n, t, h, w, self.width)


class BiConvLSTM(nn.Module):
    """Eq. 2: ``(N, T, h, w, C)`` -> ``(N, T, h, w, 2 * features)`` (forward ++ backward).
    Parameters: ``forward``, ``backward`` (each a ConvLSTM cell: ``ih``, ``hh`` convs)."""
    features: int = 128
    kernel: int = 3

    @nn.compact
    def __call__(self, x):
        rnn = lambda name: nn.RNN(nn.ConvLSTMCell(self.features, (self.kernel, self.kernel),  # noqa: E731
                                                  name=name))
        return nn.Bidirectional(rnn("forward"), rnn("backward"))(x)


class PseudoDecoder(nn.Module):
    """Eqs. 1-2 and the projection to the teacher width: ``f_i, f_m, f_r``
    ``(N, T, h, w, C_*)`` -> ``h_hat`` ``(N, T, h, w, out_features)`` float32."""
    out_features: int
    width: int = 256
    heads: int = 4
    lstm_features: int = 128
    lstm_kernel: int = 3

    @nn.compact
    def __call__(self, f_i, f_m, f_r):
        rec = CrossModalAttention(self.width, self.heads, name="attention")(f_i, f_m, f_r)
        seq = BiConvLSTM(self.lstm_features, self.lstm_kernel, name="temporal")(rec)
        return nn.Dense(self.out_features, name="project")(seq)

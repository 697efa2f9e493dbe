"""CD-KD attention gate (Liu et al., ICASSP 2023, Eq. 4): per-frame weights
``alpha_t`` of the spatial-knowledge loss, from the compressed features.

Squeeze-and-excitation over the frame axis: each frame's motion-vector and
residual feature maps are squeezed by a spatial mean and concatenated,
``d_t = [GAP f^M_t ; GAP f^R_t]``; the excitation is a bottleneck MLP
``Dense(hidden) -> ReLU -> Dense(1)`` giving a score ``z_t`` per frame.

Normalisation (the paper gives none; a bare sigmoid lets every ``alpha_t``
go to 0, which minimises ``L_spatial`` trivially and switches the spatial
knowledge off): the scores are normalised across the clip's frames and mixed
with a floor,

    alpha_t = floor + (1 - floor) * T * softmax_t(z)_t ,

so ``sum_t alpha_t = T`` always (the mean weight is 1: uniform scores give the
unweighted loss exactly), and every frame keeps at least ``floor`` of the
uniform weight (``0 <= floor <= 1``; ``floor = 1`` switches the gate off). The
gate can only move supervision between frames, never remove it, and the
floor stops it from collapsing onto the one easiest frame, which is where
gradient descent on ``L_spatial`` alone would push a softmax.

Shapes: ``f_m (N, T, h, w, C_M)``, ``f_r (N, T, h, w, C_R)`` (grids may
differ) -> ``alpha (N, T)`` float32.
"""
from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp


def normalise_scores(z: jax.Array, floor: float) -> jax.Array:
    """``(N, T)`` scores -> ``alpha`` with ``sum_t alpha_t = T`` and ``alpha_t >= floor``."""
    if not 0.0 <= floor <= 1.0:
        raise ValueError(f"attention-gate floor must be in [0, 1], got {floor}")
    t = z.shape[-1]
    return floor + (1.0 - floor) * t * jax.nn.softmax(z.astype(jnp.float32), axis=-1)


class AttentionGate(nn.Module):
    """``(f_m, f_r)`` -> ``alpha (N, T)`` (see the module docstring).
    Parameters: ``squeeze`` ``(C_M + C_R, hidden)``, ``excite`` ``(hidden, 1)``."""
    hidden: int = 64
    floor: float = 0.5

    @nn.compact
    def __call__(self, f_m, f_r):
        if f_m.ndim != 5 or f_r.ndim != 5 or f_m.shape[:2] != f_r.shape[:2]:
            raise ValueError(f"attention gate expects (N, T, h, w, C) maps with one (N, T), got "
                             f"{f_m.shape} and {f_r.shape}")
        d = jnp.concatenate([jnp.mean(f.astype(jnp.float32), axis=(2, 3)) for f in (f_m, f_r)], -1)
        z = nn.Dense(1, name="excite")(nn.relu(nn.Dense(self.hidden, name="squeeze")(d)))[..., 0]
        return normalise_scores(z, self.floor)

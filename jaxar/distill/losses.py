"""CD-KD losses (Liu et al., ICASSP 2023): spatial knowledge (Eq. 4),
multi-birth temporal graphs (Eqs. 3, 5, 6) and the total of Eq. 7.

All take per-frame feature vectors ``(N, T, D)`` -- the teacher's ``h_t``
and the student's pseudo-decoded ``h_hat_t`` (the spatial mean of each
frame's feature map, see docs/cdkd.md) -- and return per-example values
``(N,)`` float32; the caller averages over the batch. The teacher side is
not differentiated here: the train step passes it through
``jax.lax.stop_gradient``.

Choices where the paper is silent (docs/cdkd.md):

* ``normalize`` (default on): each frame's vector is L2-normalised before
  both losses. Teacher and student live on different scales, and on raw
  2048-d features ``exp(-||h - mu||^2 / 2)`` of Eq. 5 underflows to 0 for
  every frame (no gradient); on unit vectors ``||h - mu||^2 <= 4``.
* ``mu`` in Eq. 5: the clip's temporal mean of the same network's
  (normalised) features, ``mu = mean_t h_t`` (each graph centred on its own
  clip), so a vertex says how far a frame departs from the clip's average
  appearance; ``"zero"`` uses the origin.
* Eq. 6's ``||E_raw - E_comp||^2`` is averaged over the ``T x T`` edges (a
  sum would scale the loss with ``T^2``), summed over the three births.
* Eq. 4's sum over frames is kept (``alpha`` sums to ``T``, so the spatial
  loss is ``T`` x the per-frame mean when the gate is uniform).

Both losses are exactly 0 when the student's features equal the teacher's.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

MU_CHOICES = ("clip", "zero")


def check_pair(h: jax.Array, h_hat: jax.Array) -> None:
    if h.ndim != 3 or h.shape != h_hat.shape:
        raise ValueError(f"distillation losses expect teacher and student features of one "
                         f"shape (N, T, D), got {h.shape} and {h_hat.shape}")


def prepare(h: jax.Array, normalize: bool = True) -> jax.Array:
    """``(N, T, D)`` float32, each frame L2-normalised when ``normalize``."""
    h = h.astype(jnp.float32)
    if not normalize:
        return h
    return h * jax.lax.rsqrt(jnp.sum(h * h, axis=-1, keepdims=True) + 1e-12)


def spatial_loss(h: jax.Array, h_hat: jax.Array, alpha: jax.Array | None = None,
                 normalize: bool = True) -> jax.Array:
    """Eq. 4: ``sum_t alpha_t ||h_t - h_hat_t||^2`` per example ``(N,)``
    (``alpha (N, T)``; ``None``: all ones)."""
    check_pair(h, h_hat)
    err = jnp.sum((prepare(h, normalize) - prepare(h_hat, normalize)) ** 2, axis=-1)   # (N, T)
    if alpha is not None:
        if alpha.shape != err.shape:
            raise ValueError(f"gate weights alpha must be (N, T) = {err.shape}, got {alpha.shape}")
        err = alpha.astype(jnp.float32) * err
    return jnp.sum(err, axis=-1)


def _center(h: jax.Array, mu: str) -> jax.Array:
    if mu == "clip":
        return jnp.mean(h, axis=1, keepdims=True)
    if mu == "zero":
        return jnp.zeros_like(h[:, :1])
    raise ValueError(f"mu must be one of {MU_CHOICES}, got {mu!r}")


def births(h: jax.Array, mu: str = "clip", sigma: float = 1.0, a: float = 1.0, b: float = 1.0,
           c: float = 1.0) -> list[jax.Array]:
    """Eq. 5's three vertex maps of ``(N, T, D)`` (already prepared) features:

    * TG1 ``exp(-||h_t - mu||^2 / 2 sigma^2)`` -> ``(N, T, 1)``;
    * TG2 ``exp(-||h_t - mu|| / 2 sigma^2)`` -> ``(N, T, 1)``;
    * TG3 ``a h_t^2 + b h_t + c`` (elementwise) -> ``(N, T, D)``.
    """
    sq = jnp.sum((h - _center(h, mu)) ** 2, axis=-1, keepdims=True)
    dist = jnp.sqrt(sq + 1e-12)          # finite gradient where h_t == mu
    two_s2 = 2.0 * sigma ** 2
    return [jnp.exp(-sq / two_s2), jnp.exp(-dist / two_s2), a * h * h + b * h + c]


def adjacency(v: jax.Array) -> jax.Array:
    """Eq. 3's edges: ``A(i, j) = ||v_i - v_j||^2`` of ``(N, T, D)`` -> ``(N, T, T)``."""
    diff = v[:, :, None, :] - v[:, None, :, :]
    return jnp.sum(diff * diff, axis=-1)


def temporal_loss(h: jax.Array, h_hat: jax.Array, normalize: bool = True, mu: str = "clip",
                  sigma: float = 1.0, a: float = 1.0, b: float = 1.0, c: float = 1.0,
                  base_graph: bool = False) -> jax.Array:
    """Eq. 6: ``sum_i mean_{j,k} (A_i^raw(j,k) - A_i^comp(j,k))^2`` per example
    ``(N,)`` over the three births; ``base_graph`` adds the graph of Eq. 3 on
    the features themselves."""
    check_pair(h, h_hat)
    h, h_hat = prepare(h, normalize), prepare(h_hat, normalize)
    teacher, student = births(h, mu, sigma, a, b, c), births(h_hat, mu, sigma, a, b, c)
    if base_graph:
        teacher, student = teacher + [h], student + [h_hat]
    total = 0.0
    for vt, vs in zip(teacher, student):
        total = total + jnp.mean((adjacency(vt) - adjacency(vs)) ** 2, axis=(1, 2))
    return total


def total_loss(ce: jax.Array, spatial: jax.Array, temporal: jax.Array,
               lambda_spatial: float = 0.1, lambda_temporal: float = 1.0) -> jax.Array:
    """Eq. 7: ``L_CE + lambda_1 L_spatial + lambda_2 L_temporal`` (paper: 0.1 and 1.0)."""
    return ce + lambda_spatial * spatial + lambda_temporal * temporal

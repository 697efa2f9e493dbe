"""Classification losses and metrics: cross-entropy, Poly-1, top-k accuracy.

Poly-1 (Leng et al., ICLR 2022; paper eq. 1) adds ``eps * (1 - p_y)`` to the
cross-entropy. With label smoothing ``alpha`` both terms use the *same*
smoothed target ``q = (1 - alpha) * onehot(y) + alpha / K``:

    CE    = -sum_k q_k log p_k
    Poly1 = CE + eps * (1 - sum_k q_k p_k)

so ``alpha = 0`` gives the paper's loss and ``eps = 0`` gives plain
(smoothed) cross-entropy exactly. Both are optax's
(``optax.losses.softmax_cross_entropy``, ``optax.losses.poly_loss_cross_entropy``);
this module builds the targets. All functions take logits ``(N, K)`` (any
float dtype; computed in float32) and integer labels ``(N,)`` and return
per-example values ``(N,)``; reduce them (with an optional padding mask) in
the caller.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import optax


def smoothed_targets(labels: jax.Array, num_classes: int, smoothing: float = 0.0) -> jax.Array:
    """``(N,)`` int labels -> ``(N, K)`` float32 targets ``(1-a) onehot + a/K``."""
    if not 0.0 <= smoothing < 1.0:
        raise ValueError(f"label smoothing must be in [0, 1), got {smoothing}")
    onehot = jax.nn.one_hot(labels, num_classes, dtype=jnp.float32)
    return onehot * (1.0 - smoothing) + smoothing / num_classes


def cross_entropy(logits: jax.Array, labels: jax.Array, smoothing: float = 0.0) -> jax.Array:
    """Per-example (smoothed) cross-entropy ``(N,)``."""
    q = smoothed_targets(labels, logits.shape[-1], smoothing)
    return optax.losses.softmax_cross_entropy(logits.astype(jnp.float32), q)


def poly1_cross_entropy(logits: jax.Array, labels: jax.Array, epsilon: float = 1.0,
                        smoothing: float = 0.0) -> jax.Array:
    """Per-example Poly-1 loss ``CE + eps * (1 - <q, p>)``, shape ``(N,)``."""
    q = smoothed_targets(labels, logits.shape[-1], smoothing)
    return optax.losses.poly_loss_cross_entropy(logits.astype(jnp.float32), q, epsilon=epsilon)


def make_loss_fn(name: str, epsilon: float = 1.0, smoothing: float = 0.0):
    """``name`` in {"poly1", "ce"} -> ``fn(logits, labels) -> (N,)``."""
    if name == "poly1":
        return lambda logits, labels: poly1_cross_entropy(logits, labels, epsilon, smoothing)
    if name == "ce":
        return lambda logits, labels: cross_entropy(logits, labels, smoothing)
    raise ValueError(f"loss.name must be 'poly1' or 'ce', got {name!r}")


def topk_correct(logits: jax.Array, labels: jax.Array, k: int) -> jax.Array:
    """``(N,)`` float32: 1 where the label is among the ``k`` largest logits.

    Ties are resolved by :func:`jax.lax.top_k`; with fewer than ``k``
    classes every example counts as correct.
    """
    k = min(k, logits.shape[-1])
    top = jax.lax.top_k(logits.astype(jnp.float32), k)[1]
    return jnp.any(top == labels[:, None], axis=-1).astype(jnp.float32)

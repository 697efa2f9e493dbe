"""SGD with PyTorch weight-decay semantics, cosine schedule, lr scaling.

PyTorch ``torch.optim.SGD(lr, momentum=m, weight_decay=wd)`` (dampening 0,
no Nesterov) does, per parameter ``p`` with gradient ``g``::

    g   <- g + wd * p          # L2 added to the gradient (not decoupled)
    buf <- m * buf + g         # buf = g on the first step
    p   <- p - lr_t * buf

which is ``optax.chain(add_decayed_weights(wd), sgd(schedule, momentum=m))``
(``optax.trace`` starts from zeros, so its first step is ``buf = g`` too).
The training step uses ``sgd_torch(1.0)`` and multiplies the update by the
scheduled lr, which it gets from the host (``p - lr * buf`` either way).

Schedule: optional linear warmup from 0 to the peak lr over ``warmup_steps``,
then cosine decay to ``end_lr`` at ``total_steps`` (PyTorch's
``CosineAnnealingLR`` stepped per iteration instead of per epoch).

Learning-rate scaling with the global batch (linear rule, Goyal et al. 2017):
``peak_lr = lr * global_batch / base_batch`` when ``base_batch`` is set; with
``base_batch = None`` the configured lr is used as is.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax


def scaled_lr(lr: float, global_batch: int, base_batch: int | None) -> float:
    """Linear scaling rule: ``lr * global_batch / base_batch`` (``None``: no scaling)."""
    if base_batch is None:
        return float(lr)
    if base_batch <= 0:
        raise ValueError(f"optim.base_batch must be positive or None, got {base_batch}")
    return float(lr) * global_batch / base_batch


def schedule_values(schedule: optax.Schedule, total_steps: int) -> np.ndarray:
    """float32 ``(total_steps + 1,)``: the lr of every step, computed once."""
    return np.asarray(jax.vmap(schedule)(jnp.arange(total_steps + 1)), np.float32)


def cosine_schedule(peak_lr: float, total_steps: int, warmup_steps: int = 0,
                    end_lr: float = 0.0) -> optax.Schedule:
    """Linear warmup ``0 -> peak_lr`` then cosine ``peak_lr -> end_lr`` at ``total_steps``."""
    if total_steps < 1:
        raise ValueError(f"total_steps must be >= 1, got {total_steps}")
    if not 0 <= warmup_steps < total_steps:
        raise ValueError(f"warmup_steps must be in [0, total_steps={total_steps}), got {warmup_steps}")
    cosine = optax.cosine_decay_schedule(peak_lr, total_steps - warmup_steps,
                                         alpha=end_lr / peak_lr if peak_lr else 0.0)
    if warmup_steps == 0:
        return cosine
    warmup = optax.linear_schedule(0.0, peak_lr, warmup_steps)
    return optax.join_schedules([warmup, cosine], [warmup_steps])


def step_schedule(peak_lr: float, boundaries: list[int], factor: float = 0.1,
                  warmup_steps: int = 0) -> optax.Schedule:
    """Optional linear warmup ``0 -> peak_lr``, then ``peak_lr`` multiplied by
    ``factor`` at every step in ``boundaries`` (PyTorch's ``MultiStepLR``;
    ``optax.piecewise_constant_schedule``). EAN/TSN's recipe: lr 0.01, x0.1 at
    epochs 40, 50, 60 of 70."""
    if any(b <= 0 for b in boundaries) or list(boundaries) != sorted(boundaries):
        raise ValueError(f"step-schedule boundaries must be increasing positive steps, got {boundaries}")
    if not 0.0 < factor <= 1.0:
        raise ValueError(f"step-schedule factor must be in (0, 1], got {factor}")
    steps = optax.piecewise_constant_schedule(peak_lr, {int(b): factor for b in boundaries})
    if warmup_steps == 0:
        return steps
    warmup = optax.linear_schedule(0.0, peak_lr, warmup_steps)
    return optax.join_schedules([warmup, lambda n: steps(n + warmup_steps)], [warmup_steps])


def _decay_mask(params, decay_all: bool):
    """True for parameters that get weight decay: all (PyTorch default) or
    only tensors with ndim > 1 (conv/dense kernels)."""
    return jax.tree.map(lambda p: decay_all or jnp.ndim(p) > 1, params)


def sgd_torch(learning_rate: float | optax.Schedule, momentum: float = 0.9,
              weight_decay: float = 3e-4, nesterov: bool = False,
              decay_all: bool = True) -> optax.GradientTransformation:
    """PyTorch-style SGD (see module docstring). ``decay_all=False`` skips
    weight decay on 1-D tensors (BN scales/biases, biases)."""
    decay = optax.add_decayed_weights(
        weight_decay, mask=None if decay_all else (lambda p: _decay_mask(p, False)))
    return optax.chain(decay, optax.sgd(learning_rate, momentum=momentum or None,
                                        nesterov=nesterov))

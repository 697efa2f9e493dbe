"""Pure train and eval steps (jit them with :func:`jaxar.train.step.compile_steps`).

Both are written once for every kind of run; what the model reads from a
batch and what it is trained to minimise come from a
:class:`jaxar.train.task.Task` (default :data:`~jaxar.train.task.CLASSIFICATION`).

``train_step(state, batch, lr, frozen=None) -> (state, metrics)``: one SGD step
on the global batch (classification: ``{"video": (B, T, S, S, 3) float,
"label": (B,) int32}``) with learning rate ``lr`` (a float32 scalar: the loop
evaluates the schedule on the host, so one compiled step serves every
schedule; ``tx`` must produce the update for lr = 1, e.g. ``sgd_torch(1.0)``).
``frozen`` is the task's frozen extra state (:meth:`Task.frozen`, e.g. a
teacher's variables): read by the objective, never updated, not donated.
Guarded: when the loss, a gradient, an updated parameter or a BN statistic is
NaN/Inf, the returned state is the input state unchanged and
``metrics["finite"]`` is False, so the caller can stop without ever holding
(or saving) a corrupted state. ``metrics``: ``loss``, ``top1``, ``top5``,
``grad_norm``, ``lr``, ``finite`` and the task's extra metrics.

``eval_step(variables, batch) -> sums``: BN in inference mode; batch may carry
``"mask": (B,)`` float (0 = padding) and the inputs may be ``(B, K, T, S, S, C)``
for K-clip evaluation (logits averaged over clips). Returns sums to be added
over batches: ``loss``, ``top1``, ``top5``, ``count`` and the ``confusion``
matrix ``(K, K)`` (rows = true class, columns = predicted).
"""
from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import optax

from jaxar.losses import topk_correct
from jaxar.train.state import TrainState
from jaxar.train.task import CLASSIFICATION, Task


def _all_finite(tree) -> jax.Array:
    leaves = [jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree)]
    return jnp.all(jnp.stack(leaves))


def make_train_step(model, tx: optax.GradientTransformation, loss_fn: Callable,
                    task: Task = CLASSIFICATION) -> Callable:
    def train_step(state: TrainState, batch: dict, lr: jax.Array, frozen=None):
        rng = jax.random.fold_in(state.rng, state.step)

        def objective(params):
            return task.objective(model, loss_fn, {"params": params, "batch_stats": state.batch_stats},
                                  batch, rng, frozen)

        (loss, (logits, batch_stats, extra)), grads = jax.value_and_grad(
            objective, has_aux=True)(state.params)
        direction, opt_state = tx.update(grads, state.opt_state, state.params)
        updates = jax.tree.map(lambda u: u * lr.astype(u.dtype), direction)
        params = optax.apply_updates(state.params, updates)
        finite = (jnp.isfinite(loss) & _all_finite(grads) & _all_finite(params)
                  & _all_finite(batch_stats))
        new = state.replace(step=state.step + 1, params=params, batch_stats=batch_stats,
                            opt_state=opt_state)
        new = jax.tree.map(lambda n, o: jnp.where(finite, n, o), new, state)
        metrics = {
            "loss": loss,
            **extra,
            "top1": jnp.mean(topk_correct(logits, batch["label"], 1)),
            "top5": jnp.mean(topk_correct(logits, batch["label"], 5)),
            "grad_norm": optax.global_norm(grads),
            "lr": lr,
            "finite": finite,
        }
        return new, metrics

    return train_step


def make_eval_step(model, loss_fn: Callable, num_classes: int,
                   task: Task = CLASSIFICATION) -> Callable:
    def eval_step(variables: dict, batch: dict):
        x = task.inputs(batch)
        labels = batch["label"]
        mask = batch.get("mask", jnp.ones(labels.shape, jnp.float32))
        if jax.tree.leaves(x)[0].ndim == 6:     # (B, K, T, S, S, C): average logits over K clips
            b, k = labels.shape[0], jax.tree.leaves(x)[0].shape[1]
            flat = jax.tree.map(lambda a: a.reshape(b * k, *a.shape[2:]), x)
            logits = model.apply(variables, flat, train=False).reshape(b, k, -1).mean(axis=1)
        else:
            logits = model.apply(variables, x, train=False)
        pred = jnp.argmax(logits, axis=-1)
        confusion = jnp.einsum("n,ni,nj->ij", mask, jax.nn.one_hot(labels, num_classes),
                               jax.nn.one_hot(pred, num_classes))
        return {
            "loss": jnp.sum(loss_fn(logits, labels) * mask),
            "top1": jnp.sum(topk_correct(logits, labels, 1) * mask),
            "top5": jnp.sum(topk_correct(logits, labels, 5) * mask),
            "count": jnp.sum(mask),
            "confusion": confusion,
        }

    return eval_step


def jit_eval_step(model, loss_fn, num_classes: int, mesh, task: Task = CLASSIFICATION) -> Callable:
    """Jitted eval step with replicated outputs, compiled with cheap settings
    on CPU (:func:`jaxar.initialization.fast_compile_options`)."""
    from jaxar.parallel import replicated
    from jaxar.initialization import fast_compile_options
    return jax.jit(make_eval_step(model, loss_fn, num_classes, task), out_shardings=replicated(mesh),
                   compiler_options=fast_compile_options())


def compile_steps(model, tx, loss_fn, num_classes: int, mesh, task: Task = CLASSIFICATION):
    """Jitted ``(train_step, eval_step)`` for a replicated state (and frozen
    state) and a batch sharded over ``mesh``; the train step donates its input
    state only."""
    from jaxar.parallel import replicated
    rep = replicated(mesh)
    train = jax.jit(make_train_step(model, tx, loss_fn, task), out_shardings=(rep, rep),
                    donate_argnums=0)
    return train, jit_eval_step(model, loss_fn, num_classes, mesh, task)

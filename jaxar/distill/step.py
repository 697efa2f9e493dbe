"""Pure distillation train / eval steps for the CD-KD student.

``train_step(state, teacher_variables, batch, lr) -> (state, metrics)``: one
SGD step on the global batch ``{"iframe", "mv", "residual", "frames",
"label"}`` (shapes: :mod:`jaxar.models.cdkd`; ``frames`` are the teacher's
decoded frames). With KD on, the loss is Eq. 7,
``CE + lambda_spatial L_spatial + lambda_temporal L_temporal``
(:mod:`jaxar.distill.losses`, per-example values averaged over the batch) on
the teacher's features ``h_t`` (:class:`jaxar.distill.teacher.Teacher`,
frozen) and the student's pseudo-decoded ``h_hat_t``; with KD off the step
is the plain CE step, the teacher is never run and ``teacher_variables`` may
be ``None``. Same guard as :mod:`jaxar.train.step`: a NaN/Inf loss, gradient,
parameter or BN statistic leaves the state unchanged and ``finite`` False.
The teacher's variables are an argument (not donated, not in the state): the
optimizer never sees them and nothing writes them.

``eval_step(variables, batch) -> sums``: the student alone (no teacher),
same sums as :func:`jaxar.train.step.make_eval_step` (``loss``, ``top1``,
``top5``, ``count``, ``confusion``); ``(B, K, T, ...)`` inputs average the
logits of K clips.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, Mapping

import jax
import jax.numpy as jnp
import optax

from jaxar.distill import losses
from jaxar.losses import topk_correct
from jaxar.models.cdkd import MODALITIES
from jaxar.train.state import TrainState
from jaxar.train.step import _all_finite


@dataclasses.dataclass(frozen=True)
class KDSettings:
    """The ``kd`` section of a run config (see :func:`jaxar.distill.config.kd_section`)."""
    enabled: bool = True
    lambda_spatial: float = 0.1
    lambda_temporal: float = 1.0
    gate: bool = True                 # False: alpha_t = 1 (no attention gate)
    normalize: bool = True
    mu: str = "clip"
    sigma: float = 1.0
    a: float = 1.0
    b: float = 1.0
    c: float = 1.0
    base_graph: bool = False

    def __post_init__(self):
        if self.mu not in losses.MU_CHOICES:
            raise ValueError(f"kd.mu must be one of {losses.MU_CHOICES}, got {self.mu!r}")
        if self.lambda_spatial < 0 or self.lambda_temporal < 0 or self.sigma <= 0:
            raise ValueError("kd.lambda_spatial / kd.lambda_temporal must be >= 0 and kd.sigma > 0")

    @classmethod
    def from_section(cls, section: Mapping) -> "KDSettings":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in dict(section).items() if k in names})


def student_inputs(batch: Mapping) -> dict:
    missing = [m for m in MODALITIES if m not in batch]
    if missing:
        raise ValueError(f"batch lacks the compressed-domain inputs {missing} (has {sorted(batch)}); "
                         f"use a compressed-domain data source")
    return {m: batch[m] for m in MODALITIES}


def distill_terms(kd: KDSettings, h: jax.Array, feats: Mapping) -> tuple[jax.Array, jax.Array]:
    """Batch means of ``(L_spatial, L_temporal)`` for teacher ``h`` and student features."""
    alpha = feats["alpha"] if kd.gate else None
    spatial = losses.spatial_loss(h, feats["h_hat"], alpha, kd.normalize)
    temporal = losses.temporal_loss(h, feats["h_hat"], kd.normalize, kd.mu, kd.sigma, kd.a, kd.b,
                                    kd.c, kd.base_graph)
    return jnp.mean(spatial), jnp.mean(temporal)


def make_distill_train_step(model, teacher: Any, tx: optax.GradientTransformation,
                            loss_fn: Callable, kd: KDSettings) -> Callable:
    if kd.enabled and teacher is None:
        raise ValueError("KD is on (kd.enabled) but no teacher was given (kd.teacher)")

    def train_step(state: TrainState, teacher_variables, batch: dict, lr: jax.Array):
        rng = jax.random.fold_in(state.rng, state.step)
        x = student_inputs(batch)
        h = teacher.features(teacher_variables, batch["frames"]) if kd.enabled else None

        def objective(params):
            out, updates = model.apply(
                {"params": params, "batch_stats": state.batch_stats}, x, train=True,
                return_features=kd.enabled, mutable=["batch_stats"], rngs={"dropout": rng})
            logits, feats = out if kd.enabled else (out, None)
            ce = jnp.mean(loss_fn(logits, batch["label"]))
            if kd.enabled:
                spatial, temporal = distill_terms(kd, h, feats)
            else:
                spatial = temporal = jnp.zeros((), jnp.float32)
            loss = losses.total_loss(ce, spatial, temporal, kd.lambda_spatial, kd.lambda_temporal)
            return loss, (logits, updates["batch_stats"], ce, spatial, temporal)

        (loss, (logits, batch_stats, ce, spatial, temporal)), grads = jax.value_and_grad(
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
            "loss": loss, "ce": ce, "spatial": spatial, "temporal": temporal,
            "top1": jnp.mean(topk_correct(logits, batch["label"], 1)),
            "top5": jnp.mean(topk_correct(logits, batch["label"], 5)),
            "grad_norm": optax.global_norm(grads), "lr": lr, "finite": finite,
        }
        return new, metrics

    return train_step


def make_distill_eval_step(model, loss_fn: Callable, num_classes: int) -> Callable:
    def eval_step(variables: dict, batch: dict):
        x = student_inputs(batch)
        labels = batch["label"]
        mask = batch.get("mask", jnp.ones(labels.shape, jnp.float32))
        if x["iframe"].ndim == 6:            # (B, K, T, S, S, C): average logits over K clips
            b, k = x["iframe"].shape[:2]
            flat = {m: a.reshape(b * k, *a.shape[2:]) for m, a in x.items()}
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


def compile_distill_steps(model, teacher, tx, loss_fn, kd: KDSettings, num_classes: int, mesh):
    """Jitted ``(train_step, eval_step)``: replicated state and teacher, batch
    sharded over ``mesh``; the train step donates its input state only."""
    from jaxar.initialization import fast_compile_options
    from jaxar.parallel import replicated
    rep = replicated(mesh)
    train = jax.jit(make_distill_train_step(model, teacher, tx, loss_fn, kd),
                    out_shardings=(rep, rep), donate_argnums=0)
    evaluate = jax.jit(make_distill_eval_step(model, loss_fn, num_classes), out_shardings=rep,
                       compiler_options=fast_compile_options())
    return train, evaluate

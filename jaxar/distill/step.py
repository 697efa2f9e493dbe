"""The CD-KD distillation task: what the library's train / eval steps
(:mod:`jaxar.train.step`) train when the student is a CD-KD model.

:class:`DistillTask` is a :class:`jaxar.train.task.Task`. Batches are
``{"iframe", "mv", "residual", "frames", "label"}`` (shapes:
:mod:`jaxar.models.cdkd`; ``frames`` are the teacher's decoded frames, the
student reads the other three). With KD on, the loss is Eq. 7,
``CE + lambda_spatial L_spatial + lambda_temporal L_temporal``
(:mod:`jaxar.distill.losses`, per-example values averaged over the batch) on
the teacher's features ``h_t`` (:class:`jaxar.distill.teacher.Teacher`,
frozen) and the student's pseudo-decoded ``h_hat_t``; the train records add
``ce``, ``spatial`` and ``temporal``. With KD off the loss is plain CE, the
teacher is never run and may be ``None``.

The teacher's variables are the task's frozen state: the train step's own
argument (not donated, not in the state), so the optimizer never sees them and
nothing writes them. Evaluation is the student alone (no teacher). The step's
NaN/Inf guard, K-clip evaluation and metrics are :mod:`jaxar.train.step`'s.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, Mapping

import jax
import jax.numpy as jnp
import optax

from jaxar.distill import losses
from jaxar.train.task import Task, compressed_inputs


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


student_inputs = compressed_inputs      # the student's inputs of a batch (jaxar.train.task)


def distill_terms(kd: KDSettings, h: jax.Array, feats: Mapping) -> tuple[jax.Array, jax.Array]:
    """Batch means of ``(L_spatial, L_temporal)`` for teacher ``h`` and student features."""
    alpha = feats["alpha"] if kd.gate else None
    spatial = losses.spatial_loss(h, feats["h_hat"], alpha, kd.normalize)
    temporal = losses.temporal_loss(h, feats["h_hat"], kd.normalize, kd.mu, kd.sigma, kd.a, kd.b,
                                    kd.c, kd.base_graph)
    return jnp.mean(spatial), jnp.mean(temporal)


def check_student(cfg, model_cfg) -> None:
    if model_cfg.family != "cdkd":
        raise ValueError(f"model.variant={cfg.model.variant!r} is not a CD-KD student (cdkd_*)")


@dataclasses.dataclass(frozen=True, eq=False)
class DistillTask(Task):
    """Trains a CD-KD student (``cdkd_*`` variants) with the Eq. 7 loss
    (``kd.enabled``) or CE alone; ``teacher`` is required when KD is on."""
    kd: KDSettings
    teacher: Any = None               # jaxar.distill.teacher.Teacher, or None with KD off

    name = "cdkd"

    def __post_init__(self):
        if self.kd.enabled and self.teacher is None:
            raise ValueError("KD is on (kd.enabled) but no teacher was given (kd.teacher)")

    def check(self, cfg, model_cfg) -> None:
        check_student(cfg, model_cfg)

    def input_shapes(self, model_cfg) -> dict:
        return model_cfg.input_shapes

    def inputs(self, batch: Mapping) -> dict:
        return student_inputs(batch)

    def frozen(self) -> Any:
        return self.teacher.variables if self.kd.enabled else None

    def info(self) -> dict:
        return {"kd": self.kd.enabled,
                "teacher": self.teacher.origin if self.kd.enabled else None}

    def objective(self, model, loss_fn: Callable, variables: dict, batch: Mapping,
                  rng: jax.Array, frozen: Any):
        kd = self.kd
        out, updates = model.apply(variables, self.inputs(batch), train=True,
                                   return_features=kd.enabled, mutable=["batch_stats"],
                                   rngs={"dropout": rng})
        logits, feats = out if kd.enabled else (out, None)
        ce = jnp.mean(loss_fn(logits, batch["label"]))
        if kd.enabled:
            h = self.teacher.features(frozen, batch["frames"])
            spatial, temporal = distill_terms(kd, h, feats)
        else:
            spatial = temporal = jnp.zeros((), jnp.float32)
        loss = losses.total_loss(ce, spatial, temporal, kd.lambda_spatial, kd.lambda_temporal)
        return loss, (logits, updates["batch_stats"],
                      {"ce": ce, "spatial": spatial, "temporal": temporal})


def make_distill_train_step(model, teacher: Any, tx: optax.GradientTransformation,
                            loss_fn: Callable, kd: KDSettings) -> Callable:
    """The library's train step for :class:`DistillTask`, as
    ``train_step(state, teacher_variables, batch, lr) -> (state, metrics)``
    (``teacher_variables`` may be ``None`` with KD off)."""
    from jaxar.train.step import make_train_step
    step = make_train_step(model, tx, loss_fn, DistillTask(kd, teacher))
    return lambda state, teacher_variables, batch, lr: step(state, batch, lr, teacher_variables)

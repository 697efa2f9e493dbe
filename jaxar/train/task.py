"""What the training loop trains: the loop's one extension point.

:func:`jaxar.train.loop.train_and_evaluate` and the steps of
:mod:`jaxar.train.step` are written once for every kind of run; a
:class:`Task` says what differs between kinds:

* ``check(cfg, model_cfg)`` -- refuse a run config the task cannot train;
* ``input_shapes(model_cfg)`` -- the per-clip model input, ``(T, S, S, C)``
  or a mapping of named inputs to such shapes (builds the initial state);
* ``inputs(batch)`` -- the model input taken from a batch (the batch adapter),
  the same structure with a leading ``(B,)`` (or ``(B, K)`` for K-clip eval);
* ``objective(...)`` -- the training loss of one batch, its logits, the new
  BN statistics and any extra per-step metrics (scalars, logged and averaged
  like ``loss``);
* ``frozen()`` -- extra state the objective reads but never changes (e.g. a
  distillation teacher's variables): a pytree of arrays, replicated over the
  mesh, passed to every train step as its own non-donated argument, never part
  of :class:`jaxar.train.state.TrainState`, never given to the optimizer,
  never checkpointed; ``None`` when there is none;
* ``info()`` -- extra fields of the run's ``start`` log event.

:data:`CLASSIFICATION` is the default task: raw clips ``batch["video"]``,
the configured classification loss. :class:`jaxar.distill.step.DistillTask`
is the CD-KD task.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping

import jax
import jax.numpy as jnp


class Task:
    """Supervised classification of raw clips ``{"video": (B, T, S, S, 3), "label": (B,)}``."""

    name = "classification"

    def check(self, cfg, model_cfg) -> None:
        """Raises ``ValueError`` when the run config cannot be trained by this task."""

    def input_shapes(self, model_cfg) -> Any:
        return model_cfg.input_shape

    def inputs(self, batch: Mapping) -> Any:
        return batch["video"]

    def frozen(self) -> Any:
        return None

    def info(self) -> dict:
        return {}

    def objective(self, model, loss_fn: Callable, variables: dict, batch: Mapping,
                  rng: jax.Array, frozen: Any):
        """``(loss, (logits, batch_stats, extra_metrics))`` of one training batch;
        ``variables`` are ``{"params", "batch_stats"}`` (the params differentiated)."""
        logits, updates = model.apply(variables, self.inputs(batch), train=True,
                                      mutable=["batch_stats"], rngs={"dropout": rng})
        loss = jnp.mean(loss_fn(logits, batch["label"]))
        return loss, (logits, updates["batch_stats"], {})


CLASSIFICATION = Task()


class CompressedClassification(Task):
    """Supervised classification of compressed-domain clips: the model reads
    ``{"iframe", "mv", "residual"}`` of a batch (a CD-KD student without a
    teacher; evaluation of a distilled student)."""

    name = "compressed classification"

    def check(self, cfg, model_cfg) -> None:
        if model_cfg.input_domain != "compressed":
            raise ValueError(f"model.variant={cfg.model.variant!r} reads {model_cfg.input_domain} "
                             "clips, not compressed-domain inputs")

    def input_shapes(self, model_cfg) -> Any:
        return model_cfg.input_shapes

    def inputs(self, batch: Mapping) -> Any:
        return compressed_inputs(batch)


def compressed_inputs(batch: Mapping) -> dict:
    """``{"iframe", "mv", "residual"}`` of ``batch``; ``ValueError`` naming what the
    batch holds when one is missing (a raw-frame data source)."""
    from jaxar.models.cdkd import MODALITIES
    missing = [m for m in MODALITIES if m not in batch]
    if missing:
        raise ValueError(f"batch lacks the compressed-domain inputs {missing} (has {sorted(batch)}); "
                         f"use a compressed-domain data source")
    return {m: batch[m] for m in MODALITIES}


def task_for(model_cfg) -> Task:
    """The plain classification task of a model config's input domain (what
    evaluation runs: it needs no teacher)."""
    return CompressedClassification() if model_cfg.input_domain == "compressed" else CLASSIFICATION

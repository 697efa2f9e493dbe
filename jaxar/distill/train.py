"""Train (or resume) a CD-KD student, with or without distillation:
``python -m jaxar.distill.train --config FILE --workdir DIR [--config.KEY=VALUE ...]``.

The run is :func:`jaxar.train.loop.train_and_evaluate` with the CD-KD task
(:class:`jaxar.distill.step.DistillTask`): compressed-domain batches
(``iframe``/``mv``/``residual`` + the teacher's ``frames``), the Eq. 7 loss
when ``kd.enabled``, and the frozen teacher's variables as the step's separate,
replicated argument. Everything else is the library's loop: the data source
registry, the plan and schedule, data parallelism, Orbax checkpoints with
exact resume (same config check), the NaN/Inf guard, the JSONL/TensorBoard log
(train records add ``ce``, ``spatial``, ``temporal``), progress lines,
evaluation, plots and ``results.json``.
"""
from __future__ import annotations

from pathlib import Path

import ml_collections

from jaxar.distill import proxy_data  # noqa: F401  (registers "compressed_proxy")
from jaxar.distill.config import resolve_teacher_features, validate_kd
from jaxar.distill.step import DistillTask, KDSettings, check_student
from jaxar.distill.teacher import Teacher
from jaxar.train.config import model_config
from jaxar.train.state import TrainState, create_train_state


def create_student_state(model, tx, model_cfg, seed: int) -> TrainState:
    """Fresh student state (the distillation heads' parameters included)."""
    return create_train_state(model, tx, model_cfg.input_shapes, seed)


def load_teacher(cfg: ml_collections.ConfigDict, model_cfg) -> Teacher | None:
    if not cfg.kd.enabled:
        return None
    teacher = Teacher.from_checkpoint(cfg.kd.teacher)
    dim = teacher.feature_dim(model_cfg.frames, model_cfg.size)
    if dim != model_cfg.teacher_features:
        raise ValueError(f"kd.teacher {cfg.kd.teacher}: its per-frame features have {dim} channels "
                         f"but model.teacher_features={model_cfg.teacher_features}; set "
                         f"--config.model.teacher_features={dim}")
    return teacher


def distill_task(cfg: ml_collections.ConfigDict) -> DistillTask:
    """The task of run config ``cfg``: ``kd`` section and student checked, the
    teacher loaded (and its feature width checked) when KD is on."""
    validate_kd(cfg)
    model_cfg = model_config(cfg)
    check_student(cfg, model_cfg)
    return DistillTask(KDSettings.from_section(cfg.kd), load_teacher(cfg, model_cfg))


def train_and_distill(cfg: ml_collections.ConfigDict, workdir: str | Path) -> dict:
    """Trains (or resumes) the CD-KD run ``cfg`` in ``workdir``; returns the summary
    of :func:`jaxar.train.loop.train_and_evaluate`."""
    from jaxar.train.loop import train_and_evaluate
    validate_kd(cfg)
    cfg = resolve_teacher_features(cfg)        # model.teacher_features from the teacher's checkpoint
    return train_and_evaluate(cfg, workdir, distill_task(cfg))


def main(argv=None) -> int:
    from jaxar.train import cli
    return cli.train_main("python -m jaxar.distill.train", __doc__, argv, train_and_distill,
                          "experiments/cdkd_proxy.py")


if __name__ == "__main__":
    from jaxar.train.cli import run_main
    run_main(main)

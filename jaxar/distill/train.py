"""Train (or resume) a CD-KD student, with or without distillation:
``python -m jaxar.distill.train --config FILE --workdir DIR [--config.KEY=VALUE ...]``.

The run is :func:`jaxar.train.loop.train_and_evaluate`'s with three changes:
the batches are compressed-domain (``iframe``/``mv``/``residual`` +
the teacher's ``frames``), the step is :mod:`jaxar.distill.step`'s (Eq. 7 when
``kd.enabled``), and the frozen teacher's variables ride along as a separate,
replicated argument of the step. Everything else is the library's: the data
source registry, the plan and schedule, Orbax checkpoints with exact resume
(same config check), the JSONL/TensorBoard log (train records add ``ce``,
``spatial``, ``temporal``), evaluation, plots and ``results.json``.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxar import parallel
from jaxar.checkpoint import Checkpointer
from jaxar.registry import config_to_json
from jaxar.distill import proxy_data  # noqa: F401  (registers "compressed_proxy")
from jaxar.distill.config import resolve_teacher_features, validate_kd
from jaxar.distill.step import KDSettings, compile_distill_steps
from jaxar.distill.teacher import Teacher
from jaxar.initialization import run_init
from jaxar.losses import make_loss_fn
from jaxar.optim import cosine_schedule, schedule_values, sgd_torch
from jaxar.train import data as data_lib
from jaxar.train.config import model_config, to_json
from jaxar.runtime.files import atomic_write_text
from jaxar.train.loop import (NonFiniteError, _check_resumable, _finish, _say,
                              evaluate_variables, make_plan)
from jaxar.train.metric_writer import MetricWriter
from jaxar.train.progress import Progress
from jaxar.train.state import TrainState

TRAIN_KEYS = ("loss", "ce", "spatial", "temporal", "top1", "top5", "grad_norm")


def create_student_state(model, tx, model_cfg, seed: int) -> TrainState:
    """Fresh student state (the distillation heads' parameters included)."""
    def init(key, x):
        variables = model.init(key, x, train=False)
        params = variables["params"]
        return TrainState(step=jnp.zeros((), jnp.int32), params=params,
                          batch_stats=variables.get("batch_stats", {}), opt_state=tx.init(params),
                          rng=jax.random.PRNGKey(seed + 1))

    x = {m: jnp.zeros((1, *s), jnp.float32) for m, s in model_cfg.input_shapes.items()}
    return run_init(init, jax.random.PRNGKey(seed), x)


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


def train_and_distill(cfg: ml_collections.ConfigDict, workdir: str | Path) -> dict:
    """Trains (or resumes) the CD-KD run ``cfg`` in ``workdir``; returns the summary
    of :func:`jaxar.train.loop.train_and_evaluate`."""
    validate_kd(cfg)
    cfg = resolve_teacher_features(cfg)
    workdir = Path(workdir).absolute()
    lead = jax.process_index() == 0
    mesh = parallel.make_mesh(cfg.num_devices)
    host_batch = parallel.check_global_batch(cfg.batch_size, mesh)
    model_cfg = model_config(cfg)
    if model_cfg.family != "cdkd":
        raise ValueError(f"model.variant={cfg.model.variant!r} is not a CD-KD student (cdkd_*)")
    kd = KDSettings.from_section(cfg.kd)
    t0 = time.time()

    source = data_lib.build_source(cfg.data, model_cfg, host_batch, jax.process_index(),
                                   jax.process_count())
    plan = make_plan(cfg, source.num_train)
    model = model_cfg.build()
    teacher = load_teacher(cfg, model_cfg)
    teacher_vars = parallel.replicate(teacher.variables, mesh) if teacher else None
    lrs = schedule_values(cosine_schedule(plan.peak_lr, plan.total_steps, plan.warmup_steps,
                                          cfg.optim.end_lr), plan.total_steps)
    tx = sgd_torch(1.0, cfg.optim.momentum, cfg.optim.weight_decay, cfg.optim.nesterov,
                   cfg.optim.decay_all)
    loss_fn = make_loss_fn(cfg.loss.name, cfg.loss.epsilon, cfg.loss.label_smoothing)
    train_step, eval_step = compile_distill_steps(model, teacher, tx, loss_fn, kd,
                                                  model_cfg.num_classes, mesh)

    state = parallel.replicate(create_student_state(model, tx, model_cfg, cfg.seed), mesh)
    ckpt = Checkpointer(workdir, cfg.checkpoint.keep, cfg.checkpoint.async_save)
    start = ckpt.latest_step() or 0
    if start:
        state, meta = ckpt.restore(start, state)
        _check_resumable(meta["train_config"], cfg, workdir)
        if int(state.step) != start or meta["data"]["next_step"] != start:
            raise ValueError(f"{ckpt.directory}/{start}: state step {int(state.step)} / data "
                             f"position {meta['data']['next_step']} do not match the step")
        _say(f"resumed from {ckpt.directory}/{start}")
    if lead:
        workdir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(workdir / "config.json", to_json(cfg))
    writer = MetricWriter(workdir, resume_step=start, enabled=lead)
    info = {"devices": mesh.devices.size, "global_batch": cfg.batch_size, "kd": kd.enabled,
            "teacher": teacher.origin if teacher else None, "total_steps": plan.total_steps,
            "steps_per_epoch": plan.steps_per_epoch, "peak_lr": plan.peak_lr, "start_step": start,
            "num_train": source.num_train, "num_eval": source.num_eval}
    writer.write("event", start, {"event": "start", **info})
    _say("run: " + ", ".join(f"{k}={v}" for k, v in info.items()))

    def meta_for(step: int) -> dict:
        return {"step": step, "data": {"seed": cfg.seed, "next_step": step},
                "model_config": config_to_json(model_cfg), "class_names": source.class_names,
                "variant": cfg.model.variant, "train_config": json.loads(to_json(cfg)),
                "clip_seconds": source.clip_seconds}

    def run_eval(step: int) -> dict:
        result = evaluate_variables(eval_step, state.variables, source.eval_batches(), mesh)
        writer.write("eval", step, {k: v for k, v in result.items() if k != "confusion"})
        return result

    progress = Progress(plan.total_steps, start, cfg.batch_size, enabled=lead, bar=cfg.progress)
    batches = source.train_batches(cfg.seed, start)
    window: list[dict] = []
    result = None
    try:
        for step in range(start, plan.total_steps):
            batch = parallel.host_batch_to_global(next(batches), mesh)
            state, metrics = train_step(state, teacher_vars, batch, lrs[step])
            metrics = jax.device_get(metrics)
            done = step + 1
            if not metrics["finite"]:
                ckpt.wait()
                ckpt.close()
                raise NonFiniteError(f"non-finite training at step {done}: loss="
                                     f"{float(metrics['loss'])}; the update was not applied")
            window.append(metrics)
            progress.update(done, metrics)
            if done % cfg.log_every == 0 or done == plan.total_steps:
                record = {k: float(np.mean([m[k] for m in window])) for k in TRAIN_KEYS}
                record["lr"] = float(window[-1]["lr"])
                writer.write("train", done, record)
                progress.log_line(done, record)
                window = []
            evaluating = done % cfg.eval_every == 0 or done == plan.total_steps
            result = run_eval(done) if evaluating else None
            if evaluating or done % cfg.checkpoint.every_steps == 0:
                ckpt.save(done, state, meta_for(done), {"top1": result["top1"]} if result else None)
        if result is None:
            result = evaluate_variables(eval_step, state.variables, source.eval_batches(), mesh)
        ckpt.wait()
    finally:
        progress.close()
        writer.flush()
    return _finish(workdir, writer, ckpt, result, source.class_names, plan, time.time() - t0, lead)


def main(argv=None) -> int:
    from jaxar.train import cli
    from jaxar.train.config import load_config, with_overrides

    p = cli.parser("python -m jaxar.distill.train", __doc__)
    p.add_argument("--config", required=True, help="run config file, e.g. experiments/cdkd_proxy.py")
    p.add_argument("--workdir", required=True, help="checkpoints, logs and plots go here")
    args, overrides = cli.parse(p, argv)
    parallel.initialize_distributed()
    cfg = with_overrides(load_config(args.config), overrides)
    result = train_and_distill(cfg, args.workdir)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    from jaxar.train.cli import run_main
    run_main(main)

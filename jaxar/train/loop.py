"""The training loop: ``train_and_evaluate(config, workdir) -> results``.

Resumes from the latest checkpoint in ``workdir`` when there is one (exactly:
state, optimizer, RNG and data position), trains to the configured number of
steps with an evaluation every ``eval_every`` steps, saves checkpoints
(periodic, at every evaluation, at the end), and writes ``log.jsonl``,
TensorBoard events, ``results.json`` and the PNG plots. A NaN/Inf loss or
gradient stops the run with :class:`NonFiniteError`; the state is never
updated with it and the last good checkpoint stays on disk.

What is trained -- the model's inputs, the loss, any frozen extra state such
as a distillation teacher -- comes from a :class:`jaxar.train.task.Task`
(default: classification of raw clips); everything above is the same for
every task (CD-KD: :mod:`jaxar.distill.train`).
"""
from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path

import jax
import ml_collections
import numpy as np

from jaxar import parallel
from jaxar.checkpoint import Checkpointer
from jaxar.registry import config_to_json
from jaxar.losses import make_loss_fn
from jaxar.optim import cosine_schedule, scaled_lr, schedule_values, sgd_torch, step_schedule
from jaxar.runtime.files import atomic_open, atomic_write_json, atomic_write_text
from jaxar.train import data as data_lib
from jaxar.train import init_from, plots
from jaxar.train.config import from_dict, model_config, to_json
from jaxar.train.metric_writer import MetricWriter, read_log
from jaxar.train.progress import Progress
from jaxar.train.state import create_train_state
from jaxar.train.step import compile_steps
from jaxar.train.task import CLASSIFICATION, Task

TrainConfig = ml_collections.ConfigDict     # a run config, see jaxar.train.config


def _say(message: str) -> None:
    if jax.process_index() == 0:
        print(message, file=sys.stderr, flush=True)

# Fields that may change between an interrupted run and its resumption
# without changing the trained parameters.
_RESUME_FREE = ("progress", "eval_every", "log_every", "checkpoint")


class NonFiniteError(RuntimeError):
    """The loss or a gradient became NaN/Inf; training stopped."""


@dataclasses.dataclass
class Plan:
    """Derived run quantities."""
    total_steps: int
    steps_per_epoch: int
    peak_lr: float
    warmup_steps: int


def make_plan(cfg: TrainConfig, num_train: int) -> Plan:
    steps_per_epoch = max(1, num_train // cfg.batch_size)
    total = cfg.steps or max(1, int(round(cfg.epochs * steps_per_epoch)))
    warmup = int(round(cfg.optim.warmup_epochs * steps_per_epoch))
    return Plan(total, steps_per_epoch, scaled_lr(cfg.optim.lr, cfg.batch_size, cfg.optim.base_batch),
                warmup)


def lr_schedule(cfg: TrainConfig, plan: Plan):
    """``cfg.optim.schedule``: ``"cosine"`` (default) or ``"step"`` (multi-step decay at
    ``optim.decay_epochs``, converted to steps with the plan's steps per epoch)."""
    if cfg.optim.get("schedule", "cosine") == "step":
        bounds = [int(round(e * plan.steps_per_epoch)) for e in cfg.optim.decay_epochs]
        return step_schedule(plan.peak_lr, bounds, cfg.optim.decay_factor,
                             plan.warmup_steps)
    if cfg.optim.get("schedule", "cosine") != "cosine":
        raise ValueError(f"optim.schedule must be 'cosine' or 'step', got {cfg.optim.schedule!r}")
    return cosine_schedule(plan.peak_lr, plan.total_steps, plan.warmup_steps, cfg.optim.end_lr)


def evaluate_variables(eval_step, variables, batches, mesh) -> dict:
    """Sums ``eval_step`` over ``batches`` -> ``{loss, top1, top5, count, confusion}``
    (loss and accuracies are means over the unpadded examples)."""
    total = None
    for batch in batches:
        sums = jax.device_get(eval_step(variables, parallel.host_batch_to_global(batch, mesh)))
        total = sums if total is None else jax.tree.map(np.add, total, sums)
    if total is None or total["count"] == 0:
        raise ValueError("the evaluation split yielded no examples")
    n = float(total["count"])
    return {"loss": float(total["loss"]) / n, "top1": float(total["top1"]) / n,
            "top5": float(total["top5"]) / n, "count": int(n),
            "confusion": np.asarray(total["confusion"], np.int64)}


def _check_resumable(saved: dict, cfg: TrainConfig, workdir: Path) -> None:
    now = json.loads(to_json(cfg))           # tuples -> lists, as stored
    diff = sorted(k for k in set(saved) | set(now)
                  if k not in _RESUME_FREE and saved.get(k) != now.get(k))
    if diff:
        raise ValueError(
            f"{workdir} holds a run with a different config (differs in: {', '.join(diff)}); "
            f"resuming would not reproduce it. Use a new work directory, or the stored config "
            f"{workdir / 'config.json'}")


def train_and_evaluate(cfg: TrainConfig, workdir: str | Path, task: Task = CLASSIFICATION) -> dict:
    """Trains (or resumes) the run described by ``cfg`` in ``workdir``; ``task``
    says what is trained (:mod:`jaxar.train.task`).

    Returns ``{"step", "eval": {loss, top1, top5, count}, "workdir", ...}``.
    """
    workdir = Path(workdir).absolute()
    lead = jax.process_index() == 0
    model_cfg = model_config(cfg)
    task.check(cfg, model_cfg)
    mesh = parallel.make_mesh(cfg.num_devices)
    host_batch = parallel.check_global_batch(cfg.batch_size, mesh)
    t0 = time.time()

    # -- data
    source = data_lib.build_source(cfg.data, model_cfg, host_batch, jax.process_index(),
                                   jax.process_count())
    plan = make_plan(cfg, source.num_train)

    # -- model, optimizer, steps
    model = model_cfg.build()
    lrs = schedule_values(lr_schedule(cfg, plan), plan.total_steps)
    tx = sgd_torch(1.0, cfg.optim.momentum, cfg.optim.weight_decay, cfg.optim.nesterov,
                   cfg.optim.decay_all)        # the step scales the update by lrs[step]
    loss_fn = make_loss_fn(cfg.loss.name, cfg.loss.epsilon, cfg.loss.label_smoothing)
    input_shapes = task.input_shapes(model_cfg)
    tx = init_from.make_optimizer(tx, cfg.init, model_cfg, lambda: _param_shapes(model, input_shapes))
    train_step, eval_step = compile_steps(init_from.train_model(model, cfg.init), tx, loss_fn,
                                          model_cfg.num_classes, mesh, task)
    frozen = task.frozen()
    frozen = parallel.replicate(frozen, mesh) if frozen is not None else None

    # -- state: fresh (optionally from pretrained weights) or resumed
    state = create_train_state(model, tx, input_shapes, cfg.seed)
    ckpt = Checkpointer(workdir, cfg.checkpoint.keep, cfg.checkpoint.async_save)
    start = ckpt.latest_step() or 0
    if not start and cfg.init.checkpoint is not None:
        if lead:
            workdir.mkdir(parents=True, exist_ok=True)
        state = init_from.start_from(state, tx, cfg.init, model_cfg, _say,
                                     workdir / "init_from.txt" if lead else None)
    state = parallel.replicate(state, mesh)
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
    info = {"devices": mesh.devices.size, "platform": mesh.devices.flat[0].platform,
            "processes": jax.process_count(), "global_batch": cfg.batch_size,
            "total_steps": plan.total_steps, "steps_per_epoch": plan.steps_per_epoch,
            "peak_lr": plan.peak_lr, "warmup_steps": plan.warmup_steps, "start_step": start,
            "num_train": source.num_train, "num_eval": source.num_eval, "task": task.name,
            **task.info()}
    writer.write("event", start, {"event": "start", **info})
    _say("run: " + ", ".join(f"{k}={v}" for k, v in info.items()))

    def meta_for(step: int) -> dict:
        return {"step": step, "data": {"seed": cfg.seed, "next_step": step},
                "model_config": config_to_json(model_cfg),
                "class_names": source.class_names, "variant": cfg.model.variant,
                "train_config": json.loads(to_json(cfg)), "clip_seconds": source.clip_seconds}

    def run_eval(step: int) -> dict:
        result = evaluate_variables(eval_step, state.variables, source.eval_batches(), mesh)
        cm = result["confusion"]
        per_class = np.round(np.diag(cm) / np.maximum(cm.sum(axis=1), 1), 4)
        writer.write("eval", step, {**{k: v for k, v in result.items() if k != "confusion"},
                                    "per_class_top1": per_class})
        return result

    # -- train
    progress = Progress(plan.total_steps, start, cfg.batch_size, enabled=lead, bar=cfg.progress)
    batches = source.train_batches(cfg.seed, start)
    window: list[dict] = []
    result = None
    try:
        for step in range(start, plan.total_steps):
            batch = parallel.host_batch_to_global(next(batches), mesh)
            state, metrics = train_step(state, batch, lrs[step], frozen)
            metrics = jax.device_get(metrics)
            done = step + 1
            if not metrics["finite"]:
                ckpt.wait()
                last = ckpt.latest_step()
                msg = (f"non-finite training at step {done}: loss={float(metrics['loss'])}, "
                       f"grad_norm={float(metrics['grad_norm'])}, lr={float(metrics['lr']):.4g}. "
                       f"The update was not applied and nothing was saved; last good checkpoint: "
                       + (f"{ckpt.directory}/{last}" if last is not None else "none")
                       + ". Lower optim.lr, check the input data, or try model.dtype=float32.")
                writer.write("event", done, {"event": "nonfinite", "message": msg})
                ckpt.close()
                raise NonFiniteError(msg)
            window.append(metrics)
            progress.update(done, metrics)
            if done % cfg.log_every == 0 or done == plan.total_steps:
                record = _mean_window(window, progress.clips_per_sec)
                writer.write("train", done, record)
                progress.log_line(done, record)
                window = []
            evaluating = done % cfg.eval_every == 0 or done == plan.total_steps
            result = run_eval(done) if evaluating else None
            if result is not None:
                progress.note(f"eval step {done}: top1 {100 * result['top1']:.2f}% "
                              f"top5 {100 * result['top5']:.2f}% loss {result['loss']:.4f}")
            if evaluating or done % cfg.checkpoint.every_steps == 0:
                metrics_for_best = {"top1": result["top1"]} if result else None
                ckpt.save(done, state, meta_for(done), metrics_for_best)
        if result is None:            # already finished: re-evaluate, the log has this eval
            result = evaluate_variables(eval_step, state.variables, source.eval_batches(), mesh)
        ckpt.wait()
    finally:
        progress.close()
        writer.flush()
    return _finish(workdir, writer, ckpt, result, source.class_names, plan, time.time() - t0, lead)


def _param_shapes(model, input_shapes):
    """The model's params as ShapeDtypeStructs (nothing initialised)."""
    x = jax.tree.map(lambda shape: jax.ShapeDtypeStruct((1, *shape), jax.numpy.float32),
                     input_shapes, is_leaf=lambda node: isinstance(node, (tuple, list)))
    return jax.eval_shape(lambda x: model.init(jax.random.PRNGKey(0), x, train=False), x)["params"]


def _mean_window(window: list[dict], clips_per_sec: float | None) -> dict:
    """Means of the step metrics over the log window (``lr``: the last one)."""
    out = {k: float(np.mean([m[k] for m in window])) for k in window[0] if k not in ("lr", "finite")}
    out["lr"] = float(window[-1]["lr"])
    if clips_per_sec:
        out["clips_per_sec"] = clips_per_sec
    return out


def _finish(workdir: Path, writer: MetricWriter, ckpt: Checkpointer, result: dict,
            class_names, plan: Plan, seconds: float, lead: bool) -> dict:
    best = ckpt.best_step()
    summary = {"step": plan.total_steps, "workdir": str(workdir),
               "eval": {k: v for k, v in result.items() if k != "confusion"},
               "best_step": best, "latest_step": ckpt.latest_step(),
               "seconds_this_session": round(seconds, 1)}
    if lead:
        writer.write("event", plan.total_steps, {"event": "done", **summary["eval"]})
        writer.close()
        plot_dir = workdir / "plots"
        plot_dir.mkdir(exist_ok=True)
        plots.plot_curves(read_log(workdir), plot_dir / "curves.png")
        plots.plot_confusion(result["confusion"], class_names, plot_dir / "confusion.png",
                             f"eval at step {plan.total_steps}: top-1 "
                             f"{100 * result['top1']:.2f}%")
        summary["plots"] = [str(plot_dir / "curves.png"), str(plot_dir / "confusion.png")]
        with atomic_open(workdir / "confusion.csv", "w") as f:
            np.savetxt(f, result["confusion"], fmt="%d", delimiter=",")
        atomic_write_json(workdir / "results.json", summary)
    ckpt.close()
    return summary


def load_run_config(workdir: str | Path) -> TrainConfig:
    """The :class:`TrainConfig` stored in ``workdir/config.json``."""
    path = Path(workdir) / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist (not a jaxar.train work directory?)")
    return from_dict(json.loads(path.read_text()))

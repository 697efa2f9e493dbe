"""Evaluate a checkpoint on the evaluation split of a run's data.

Library side of ``python -m jaxar.evaluate`` (the command line lives in
:mod:`jaxar.evaluate`). ``evaluate(cfg, checkpoint, out_dir)`` restores the model with
:func:`jaxar.checkpoint.restore_inference` (best-by-eval checkpoint of a work
directory, else the latest, or one step directory), runs the evaluation
split of ``cfg.data`` on all devices, and writes ``eval.json``,
``confusion.csv`` and ``confusion.png`` to ``out_dir``.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import jax
import numpy as np

from jaxar import parallel
from jaxar.checkpoint import restore_inference
from jaxar.losses import make_loss_fn
from jaxar.runtime.files import atomic_open, atomic_write_json
from jaxar.train import data as data_lib
from jaxar.train import plots
from jaxar.train.config import model_config
from jaxar.train.loop import TrainConfig, evaluate_variables
from jaxar.train.step import jit_eval_step
from jaxar.train.task import task_for


def evaluate(cfg: TrainConfig, checkpoint: str | Path, out_dir: str | Path | None = None) -> dict:
    bundle = restore_inference(checkpoint)
    run_model = model_config(cfg)
    # execution fields (same maths) come from the run config; the rest must match
    mc = bundle.config.replace(impl=run_model.impl, dtype=run_model.dtype)
    if type(mc) is not type(run_model):
        raise ValueError(f"checkpoint {checkpoint} holds a {type(mc).__name__} model but the run "
                         f"config builds a {type(run_model).__name__}")
    diff = [f"{f.name}={getattr(mc, f.name)!r} (run config: {getattr(run_model, f.name)!r})"
            for f in dataclasses.fields(mc) if getattr(mc, f.name) != getattr(run_model, f.name)]
    if diff:
        raise ValueError(f"checkpoint {checkpoint} holds a different model than the run config: "
                         + ", ".join(diff))
    mesh = parallel.make_mesh(cfg.num_devices)
    host_batch = parallel.check_global_batch(cfg.batch_size, mesh)
    source = data_lib.build_source(cfg.data, mc, host_batch, jax.process_index(),
                                   jax.process_count())
    model = mc.build()
    loss_fn = make_loss_fn(cfg.loss.name, cfg.loss.epsilon, cfg.loss.label_smoothing)
    eval_step = jit_eval_step(model, loss_fn, mc.num_classes, mesh, task_for(mc))   # RGB or compressed inputs
    variables = parallel.replicate(bundle.variables, mesh)
    result = evaluate_variables(eval_step, variables, source.eval_batches(), mesh)
    summary = {"checkpoint_step": bundle.step, "split": cfg.data.eval_split,
               "num_eval_clips": cfg.data.num_eval_clips,
               **{k: v for k, v in result.items() if k != "confusion"}}
    if out_dir is not None and jax.process_index() == 0:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_json(out / "eval.json", summary)
        with atomic_open(out / "confusion.csv", "w") as f:
            np.savetxt(f, result["confusion"], fmt="%d", delimiter=",")
        plots.plot_confusion(result["confusion"], bundle.class_names or source.class_names,
                             out / "confusion.png",
                             f"step {bundle.step}: top-1 {100 * result['top1']:.2f}%")
    summary["confusion"] = result["confusion"]
    return summary

"""Evaluate a checkpoint on the evaluation split of a run's data.

``evaluate(cfg, checkpoint, out_dir)`` restores the model with
:func:`jaxar.checkpoint.restore_inference` (best-by-eval checkpoint of a work
directory, else the latest, or one step directory), runs the evaluation
split of ``cfg.data`` on all devices, and writes ``eval.json``,
``confusion.csv`` and ``confusion.png`` to ``out_dir``.
"""
from __future__ import annotations

import json
from pathlib import Path

import jax
import numpy as np

from jaxar import parallel
from jaxar.checkpoint import restore_inference
from jaxar.losses import make_loss_fn
from jaxar.network import X3DUGT
from jaxar.train import data as data_lib
from jaxar.train import plots
from jaxar.train.config import TrainConfig
from jaxar.train.loop import evaluate_variables


def evaluate(cfg: TrainConfig, checkpoint: str | Path, out_dir: str | Path | None = None) -> dict:
    bundle = restore_inference(checkpoint)
    mc = bundle.config
    for field in ("num_classes", "frames", "size"):
        if getattr(mc, field) != getattr(cfg.data, field):
            raise ValueError(f"checkpoint {checkpoint} was trained with {field}={getattr(mc, field)} "
                             f"but data.{field}={getattr(cfg.data, field)}")
    mesh = parallel.make_mesh(cfg.num_devices)
    host_batch = parallel.check_global_batch(cfg.batch_size, mesh)
    source = data_lib.build_source(cfg.data, host_batch, jax.process_index(), jax.process_count())
    model = X3DUGT(mc.replace(dtype=cfg.model.dtype))
    loss_fn = make_loss_fn(cfg.loss.name, cfg.loss.epsilon, cfg.loss.label_smoothing)
    from jaxar.train.step import make_eval_step
    eval_step = jax.jit(make_eval_step(model, loss_fn, mc.num_classes),
                        out_shardings=parallel.replicated(mesh))
    variables = parallel.replicate(bundle.variables, mesh)
    result = evaluate_variables(eval_step, variables, source.eval_batches(), mesh)
    summary = {"checkpoint_step": bundle.step, "split": cfg.data.eval_split,
               "num_eval_clips": cfg.data.num_eval_clips,
               **{k: v for k, v in result.items() if k != "confusion"}}
    if out_dir is not None and jax.process_index() == 0:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "eval.json").write_text(json.dumps(summary, indent=2))
        np.savetxt(out / "confusion.csv", result["confusion"], fmt="%d", delimiter=",")
        plots.plot_confusion(result["confusion"], bundle.class_names or source.class_names,
                             out / "confusion.png",
                             f"step {bundle.step}: top-1 {100 * result['top1']:.2f}%")
    summary["confusion"] = result["confusion"]
    return summary

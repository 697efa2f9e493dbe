"""Held-out top-1 of a CD-KD teacher on the raw frames it was trained on and on
the decoded frames of the MPEG-4 streams (what it sees during distillation).

    python benchmarks/cdkd_teacher_domain.py --teacher runs/teacher \
        --config experiments/cdkd_synthetic.py

The distillation batches' ``frames`` are the decoded frames of the re-encoded
stream (docs/compressed.md), so a teacher trained on the original frames sees
the coding loss as a domain shift; this measures what it costs the teacher.
Both evaluations use the run config's held-out set and clip geometry.
"""
from __future__ import annotations

import argparse
import json

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np


def top1(apply, batches, key: str) -> tuple[float, int]:
    correct = count = 0.0
    for b in batches:
        logits = np.asarray(apply(jnp.asarray(b[key])))
        mask = b.get("mask", np.ones(len(b["label"]), np.float32))
        correct += float(np.sum((logits.argmax(-1) == b["label"]) * mask))
        count += float(np.sum(mask))
    return 100.0 * correct / count, int(count)


def main(argv=None) -> int:
    from jaxar.distill.teacher import Teacher
    from jaxar.train.config import load_config, model_config
    from jaxar.train.data import build_source

    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument("--teacher", required=True, help="the teacher's work directory")
    ap.add_argument("--config", required=True, help="the distillation run config")
    args = ap.parse_args(argv)
    cfg = load_config(args.config)
    student = model_config(cfg)
    teacher = Teacher.from_checkpoint(args.teacher)
    apply = jax.jit(lambda x: teacher.module.apply(teacher.variables, x, train=False))
    out = {"teacher": teacher.origin}
    for name, source, key in (("raw frames", "synthetic", "video"),
                              ("decoded MPEG-4 frames", cfg.data.source, "frames")):
        spec = ml_collections.ConfigDict(cfg.data.to_dict())
        spec.source = source
        src = build_source(spec, student, cfg.batch_size, 0, 1)
        out[name], n = top1(apply, src.eval_batches(), key)
        print(f"{name:>22}: held-out top-1 {out[name]:.1f} % ({n} clips)")
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

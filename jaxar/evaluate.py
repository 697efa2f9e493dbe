"""Evaluate a trained run: ``python -m jaxar.evaluate --workdir DIR [--checkpoint PATH]
[--config FILE] [--set k=v ...]``.

Uses the run's stored config (``DIR/config.json``) unless ``--config`` is
given; ``--set`` overrides either (e.g. ``--set data.num_eval_clips=3``).
Evaluates the best-by-eval checkpoint of ``DIR`` (else the latest) or
``--checkpoint`` (a work directory or one step directory) and writes
``eval.json``, ``confusion.csv`` and ``confusion.png`` to ``--out``
(default ``DIR/eval_<step>``).
"""
from __future__ import annotations

import argparse
import json


def main(argv=None) -> int:
    from jaxar import parallel
    from jaxar.train.cli import add_config_args

    p = argparse.ArgumentParser(prog="python -m jaxar.evaluate", description=__doc__.split("\n")[0])
    add_config_args(p, config_required=False)
    p.add_argument("--workdir", required=True, help="work directory of the run")
    p.add_argument("--checkpoint", default=None, help="work directory or step directory "
                   "(default: --workdir)")
    p.add_argument("--out", default=None, help="output directory (default: WORKDIR/eval_<step>)")
    args = p.parse_args(argv)
    parallel.initialize_distributed()

    from jaxar.checkpoint import read_meta, resolve_checkpoint
    from jaxar.train.config import load_config, with_overrides
    from jaxar.train.evaluate import evaluate
    from jaxar.train.loop import load_run_config
    cfg = (load_config(args.config, args.overrides) if args.config
           else with_overrides(load_run_config(args.workdir), args.overrides))
    ckpt = args.checkpoint or args.workdir
    step = read_meta(resolve_checkpoint(ckpt))["step"]
    out = args.out or f"{args.workdir}/eval_{step}"
    result = evaluate(cfg, ckpt, out)
    result.pop("confusion")
    print(json.dumps({**result, "out": out}, indent=2))
    return 0


if __name__ == "__main__":
    from jaxar.train.cli import run_main
    run_main(main)

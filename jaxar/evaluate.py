"""Evaluate a trained run (command line): ``python -m jaxar.evaluate --workdir DIR
[--checkpoint PATH] [--config FILE] [--config.KEY=VALUE ...]``.

Uses the run's stored config (``DIR/config.json``) unless ``--config`` is
given; ``--config.KEY=VALUE`` overrides either (e.g.
``--config.data.num_eval_clips=3``). Evaluates the best-by-eval checkpoint
of ``DIR`` (else the latest) or ``--checkpoint`` (a work directory or one
step directory) and writes ``eval.json``, ``confusion.csv`` and
``confusion.png`` to ``--out`` (default ``DIR/eval_<step>``). The library
behind it is :func:`jaxar.train.evaluation.evaluate`. Console script:
``jaxar-evaluate``.
"""
from __future__ import annotations

import json


def main(argv=None) -> int:
    from jaxar import parallel
    from jaxar.train import cli

    from jaxar.distill import config as _distill_config  # noqa: F401  (CD-KD runs' config.json reads back)
    from jaxar.train.loop import load_run_config
    parallel.initialize_distributed()          # before any other JAX call
    args, cfg = cli.parse(
        "python -m jaxar.evaluate", __doc__, argv,
        {"workdir": (cli.REQUIRED, "work directory of the run"),
         "checkpoint": (None, "work directory or step directory (default: --workdir)"),
         "out": (None, "output directory (default: WORKDIR/eval_<step>)")},
        config_help="run config file (default: WORKDIR/config.json)",
        fallback=lambda args: load_run_config(args.workdir))

    from jaxar.checkpoint import read_meta, resolve_checkpoint
    from jaxar.train.evaluation import evaluate
    ckpt = args.checkpoint or args.workdir
    step = read_meta(resolve_checkpoint(ckpt))["step"]
    out = args.out or f"{args.workdir}/eval_{step}"
    result = evaluate(cfg, ckpt, out)
    result.pop("confusion")
    print(json.dumps({**result, "out": out}, indent=2))
    return 0


def console_main() -> None:
    from jaxar.train.cli import run_main
    run_main(main)


if __name__ == "__main__":
    console_main()

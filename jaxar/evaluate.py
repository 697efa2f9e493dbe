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

    p = cli.parser("python -m jaxar.evaluate", __doc__)
    p.add_argument("--config", default=None, help="run config file (default: WORKDIR/config.json)")
    p.add_argument("--workdir", required=True, help="work directory of the run")
    p.add_argument("--checkpoint", default=None, help="work directory or step directory "
                   "(default: --workdir)")
    p.add_argument("--out", default=None, help="output directory (default: WORKDIR/eval_<step>)")
    args, overrides = cli.parse(p, argv)
    parallel.initialize_distributed()

    from jaxar.checkpoint import read_meta, resolve_checkpoint
    from jaxar.train.config import load_config, with_overrides
    from jaxar.train.evaluation import evaluate
    from jaxar.train.loop import load_run_config
    base = load_config(args.config) if args.config else load_run_config(args.workdir)
    cfg = with_overrides(base, overrides)
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

"""Train (or resume) a run: ``python -m jaxar.train --config FILE --workdir DIR [--config.KEY=VALUE ...]``.

Resumes automatically from the latest checkpoint in ``--workdir``. On
several hosts, start the same command on every host (see docs/training.md).
Console script: ``jaxar-train``.
"""
from __future__ import annotations

import json


def main(argv=None) -> int:
    from jaxar import parallel
    from jaxar.train import cli

    p = cli.parser("python -m jaxar.train", __doc__)
    p.add_argument("--config", required=True, help="run config file, e.g. experiments/synthetic_demo.py")
    p.add_argument("--workdir", required=True, help="checkpoints, logs and plots go here")
    args, overrides = cli.parse(p, argv)
    parallel.initialize_distributed()

    from jaxar.train.config import load_config, with_overrides
    from jaxar.train.loop import train_and_evaluate
    cfg = with_overrides(load_config(args.config), overrides)
    result = train_and_evaluate(cfg, args.workdir)
    print(json.dumps(result, indent=2))
    return 0


def console_main() -> None:
    from jaxar.train.cli import run_main
    run_main(main)


if __name__ == "__main__":
    console_main()

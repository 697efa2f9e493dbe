"""Train (or resume) a run: ``python -m jaxar.train --config FILE --workdir DIR [--set k=v ...]``.

Resumes automatically from the latest checkpoint in ``--workdir``. On
several hosts, start the same command on every host (see docs/training.md).
"""
from __future__ import annotations

import argparse
import json


def main(argv=None) -> int:
    from jaxar import parallel
    from jaxar.train.cli import add_config_args

    p = argparse.ArgumentParser(prog="python -m jaxar.train", description=__doc__.split("\n")[0])
    add_config_args(p)
    p.add_argument("--workdir", required=True, help="checkpoints, logs and plots go here")
    args = p.parse_args(argv)
    parallel.initialize_distributed()

    from jaxar.train.config import load_config
    from jaxar.train.loop import train_and_evaluate
    cfg = load_config(args.config, args.overrides)
    result = train_and_evaluate(cfg, args.workdir)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    from jaxar.train.cli import run_main
    run_main(main)

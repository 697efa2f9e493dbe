"""Train (or resume) a run: ``python -m jaxar.train --config FILE --workdir DIR [--config.KEY=VALUE ...]``.

Resumes automatically from the latest checkpoint in ``--workdir``. On
several hosts, start the same command on every host (see docs/training.md).
Console script: ``jaxar-train``.
"""
from __future__ import annotations


def main(argv=None) -> int:
    from jaxar.train import cli
    from jaxar.train.loop import train_and_evaluate
    return cli.train_main("python -m jaxar.train", __doc__, argv, train_and_evaluate,
                          "experiments/synthetic_demo.py")


def console_main() -> None:
    from jaxar.train.cli import run_main
    run_main(main)


if __name__ == "__main__":
    console_main()

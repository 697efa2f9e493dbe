"""Shared command-line plumbing of the ``train``/``evaluate``/demo entry points."""
from __future__ import annotations

import argparse
import sys
from typing import Callable


def add_config_args(p: argparse.ArgumentParser, config_required: bool = True) -> None:
    p.add_argument("--config", required=config_required,
                   help="run config file, e.g. experiments/synthetic_demo.py")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config field, e.g. --set optim.lr=0.1 --set data.size=112 "
                        "(repeatable; values are Python literals or bare strings)")


def run_main(fn: Callable[[], int | None]) -> None:
    """Runs ``fn``; config/input errors exit 2 with the message only, a
    non-finite training run exits 3."""
    from jaxar.train.loop import NonFiniteError
    try:
        sys.exit(fn() or 0)
    except NonFiniteError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(3)
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)

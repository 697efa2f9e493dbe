"""Shared command-line plumbing of the train / evaluate / demo entry points.

Each CLI parses its own flags with argparse and hands every
``--config.KEY=VALUE`` token to :func:`jaxar.train.config.with_overrides`
(``ml_collections.config_flags`` parsing, typed by the config's fields).
"""
from __future__ import annotations

import argparse
import sys
from typing import Callable, Sequence

OVERRIDE_HELP = ("--config.KEY=VALUE overrides a field of the run config, e.g. "
                 "--config.optim.lr=0.1 --config.model.dtype=bfloat16 (repeatable; "
                 "values are parsed by the field's type)")


def parser(prog: str, doc: str) -> argparse.ArgumentParser:
    return argparse.ArgumentParser(prog=prog, description=doc.strip().split("\n")[0],
                                   epilog=OVERRIDE_HELP)


def parse(p: argparse.ArgumentParser, argv: Sequence[str] | None):
    """``(args, overrides)``: known flags, and the ``--config.*`` tokens (with
    a following value when given as ``--config.KEY VALUE``). Anything else is
    a usage error (exit 2)."""
    args, rest = p.parse_known_args(argv)
    overrides = []
    for i, tok in enumerate(rest):
        if tok.startswith("--config."):
            overrides.append(tok)
        elif overrides and "=" not in overrides[-1] and rest[i - 1] == overrides[-1]:
            overrides.append(tok)
        else:
            p.error(f"unrecognized argument {tok!r} ({OVERRIDE_HELP})")
    return args, overrides


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

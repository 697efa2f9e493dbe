"""Shared command-line plumbing of the train / distill / evaluate / demo entry points.

Every flag is an absl flag and the run config is an ``ml_collections``
``config_flags`` flag: ``--config FILE[:ARG]`` (a run file, or one argument
of a file that holds a family of runs) and ``--config.KEY=VALUE`` (or
``--config.KEY VALUE``; booleans also ``--config.KEY``) overrides of any field,
parsed by the field's type, the standard way. A command without a config file
(the demo) or with an optional one (evaluate: the run's stored config) takes
the same overrides on its fixed or stored config.
"""
from __future__ import annotations

import json
import sys
import types
from typing import Callable, Mapping, Sequence

OVERRIDE_HELP = ("--config.KEY=VALUE overrides a field of the run config, e.g. "
                 "--config.optim.lr=0.1 --config.model.dtype=bfloat16 (repeatable; "
                 "values are parsed by the field's type)")
REQUIRED = object()       # an option's default: the option must be given


def parse(prog: str, doc: str, argv: Sequence[str] | None,
          options: Mapping[str, tuple[object, str]], config_help: str | None = None,
          fallback: Callable[[types.SimpleNamespace], object] | None = None):
    """``(options, cfg)`` of a command line.

    ``options``: ``{name: (default or REQUIRED, help)}``, string flags
    ``--name VALUE``; returned as a namespace. ``config_help``: the command
    takes ``--config FILE[:ARG]`` (``None``: it does not). ``fallback(options)``:
    the config when no ``--config`` file is given (``None``: ``--config`` is
    required). ``cfg`` is validated, with every ``--config.KEY=VALUE`` applied.
    ``--help`` prints the usage and exits 0; a bad command line raises
    ``ValueError`` (:func:`run_main`: exit status 2).
    """
    from absl import flags
    from jaxar.train.config import define_config_dict, define_config_file, parse_config_flags

    argv = [prog, *(sys.argv[1:] if argv is None else argv)]
    if "--help" in argv or "-h" in argv:
        print(usage(prog, doc, options, config_help))
        raise SystemExit(0)

    def option_flags(config_string: bool) -> flags.FlagValues:
        fv = flags.FlagValues()
        for name, (default, text) in options.items():
            flags.DEFINE_string(name, None if default is REQUIRED else default, text, flag_values=fv)
        if config_string:
            flags.DEFINE_string("config", None, config_help, flag_values=fv)
        return fv

    first = option_flags(True)          # the options and --config FILE alone, to find the config
    try:
        first(argv, known_only=True)
    except flags.Error as e:
        raise ValueError(f"{prog}: {e}") from None
    if config_help is None and first["config"].value is not None:
        raise ValueError(f"{prog} takes no --config file; override fields of its run config with "
                         f"--config.KEY=VALUE")
    values = types.SimpleNamespace(**{name: first[name].value for name in options})
    missing = [f"--{n}" for n, (d, _) in options.items() if d is REQUIRED and getattr(values, n) is None]
    if missing:
        raise ValueError(f"{prog}: {', '.join(missing)} is required")
    spec = first["config"].value
    if spec is None and fallback is None:
        raise ValueError(f"{prog}: --config FILE[:ARG] is required ({config_help})")
    if spec is not None:
        from jaxar.train.config import load_config
        define, base = (lambda fv: define_config_file(fv, spec, argv)), (lambda: load_config(spec))
    else:
        stored = fallback(values)
        define, base = (lambda fv: define_config_dict(fv, stored, argv)), (lambda: stored)
    try:
        cfg, rest = parse_config_flags(option_flags(False), argv, define, base)
    except ValueError as e:
        raise ValueError(f"{prog}: {e}") from None
    if rest:
        raise ValueError(f"{prog}: unexpected argument {rest[0]!r} ({OVERRIDE_HELP})")
    return values, cfg


def train_main(prog: str, doc: str, argv: Sequence[str] | None,
               train: Callable[[object, str], dict], example: str) -> int:
    """A training command, ``PROG --config FILE[:ARG] --workdir DIR
    [--config.KEY=VALUE ...]``: prints ``train(cfg, workdir)``'s summary as JSON."""
    from jaxar import parallel
    parallel.initialize_distributed()          # before any other JAX call
    args, cfg = parse(prog, doc, argv, {"workdir": (REQUIRED, "checkpoints, logs and plots go here")},
                      config_help=f"run config file, e.g. {example}")
    print(json.dumps(train(cfg, args.workdir), indent=2))
    return 0


def usage(prog: str, doc: str, options: Mapping[str, tuple[object, str]],
          config_help: str | None) -> str:
    lines = [f"usage: {prog} [options] [--config.KEY=VALUE ...]", "", doc.strip().split("\n")[0], "",
             "options:"]
    if config_help is not None:
        lines.append(f"  --config FILE[:ARG]  {config_help}")
    for name, (default, text) in options.items():
        note = " (required)" if default is REQUIRED else ""
        lines.append(f"  --{name} VALUE  {text}{note}")
    return "\n".join([*lines, "", OVERRIDE_HELP])


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

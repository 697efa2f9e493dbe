"""The end-to-end CPU demo: ``python -m jaxar.train.demo --workdir runs/demo``.

Generates the embedded synthetic action set, trains
``experiments/synthetic_demo.py`` (``x3d_ugt_tiny``) on all local devices,
evaluates the best checkpoint on the held-out clips, and leaves in the work
directory: ``checkpoints/``, ``log.jsonl``, ``tensorboard/``, ``plots/``
(training curves, confusion matrix), ``results.json`` and
``eval_<step>/`` (``eval.json``, confusion matrix). Re-running resumes (or,
when finished, only re-evaluates).

Library use: ``from jaxar.train import demo; demo.run("runs/demo")`` returns
a dict with ``top1``, ``top5``, ``count``, ``best_step``, ``checkpoint``
(the step directory, loadable with :func:`jaxar.checkpoint.restore_inference`),
``eval_dir``, ``workdir`` and ``seconds``.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

CONFIG = Path(__file__).resolve().parents[2] / "experiments" / "synthetic_demo.py"


def _enable_compilation_cache(workdir: Path) -> None:
    """Persistent XLA cache in the work directory (unless one is configured):
    the evaluation and any re-run reuse the compiled programs."""
    import jax
    if not jax.config.jax_compilation_cache_dir:
        jax.config.update("jax_compilation_cache_dir", str(workdir / "xla_cache"))


def demo_config():
    """The demo's run config (``experiments/synthetic_demo.py``)."""
    from jaxar.train.config import load_config
    if not CONFIG.is_file():
        raise FileNotFoundError(f"{CONFIG} does not exist: the demo runs from a repository "
                                f"checkout (pip install -e .), which holds experiments/")
    return load_config(CONFIG)


def run(workdir: str | Path, overrides: list[str] = ()) -> dict:
    """Trains and evaluates the demo; ``overrides``: ``--config.KEY=VALUE`` tokens."""
    from jaxar.train.config import with_overrides
    return run_config(with_overrides(demo_config(), list(overrides)), workdir)


def run_config(cfg, workdir: str | Path) -> dict:
    """Trains and evaluates run config ``cfg`` (the demo's, overridden) in ``workdir``."""
    from jaxar.checkpoint import resolve_checkpoint
    from jaxar.train.evaluation import evaluate
    from jaxar.train.loop import train_and_evaluate

    t0 = time.time()
    workdir = Path(workdir).absolute()
    _enable_compilation_cache(workdir)
    trained = train_and_evaluate(cfg, workdir)
    checkpoint = resolve_checkpoint(workdir)
    eval_dir = workdir / f"eval_{checkpoint.name}"
    result = evaluate(cfg, checkpoint, eval_dir)
    return {"top1": result["top1"], "top5": result["top5"], "count": result["count"],
            "best_step": int(checkpoint.name), "checkpoint": str(checkpoint),
            "eval_dir": str(eval_dir), "workdir": str(workdir), "plots": trained.get("plots", []),
            "seconds": round(time.time() - t0, 1)}


def main(argv=None) -> int:
    from jaxar import parallel
    from jaxar.train import cli

    parallel.initialize_distributed()          # before any other JAX call
    args, cfg = cli.parse("python -m jaxar.train.demo", __doc__, argv,
                          {"workdir": ("runs/demo", "output directory (default runs/demo)")},
                          fallback=lambda args: demo_config())
    out = run_config(cfg, args.workdir)
    print(json.dumps(out, indent=2))
    print(f"demo: held-out top-1 {100 * out['top1']:.1f}% on {out['count']} synthetic clips "
          f"(best checkpoint step {out['best_step']}) in {out['seconds']:.0f} s; "
          f"outputs in {out['workdir']}", file=sys.stderr)
    from jaxar.demo_video import write_demo_video
    video = Path(out["workdir"]) / "demo_video.avi"
    write_demo_video(video)
    print(f"recognise actions in a video (held-out clips, truth in {video.stem}.labels.json):\n"
          f"  python -m jaxar.predict {video} --checkpoint {out['workdir']} --out {out['workdir']}/predictions.jsonl "
          f"--timeline {out['workdir']}/timeline.png", file=sys.stderr)
    return 0


def console_main() -> None:
    from jaxar.train.cli import run_main
    run_main(main)


if __name__ == "__main__":
    console_main()

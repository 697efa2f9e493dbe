"""Seconds per clip of each convolution formulation, forward+backward and eval (not a test).

    python benchmarks/bench_formulations.py                      # 2x16x112^2 train, 1x16x224^2 eval
    python benchmarks/bench_formulations.py --modes train --sizes 56 --frames 8 --batch 1 \\
        --impls lowered shifted-autodiff shifted --repeats 5
    python benchmarks/bench_formulations.py --modes train \\
        --impls lowered shifted-per-tap shifted           # the CPU training-step comparison

Every formulation uses the same parameters and computes the same maths
(``tests/test_ops.py``, ``tests/test_train_formulations.py``); only the XLA
ops differ.  ``--impls`` takes the formulations of :mod:`jaxar.ops.conv`,
``auto`` (reported with what it resolved to) and older forms of
``"shifted"`` kept for comparison (benchmark-local: ``benchmarks/shifted_old_forms.py``;
the library has only the current one): ``shifted-autodiff`` (the same forward
differentiated automatically instead of with the hand-written gradients of
:mod:`jaxar.ops.shifted`), ``shifted-per-tap`` (the hand-written gradients
with one reduction per kernel tap instead of the chunk-summed products) and
``shifted-shift-first`` (each block shifts its input in time before the
pre-depthwise conv instead of shifting that conv's output); ``shifted-original``
has both older choices (per-tap reductions, shift first): the ``"shifted"``
training step as issue 10 measured it.

* ``train``: one jitted training-mode value-and-grad of the cross-entropy
  (batch statistics, dropout) at ``--batch`` clips per call;
* ``eval``: one jitted inference forward (running statistics) of one clip.

All variants are compiled first; then the timed calls are interleaved
(variant A, B, C, A, B, C, ...) so that load changes on a shared machine hit
every variant alike.  Each line gives the median and minimum seconds per clip
over ``--repeats`` calls, the median process CPU time per clip (all threads;
on a shared machine it moves less with other jobs than wall time does), and
the median's ratio to the first ``--impls`` entry measured in the same run;
a last line gives the wall-time ratio of every pair.
"""
from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import time

import jax
import jax.numpy as jnp
import optax

from jaxar.initialization import init_variables
from jaxar.ops.formulation import IMPL_CHOICES, resolve_impl
from jaxar.registry import create_model
from jaxar.runtime.files import atomic_write_json

try:                                     # run as a script from benchmarks/, or imported as benchmarks.*
    from shifted_old_forms import FORMS, old_form
except ImportError:
    from benchmarks.shifted_old_forms import FORMS, old_form

OLD_SHIFTED = tuple(FORMS)
VARIANTS = IMPL_CHOICES + OLD_SHIFTED


def build(variant: str, name: str, mode: str, frames: int, size: int, batch: int):
    """Compiles one call; returns ``(fn, args, compile_s, first_value)`` (the
    loss in train mode, the logits in eval mode, of the first call)."""
    impl = "shifted" if name in OLD_SHIFTED else name
    model = create_model(variant, frames=frames, size=size, impl=impl)
    x = jax.random.normal(jax.random.PRNGKey(1), (batch, frames, size, size, 3))
    y = jnp.zeros((batch,), jnp.int32)
    v = init_variables(model, jax.random.PRNGKey(0), x)
    if mode == "train":
        def loss_fn(params, batch_stats, x, y):
            logits, _ = model.apply({"params": params, "batch_stats": batch_stats}, x, train=True,
                                    mutable=["batch_stats"], rngs={"dropout": jax.random.PRNGKey(0)})
            return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
        fn, args = jax.jit(jax.value_and_grad(loss_fn)), (v["params"], v["batch_stats"], x, y)
    else:
        fn, args = jax.jit(lambda v, x: model.apply(v, x)), (v, x)
    with old_form(name):                 # traced and compiled by the first call
        t0 = time.perf_counter()
        out = jax.block_until_ready(fn(*args))
        compile_s = time.perf_counter() - t0
    return fn, args, compile_s, out[0] if mode == "train" else out


def run_shape(args, mode: str, frames: int, size: int, batch: int) -> list[dict]:
    built = {}
    for name in args.impls:
        built[name] = build(args.variant, name, mode, frames, size, batch)
        first = built[args.impls[0]][3]
        diff = float(jnp.max(jnp.abs(built[name][3] - first)))
        print(f"  compiled {mode} {name} ({built[name][2]:.1f} s incl. first call); "
              f"{'loss' if mode == 'train' else 'logits'} max |diff| to {args.impls[0]}: {diff:.2e}",
              flush=True)
    times, cpu = time_interleaved(
        {name: (lambda fn=fn, a=a: jax.block_until_ready(fn(*a))) for name, (fn, a, _, _) in built.items()},
        args.repeats, batch)
    base = statistics.median(times[args.impls[0]])
    rows = []
    for name in args.impls:
        med = statistics.median(times[name])
        resolved = resolve_impl("shifted" if name in OLD_SHIFTED else name)
        r = {"mode": mode, "impl": name, "resolved": resolved, "frames": frames, "size": size,
             "batch": batch, "median_s_per_clip": med, "min_s_per_clip": min(times[name]),
             "median_cpu_s_per_clip": statistics.median(cpu[name]),
             "ratio_to_first": med / base, "first": args.impls[0], "runs": args.repeats,
             "first_call_s": built[name][2]}
        rows.append(r)
        label = name if resolved == name or name in OLD_SHIFTED else f"{name}->{resolved}"
        print(f"{args.variant} {mode} {batch}x{frames}x{size}^2 {label:>17}: median "
              f"{med:.3f} s/clip, min {r['min_s_per_clip']:.3f}, cpu "
              f"{r['median_cpu_s_per_clip']:.3f} s/clip, x{r['ratio_to_first']:.3f} of "
              f"{args.impls[0]} ({args.repeats} interleaved runs)", flush=True)
    if len(rows) > 1:
        print(f"  wall-time ratios ({mode} {batch}x{frames}x{size}^2): "
              + pairwise_ratios({r["impl"]: r["median_s_per_clip"] for r in rows}), flush=True)
    return rows


def process_cpu_s() -> float:
    """CPU seconds used by this process so far (user + system, all threads)."""
    t = os.times()
    return t.user + t.system


def time_interleaved(calls: dict, repeats: int, batch: int) -> tuple[dict, dict]:
    """Runs every ``calls[name]()`` once per round, in order, for ``repeats``
    rounds (so load changes hit every entry alike); returns ``(wall, cpu)``:
    per name, the seconds per clip of each call (``batch`` clips a call)."""
    wall = {name: [] for name in calls}
    cpu = {name: [] for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            c0, t0 = process_cpu_s(), time.perf_counter()
            call()
            wall[name].append((time.perf_counter() - t0) / batch)
            cpu[name].append((process_cpu_s() - c0) / batch)
    return wall, cpu


def pairwise_ratios(medians: dict) -> str:
    """``"b/a 0.615, ..."`` for every pair of entries, in order."""
    return ", ".join(f"{b}/{a} {medians[b] / medians[a]:.3f}"
                     for a, b in itertools.combinations(medians, 2))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--variant", default="x3d_ugt")
    ap.add_argument("--modes", nargs="+", default=["train", "eval"], choices=["train", "eval"])
    ap.add_argument("--sizes", type=int, nargs="+", default=None,
                    help="spatial sizes (default: 112 for train, 224 for eval)")
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--batch", type=int, default=0,
                    help="clips per call (default: 2 for train, 1 for eval)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--impls", nargs="+", default=["lowered", "shifted-autodiff", "shifted", "auto"],
                    choices=VARIANTS)
    ap.add_argument("--json", help="also write the results to this JSON file")
    args = ap.parse_args(argv)
    if args.repeats < 1 or args.frames < 1 or args.batch < 0:
        ap.error("--repeats and --frames must be >= 1, --batch >= 0")
    dev = jax.devices()[0]
    print(f"device: {dev.platform} ({dev.device_kind}), {os.cpu_count()} CPU cores visible, "
          f"jax {jax.__version__}, auto -> {resolve_impl('auto')}", flush=True)
    results = []
    for mode in args.modes:
        sizes = args.sizes or [112 if mode == "train" else 224]
        batch = args.batch or (2 if mode == "train" else 1)
        for size in sizes:
            results += run_shape(args, mode, args.frames, size, batch)
    if args.json:
        atomic_write_json(args.json, {"device": dev.platform, "device_kind": dev.device_kind,
                                      "jax": jax.__version__, "results": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())

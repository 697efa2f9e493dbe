"""Forward+backward time per clip: lowered (2-D) vs straightforward 3-D formulation.

    python benchmarks/bench_formulations.py [--variant x3d_ugt] [--sizes 112 224]
        [--frames 16] [--batch 1] [--repeats 5] [--json out.json]

Both formulations use the same parameters and compute the same maths
(``tests/test_ops.py``); only the XLA ops differ.  For each size the script
compiles one training-mode value-and-grad step per formulation, runs it
``--repeats`` times after a warm-up, and prints the median and minimum
seconds per clip and the conv3d / lowered ratio measured in the same run.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import jax
import jax.numpy as jnp
import optax

from jaxar.initialization import init_variables
from jaxar.registry import create_model


def step_fn(model):
    def loss_fn(params, batch_stats, x, y):
        logits, _ = model.apply({"params": params, "batch_stats": batch_stats}, x, train=True,
                                mutable=["batch_stats"], rngs={"dropout": jax.random.PRNGKey(0)})
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
    return jax.jit(jax.value_and_grad(loss_fn))


def time_one(variant: str, impl: str, frames: int, size: int, batch: int, repeats: int) -> dict:
    model = create_model(variant, frames=frames, size=size, impl=impl)
    x = jax.random.normal(jax.random.PRNGKey(1), (batch, frames, size, size, 3))
    y = jnp.zeros((batch,), jnp.int32)
    v = init_variables(model, jax.random.PRNGKey(0), x)
    f = step_fn(model)
    t0 = time.perf_counter()
    jax.block_until_ready(f(v["params"], v["batch_stats"], x, y))
    compile_s = time.perf_counter() - t0
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(f(v["params"], v["batch_stats"], x, y))
        times.append((time.perf_counter() - t0) / batch)
    return {"impl": impl, "size": size, "frames": frames, "batch": batch,
            "median_s_per_clip": statistics.median(times), "min_s_per_clip": min(times),
            "first_call_s": compile_s, "runs": len(times)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--variant", default="x3d_ugt")
    ap.add_argument("--sizes", type=int, nargs="+", default=[112, 224])
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--impls", nargs="+", default=["lowered", "conv3d"])
    ap.add_argument("--json", help="also write the results to this JSON file")
    args = ap.parse_args(argv)
    dev = jax.devices()[0]
    print(f"device: {dev.platform} ({dev.device_kind}), {os.cpu_count()} CPU cores visible, "
          f"jax {jax.__version__}", flush=True)
    results = []
    for size in args.sizes:
        row = {}
        for impl in args.impls:
            r = time_one(args.variant, impl, args.frames, size, args.batch, args.repeats)
            row[impl] = r
            results.append(r)
            print(f"{args.variant} 1x{args.frames}x{size}x{size} {impl:>8}: fwd+bwd "
                  f"median {r['median_s_per_clip']:.3f} s/clip, min {r['min_s_per_clip']:.3f} "
                  f"(first call incl. compile {r['first_call_s']:.1f} s, {r['runs']} runs)", flush=True)
        if "lowered" in row and "conv3d" in row:
            ratio = row["conv3d"]["median_s_per_clip"] / row["lowered"]["median_s_per_clip"]
            print(f"  conv3d / lowered at {size}: {ratio:.2f}x", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"device": dev.platform, "results": results}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())

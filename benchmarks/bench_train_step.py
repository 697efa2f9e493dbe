"""Train-step throughput of X3D-UGT on the available devices (not a test).

    python benchmarks/bench_train_step.py                     # default model, 16x224x224
    python benchmarks/bench_train_step.py --impls lowered conv3d shifted --batch 2 --repeats 5
    python benchmarks/bench_train_step.py --dtypes float32 bfloat16 --bandwidth-gbs 4800  # a GPU

For each formulation (``--impls``) it builds the real jitted, donated,
data-parallel train step of :mod:`jaxar.train.step` (Poly-1 loss,
PyTorch-style SGD, BN statistics synchronised over all devices), compiles
it, runs ``--warmup`` steps, then times ``--repeats`` steps one by one
(each blocked on its result) and prints the median step time and clips/s
(global batch / median), plus the ratio of every formulation to the first
(per dtype).  ``shifted-per-tap`` is ``shifted`` with its older kernel
gradients (one reduction per tap; benchmark-local, ``benchmarks/shifted_old_forms.py``),
for a before/after comparison.  The global batch defaults to 2 clips
per device on CPU and 32 elsewhere.  ``auto`` is reported with the formulation it resolved to.

It also reads XLA's cost analysis of the compiled step (``flops``, ``bytes
accessed``); with ``--bandwidth-gbs`` (the device's memory bandwidth, GB/s;
known for a few accelerators by their device kind) it prints the memory-traffic
lower bound ``bytes accessed / bandwidth`` next to the measured step time, i.e.
how far the step is from being bound by memory traffic alone.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time


# HBM bandwidth in GB/s by device kind (vendor data sheets), for the lower bound
BANDWIDTH_GBS = {"NVIDIA H200": 4800.0, "NVIDIA H100 80GB HBM3": 3350.0,
                 "NVIDIA A100-SXM4-80GB": 2039.0, "NVIDIA A100-SXM4-40GB": 1555.0}


def _cost(compiled) -> dict:
    try:
        cost = compiled.cost_analysis()
    except Exception:        # noqa: BLE001 - not every backend implements it
        return {}
    if isinstance(cost, (list, tuple)):
        cost = cost[0] if cost else {}
    return {"flops": float(cost.get("flops", 0.0)),
            "bytes_accessed": float(cost.get("bytes accessed", 0.0))}


def bench(impl: str, dtype: str, args) -> dict:
    import jax
    import numpy as np

    from jaxar import parallel
    from jaxar.losses import make_loss_fn
    from jaxar.models.x3d_ugt import X3DUGT
    from jaxar.ops import shifted
    from jaxar.optim import sgd_torch
    from jaxar.registry import create_config
    from jaxar.train.state import create_train_state
    from jaxar.train.step import compile_steps
    from shifted_old_forms import old_form     # sibling module: run as a script from benchmarks/

    per_tap = impl == "shifted-per-tap"
    cfg = create_config(args.variant, num_classes=args.classes, frames=args.frames,
                        size=args.size, impl="shifted" if per_tap else impl, dtype=dtype)
    mesh = parallel.make_mesh()
    n = mesh.devices.size
    batch_size = args.batch or n * (2 if jax.default_backend() == "cpu" else 32)
    parallel.check_global_batch(batch_size, mesh)
    model = cfg.build()
    tx = sgd_torch(1.0)
    train_step, _ = compile_steps(model, tx, make_loss_fn("poly1"), cfg.num_classes, mesh)
    state = parallel.replicate(create_train_state(model, tx, cfg.input_shape, 0), mesh)
    rng = np.random.default_rng(0)
    host = {"video": rng.normal(size=(batch_size // jax.process_count(), *cfg.input_shape)
                                ).astype(np.float32),
            "label": rng.integers(0, cfg.num_classes, batch_size // jax.process_count()
                                  ).astype(np.int32)}
    batch = parallel.host_batch_to_global(host, mesh)
    lr = np.float32(0.01)

    t0 = time.perf_counter()
    with old_form(impl):                # traced and compiled here
        compiled = train_step.lower(state, batch, lr).compile()
    compile_s = time.perf_counter() - t0
    cost = _cost(compiled)
    for _ in range(args.warmup):
        state, m = compiled(state, batch, lr)
    jax.block_until_ready(m)
    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        state, m = compiled(state, batch, lr)
        jax.block_until_ready(m)
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    from jaxar.ops.formulation import resolve_impl
    dev = mesh.devices.flat[0]
    out = {"impl": impl, "resolved_impl": resolve_impl(cfg.impl, dev.platform),
           "variant": args.variant, "input": [args.frames, args.size, args.size, 3],
           "dtype": dtype, "devices": n, "platform": dev.platform, "device_kind": dev.device_kind,
           "global_batch": batch_size, "compile_s": round(compile_s, 1),
           "step_s_median": round(med, 4), "step_s_all": [round(t, 4) for t in times],
           "clips_per_s": round(batch_size / med, 2), **cost}
    bw = args.bandwidth_gbs or BANDWIDTH_GBS.get(dev.device_kind, 0.0)
    if bw and cost.get("bytes_accessed"):
        # cost analysis is per device program; every device moves its own bytes in parallel
        out["bandwidth_gbs"] = bw
        out["memory_bound_s"] = round(cost["bytes_accessed"] / (bw * 1e9), 5)
        out["step_over_memory_bound"] = round(med / out["memory_bound_s"], 2)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--variant", default="x3d_ugt")
    p.add_argument("--impls", nargs="+", default=["lowered", "shifted", "auto"],
                   choices=["auto", "lowered", "conv3d", "shifted", "shifted-per-tap"])
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--classes", type=int, default=60)
    p.add_argument("--dtypes", nargs="+", default=["float32"], choices=["float32", "bfloat16"])
    p.add_argument("--batch", type=int, default=0, help="global batch (0: per-backend default)")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--bandwidth-gbs", type=float, default=0.0,
                   help="device memory bandwidth in GB/s for the memory-traffic lower bound "
                        "(0: look the device kind up in a small table)")
    args = p.parse_args()
    if args.repeats < 1 or args.warmup < 0:
        p.error("--repeats must be >= 1 and --warmup >= 0")
    for dtype in args.dtypes:
        results = []
        for impl in args.impls:
            r = bench(impl, dtype, args)
            results.append(r)
            print(json.dumps(r), flush=True)
        base = results[0]
        for r in results[1:]:
            print(f"[{dtype}] step time {r['impl']} ({r['resolved_impl']}) / {base['impl']}: "
                  f"{r['step_s_median'] / base['step_s_median']:.2f}x "
                  f"({base['impl']} {base['clips_per_s']} clips/s, "
                  f"{r['impl']} {r['clips_per_s']} clips/s)", flush=True)


if __name__ == "__main__":
    main()

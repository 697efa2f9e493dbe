"""ONNX Runtime CPU latency: straightforward 3-D export vs the deploy-form export.

Same weights (realistic random variables of the chosen variant), two graphs,
both exported with jax2onnx at opset 18 and simplified the same way:

* **3-D**: the training network with ``impl="conv3d"`` (grouped Conv3D for
  every depthwise conv, BN as separate ops, channels-last ``(N,T,H,W,3)``
  input) -- what a direct port of the paper's PyTorch model exports to;
* **deploy**: :mod:`jaxar.deploy` (BN/TAda folded, channels-first 2-D convs,
  4-D tensors, ``(N,T,3,H,W)`` input).

ONNX Runtime CPU, ``--threads`` intra-op threads (default 2), ``--runs``
timed calls each (default 30, interleaved A/B/A/B so machine load hits both
alike) after warm-up; prints median and min per graph, the ratio, the
outputs' agreement and the node-count histograms; writes JSON and a PNG.

    python benchmarks/bench_onnx_latency.py                      # 1x16x224x224, x3d_ugt
    python benchmarks/bench_onnx_latency.py --frames 4 --size 64  # quick look

Goal (issue 5): deploy median <= 0.5 x the 3-D median.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def export_both(variant: str, frames: int, size: int, out: Path, log=print) -> tuple[Path, Path, dict]:
    import jax
    from export.onnx_jax2onnx import export_jax2onnx
    from jaxar.deploy import DeployModel
    from jaxar.deploy.demo_variables import realistic_variables
    from jaxar.network import X3DUGT
    from jaxar.registry import create_config

    cfg = create_config(variant, frames=frames, size=size)
    variables = realistic_variables(cfg, seed=0)
    p3d, pdep = out / "straight_conv3d.onnx", out / "deploy.onnx"
    t = time.time()
    model3d = X3DUGT(cfg.replace(impl="conv3d"))
    jvars = jax.tree_util.tree_map(np.asarray, variables)
    export_jax2onnx(lambda x: model3d.apply(jvars, x, train=False), (1, frames, size, size, 3), p3d)
    log(f"exported {p3d.name} ({time.time() - t:.0f} s)")
    t = time.time()
    export_jax2onnx(DeployModel.from_variables(cfg, variables).as_function(), (1, frames, 3, size, size), pdep)
    log(f"exported {pdep.name} ({time.time() - t:.0f} s)")
    return p3d, pdep, {"variant": variant, "frames": frames, "size": size}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--variant", default="x3d_ugt")
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="artifacts/bench_onnx_latency", help="ONNX files, JSON and PNG go here")
    args = ap.parse_args(argv)
    if args.runs < 30:
        ap.error("--runs must be >= 30 (the benchmark reports median and min of >= 30 runs)")
    import onnx
    from export.allowlist import op_histogram
    from export.plot import latency_plot
    from export.runtimes import OrtRunner

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    p3d, pdep, info = export_both(args.variant, args.frames, args.size, out)
    runners = {"3-D (conv3d)": OrtRunner(p3d, threads=args.threads),
               "deploy (2-D lowered)": OrtRunner(pdep, threads=args.threads)}
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, args.frames, 3, args.size, args.size)).astype(np.float32)
    inputs = {"3-D (conv3d)": np.ascontiguousarray(x.transpose(0, 1, 3, 4, 2)), "deploy (2-D lowered)": x}
    outs = {k: r(inputs[k]) for k, r in runners.items()}
    for _ in range(args.warmup):
        for k, r in runners.items():
            r(inputs[k])
    times = {k: [] for k in runners}
    for i in range(args.runs):
        for k, r in runners.items():
            t0 = time.perf_counter()
            r(inputs[k])
            times[k].append((time.perf_counter() - t0) * 1e3)
        if (i + 1) % 10 == 0:
            print(f"  {i + 1}/{args.runs} runs", flush=True)
    res = {**info, "threads": args.threads, "runs": args.runs, "graphs": {}}
    a, b = outs.values()
    res["max_abs_diff_logits"] = float(np.abs(a - b).max())
    for k, path in zip(runners, (p3d, pdep)):
        t = np.asarray(times[k])
        m = onnx.load(str(path))
        res["graphs"][k] = {"file": str(path), "median_ms": float(np.median(t)), "min_ms": float(t.min()),
                            "p90_ms": float(np.percentile(t, 90)), "nodes": len(m.graph.node),
                            "ops": op_histogram(m), "mb": path.stat().st_size / 1e6}
    g3, gd = res["graphs"].values()
    res["ratio_median"] = gd["median_ms"] / g3["median_ms"]
    res["ratio_min"] = gd["min_ms"] / g3["min_ms"]
    res["goal_met"] = res["ratio_median"] <= 0.5
    shape = f"1x{args.frames}x{args.size}x{args.size}"
    print(f"\nONNX Runtime CPU, {args.threads} threads, {args.runs} runs, {args.variant} {shape}")
    for k, g in res["graphs"].items():
        print(f"  {k:<22} median {g['median_ms']:9.1f} ms   min {g['min_ms']:9.1f} ms   {g['nodes']} nodes")
    print(f"  deploy / 3-D: median {res['ratio_median']:.3f}, min {res['ratio_min']:.3f} "
          f"(goal <= 0.5: {'met' if res['goal_met'] else 'NOT met'}); logits max |diff| "
          f"{res['max_abs_diff_logits']:.2e}")
    for k, g in res["graphs"].items():
        print(f"\n  node histogram, {k}:")
        print("    " + ", ".join(f"{op} {n}" for op, n in g["ops"].items()))
    (out / "bench_onnx_latency.json").write_text(json.dumps(res, indent=2) + "\n")
    profiles = [{"runtime": k, "batches": [{"batch": 1, "p50_ms": g["median_ms"], "p90_ms": g["p90_ms"],
                                            "p99_ms": float(np.max(times[k]))}]} for k, g in res["graphs"].items()]
    latency_plot(profiles, out / "bench_onnx_latency.png",
                 title=f"ORT CPU {args.threads} threads, {shape} (whisker: max)")
    print(f"\nwrote {out / 'bench_onnx_latency.json'} and {out / 'bench_onnx_latency.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

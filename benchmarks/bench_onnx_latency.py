"""ONNX Runtime CPU latency: straightforward 3-D export vs the deploy-form export.

Same weights (realistic random variables of the chosen variant), opset 18,
each simplified the same way (:func:`export.onnx_check.finalize`):

* **3-D**: the training network with ``impl="conv3d"`` (grouped Conv3D for
  every depthwise conv, BN as separate ops, channels-last ``(N,T,H,W,3)``
  input) -- what a direct port of the paper's PyTorch model exports to. jax2onnx
  0.17 rejects channels-last 3-D conv layouts, so it goes through the brief's
  route (jax2tf -> TFLite -> tf2onnx, with the Conv-group post-pass);
* **deploy**: :mod:`jaxar.deploy` (BN/TAda folded, channels-first 2-D convs,
  4-D tensors, ``(N,T,3,H,W)`` input) in the default ``channels-major``
  layout, through jax2onnx (the default export) and through the same TFLite
  route (same converter as the 3-D graph; ``--no-tflite-deploy`` skips it);
* **deploy frames-major**: the same deploy form with ``layout="frames-major"``
  (one copy of each spatial kernel), through jax2onnx.

ONNX Runtime CPU, every session built the same way (``export.runtimes.OrtRunner``:
``--threads`` intra-op threads (default 2), one inter-op thread, the default
graph optimisation level ``ORT_ENABLE_ALL``, which includes the NCHWc layout
transformer), ``--runs`` timed calls each (default 30, interleaved A/B/A/B so
machine load hits all alike) after warm-up; prints median and min per graph,
the ratio to the 3-D graph, the outputs' agreement, node counts, file sizes,
node histograms and the 1-minute load average before and after; writes JSON
and a PNG. ``--profile-ops`` adds one profiled run per graph (ORT's
``enable_profiling``): kernel time summed per op type, ``ReorderInput``/
``ReorderOutput`` being NCHWc layout copies ORT inserts around blocked convs.

    python benchmarks/bench_onnx_latency.py                      # 1x16x224x224, x3d_ugt
    python benchmarks/bench_onnx_latency.py --frames 4 --size 64  # quick look
    python benchmarks/bench_onnx_latency.py --runs 7 --warmup 2 --no-tflite-deploy --profile-ops

Target: deploy (jax2onnx) median <= 0.45 x the 3-D median.
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

GOAL_RATIO = 0.45


def export_all_graphs(variant: str, frames: int, size: int, out: Path, log=print,
                      tflite_deploy: bool = True) -> tuple[dict, dict]:
    """Exports the graphs; returns ``({label: onnx path}, info)``."""
    import jax
    from export.onnx_jax2onnx import export_jax2onnx
    from export.onnx_tflite import export_via_tflite
    from export.savedmodel import write_savedmodel
    from jaxar.deploy import DeployModel
    from jaxar.demo_variables import realistic_variables
    from jaxar.registry import create_config

    cfg = create_config(variant, frames=frames, size=size)
    variables = jax.tree_util.tree_map(np.asarray, realistic_variables(cfg, seed=0))
    paths = {}
    t = time.time()
    model3d = cfg.replace(impl="conv3d").build()
    sm3d = write_savedmodel(lambda x: model3d.apply(variables, x, train=False),
                            (1, frames, size, size, 3), out / "sm_conv3d")
    _, fixes = export_via_tflite(sm3d, out / "straight_conv3d.tflite.onnx")
    paths[LABEL_3D] = out / "straight_conv3d.tflite.onnx"
    log(f"exported 3-D graph via TFLite ({time.time() - t:.0f} s; group post-pass fixed {len(fixes)} convs)")
    fn = DeployModel.from_variables(cfg, variables).as_function()
    t = time.time()
    export_jax2onnx(fn, (1, frames, 3, size, size), out / "deploy.jax2onnx.onnx")
    paths[LABEL_J2O] = out / "deploy.jax2onnx.onnx"
    log(f"exported deploy graph via jax2onnx ({time.time() - t:.0f} s)")
    t = time.time()
    fm = DeployModel.from_variables(cfg, variables, layout="frames-major").as_function()
    export_jax2onnx(fm, (1, frames, 3, size, size), out / "deploy_frames_major.jax2onnx.onnx")
    paths[LABEL_FM] = out / "deploy_frames_major.jax2onnx.onnx"
    log(f"exported frames-major deploy graph via jax2onnx ({time.time() - t:.0f} s)")
    if tflite_deploy:
        t = time.time()
        smd = write_savedmodel(fn, (1, frames, 3, size, size), out / "sm_deploy")
        export_via_tflite(smd, out / "deploy.tflite.onnx")
        paths[LABEL_TFL] = out / "deploy.tflite.onnx"
        log(f"exported deploy graph via TFLite ({time.time() - t:.0f} s)")
    return paths, {"variant": variant, "frames": frames, "size": size, "conv3d_group_fixes": len(fixes)}


def op_time_profile(path: Path, x: np.ndarray, threads: int, runs: int = 3) -> dict[str, float]:
    """ORT kernel time per op type, ms per call (mean of ``runs`` calls after
    one warm-up call, whose events are left out), with the session options of
    ``OrtRunner``."""
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.intra_op_num_threads, opts.inter_op_num_threads, opts.log_severity_level = threads, 1, 3
    opts.enable_profiling = True
    with tempfile.TemporaryDirectory() as tmp:
        opts.profile_file_prefix = os.path.join(tmp, "ort")
        sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        feed = {sess.get_inputs()[0].name: x}
        sess.run(None, feed)
        for _ in range(runs):
            sess.run(None, feed)
        with open(sess.end_profiling()) as f:
            events = json.load(f)
    # the session profiles every call; the warm-up is the first "model_run"
    first = min((e for e in events if e.get("name") == "model_run"), key=lambda e: e["ts"])
    warm_end = first["ts"] + first["dur"]
    total: dict[str, float] = collections.defaultdict(float)
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time") and e["ts"] >= warm_end:
            total[e["args"]["op_name"]] += e["dur"] / 1e3 / runs
    return dict(sorted(total.items(), key=lambda kv: -kv[1]))


LABEL_3D = "3-D conv3d (TFLite route)"
LABEL_J2O = "deploy (jax2onnx)"
LABEL_TFL = "deploy (TFLite route)"
LABEL_FM = "deploy frames-major (jax2onnx)"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--variant", default="x3d_ugt")
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--no-tflite-deploy", action="store_true",
                    help="skip the deploy graph's TFLite-route export (the slowest export)")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="artifacts/bench_onnx_latency", help="ONNX files, JSON and PNG go here")
    ap.add_argument("--profile-ops", action="store_true",
                    help="also print ORT kernel time per op type for each graph (one profiled session each)")
    args = ap.parse_args(argv)
    if args.runs < 5:
        ap.error("--runs must be >= 5 (the benchmark reports medians)")
    import onnx
    from export.allowlist import op_histogram
    from export.plot import latency_plot
    from export.runtimes import OrtRunner
    from jaxar.runtime.files import atomic_write_json

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    paths, info = export_all_graphs(args.variant, args.frames, args.size, out,
                                    tflite_deploy=not args.no_tflite_deploy)
    runners = {k: OrtRunner(p, threads=args.threads) for k, p in paths.items()}
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, args.frames, 3, args.size, args.size)).astype(np.float32)
    inputs = {k: x for k in runners}
    inputs[LABEL_3D] = np.ascontiguousarray(x.transpose(0, 1, 3, 4, 2))     # channels-last model
    outs = {k: r(inputs[k]) for k, r in runners.items()}
    load_before = os.getloadavg()[0]
    for _ in range(args.warmup):
        for k, r in runners.items():
            r(inputs[k])
    times = {k: [] for k in runners}
    for i in range(args.runs):                      # interleaved, so load drifts hit all graphs
        for k, r in runners.items():
            t0 = time.perf_counter()
            r(inputs[k])
            times[k].append((time.perf_counter() - t0) * 1e3)
        if (i + 1) % 10 == 0:
            print(f"  {i + 1}/{args.runs} runs", flush=True)
    load_after = os.getloadavg()[0]
    res = {**info, "threads": args.threads, "runs": args.runs, "ort_graph_optimization": "ORT_ENABLE_ALL",
           "load_avg_1min": [load_before, load_after], "cpus": os.cpu_count(), "graphs": {}}
    res["max_abs_diff_logits_vs_3d"] = {k: float(np.abs(outs[k] - outs[LABEL_3D]).max()) for k in outs}
    for k, path in paths.items():
        t = np.asarray(times[k])
        m = onnx.load(str(path))
        res["graphs"][k] = {"file": str(path), "median_ms": float(np.median(t)), "min_ms": float(t.min()),
                            "p90_ms": float(np.percentile(t, 90)), "max_ms": float(t.max()),
                            "nodes": len(m.graph.node), "ops": op_histogram(m), "mb": path.stat().st_size / 1e6}
    base = res["graphs"][LABEL_3D]
    for k, g in res["graphs"].items():
        g["ratio_median_vs_3d"] = g["median_ms"] / base["median_ms"]
        g["ratio_min_vs_3d"] = g["min_ms"] / base["min_ms"]
    res["goal_met"] = res["graphs"][LABEL_J2O]["ratio_median_vs_3d"] <= GOAL_RATIO
    shape = f"1x{args.frames}x{args.size}x{args.size}"
    print(f"\nONNX Runtime CPU, {args.threads} threads, ORT_ENABLE_ALL, {args.runs} interleaved runs, "
          f"{args.variant} {shape}; load average {load_before:.1f} -> {load_after:.1f} on {os.cpu_count()} CPUs")
    for k, g in res["graphs"].items():
        print(f"  {k:<28} median {g['median_ms']:9.1f} ms  min {g['min_ms']:9.1f} ms  "
              f"x{g['ratio_median_vs_3d']:.3f} (min x{g['ratio_min_vs_3d']:.3f})  {g['nodes']} nodes  "
              f"{g['mb']:.2f} MB  "
              f"logits |diff| vs 3-D {res['max_abs_diff_logits_vs_3d'][k]:.1e}")
    print(f"  goal deploy <= {GOAL_RATIO} x 3-D median: {'met' if res['goal_met'] else 'NOT met'}")
    for k, g in res["graphs"].items():
        print(f"\n  node histogram, {k}:")
        print("    " + ", ".join(f"{op} {n}" for op, n in g["ops"].items()))
    if args.profile_ops:
        for k, path in paths.items():
            prof = op_time_profile(path, inputs[k], args.threads)
            res["graphs"][k]["op_time_ms"] = prof
            print(f"\n  ORT kernel time per op type, {k} ({sum(prof.values()):.0f} ms per call):")
            print("    " + ", ".join(f"{op} {ms:.0f}" for op, ms in prof.items() if ms >= 0.5))
    atomic_write_json(out / "bench_onnx_latency.json", res)
    profiles = [{"runtime": k, "batches": [{"batch": 1, "p50_ms": g["median_ms"], "p90_ms": g["p90_ms"],
                                            "p99_ms": g["max_ms"]}]} for k, g in res["graphs"].items()]
    latency_plot(profiles, out / "bench_onnx_latency.png",
                 title=f"ORT CPU {args.threads} threads, {shape} (whisker: max)")
    print(f"\nwrote {out / 'bench_onnx_latency.json'} and {out / 'bench_onnx_latency.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

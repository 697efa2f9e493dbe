"""Table-3-style footprint of every registered full-size model, on this machine.

For each registered variant (all families; ``*_tiny`` demo variants are left
out) at its own default input (frames x crop) and ``--num-classes``:

* parameters (BN affines included, running statistics not) and multiply-adds
  (convs + linear layers), from shape tracing (:mod:`jaxar.complexity`);
* the deploy form (:class:`jaxar.deploy.DeployModel`, BN folded) with
  realistic random weights (:mod:`jaxar.demo_variables`) exported
  through jax2onnx with a dynamic batch; the file size with FP32 weights and
  with FP16 weights (every float32 initializer stored as float16 followed by a
  ``Cast`` to float32; the copy is run once and must agree in top-1);
* ONNX Runtime CPU (``--threads``): latency p50/p90 at batch 1 and throughput
  at batch 8 (clips/s at the median), each in a fresh process
  (:func:`export.deploy_profile.profile_in_subprocess`), whose peak RSS is
  reported (max over the two processes);
* with TensorRT and a CUDA GPU: an FP16 engine's size, FPS at batch 1 and the
  execution context's device memory; otherwise the reason it was skipped.

Writes ``compare_models.json``, ``compare_models.md`` (the table) and
``compare_models.png`` (batch-1 latency against multiply-adds, log-log) under
``--out``; every file is written atomically. Progress goes to stderr.

    python benchmarks/compare_models.py                          # all models
    python benchmarks/compare_models.py --variants x3d_xs x3d_ugt --runs 10
    python benchmarks/compare_models.py --resume          # continue a run that was cut short
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from jaxar.runtime.files import atomic_path


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def full_size_variants() -> list[str]:
    from jaxar.registry import create_config, list_variants
    return [n for n in list_variants() if not n.endswith("_tiny")
            and create_config(n).input_domain == "rgb"]   # one RGB clip as input


def atomic_write(path: Path, data: bytes | str) -> None:
    from jaxar.runtime.files import atomic_write_bytes
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, data.encode() if isinstance(data, str) else data)


def fp16_weights(model):
    """Copy of an ONNX model whose float32 initializers are stored as float16,
    each followed by one ``Cast`` back to float32 (the compute stays FP32)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    out = onnx.ModelProto()
    out.CopyFrom(model)
    g = out.graph
    inits, casts = [], []
    for init in g.initializer:
        if init.data_type != TensorProto.FLOAT:
            inits.append(init)
            continue
        half = numpy_helper.from_array(numpy_helper.to_array(init).astype(np.float16), init.name + "__fp16")
        inits.append(half)
        casts.append(helper.make_node("Cast", [half.name], [init.name], to=TensorProto.FLOAT,
                                      name=f"cast_{init.name}"))
    del g.initializer[:]
    g.initializer.extend(inits)
    nodes = casts + list(g.node)
    del g.node[:]
    g.node.extend(nodes)
    return out


def export_model(name: str, num_classes: int, out: Path) -> dict:
    """Profile counts + ONNX export (FP32 and FP16-weight files) of one variant."""
    import jax
    import onnx
    from export.onnx_jax2onnx import export_jax2onnx
    from export.runtimes import OrtRunner
    from jaxar.deploy import DeployModel
    from jaxar.demo_variables import realistic_variables
    from jaxar.complexity import profile
    from jaxar.registry import create_config, model_family

    cfg = create_config(name, num_classes=num_classes)
    prof = profile(cfg)
    row = {"model": name, "family": model_family(cfg), "input": "x".join(map(str, cfg.input_shape[:3])),
           "params": prof.params, "macs": prof.macs}
    t = time.time()
    variables = jax.tree_util.tree_map(np.asarray, realistic_variables(cfg, seed=0))
    dm = DeployModel.from_variables(cfg, variables)
    path = out / f"{name}.onnx"
    model = export_jax2onnx(dm.as_function(), (None, cfg.frames, 3, cfg.size, cfg.size), path)
    row["onnx"] = str(path)
    row["onnx_fp32_mb"] = path.stat().st_size / 1e6
    half = out / f"{name}.fp16w.onnx"
    atomic_write(half, fp16_weights(model).SerializeToString())
    row["onnx_fp16w_mb"] = half.stat().st_size / 1e6
    x = np.random.default_rng(0).standard_normal((1, cfg.frames, 3, cfg.size, cfg.size)).astype(np.float32)
    a, b = OrtRunner(path)(x), OrtRunner(half)(x)
    row["fp16w_top1_agrees"] = bool(a.argmax(-1)[0] == b.argmax(-1)[0])
    row["fp16w_max_abs_diff"] = float(np.abs(a - b).max())
    row["export_s"] = time.time() - t
    onnx.checker.check_model(onnx.load(str(half)))
    return row


def ort_profile(row: dict, runs: int, runs8: int, threads: int) -> None:
    from export.deploy_profile import profile_in_subprocess
    p1 = profile_in_subprocess(row["onnx"], batches=(1,), runs=runs, warmup=2, threads=threads)
    b1 = p1["batches"][0]
    row.update(ort_b1_p50_ms=b1["p50_ms"], ort_b1_p90_ms=b1["p90_ms"])
    p8 = profile_in_subprocess(row["onnx"], batches=(8,), runs=runs8, warmup=1, threads=threads)
    row["ort_b8_clips_per_s"] = p8["batches"][0]["throughput_clips_per_s"]
    row["peak_rss_mb"] = max(p1["peak_rss_mb"], p8["peak_rss_mb"])


def trt_profile(row: dict, out: Path, runs: int) -> None:
    from export.tensorrt_engine import TensorRTRunner, build_engine, tensorrt_status
    missing = tensorrt_status()
    if missing:
        row["trt"] = "skipped: " + "; ".join(missing)
        return
    from export.deploy_profile import latency
    plan = build_engine(row["onnx"], out / f"{row['model']}_fp16.plan", "fp16", batch=(1, 1, 8), log=log)
    runner = TensorRTRunner(plan)
    shape = (1, *[int(d) for d in row["input"].split("x")])
    x = np.random.default_rng(0).standard_normal((shape[0], shape[1], 3, shape[2], shape[3])).astype(np.float32)
    lat = latency(runner, x, runs=runs, warmup=5)
    row.update(trt_engine_mb=Path(plan).stat().st_size / 1e6, trt_fps=1e3 / lat["p50_ms"],
               trt_ctx_mem_mib=runner.device_memory_bytes / 2 ** 20)


COLUMNS = [("model", "model", "{}"), ("input", "input TxHxW", "{}"), ("params", "params (M)", "{:.3f}"),
           ("macs", "GMACs", "{:.3f}"), ("onnx_fp32_mb", "ONNX FP32 MB", "{:.2f}"),
           ("onnx_fp16w_mb", "ONNX FP16-w MB", "{:.2f}"), ("ort_b1_p50_ms", "ORT b1 p50 ms", "{:.1f}"),
           ("ort_b1_p90_ms", "ORT b1 p90 ms", "{:.1f}"), ("ort_b8_clips_per_s", "ORT b8 clips/s", "{:.2f}"),
           ("peak_rss_mb", "peak RSS MB", "{:.0f}"), ("trt_engine_mb", "TRT engine MB", "{:.2f}"),
           ("trt_fps", "TRT FPS", "{:.1f}"), ("trt_ctx_mem_mib", "TRT ctx MiB", "{:.1f}")]


def _cell(row: dict, key: str, fmt: str) -> str:
    if key not in row:
        return "-"
    v = row[key]
    if key == "params":
        v = v / 1e6
    elif key == "macs":
        v = v / 1e9
    return fmt.format(v)


def to_markdown(rows: list[dict], meta: dict) -> str:
    lines = [f"Measured {meta['date']} on {meta['machine']}; ONNX Runtime {meta['onnxruntime']} CPU, "
             f"{meta['threads']} threads; {meta['num_classes']} classes; batch-1 latency over "
             f"{meta['runs']} runs, batch-8 throughput over {meta['runs8']} runs.", "",
             "| " + " | ".join(h for _, h, _ in COLUMNS) + " |",
             "|" + "---|" * len(COLUMNS)]
    for r in rows:
        lines.append("| " + " | ".join(_cell(r, k, f) for k, _, f in COLUMNS) + " |")
    notes = sorted({r["trt"] for r in rows if "trt" in r} | {f"{r['model']}: {r['error']}" for r in rows if "error" in r})
    cur = {k: meta[k] for k in ("date", "runs", "runs8", "threads")}
    notes += [f"{r['model']}: measured in an earlier run ({', '.join(f'{k} {v}' for k, v in r['settings'].items())})"
              for r in rows if r.get("settings", cur) != cur]
    if notes:
        lines += [""] + [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    pts = [r for r in rows if "ort_b1_p50_ms" in r]
    if not pts:
        return
    fig, ax = plt.subplots(figsize=(7, 5))
    families = sorted({r["family"] for r in pts})
    for fam in families:
        sel = [r for r in pts if r["family"] == fam]
        ax.scatter([r["macs"] / 1e9 for r in sel], [r["ort_b1_p50_ms"] for r in sel], label=fam)
        for r in sel:
            ax.annotate(r["model"], (r["macs"] / 1e9, r["ort_b1_p50_ms"]), fontsize=7,
                        xytext=(3, 3), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("multiply-adds (G), each model at its own input")
    ax.set_ylabel("ONNX Runtime CPU latency, batch 1, p50 (ms)")
    ax.set_title("Latency vs multiply-adds on this machine")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120)
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python benchmarks/compare_models.py", description=__doc__.split("\n")[0])
    ap.add_argument("--variants", nargs="+", default=None, help="default: every registered full-size variant")
    ap.add_argument("--num-classes", type=int, default=60, help="classifier width (default 60, NTU RGB+D 60)")
    ap.add_argument("--runs", type=int, default=20, help="timed batch-1 calls per model")
    ap.add_argument("--runs8", type=int, default=5, help="timed batch-8 calls per model")
    ap.add_argument("--threads", type=int, default=2, help="ONNX Runtime intra-op threads")
    ap.add_argument("--no-latency", action="store_true", help="counts and file sizes only")
    ap.add_argument("--out", default="artifacts/compare_models", help="ONNX files, JSON, table and plot")
    ap.add_argument("--resume", action="store_true",
                    help="keep the rows of models already measured in --out/compare_models.json "
                         "(a long run cut short continues; its meta records each row's settings)")
    args = ap.parse_args(argv)
    from jaxar.registry import create_config, list_variants, model_family
    names = args.variants or full_size_variants()
    unknown = [n for n in names if n not in list_variants()]
    if unknown:
        ap.error(f"--variants: unknown {unknown}; registered: {', '.join(list_variants())}")
    if args.runs < 1 or args.runs8 < 1 or args.threads < 1 or args.num_classes < 1:
        ap.error("--runs, --runs8, --threads and --num-classes must be positive")
    import platform

    import onnxruntime
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    meta = {"date": time.strftime("%Y-%m-%d", time.gmtime()),
            "machine": f"{platform.machine()} {os.cpu_count()} CPUs ({platform.processor() or platform.system()})",
            "onnxruntime": onnxruntime.__version__, "threads": args.threads, "runs": args.runs,
            "runs8": args.runs8, "num_classes": args.num_classes}
    rows, done = [], {}
    previous = out / "compare_models.json"
    if args.resume and previous.is_file():
        done = {r["model"]: r for r in json.loads(previous.read_text())["rows"] if "error" not in r}
        for r in done.values():                  # a static property of the config, not a measurement
            r["family"] = model_family(create_config(r["model"]))
        log(f"resuming: keeping {sorted(done)} from {previous}")
    for i, name in enumerate(names, 1):
        if name in done:
            rows.append(done[name])
            continue
        t = time.time()
        log(f"[{i}/{len(names)}] {name}: counting and exporting")
        try:
            row = export_model(name, args.num_classes, out)
            row["settings"] = {k: meta[k] for k in ("date", "runs", "runs8", "threads")}
            if not args.no_latency:
                log(f"[{i}/{len(names)}] {name}: ONNX Runtime latency ({args.runs} + {args.runs8} runs)")
                ort_profile(row, args.runs, args.runs8, args.threads)
                trt_profile(row, out, args.runs)
        except Exception as e:                       # one broken family must not hide the others
            row = {"model": name, "error": f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"}
        log(f"[{i}/{len(names)}] {name}: done in {time.time() - t:.0f} s "
            + ("" if "error" not in row else f"-- FAILED {row['error']}"))
        rows.append(row)
        atomic_write(out / "compare_models.json", json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")
    table = to_markdown(rows, meta)
    atomic_write(out / "compare_models.md", table)
    plot(rows, out / "compare_models.png")
    print(table)
    log(f"wrote {out / 'compare_models.json'}, {out / 'compare_models.md'}, {out / 'compare_models.png'}")
    return 1 if any("error" in r for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())

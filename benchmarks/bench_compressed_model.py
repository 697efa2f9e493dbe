"""Benchmark: compressed-domain students vs raw-domain teachers, model side and end to end.

Issue 19, item 6. One run, on this machine's CPU, measures

1. **Model latency** of each pair, ONNX Runtime on CPU with one intra-op thread,
   batch 1, ``T x S^2`` clips, ms per clip, median of ``--repeats`` interleaved
   rounds (after one warm-up call each):

   ``cdkd_mobilenetv2``   edge student, three TSM-MobileNetV2 streams (deploy form)
   ``x3d_ugt``            its raw-frame teacher (the flagship)
   ``cdkd_tsm_resnet50``  the paper's "TSM+ours" student, three TSM-R50 streams
   ``tsm_resnet50``       its raw-frame teacher

   Every model is exported here from its deploy form with jax2onnx
   (random weights with realistic BN statistics; no onnxslim pass for any of
   them, ONNX Runtime's own graph optimisations on), the students through the
   three-input export of the bundle (:mod:`export.compressed_export`).
   Teachers run at the students' ``T`` and ``S`` (the same clip).

2. **Input cost** per clip from the same MPEG-4 Part 2 stream (the functions of
   ``bench_compressed_input.py``): ``cd_clip`` (the student's input through the
   runtime's reader, :func:`jaxar.runtime.compressed_clip.read_clip`) and
   ``raw_clip`` (decode, T frames to RGB, crop / resize / normalise).

3. **End to end** per clip = input + model, for each pair, and the ratio.

    OMP_NUM_THREADS=1 python benchmarks/bench_compressed_model.py \
        [--pairs edge r50 --frames 8 --size 224 --source 256 --length 48 --repeats 5]

Not a test; the numbers depend on the CPU (and on other jobs sharing it:
CPU times are printed next to wall times).
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

PAIRS = {"edge": ("cdkd_mobilenetv2", "x3d_ugt"), "r50": ("cdkd_tsm_resnet50", "tsm_resnet50")}


def _export(name: str, frames: int, size: int, num_classes: int, out: Path) -> Path:
    """ONNX of ``name``'s deploy form (one input, or the student's three)."""
    from export.sources import from_variant, with_input_size
    from jaxar.deploy import DeployModel
    record = with_input_size(from_variant(name, num_classes=num_classes), frames, size)
    dm = DeployModel.from_variables(record.config, record.variables)
    path = out / f"{name}.onnx"
    if getattr(record.config, "input_domain", "raw") == "compressed":
        from export.multi_input import export_jax2onnx_inputs
        from jaxar.runtime.compressed_predict import INPUTS
        export_jax2onnx_inputs(dm.as_function(), {k: (1, frames, c, size, size) for k, c in INPUTS.items()},
                               path, simplify=False)
    else:
        from export.onnx_jax2onnx import export_jax2onnx
        export_jax2onnx(dm.as_function(), (1, frames, 3, size, size), path, simplify=False)
    return path


def _timed(calls: dict, repeats: int) -> tuple[dict, dict]:
    """Each call once per round, ``repeats`` rounds; median wall / process-CPU ms."""
    wall = {k: [] for k in calls}
    cpu = {k: [] for k in calls}
    for _ in range(repeats):
        for k, fn in calls.items():
            w0, c0 = time.perf_counter(), time.process_time()
            fn()
            wall[k].append((time.perf_counter() - w0) * 1e3)
            cpu[k].append((time.process_time() - c0) * 1e3)
    return ({k: statistics.median(v) for k, v in wall.items()},
            {k: statistics.median(v) for k, v in cpu.items()})


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pairs", nargs="+", choices=sorted(PAIRS), default=["edge", "r50"])
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--source", type=int, default=256, help="stored frame side (pixels)")
    ap.add_argument("--length", type=int, default=48, help="frames per video")
    ap.add_argument("--gop", type=int, default=12)
    ap.add_argument("--num-classes", type=int, default=60)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args(argv)

    from bench_compressed_input import _raw_clip          # this folder is on sys.path (run as a script)
    from data_pipelines import synthetic
    from data_pipelines.compressed.encode import encode_videos
    from export.runtimes import OrtRunner
    from jaxar.runtime.compressed_clip import CompressedInput, read_clip
    from jaxar.runtime.compressed_predict import INPUTS
    from jaxar.runtime.sampling import frame_indices

    T, S = args.frames, args.size
    print(f"T={T}, S={S}, batch 1, ONNX Runtime CPU 1 intra-op thread, OMP_NUM_THREADS="
          f"{os.environ.get('OMP_NUM_THREADS', 'unset')}, median of {args.repeats}", flush=True)
    rng = np.random.default_rng(0)
    runners, inputs = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for pair in args.pairs:
            for name in PAIRS[pair]:
                t0 = time.perf_counter()
                runners[name] = OrtRunner(_export(name, T, S, args.num_classes, Path(tmp)), threads=1, name=name)
                if name.startswith("cdkd"):
                    inputs[name] = {k: rng.standard_normal((1, T, c, S, S)).astype(np.float32)
                                    for k, c in INPUTS.items()}
                else:
                    inputs[name] = rng.standard_normal((1, T, 3, S, S)).astype(np.float32)
                runners[name](inputs[name])                        # warm-up
                print(f"  exported and loaded {name} in {time.perf_counter() - t0:.0f} s", flush=True)
        mwall, mcpu = _timed({n: (lambda n=n: runners[n](inputs[n])) for n in runners}, args.repeats)

    video = synthetic.generate(1, args.length, args.source, seed=0)[0]
    stream = encode_videos(video, gop=args.gop, qscale=3, fps=25.0)[0]
    idx = frame_indices(args.length, T, 0.5)
    spec = CompressedInput(frames=T, size=S, gop=args.gop)
    iwall, icpu = _timed({"cd_clip": lambda: read_clip(stream, spec, indices=idx),
                          "raw_clip": lambda: _raw_clip(stream, idx, S)}, args.repeats)

    print(f"\n1. model, ms per clip (ONNX Runtime, 1 thread, batch 1)")
    print(f"{'':20s} {'wall':>9s} {'cpu':>9s}")
    for n in runners:
        print(f"{n:20s} {mwall[n]:9.1f} {mcpu[n]:9.1f}")
    print(f"\n2. input, ms per clip ({args.length} frames of {args.source}^2, MPEG-4 Part 2 GOP {args.gop})")
    for k in ("cd_clip", "raw_clip"):
        print(f"{k:20s} {iwall[k]:9.1f} {icpu[k]:9.1f}")
    print("\n3. end to end (input + model), CPU ms per clip")
    print(f"{'student / teacher':38s} {'student':>9s} {'teacher':>9s} {'model x':>8s} {'e2e x':>7s}")
    for pair in args.pairs:
        s, t = PAIRS[pair]
        es, et = icpu["cd_clip"] + mcpu[s], icpu["raw_clip"] + mcpu[t]
        print(f"{s + ' / ' + t:38s} {es:9.1f} {et:9.1f} {mcpu[s] / mcpu[t]:8.2f} {es / et:7.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

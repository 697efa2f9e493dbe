"""Benchmark: NTU-style preparation speed and tf.data training-batch throughput.

Generates a small NTU-format manual directory (MJPG .avi at the NTU
resolution 1920x1080 with matching .skeleton files), prepares it with the
``ntu_rgbd`` builder (256x256 person crops, JPEG), then times training
batches of 16x224x224 clips through ``tfds_batches`` with 1 thread and with
all cores. Prints the median of several runs and how many cores keep one GPU
fed at 300-1000 clips/s.

    python benchmarks/bench_input_pipeline.py [--videos 12 --frames 72 --runs 5]

Not a test; numbers depend on the CPU. NTU's own .avi files use a different
codec than the MJPG written here, so real decoding speed differs somewhat.
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import numpy as np


def _fixtures():
    """The test suite's NTU sample writer (``tests/data_fixtures.py``), loaded by path."""
    import importlib.util
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data_fixtures.py")
    spec = importlib.util.spec_from_file_location("data_fixtures", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_manual_dir(root: str, videos: int, frames: int, width: int, height: int) -> None:
    """NTU layout with ``videos`` samples whose person walks across the frame."""
    fx = _fixtures()
    from data_pipelines.video_io import write_video

    rng = np.random.default_rng(0)
    os.makedirs(os.path.join(root, "nturgb+d_rgb"), exist_ok=True)
    os.makedirs(os.path.join(root, "nturgb+d_skeletons"), exist_ok=True)
    bg = cv2_noise(rng, height, width)
    for i in range(videos):
        name = f"S001C00{1 + i % 3}P{1 + i % 40:03d}R001A{1 + i % 60:03d}"
        boxes = [[(width * (0.3 + 0.4 * t / frames), height * 0.55, width * 0.08, height * 0.3)]
                 for t in range(frames)]
        sample = fx.FakeSample(name, frames=frames, bodies=boxes)
        video = np.repeat(bg[None], frames, axis=0)
        for t, ((cx, cy, hw, hh),) in enumerate(boxes):
            video[t, int(cy - hh):int(cy + hh), int(cx - hw):int(cx + hw)] = (200, 150, 120)
        write_video(os.path.join(root, "nturgb+d_rgb", f"{name}_rgb.avi"), video)
        with open(os.path.join(root, "nturgb+d_skeletons", f"{name}.skeleton"), "w", newline="") as f:
            f.write(fx.skeleton_text(sample, seed=i))


def cv2_noise(rng, h, w):
    """A textured, natural-ish background (smooth colour field + grain)."""
    import cv2
    small = rng.integers(0, 255, size=(9, 16, 3), dtype=np.uint8)
    field = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC).astype(np.int16)
    grain = rng.integers(-20, 20, size=(h, w, 1), dtype=np.int16)
    return np.clip(field + grain, 0, 255).astype(np.uint8)


def time_batches(name, data_dir, batch, threads, steps, warmup=2, normalize=True):
    from data_pipelines import input_pipeline as ip
    it = ip.tfds_batches(name, "train", batch, data_dir=data_dir, seed=1, num_threads=threads,
                         clip=ip.ClipConfig(num_frames=16, size=224, normalize=normalize))
    for _ in range(warmup):
        next(it)
    start = time.perf_counter()
    for _ in range(steps):
        next(it)
    return steps * batch / (time.perf_counter() - start)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--videos", type=int, default=12)
    p.add_argument("--frames", type=int, default=72, help="frames per source video")
    p.add_argument("--width", type=int, default=1920)
    p.add_argument("--height", type=int, default=1080)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--steps", type=int, default=6, help="timed batches per run")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--workdir", default=None)
    p.add_argument("--reuse", action="store_true",
                   help="reuse the videos and prepared data already in --workdir")
    args = p.parse_args()

    import tensorflow_datasets as tfds

    import data_pipelines  # noqa: F401
    from data_pipelines.builders.ntu_rgbd import NtuRgbd, make_config

    cores = os.cpu_count() or 1
    work = args.workdir or tempfile.mkdtemp(prefix="bench_input_")
    manual = os.path.join(work, "manual")
    if not args.reuse:
        t0 = time.perf_counter()
        make_manual_dir(manual, args.videos, args.frames, args.width, args.height)
        print(f"wrote {args.videos} videos of {args.frames} frames at {args.width}x{args.height} "
              f"in {time.perf_counter() - t0:.1f} s ({work})")

    prep_rates = []
    for run in range(0 if args.reuse else min(args.runs, 3)):
        data_dir = os.path.join(work, f"data{run}")
        b = NtuRgbd(config=make_config("ntu60_xview"), data_dir=data_dir, workers=1)
        t0 = time.perf_counter()
        b.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=manual))
        prep_rates.append(args.videos / (time.perf_counter() - t0))
    data_dir = os.path.join(work, "data0")
    name = "ntu_rgbd/ntu60_xview"
    size = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in
               os.walk(os.path.join(data_dir, "ntu_rgbd")) for f in fs)
    stored_frames = args.videos * args.frames

    one = [time_batches(name, data_dir, args.batch, 1, args.steps) for _ in range(args.runs)]
    allc = [time_batches(name, data_dir, args.batch, cores, args.steps) for _ in range(args.runs)]
    raw = [time_batches(name, data_dir, args.batch, 1, args.steps, normalize=False)
           for _ in range(args.runs)]
    per_core = statistics.median(one)
    print()
    print(f"CPU cores available            : {cores}")
    if prep_rates:
        print(f"preparation (1 process)        : {statistics.median(prep_rates):.2f} videos/s "
              f"({args.frames} frames of {args.width}x{args.height} each; median of {len(prep_rates)})")
    print(f"stored size                    : {size / stored_frames / 1024:.1f} KiB per 256x256 JPEG "
          f"frame (incl. records and metadata)")
    print(f"train batches 16x224x224, 1 thread   : {per_core:.1f} clips/s "
          f"(median of {args.runs}; runs {[round(x, 1) for x in one]})")
    print(f"train batches 16x224x224, {cores} threads : {statistics.median(allc):.1f} clips/s "
          f"({statistics.median(allc) / cores:.1f} clips/s/core; runs {[round(x, 1) for x in allc]})")
    print(f"same, uint8 output, 1 thread     : {statistics.median(raw):.1f} clips/s "
          f"(runs {[round(x, 1) for x in raw]})")
    for target in (300, 1000):
        print(f"cores to feed {target:4d} clips/s       : ~{int(np.ceil(target / per_core))} "
              f"(float32 output), ~{int(np.ceil(target / statistics.median(raw)))} (uint8 output)")


if __name__ == "__main__":
    main()

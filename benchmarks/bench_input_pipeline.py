"""Benchmark: NTU-style preparation cost and tf.data training-batch cost per clip.

Generates a small NTU-format manual directory (MJPG .avi at the NTU
resolution 1920x1080 with matching .skeleton files), prepares it with the
``ntu_rgbd`` builder (256x256 person crops, JPEG), then measures training
batches of 16x224x224 clips through ``tfds_batches``: CPU time per clip
(process CPU time over the timed batches, after the prefetch buffer's head
start is consumed), for float32 and uint8 output with 1 thread, and float32
with all cores. CPU time per clip does not depend on how loaded the machine
is, unlike the wall-clock rate (also printed). Prints medians of several
runs and how many CPU cores keep one accelerator fed at 300-1000 clips/s.

    python benchmarks/bench_input_pipeline.py [--videos 12 --frames 72 --runs 5]

Not a test; numbers depend on the CPU. Disk reads are not measured (the
records sit in the page cache). NTU's own .avi files use a different codec
than the MJPG written here, so real decoding cost differs somewhat.
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


def measure_batches(name, data_dir, batch, threads, steps, prefetch=2, normalize=True):
    """CPU seconds per clip and wall-clock clips/s of training batches.

    The first ``prefetch + 2`` batches are consumed untimed, so the batches
    prepared ahead before the timing starts (the prefetch buffer's head
    start) are not counted; then ``steps`` batches are timed. CPU time is the
    whole process's (all threads: decoding, resizing, tf.data runtime), from
    ``time.process_time``; since the consumer only calls ``next`` the
    pipeline runs flat out, so CPU time per clip is what a clip costs
    whatever else runs on the machine. The records are read from the page
    cache after the first run: disk reads are not covered.
    """
    from data_pipelines import input_pipeline as ip
    it = ip.tfds_batches(name, "train", batch, data_dir=data_dir, seed=1, num_threads=threads,
                         prefetch=prefetch,
                         clip=ip.ClipConfig(num_frames=16, size=224, normalize=normalize))
    for _ in range(prefetch + 2):
        next(it)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for _ in range(steps):
        next(it)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    clips = steps * batch
    return cpu / clips, clips / wall


def reference_cpu_per_clip(cache_dir: str, clips: int, normalize: bool = True) -> float:
    """CPU seconds per clip of the same per-clip work done directly with
    OpenCV and numpy in this thread (16 JPEG decodes of stored frames, a crop
    of ~70 % of the area, bilinear resize to 224x224, normalisation): the
    in-run baseline the pipeline's cost is compared with."""
    import cv2

    from jaxar.runtime.preprocess import DEFAULT_MEAN, DEFAULT_STD
    from data_pipelines.clip_prep import PreparedClip
    files = sorted(os.path.join(dp, f) for dp, _, fs in os.walk(cache_dir)
                   for f in fs if f.endswith(".npz"))
    stored = [PreparedClip.load(f).jpegs for f in files]
    mean = np.asarray(DEFAULT_MEAN, np.float32) * 255
    scale = 1 / (np.asarray(DEFAULT_STD, np.float32) * 255)
    cpu0 = time.process_time()
    for i in range(clips):
        jpegs = stored[i % len(stored)]
        picks = np.floor((np.arange(16) + 0.5) * len(jpegs) / 16).astype(int)
        out = np.empty((16, 224, 224, 3), np.float32 if normalize else np.uint8)
        for k, t in enumerate(picks):
            frame = cv2.imdecode(np.frombuffer(jpegs[t], np.uint8), cv2.IMREAD_COLOR)
            h, w = frame.shape[:2]
            side = int(0.84 * min(h, w))
            crop = cv2.cvtColor(frame[:side, w - side:], cv2.COLOR_BGR2RGB)
            small = cv2.resize(crop, (224, 224), interpolation=cv2.INTER_LINEAR)
            out[k] = (small - mean) * scale if normalize else small
    return (time.process_time() - cpu0) / clips


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--videos", type=int, default=12)
    p.add_argument("--frames", type=int, default=72, help="frames per source video")
    p.add_argument("--width", type=int, default=1920)
    p.add_argument("--height", type=int, default=1080)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--steps", type=int, default=24, help="timed batches per run (after the "
                   "prefetch buffer's head start is consumed)")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--prep_runs", type=int, default=2, help="timed preparation runs")
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
              f"in {time.perf_counter() - t0:.1f} s ({work})", flush=True)

    prep_cpu, prep_wall = [], []
    for run in range(0 if args.reuse else max(args.prep_runs, 1)):
        data_dir = os.path.join(work, f"data{run}")
        b = NtuRgbd(config=make_config("ntu60_xview"), data_dir=data_dir, workers=1)
        c0, t0 = time.process_time(), time.perf_counter()
        b.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=manual))
        prep_cpu.append((time.process_time() - c0) / args.videos)
        prep_wall.append(args.videos / (time.perf_counter() - t0))
    data_dir = os.path.join(work, "data0")
    name = "ntu_rgbd/ntu60_xview"
    size = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in
               os.walk(os.path.join(data_dir, "ntu_rgbd")) for f in fs)
    stored_frames = args.videos * args.frames

    results = {}
    for label, threads, normalize in (("float32, 1 thread", 1, True),
                                      ("uint8, 1 thread", 1, False),
                                      (f"float32, {cores} threads", cores, True)):
        runs = [measure_batches(name, data_dir, args.batch, threads, args.steps,
                                normalize=normalize) for _ in range(args.runs)]
        results[label] = runs
        print(f"  measured {label}: {[round(c * 1e3, 1) for c, _ in runs]} ms CPU/clip",
              flush=True)

    cache = os.path.join(data_dir, "downloads", "prepared")
    ref = [reference_cpu_per_clip(cache, args.steps * args.batch) for _ in range(args.runs)]
    ref_u8 = [reference_cpu_per_clip(cache, args.steps * args.batch, normalize=False)
              for _ in range(args.runs)]
    print(f"  measured reference (OpenCV + numpy, 1 thread): "
          f"{[round(c * 1e3, 1) for c in ref]} ms CPU/clip float32, "
          f"{[round(c * 1e3, 1) for c in ref_u8]} uint8", flush=True)

    def med(label, i):
        return statistics.median(r[i] for r in results[label])

    clips = args.steps * args.batch
    print()
    print(f"CPU cores available : {cores}")
    if prep_cpu:
        print(f"preparation         : {statistics.median(prep_cpu):.2f} CPU-s per video "
              f"({args.frames} frames of {args.width}x{args.height}; "
              f"{args.frames / statistics.median(prep_cpu):.0f} frames per CPU-second; "
              f"wall {statistics.median(prep_wall):.2f} videos/s in 1 process; "
              f"median of {len(prep_cpu)})")
    print(f"stored size         : {size / stored_frames / 1024:.1f} KiB per 256x256 JPEG "
          f"frame (incl. records and metadata)")
    print(f"training clips 16x224x224, batch {args.batch}, {clips} clips per run after the "
          f"prefetch head start, median of {args.runs} runs:")
    for label in results:
        cpu = med(label, 0)
        print(f"  {label:22s}: {cpu * 1e3:5.1f} ms CPU per clip = {1 / cpu:5.1f} clips per "
              f"CPU-second (wall {med(label, 1):.1f} clips/s on this machine)")
    f32, u8 = med("float32, 1 thread", 0), med("uint8, 1 thread", 0)
    print(f"  {'reference, float32':22s}: {statistics.median(ref) * 1e3:5.1f} ms CPU per clip "
          f"(same work in plain OpenCV + numpy, one thread)")
    print(f"  {'reference, uint8':22s}: {statistics.median(ref_u8) * 1e3:5.1f} ms CPU per clip")
    print(f"  pipeline / reference CPU time: {f32 / statistics.median(ref):.2f} (float32), "
          f"{u8 / statistics.median(ref_u8):.2f} (uint8); uint8 / float32 pipeline: "
          f"{u8 / f32:.2f}")
    for target in (300, 1000):
        print(f"CPU cores to feed {target:4d} clips/s: ~{target * f32:.0f} (float32 output), "
              f"~{target * u8:.0f} (uint8 output); disk reads not included")


if __name__ == "__main__":
    main()

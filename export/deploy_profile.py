"""Deployment profile of one exported artifact, runtime-agnostic.

For a runner (:mod:`export.runtimes`; ONNX Runtime here, TensorRT on the
Jetson) and each batch size: latency p50/p90/p99/min/mean over ``runs`` timed
calls after ``warmup``, throughput in clips/s; plus the artifact's file size,
the process's peak host RSS (and the part added by loading/running the model),
the TensorRT execution-context device memory when the runner reports it, and
on a Jetson the average board power and peak RAM from ``tegrastats``.

Command line (one artifact per process, so peak RSS is this model's)::

    python export/deploy_profile.py model.onnx [--batch 1 8] [--runs 50] [--threads 2] [--json p.json]
    python export/deploy_profile.py model_fp16.plan ...      # TensorRT plan (Jetson/GPU)

A static-batch model is profiled at its own batch only; other requested
batches are reported as skipped.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

POWER_RAILS = ("VDD_IN", "POM_5V_IN", "VIN_SYS_5V0")


class RssSampler:
    """Samples this process's RSS every ``interval`` s in a thread; ``peak`` in bytes."""

    def __init__(self, interval: float = 0.005):
        import psutil
        self.proc, self.interval, self.peak = psutil.Process(), interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(self.interval)

    def __enter__(self):
        self.peak = self.proc.memory_info().rss
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.proc.memory_info().rss)


def parse_tegrastats(lines: list[str]) -> dict:
    """Average input power (W) and peak RAM (MB) from tegrastats lines such as
    ``RAM 3153/7620MB ... VDD_IN 16950mW/16950mW ...``."""
    powers, rams = [], []
    for line in lines:
        for rail in POWER_RAILS:
            m = re.search(rf"{rail}\s+(\d+)mW", line)
            if m:
                powers.append(int(m.group(1)) / 1000.0)
                break
        m = re.search(r"RAM\s+(\d+)/(\d+)MB", line)
        if m:
            rams.append(int(m.group(1)))
    out = {}
    if powers:
        out["power_avg_w"] = float(np.mean(powers))
        out["power_samples"] = len(powers)
    if rams:
        out["tegrastats_ram_peak_mb"] = max(rams)
    return out


class Tegrastats:
    """Runs ``tegrastats --interval 100`` while profiling, when it exists (Jetson)."""

    def __init__(self):
        self.exe = shutil.which("tegrastats")
        self.lines: list[str] = []
        self.proc = None

    def __enter__(self):
        if self.exe:
            self.proc = subprocess.Popen([self.exe, "--interval", "100"], stdout=subprocess.PIPE,
                                         stderr=subprocess.DEVNULL, text=True)
            threading.Thread(target=lambda: self.lines.extend(iter(self.proc.stdout.readline, "")),
                             daemon=True).start()
        return self

    def __exit__(self, *exc):
        if self.proc:
            self.proc.terminate()
            self.proc.wait(timeout=5)

    def summary(self) -> dict:
        if not self.exe:
            return {"tegrastats": "not available (not a Jetson)"}
        return parse_tegrastats(self.lines) or {"tegrastats": "no parsable lines"}


def latency(runner, x: np.ndarray, runs: int = 50, warmup: int = 5, progress=None) -> dict:
    """Times ``runs`` calls of ``runner(x)`` (an array, or a dict of arrays for a
    multi-input graph); milliseconds and clips/s."""
    from export.runtimes import batch_size
    n = batch_size(x)
    for _ in range(warmup):
        runner(x)
    times = []
    for i in range(runs):
        t0 = time.perf_counter()
        runner(x)
        times.append((time.perf_counter() - t0) * 1e3)
        if progress and (i + 1) % max(1, runs // 5) == 0:
            progress(f"  batch {n}: {i + 1}/{runs} runs, median so far {np.median(times):.2f} ms")
    t = np.asarray(times)
    return {"batch": int(n), "runs": runs, "p50_ms": float(np.percentile(t, 50)),
            "p90_ms": float(np.percentile(t, 90)), "p99_ms": float(np.percentile(t, 99)),
            "min_ms": float(t.min()), "mean_ms": float(t.mean()),
            "throughput_clips_per_s": float(n * 1e3 / np.median(t))}


def open_runner(path: str | os.PathLike, threads: int | None = None):
    """ONNX file -> OrtRunner; ``.plan``/``.engine`` -> TensorRTRunner."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model file not found: {path}")
    if path.suffix == ".onnx":
        from export.runtimes import OrtRunner
        return OrtRunner(path, threads=threads)
    if path.suffix in (".plan", ".engine", ".trt"):
        from export.tensorrt_engine import TensorRTRunner
        return TensorRTRunner(path)
    raise ValueError(f"{path}: unknown model type (expected .onnx or .plan/.engine)")


def random_inputs(runner, batch: int, rng: np.random.Generator):
    """Standard-normal float32 inputs of batch ``batch``: an array, or a dict
    ``{name: array}`` when the runner's graph has several inputs."""
    shapes = getattr(runner, "input_shapes", None) or {"x": runner.input_shape}
    xs = {n: rng.standard_normal((batch, *s[1:])).astype(np.float32) for n, s in shapes.items()}
    return xs if len(xs) > 1 else next(iter(xs.values()))


def profile_runner(runner, batches=(1, 8), runs: int = 50, warmup: int = 5, seed: int = 0,
                   progress=None) -> dict:
    """Profiles an open runner at each batch size it accepts."""
    shape = runner.input_shape
    rng = np.random.default_rng(seed)
    static = shape[0] if isinstance(shape[0], int) else None
    result = {"runtime": runner.name, "input_shape": [d if d else "N" for d in shape], "batches": []}
    if len(getattr(runner, "input_shapes", None) or {}) > 1:
        result["input_shapes"] = {n: [d if d else "N" for d in s] for n, s in runner.input_shapes.items()}
    path = getattr(runner, "path", None)
    if path:
        result["file"] = str(path)
        result["file_size_mb"] = Path(path).stat().st_size / 1e6
    if getattr(runner, "device_memory_bytes", None) is not None:
        result["trt_context_device_memory_mib"] = runner.device_memory_bytes / 2 ** 20
    with Tegrastats() as teg:
        for b in batches:
            if static and b != static:
                result["batches"].append({"batch": b, "skipped": f"static batch {static} model"})
                continue
            result["batches"].append(latency(runner, random_inputs(runner, b, rng), runs, warmup, progress))
    result.update(teg.summary())
    return result


def profile_file(path, batches=(1, 8), runs=50, warmup=5, threads=None, progress=None) -> dict:
    """Opens ``path`` in this process and profiles it, with peak-RSS accounting."""
    import psutil
    base = psutil.Process().memory_info().rss
    with RssSampler() as rss:
        runner = open_runner(path, threads)
        res = profile_runner(runner, batches, runs, warmup, progress=progress)
    res["peak_rss_mb"] = rss.peak / 1e6
    res["model_rss_delta_mb"] = (rss.peak - base) / 1e6
    res["threads"] = threads
    return res


def profile_in_subprocess(path, batches=(1, 8), runs=50, warmup=5, threads=None, timeout=1800) -> dict:
    """Runs this module's CLI in a fresh process (clean peak RSS); returns its JSON."""
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "p.json"
        cmd = [sys.executable, "-m", "export.deploy_profile", str(path), "--runs", str(runs),
               "--warmup", str(warmup), "--json", str(out), "--batch", *map(str, batches)]
        if threads:
            cmd += ["--threads", str(threads)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"profiling {path} failed:\n{proc.stderr[-2000:]}")
        return json.loads(out.read_text())


def format_table(results: list[dict]) -> str:
    lines = [f"{'runtime':<34}{'batch':>6}{'p50 ms':>10}{'p90 ms':>10}{'p99 ms':>10}{'clips/s':>10}"
             f"{'MB file':>9}{'peak RSS':>10}"]
    for r in results:
        for b in r["batches"]:
            if "skipped" in b:
                lines.append(f"{r['runtime']:<34}{b['batch']:>6}  skipped ({b['skipped']})")
                continue
            lines.append(f"{r['runtime']:<34}{b['batch']:>6}{b['p50_ms']:>10.2f}{b['p90_ms']:>10.2f}"
                         f"{b['p99_ms']:>10.2f}{b['throughput_clips_per_s']:>10.1f}"
                         f"{r.get('file_size_mb', 0):>9.2f}{r.get('peak_rss_mb', 0):>10.0f}")
    return "\n".join(lines)


def main(argv=None) -> int:
    import argparse
    ap = argparse.ArgumentParser(prog="python export/deploy_profile.py", description=__doc__.split("\n")[0])
    ap.add_argument("model", help="an .onnx file (ONNX Runtime) or a TensorRT .plan/.engine")
    ap.add_argument("--batch", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None, help="ONNX Runtime intra-op threads")
    ap.add_argument("--json", default=None, help="write the result here")
    ap.add_argument("--plot", default=None, help="write a latency PNG here")
    args = ap.parse_args(argv)
    if args.runs < 1 or any(b < 1 for b in args.batch):
        ap.error("--runs and --batch must be positive")
    try:
        res = profile_file(args.model, args.batch, args.runs, args.warmup, args.threads,
                           progress=lambda m: print(m, file=sys.stderr, flush=True))
    except (FileNotFoundError, ValueError) as e:
        ap.error(str(e))
    print(format_table([res]))
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2) + "\n")
    if args.plot:
        from export.plot import latency_plot
        latency_plot([res], args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())

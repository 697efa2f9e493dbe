"""TensorRT engine building and execution (TensorRT 10.x Python API), optional.

TensorRT ships with JetPack (JetPack 6.1 and 6.2: TensorRT 10.3; JetPack 6.0
has TensorRT 8.6, whose ONNX parser stops at opset 17, too old for the opset-18
exports: upgrade such a Jetson to JetPack 6.1 or later) and installs with
``pip install tensorrt`` on a connected CUDA desktop; it cannot be installed on
machines without NVIDIA's package index, and it needs a CUDA GPU.
:func:`tensorrt_status` says what is missing; :func:`build_engine` raises
:class:`TensorRTUnavailable` with that list and the equivalent ``trtexec``
command, so the caller can print both and stop cleanly.

Building: ``trt.Builder`` -> explicit-batch network -> ``trt.OnnxParser`` ->
builder config (workspace pool, ``BuilderFlag.FP16`` / ``INT8`` with an
entropy calibrator over real preprocessed clips) -> one optimization profile
``min/opt/max`` over the batch, with a shape range for every graph input
(:func:`profile_shapes`; the CD-KD student has three) -> timing cache loaded/saved ->
``build_serialized_network`` -> plan file. Running:
``Runtime.deserialize_cuda_engine`` -> ``create_execution_context`` ->
``set_input_shape`` / ``set_tensor_address`` -> ``execute_async_v3``; device
buffers through cuda-python (``cuda.bindings.runtime`` / ``cuda.cudart``) or pycuda.
The context's device memory is ``engine.device_memory_size_v2``.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from jaxar.runtime.backends import TensorRTBackend, _cuda_runtime   # one TensorRT runner for export and device
from jaxar.runtime.files import atomic_write_bytes

PRECISIONS = ("fp16", "fp32", "int8")


class TensorRTUnavailable(RuntimeError):
    """Raised when TensorRT or a CUDA GPU is missing; ``.missing`` lists what,
    ``.trtexec`` is the command that builds the same engine on the Jetson (empty
    for INT8 without a calibration cache: trtexec cannot calibrate from data,
    :mod:`export.calibrate` does it on the device)."""

    def __init__(self, missing: list[str], trtexec: str):
        self.missing, self.trtexec = missing, trtexec
        super().__init__("cannot build the TensorRT engine here; missing: " + "; ".join(missing)
                         + ("\nBuild the same engine on the target (Jetson: JetPack 6.1/6.2 ship TensorRT 10.3) "
                            "with:\n  " + trtexec if trtexec else ""))


def tensorrt_status() -> list[str]:
    """What is missing for building/running engines here (empty: ready)."""
    missing = []
    try:
        import tensorrt as trt
        if int(trt.__version__.split(".")[0]) < 10:
            missing.append(f"TensorRT >= 10 (found {trt.__version__}; TensorRT 8.6 of JetPack 6.0 parses "
                           "ONNX opset <= 17 only: upgrade to JetPack 6.1/6.2, which ship TensorRT 10.3)")
    except Exception as e:                      # ImportError, or OSError for libnvinfer
        missing.append(f"the 'tensorrt' Python package with libnvinfer ({type(e).__name__}: {e})")
    cudart = _cuda_runtime()
    if cudart is not None:
        err, count = cudart.cudaGetDeviceCount()
        if int(err) != 0 or count < 1:
            missing.append("a CUDA GPU (cudaGetDeviceCount found none)")
    else:
        try:
            import pycuda.driver as drv
            drv.init()
            if drv.Device.count() < 1:
                missing.append("a CUDA GPU (pycuda found none)")
        except ImportError:
            gpu = shutil.which("nvidia-smi") and subprocess.run(
                ["nvidia-smi", "-L"], capture_output=True, text=True).returncode == 0
            missing.append(("" if gpu else "a CUDA GPU and ")
                           + "cuda-python ('pip install cuda-python') or pycuda for device buffers")
        except Exception as e:
            missing.append(f"a working CUDA driver ({e})")
    return missing


def _shape(batch: int, sample_shape: Sequence[int]) -> str:
    return "x".join(str(d) for d in (batch, *sample_shape))


def trtexec_command(onnx_path: str, plan_path: str, precision: str = "fp16",
                    sample_shape: Sequence[int] = (16, 3, 224, 224), dynamic: bool = False,
                    batch: tuple[int, int, int] = (1, 1, 1), timing_cache: str | None = "timing.cache",
                    workspace_mb: int = 1024, calib_cache: str | None = None, input_name: str = "clip",
                    inputs: Mapping[str, Sequence[int]] | None = None) -> str:
    """The ``trtexec`` line equivalent to :func:`build_engine` (TensorRT 10.x flags).

    ``inputs``: ``{name: per-clip shape}`` of every graph input (a multi-input
    graph such as the CD-KD student's); default ``{input_name: sample_shape}``.
    A dynamic batch gives each input its min / opt / max shape."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    inputs = dict(inputs) if inputs else {input_name: tuple(sample_shape)}
    parts = ["/usr/src/tensorrt/bin/trtexec", f"--onnx={onnx_path}", f"--saveEngine={plan_path}",
             f"--memPoolSize=workspace:{workspace_mb}M"]
    if precision == "fp16":
        parts.append("--fp16")
    if precision == "fp32":
        parts.append("--noTF32")
    if precision == "int8":
        parts += ["--int8", "--fp16"] + ([f"--calib={calib_cache}"] if calib_cache else [])
    if dynamic:
        for flag, b in zip(("minShapes", "optShapes", "maxShapes"), batch):
            parts.append(f"--{flag}=" + ",".join(f"{n}:{_shape(b, s)}" for n, s in inputs.items()))
    if timing_cache:
        parts.append(f"--timingCacheFile={timing_cache}")
    return " ".join(parts)


def onnx_inputs(onnx_path: str | os.PathLike) -> dict[str, list[int | None]]:
    """``{name: shape}`` of every input of an ONNX graph, ``None`` for a dynamic dimension."""
    import onnx
    graph = onnx.load(str(onnx_path), load_external_data=False).graph
    return {i.name: [d.dim_value if d.HasField("dim_value") else None
                     for d in i.type.tensor_type.shape.dim] for i in graph.input}


def profile_shapes(inputs: Mapping[str, Sequence[int | None]], batch: tuple[int, int, int]
                   ) -> dict[str, tuple[tuple, tuple, tuple]]:
    """The optimization profile: ``{name: (min, opt, max) shape}`` for every
    input. A dynamic batch (first dimension ``None``) takes ``batch``
    (min, opt, max); a static one is fixed. Every input must agree on which
    (only the batch may be dynamic)."""
    out = {}
    dynamic = {n: s[0] is None for n, s in inputs.items()}
    if len(set(dynamic.values())) > 1:
        raise ValueError(f"the inputs disagree on a dynamic batch: {dynamic}")
    for n, s in inputs.items():
        if any(d is None for d in s[1:]):
            raise ValueError(f"input {n!r} {list(s)}: only the batch dimension may be dynamic")
        lo, opt, hi = batch if s[0] is None else (s[0],) * 3
        out[n] = tuple((b, *s[1:]) for b in (lo, opt, hi))
    return out


def _make_calibrator(trt, clips: np.ndarray, batch: int, cache_path: Path, cuda):
    """INT8 entropy calibrator fed with preprocessed clips ``(N, T, 3, H, W)``."""

    class ClipCalibrator(trt.IInt8EntropyCalibrator2):
        def __init__(self):
            super().__init__()
            self.clips, self.batch, self.pos = np.ascontiguousarray(clips, np.float32), batch, 0
            self.buf = cuda.alloc(self.clips[:batch].nbytes)

        def get_batch_size(self):
            return self.batch

        def get_batch(self, names):
            if self.pos + self.batch > len(self.clips):
                return None
            cuda.htod(self.buf, self.clips[self.pos:self.pos + self.batch])
            self.pos += self.batch
            return [int(self.buf)]

        def read_calibration_cache(self):
            return cache_path.read_bytes() if cache_path.is_file() else None

        def write_calibration_cache(self, cache):
            cache_path.write_bytes(bytes(cache))

    return ClipCalibrator()


class _Cuda:
    """Minimal device-memory helper over cuda-python's runtime API."""

    def __init__(self):
        self.rt = _cuda_runtime()
        if self.rt is None:
            raise TensorRTUnavailable(["cuda-python ('pip install cuda-python') for device buffers"], "")

    def _ok(self, res):
        err = res[0] if isinstance(res, tuple) else res
        if int(err) != 0:
            raise RuntimeError(f"CUDA runtime error {err}")
        return res[1] if isinstance(res, tuple) and len(res) > 1 else None

    def alloc(self, nbytes: int) -> int:
        return int(self._ok(self.rt.cudaMalloc(nbytes)))

    def free(self, ptr: int):
        self._ok(self.rt.cudaFree(ptr))

    def htod(self, ptr: int, arr: np.ndarray):
        arr = np.ascontiguousarray(arr)
        self._ok(self.rt.cudaMemcpy(ptr, arr.ctypes.data, arr.nbytes,
                                    self.rt.cudaMemcpyKind.cudaMemcpyHostToDevice))

    def dtoh(self, arr: np.ndarray, ptr: int):
        self._ok(self.rt.cudaMemcpy(arr.ctypes.data, ptr, arr.nbytes,
                                    self.rt.cudaMemcpyKind.cudaMemcpyDeviceToHost))

    def stream(self) -> int:
        return int(self._ok(self.rt.cudaStreamCreate()))

    def sync(self, stream: int):
        self._ok(self.rt.cudaStreamSynchronize(stream))


def build_engine(onnx_path: str | os.PathLike, plan_path: str | os.PathLike, precision: str = "fp16",
                 batch: tuple[int, int, int] = (1, 1, 1), timing_cache: str | os.PathLike | None = None,
                 workspace_mb: int = 1024, calib_clips: np.ndarray | None = None,
                 calib_cache: str | os.PathLike | None = None, log=print) -> Path:
    """Builds and serializes an engine; returns ``plan_path``.

    Args:
      batch: ``(min, opt, max)`` batch of the optimization profile (ignored
        for a static-batch ONNX, whose batch is fixed).
      calib_clips: preprocessed ``(N, T, 3, H, W)`` clips for INT8 calibration.
    Raises:
      TensorRTUnavailable: TensorRT/CUDA missing (message has the trtexec command).
      RuntimeError: the parser or builder failed (parser errors included).
    """
    onnx_path, plan_path = Path(onnx_path), Path(plan_path)
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if not onnx_path.is_file():
        raise FileNotFoundError(f"ONNX file not found: {onnx_path}")
    inputs = onnx_inputs(onnx_path)
    shapes = profile_shapes(inputs, batch)
    first = next(iter(inputs))
    dims = inputs[first]
    dynamic = dims[0] is None
    if precision == "int8" and len(inputs) > 1:
        raise ValueError(f"{onnx_path.name} has {len(inputs)} inputs {list(inputs)}: INT8 calibration "
                         "is implemented for one-input graphs only; build fp16 or fp32")
    have_cache = bool(calib_cache) and Path(calib_cache).is_file()
    cmd = trtexec_command(onnx_path.name, plan_path.name, precision, dims[1:], dynamic, batch,
                          Path(timing_cache).name if timing_cache else None, workspace_mb,
                          Path(calib_cache).name if have_cache else None, first,
                          inputs={n: s[1:] for n, s in inputs.items()})
    if precision == "int8" and not have_cache:
        cmd = ""                       # trtexec cannot calibrate from data: see export/calibrate.py
    missing = tensorrt_status()
    if missing:
        raise TensorRTUnavailable(missing, cmd)
    import tensorrt as trt
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)                     # explicit batch (the only mode in 10.x)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(onnx_path.read_bytes()):
        errs = "\n".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise RuntimeError(f"TensorRT could not parse {onnx_path}:\n{errs}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace_mb << 20)
    if precision in ("fp16", "int8"):
        config.set_flag(trt.BuilderFlag.FP16)
    else:                                                   # true FP32: no TF32 on Ampere (Orin)
        config.clear_flag(trt.BuilderFlag.TF32)
    profile = builder.create_optimization_profile()       # one shape range per input
    for name, (lo_shape, opt_shape, hi_shape) in shapes.items():
        profile.set_shape(name, lo_shape, opt_shape, hi_shape)
    config.add_optimization_profile(profile)
    sample = dims[1:]
    lo, opt, hi = (shapes[first][0][0], shapes[first][1][0], shapes[first][2][0])
    cuda = None
    if precision == "int8":
        if calib_clips is None and not (calib_cache and Path(calib_cache).is_file()):
            raise ValueError("INT8 needs calibration clips (--calib-clips) or an existing calibration cache")
        cuda = _Cuda()
        config.set_flag(trt.BuilderFlag.INT8)
        clips = calib_clips if calib_clips is not None else np.zeros((opt, *sample), np.float32)
        config.int8_calibrator = _make_calibrator(trt, clips, opt, Path(calib_cache or plan_path.with_suffix(".calib")), cuda)
        config.set_calibration_profile(profile)
    cache_bytes = Path(timing_cache).read_bytes() if timing_cache and Path(timing_cache).is_file() else b""
    cache = config.create_timing_cache(cache_bytes)
    config.set_timing_cache(cache, ignore_mismatch=False)
    log(f"building TensorRT {trt.__version__} {precision} engine from {onnx_path.name} "
        f"(batch {lo}/{opt}/{hi}); this takes minutes on a Jetson")
    plan = builder.build_serialized_network(network, config)
    if plan is None:
        raise RuntimeError(f"TensorRT failed to build an engine from {onnx_path} (see the log above)")
    atomic_write_bytes(plan_path, bytes(plan))
    if timing_cache:
        atomic_write_bytes(Path(timing_cache), bytes(config.get_timing_cache().serialize()))
    return plan_path


def build_script(trtexec: str, precision: str) -> str:
    """``build_engine.sh``: how to build the engine on the target, run from the
    export directory. FP16/FP32: the ``trtexec`` line. INT8: the device-side
    calibration (:mod:`export.calibrate`), since trtexec has no data calibrator."""
    head = ("#!/bin/sh\n# Build the TensorRT engine on the target (Jetson: JetPack 6.1/6.2, TensorRT 10.3).\n"
            "# Run from this export directory.\nset -e\ncd \"$(dirname \"$0\")\"\n")
    if precision != "int8":
        return head + trtexec + "\n"
    return head + (
        "# INT8: TensorRT calibrates on the real clips in calibration_clips.npy (uint8, preprocessed\n"
        "# as preprocessing.json says). trtexec cannot calibrate from data, so the TensorRT Python\n"
        "# builder does it; it needs TensorRT's Python bindings, cuda-python, numpy and onnx, and\n"
        "# export/ from a clone of jaxar:   JAXAR=/path/to/jaxar sh build_engine.sh\n"
        "# It writes model_int8.plan and calibration.cache; with the cache, later rebuilds can use\n"
        "# trtexec ... --int8 --fp16 --calib=calibration.cache\n"
        'PYTHONPATH="${JAXAR:?set JAXAR to a jaxar clone}" python3 "$JAXAR/export/calibrate.py" .\n')


class TensorRTRunner(TensorRTBackend):
    """The device runtime's TensorRT backend (:class:`jaxar.runtime.backends.TensorRTBackend`:
    ``execute_async_v3``, ``runner(x) -> logits``, ``input_shape``,
    ``device_memory_bytes``), raising :class:`TensorRTUnavailable` (what is
    missing + the ``trtexec`` command to run on the device) where TensorRT or a
    GPU is absent, and named for reports."""

    def __init__(self, plan_path: str | os.PathLike, name: str | None = None):
        missing = tensorrt_status()
        if missing:
            raise TensorRTUnavailable(missing, f"/usr/src/tensorrt/bin/trtexec --loadEngine={plan_path}")
        super().__init__(plan_path)
        self.name = name or f"tensorrt:{self.path.name}"

"""Inference backends: ``backend(x) -> logits``.

Every backend takes float32 normalised clips ``(N, T, 3, S, S)`` (the export
layout) and returns float32 logits ``(N, num_classes)``. ``batch`` is the
static batch of the model (``None``: any); :func:`run_in_batches` pads to it.

* :class:`OrtBackend` -- ONNX Runtime (CPU, or CUDA / TensorRT execution
  providers when the installed onnxruntime has them);
* :class:`TensorRTBackend` -- a serialized TensorRT 10.x engine (``.plan``),
  device buffers through cuda-python; imported lazily, and a clear
  :class:`~.errors.InputError` when TensorRT, cuda-python or a GPU is missing.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .errors import InputError


class OrtBackend:
    """ONNX Runtime session over ``model.onnx``."""

    name = "onnxruntime"

    def __init__(self, path: str | os.PathLike, threads: int | None = None,
                 providers: list[str] | None = None):
        try:
            import onnxruntime as ort
        except ImportError:
            raise InputError("onnxruntime is not installed: pip install onnxruntime "
                             "(or onnxruntime-gpu), or use --backend tensorrt") from None
        path = Path(path)
        if not path.is_file():
            raise InputError(f"{path}: ONNX model not found")
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        if threads:
            opts.intra_op_num_threads = int(threads)
            opts.inter_op_num_threads = 1
        if providers is None:
            available = ort.get_available_providers()
            providers = [p for p in ("CUDAExecutionProvider",) if p in available]
            providers.append("CPUExecutionProvider")
        try:
            self.session = ort.InferenceSession(str(path), opts, providers=providers)
        except Exception as e:  # onnxruntime raises its own exception types
            raise InputError(f"{path}: ONNX Runtime cannot load this model ({e})") from None
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        self.batch = inp.shape[0] if isinstance(inp.shape[0], int) else None
        self.path = path

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input_name: np.ascontiguousarray(x, np.float32)})[0]


def _cuda_runtime():
    import importlib
    for mod in ("cuda.bindings.runtime", "cuda.cudart"):
        try:
            return importlib.import_module(mod)
        except ImportError:
            continue
    return None


class TensorRTBackend:
    """A TensorRT 10.x engine (``execute_async_v3``), buffers via cuda-python."""

    name = "tensorrt"

    def __init__(self, plan_path: str | os.PathLike):
        self.path = Path(plan_path)
        if not self.path.is_file():
            raise InputError(f"{self.path}: TensorRT engine not found")
        try:
            import tensorrt as trt
        except ImportError:
            raise InputError("TensorRT is not installed here (import tensorrt failed); on a Jetson it "
                             "ships with JetPack, elsewhere use --backend onnxruntime") from None
        rt = _cuda_runtime()
        if rt is None:
            raise InputError("cuda-python is not installed (needed to run the TensorRT engine): "
                             "pip install cuda-python, or use --backend onnxruntime")
        self.rt = rt
        err, count = rt.cudaGetDeviceCount()
        if int(err) != 0 or count < 1:
            raise InputError("no CUDA GPU is visible; use --backend onnxruntime")
        engine = trt.Runtime(trt.Logger(trt.Logger.WARNING)).deserialize_cuda_engine(
            self.path.read_bytes())
        if engine is None:
            raise InputError(f"{self.path}: TensorRT {trt.__version__} cannot deserialize this engine "
                             "(built with another TensorRT version or GPU? rebuild it on this device)")
        self.engine, self.context = engine, engine.create_execution_context()
        names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
        self.in_name = next(n for n in names if engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT)
        self.out_name = next(n for n in names if engine.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT)
        shape = tuple(engine.get_tensor_shape(self.in_name))
        self.input_shape = tuple(None if d < 0 else int(d) for d in shape)   # None: dynamic axis
        self.batch = self.input_shape[0]
        self.device_memory_bytes = int(engine.device_memory_size_v2)       # execution context
        self.stream = self._ok(rt.cudaStreamCreate())
        self._bufs: dict = {}

    def _ok(self, res):
        err, *rest = res if isinstance(res, tuple) else (res,)
        if int(err) != 0:
            raise RuntimeError(f"CUDA error {err}")
        return rest[0] if len(rest) == 1 else rest

    def __call__(self, x: np.ndarray) -> np.ndarray:
        rt = self.rt
        x = np.ascontiguousarray(x, np.float32)
        self.context.set_input_shape(self.in_name, x.shape)
        out = np.empty(tuple(self.context.get_tensor_shape(self.out_name)), np.float32)
        if x.shape not in self._bufs:
            self._bufs[x.shape] = (self._ok(rt.cudaMalloc(x.nbytes)), self._ok(rt.cudaMalloc(out.nbytes)))
        d_in, d_out = self._bufs[x.shape]
        h2d, d2h = rt.cudaMemcpyKind.cudaMemcpyHostToDevice, rt.cudaMemcpyKind.cudaMemcpyDeviceToHost
        self._ok(rt.cudaMemcpy(d_in, x.ctypes.data, x.nbytes, h2d))
        self.context.set_tensor_address(self.in_name, int(d_in))
        self.context.set_tensor_address(self.out_name, int(d_out))
        if not self.context.execute_async_v3(self.stream):
            raise RuntimeError("TensorRT execute_async_v3 failed")
        self._ok(rt.cudaStreamSynchronize(self.stream))
        self._ok(rt.cudaMemcpy(out.ctypes.data, d_out, out.nbytes, d2h))
        return out


def run_in_batches(backend, x: np.ndarray) -> np.ndarray:
    """Runs ``x`` ``(N, ...)`` through ``backend`` in chunks of its static batch
    (padding the last chunk with copies of its last clip)."""
    b = getattr(backend, "batch", None) or len(x)
    outs = []
    for i in range(0, len(x), b):
        chunk = x[i:i + b]
        n = len(chunk)
        if n < b:
            chunk = np.concatenate([chunk, np.repeat(chunk[-1:], b - n, axis=0)])
        outs.append(np.asarray(backend(chunk), np.float32)[:n])
    return np.concatenate(outs)

"""Inference backends: ``backend(x) -> logits``.

Every backend takes float32 normalised clips ``(N, T, 3, S, S)`` (the export
layout) -- or, for a model with several named inputs (the CD-KD student's
``iframe`` / ``mv`` / ``residual``, :mod:`.compressed_predict`), a dict of
such arrays -- and returns float32 logits ``(N, num_classes)``. ``batch`` is the
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
        inputs = self.session.get_inputs()
        self.input_names = [i.name for i in inputs]
        self.input_name = inputs[0].name
        self.batch = inputs[0].shape[0] if isinstance(inputs[0].shape[0], int) else None
        self.path = path

    def __call__(self, x) -> np.ndarray:
        """``x``: an array for a one-input model, or ``{name: array}`` with every input."""
        if isinstance(x, dict):
            missing = sorted(set(self.input_names) - set(x))
            if missing:
                raise InputError(f"{self.path.name}: inputs lack {missing}; the model takes {self.input_names}")
            feed = {n: np.ascontiguousarray(x[n], np.float32) for n in self.input_names}
        elif len(self.input_names) == 1:
            feed = {self.input_name: np.ascontiguousarray(x, np.float32)}
        else:
            raise InputError(f"{self.path.name} takes inputs {self.input_names}: pass a dict of arrays")
        return self.session.run(None, feed)[0]


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
        self.in_names = [n for n in names if engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        self.in_name = self.in_names[0]
        self.out_name = next(n for n in names if engine.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT)
        self.input_shapes = {n: tuple(None if d < 0 else int(d) for d in engine.get_tensor_shape(n))
                             for n in self.in_names}                  # None: dynamic axis
        self.input_shape = self.input_shapes[self.in_name]
        self.batch = self.input_shape[0]
        self.device_memory_bytes = int(engine.device_memory_size_v2)       # execution context
        self.stream = self._ok(rt.cudaStreamCreate())
        self._bufs: dict = {}

    def _ok(self, res):
        err, *rest = res if isinstance(res, tuple) else (res,)
        if int(err) != 0:
            raise RuntimeError(f"CUDA error {err}")
        return rest[0] if len(rest) == 1 else rest

    def _buffer(self, name: str, nbytes: int) -> int:
        """Device buffer of ``nbytes`` for tensor ``name`` (kept per name and size)."""
        if (name, nbytes) not in self._bufs:
            self._bufs[(name, nbytes)] = self._ok(self.rt.cudaMalloc(nbytes))
        return self._bufs[(name, nbytes)]

    def __call__(self, x) -> np.ndarray:
        """``x``: an array for a one-input engine, or ``{name: array}`` with every input."""
        rt = self.rt
        if isinstance(x, dict):
            missing = sorted(set(self.in_names) - set(x))
            if missing:
                raise InputError(f"{self.path.name}: inputs lack {missing}; the engine takes {self.in_names}")
            feed = {n: np.ascontiguousarray(x[n], np.float32) for n in self.in_names}
        elif len(self.in_names) == 1:
            feed = {self.in_name: np.ascontiguousarray(x, np.float32)}
        else:
            raise InputError(f"{self.path.name} takes inputs {self.in_names}: pass a dict of arrays")
        h2d, d2h = rt.cudaMemcpyKind.cudaMemcpyHostToDevice, rt.cudaMemcpyKind.cudaMemcpyDeviceToHost
        for n, a in feed.items():
            self.context.set_input_shape(n, a.shape)
            d_in = self._buffer(n, a.nbytes)
            self._ok(rt.cudaMemcpy(d_in, a.ctypes.data, a.nbytes, h2d))
            self.context.set_tensor_address(n, int(d_in))
        out = np.empty(tuple(self.context.get_tensor_shape(self.out_name)), np.float32)
        d_out = self._buffer(self.out_name, out.nbytes)
        self.context.set_tensor_address(self.out_name, int(d_out))
        if not self.context.execute_async_v3(self.stream):
            raise RuntimeError("TensorRT execute_async_v3 failed")
        self._ok(rt.cudaStreamSynchronize(self.stream))
        self._ok(rt.cudaMemcpy(out.ctypes.data, d_out, out.nbytes, d2h))
        return out


def run_in_batches(backend, x) -> np.ndarray:
    """Runs ``x`` ``(N, ...)`` -- or a dict of such arrays for a multi-input
    model -- through ``backend`` in chunks of its static batch (padding the
    last chunk with copies of its last clip)."""
    multi = isinstance(x, dict)
    total = len(next(iter(x.values()))) if multi else len(x)
    take = (lambda sl: {k: v[sl] for k, v in x.items()}) if multi else (lambda sl: x[sl])
    b = getattr(backend, "batch", None) or total
    outs = []
    for i in range(0, total, b):
        chunk = take(slice(i, i + b))
        n = min(b, total - i)
        if n < b:
            pad = lambda a: np.concatenate([a, np.repeat(a[-1:], b - n, axis=0)])   # noqa: E731
            chunk = {k: pad(v) for k, v in chunk.items()} if multi else pad(chunk)
        outs.append(np.asarray(backend(chunk), np.float32)[:n])
    return np.concatenate(outs)

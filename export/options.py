"""Every export setting in one frozen dataclass, checked once.

:class:`ExportOptions` is what ``python export/to_trt.py`` builds from its
flags and what every export step (:mod:`export.pipeline`) reads; no step
takes loose keyword arguments. Invalid combinations raise ``ValueError`` naming
the command-line flag, before anything is written.
"""
from __future__ import annotations

import dataclasses

ROUTES = ("jax2onnx", "tflite")
# default ONNX: the first route in this order that passes the checker, the
# allow-list and parity (jax2onnx has no TensorFlow in its path; the TFLite
# route is the independent cross-check)
ROUTE_PREFERENCE = ("jax2onnx", "tflite")
PRECISIONS = ("fp16", "fp32", "int8")
LAYOUTS = ("channels-major", "frames-major")
DEFAULT_LAYOUT = "channels-major"


@dataclasses.dataclass(frozen=True)
class ExportOptions:
    """Attributes (command-line flag in brackets):

      batch: static batch of the exports, TensorRT profile "opt" [--batch].
      dynamic_batch: dynamic batch dimension; TensorRT profile 1/batch/max_batch [--dynamic-batch].
      max_batch: largest batch of the dynamic profile [--max-batch].
      precision: TensorRT precision, one of PRECISIONS [--precision].
      calib_clips: uint8 ``(N, T, H, W, 3)`` .npy of real clips, required for INT8 [--calib-clips].
      routes: ONNX routes to run, a subset of ROUTES [--routes].
      savedmodel: write and check the jax2tf SavedModel (the tflite route needs it) [--no-savedmodel].
      clips: uint8 clips .npy for parity instead of synthetic ones [--clips].
      num_clips: synthetic parity clips [--num-clips].
      xla_clips: how many of the parity clips the XLA-run forms get -- the JAX deploy form and the
        TF SavedModel; XLA's CPU grouped convolutions make them ~10x slower than ORT here [--xla-clips].
      profile: latency/memory profile of each ONNX on ONNX Runtime [--no-profile].
      profile_runs: timed runs per batch size [--profile-runs].
      threads: ONNX Runtime intra-op threads (None: ORT's default) [--threads].
      tensorrt: build the TensorRT engine where TensorRT exists [--no-tensorrt].
      simplify: onnxslim simplification of each ONNX (tests turn it off for speed).
      layout: internal layout of the deploy form after the stem, one of LAYOUTS [--layout].
      overwrite: replace a non-empty output directory [--overwrite].
    """
    batch: int = 1
    dynamic_batch: bool = False
    max_batch: int = 8
    precision: str = "fp16"
    calib_clips: str | None = None
    routes: tuple[str, ...] = ROUTES
    savedmodel: bool = True
    clips: str | None = None
    num_clips: int = 16
    xla_clips: int = 2
    profile: bool = True
    profile_runs: int = 10
    threads: int | None = None
    tensorrt: bool = True
    simplify: bool = True
    layout: str = DEFAULT_LAYOUT
    overwrite: bool = False

    def __post_init__(self):
        object.__setattr__(self, "routes", tuple(self.routes))
        for flag, value in (("--batch", self.batch), ("--max-batch", self.max_batch),
                            ("--num-clips", self.num_clips), ("--xla-clips", self.xla_clips),
                            ("--profile-runs", self.profile_runs)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{flag} must be a positive integer, got {value!r}")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"--threads must be a positive integer, got {self.threads!r}")
        if self.batch > self.max_batch:
            raise ValueError(f"--batch {self.batch} is larger than --max-batch {self.max_batch}")
        if not self.routes or set(self.routes) - set(ROUTES):
            raise ValueError(f"--routes must name some of {', '.join(ROUTES)}, got {','.join(self.routes)!r}")
        if "tflite" in self.routes and not self.savedmodel:
            raise ValueError("--routes tflite converts the SavedModel; drop --no-savedmodel or use --routes jax2onnx")
        if self.precision not in PRECISIONS:
            raise ValueError(f"--precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if self.precision == "int8" and not self.calib_clips:
            raise ValueError("--precision int8 needs --calib-clips: real uint8 clips (N,T,H,W,3) .npy from "
                             "the deployment domain; INT8 scales calibrated on anything else are wrong")
        if self.calib_clips and self.precision != "int8":
            raise ValueError(f"--calib-clips is only used with --precision int8 (got --precision {self.precision})")
        if self.layout not in LAYOUTS:
            raise ValueError(f"--layout must be one of {', '.join(LAYOUTS)}, got {self.layout!r}")

    @property
    def static_batch(self) -> int | None:
        """Batch dimension of the exported graphs (None: dynamic)."""
        return None if self.dynamic_batch else self.batch

    @property
    def trt_profile(self) -> tuple[int, int, int]:
        """TensorRT optimization profile ``(min, opt, max)`` over the batch."""
        return (1, self.batch, self.max_batch) if self.dynamic_batch else (self.batch,) * 3

    @property
    def profile_batches(self) -> tuple[int, ...]:
        """Batch sizes to profile: only those the exported graphs (and the
        TensorRT profile) accept -- the static batch, or 1, ``batch`` and
        ``max_batch`` of a dynamic export."""
        return tuple(sorted({1, self.batch, self.max_batch})) if self.dynamic_batch else (self.batch,)

    def to_json(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

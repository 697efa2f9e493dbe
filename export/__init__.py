"""JAX checkpoint -> SavedModel / ONNX -> TensorRT, with parity and profiling.

Entry points:

* ``python export/to_trt.py --help`` -- the command-line bridge;
* :func:`export.pipeline.export` with :class:`export.options.ExportOptions`
  -- the same from Python;
* ``python export/parity.py``, ``python export/deploy_profile.py`` and
  ``python export/calibrate.py`` -- the parity report, the deployment profile
  and the device-side INT8 build on their own.

TensorFlow, tf2onnx, jax2onnx and TensorRT are imported lazily, only by the
steps that need them, so ``import jaxar`` never pays for them.
"""

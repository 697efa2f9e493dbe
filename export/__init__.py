"""JAX checkpoint -> SavedModel / ONNX -> TensorRT, with parity and profiling.

Entry points:

* ``python export/to_trt.py --help`` -- the command-line bridge;
* :func:`export.pipeline.export_all` -- the same from Python (the README demo
  calls it to export its checkpoint to a parity-checked ONNX);
* ``python export/parity.py`` and ``python export/deploy_profile.py`` -- the
  parity report and the deployment profile on their own.

TensorFlow, tf2onnx, jax2onnx and TensorRT are imported lazily, only by the
steps that need them, so ``import jaxar`` never pays for them.
"""

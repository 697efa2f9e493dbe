"""Choice of convolution formulation (``impl``) per backend.

Every formulation of :mod:`jaxar.ops.conv` computes the same maths on the
same parameters; they differ only in the XLA ops they emit, and which one is
fastest depends on the backend's compiler.  ``impl="auto"`` (the default of
:class:`jaxar.models.base.ModelConfigBase`) picks, per backend, the formulation that
measured fastest there (``docs/training.md``, "Formulations"):

* ``cpu`` -> ``"shifted"``: XLA's CPU grouped convolutions (2-D and 3-D) are
  slow, while static-slice multiply-adds fuse into single loops.  Measured
  with ``benchmarks/bench_formulations.py`` (forward+backward) and
  ``benchmarks/bench_train_step.py`` (the real train step).
* ``gpu`` / ``tpu`` -> ``"lowered"``: 2-D depthwise convolutions map onto the
  vendor convolution kernels (cuDNN, the TPU convolution emitter).  Not yet
  measured on a GPU here; ``benchmarks/bench_train_step.py --impls lowered
  shifted conv3d`` on a GPU is the measurement that would change it.

Resolution happens when a model is traced, against ``jax.default_backend()``
unless a backend is given, so one config trains with the CPU's choice on a
CPU and with the GPU's on a GPU.
"""
from __future__ import annotations

import jax

IMPLS = ("lowered", "conv3d", "shifted")
"""Concrete formulations (see :mod:`jaxar.ops.conv`)."""

IMPL_CHOICES = ("auto",) + IMPLS
"""Everything a model config's ``impl`` accepts."""

AUTO_IMPL = {"cpu": "shifted", "gpu": "lowered", "tpu": "lowered"}
"""``impl="auto"``: backend -> formulation measured fastest there."""

_PLATFORM_ALIASES = {"cuda": "gpu", "rocm": "gpu"}


def check_impl(impl: str) -> str:
    """Returns ``impl`` if it is a valid choice (including ``"auto"``), else raises."""
    if impl not in IMPL_CHOICES:
        raise ValueError(f"impl must be one of {IMPL_CHOICES}, got {impl!r}")
    return impl


def resolve_impl(impl: str, backend: str | None = None) -> str:
    """The concrete formulation for ``impl`` on ``backend``.

    Args:
      impl: ``"auto"`` or one of :data:`IMPLS` (returned unchanged).
      backend: a JAX platform name (``"cpu"``, ``"gpu"``, ``"cuda"``, ``"rocm"``,
        ``"tpu"``); ``None`` means ``jax.default_backend()``.
    Returns:
      One of :data:`IMPLS`.  An unknown backend resolves to ``"lowered"``, the
      formulation that uses only standard 2-D convolutions.
    """
    check_impl(impl)
    if impl != "auto":
        return impl
    if backend is None:
        backend = jax.default_backend()
    backend = _PLATFORM_ALIASES.get(backend, backend)
    return AUTO_IMPL.get(backend, "lowered")

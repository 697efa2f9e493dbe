"""X3D-UGT <-> the project's PyTorch reference (``jaxar/weights/torch_x3d_ugt.py``).

The reference names its modules after jaxar's parameter tree, so the key map
is derived from the tree itself: a module path ``a/b/c`` is the torch name
``a.b.c``; BN ``scale, bias`` / ``mean, var`` are ``weight, bias`` /
``running_mean, running_var`` (plus ``num_batches_tracked``, written as 0);
TAda's scalar ``beta`` is a 0-d parameter. Kernel layouts by role:

* 4-D ``(k, k, I/g, O)`` (stem, pre-depthwise, depthwise spatial, Ghost cheap)
  -> ``Conv3d (O, I/g, 1, k, k)``  (``conv3d_xy``)
* ``dw_temporal`` ``(k_t, C)`` -> ``Conv3d (C, 1, k_t, 1, 1)``   (``temporal3d``)
* ``tada/temporal`` ``(k_t, h)`` -> ``Conv1d (h, 1, k_t)``       (``conv1d_dw``)
* dense ``(I, O)`` (``classifier``, ``se/*``, ``tada/reduce|expand``) -> ``Linear (O, I)``
* every other 2-D kernel (Ghost primary) -> ``Conv3d (O, I, 1, 1, 1)`` (``pointwise3d``)
"""
from __future__ import annotations

from typing import Mapping

import numpy as np

from jaxar.weights.keymap import Entry, Path, flatten, to_torch

NUM_BATCHES = "num_batches_tracked"


def _kernel_layout(module: Path, ndim: int) -> str:
    if ndim == 4:
        return "conv3d_xy"
    name, parent = module[-1], (module[-2] if len(module) > 1 else "")
    if name == "dw_temporal":
        return "temporal3d"
    if parent == "tada" and name == "temporal":
        return "conv1d_dw"
    if name == "classifier" or parent in ("se", "tada"):
        return "linear"
    return "pointwise3d"


def x3d_ugt_entries(shapes: Mapping) -> list[Entry]:
    """Entries for the X3D-UGT variables of shapes ``shapes`` (``{"params",
    "batch_stats"}`` of ``jax.ShapeDtypeStruct`` or arrays)."""
    out = []
    stats = flatten(shapes.get("batch_stats", {}))
    for path, leaf in sorted(flatten(shapes["params"]).items()):
        module, name = path[:-1], path[-1]
        torch_mod = ".".join(module)
        if ("batch_stats", *module, "mean") in {("batch_stats", *p) for p in stats}:
            out.append(Entry(f"{torch_mod}.{'weight' if name == 'scale' else 'bias'}", ("params", *path)))
            continue
        if name == "kernel":
            out.append(Entry(f"{torch_mod}.weight", ("params", *path), _kernel_layout(module, len(leaf.shape))))
        else:                            # biases, TAda's beta
            out.append(Entry(f"{torch_mod}.{name}", ("params", *path)))
    for path in sorted(stats):
        torch_mod = ".".join(path[:-1])
        out.append(Entry(f"{torch_mod}.{'running_mean' if path[-1] == 'mean' else 'running_var'}",
                         ("batch_stats", *path)))
    head = {"classifier"}
    return [Entry(e.src, e.dst, e.layout, e.dst[1] in head) for e in out]


def export_state_dict(variables: Mapping) -> dict[str, np.ndarray]:
    """jaxar X3D-UGT variables -> the reference's state dict (numpy, torch layouts),
    BN ``num_batches_tracked`` included so ``load_state_dict(strict=True)`` works."""
    flat = flatten({"params": variables["params"], "batch_stats": variables.get("batch_stats", {})})
    out: dict[str, np.ndarray] = {}
    for e in x3d_ugt_entries(variables):
        out[e.src] = to_torch(e.layout, np.asarray(flat[e.dst]))
        if e.src.endswith(".running_mean"):
            out[e.src[:-len("running_mean")] + NUM_BATCHES] = np.zeros((), np.int64)
    return out

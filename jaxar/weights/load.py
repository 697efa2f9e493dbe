"""Importing a checkpoint file into a jaxar model: ``import_weights(file, config)``.

Reads the file (:mod:`jaxar.weights.readers`), detects or checks its format
(:mod:`jaxar.weights.formats`), builds the family's key map, converts and
shape-checks every tensor against the model's variables (computed with
``jax.eval_shape``, nothing initialised), and returns the imported leaves
with an :class:`~jaxar.weights.keymap.ImportReport`.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Mapping

import jax
import jax.numpy as jnp
import numpy as np

from jaxar.weights import formats
from jaxar.weights.keymap import ImportReport, Path as TreePath, apply_entries, flatten, unflatten
from jaxar.weights.readers import StateDict, read_state_dict


@dataclasses.dataclass
class Imported:
    """``leaves``: ``{path: float32 array}`` for every imported model leaf (paths start
    with ``params`` or ``batch_stats``); ``report``: what was loaded, kept, ignored."""
    leaves: dict[TreePath, np.ndarray]
    report: ImportReport

    @property
    def variables(self) -> dict:
        """The imported leaves as a nested (partial) ``{"params", "batch_stats"}`` tree."""
        return unflatten(self.leaves)


def model_shapes(config) -> dict:
    """``{"params", "batch_stats"}`` of ``config``'s model as ShapeDtypeStructs."""
    model = config.build()
    x = jax.ShapeDtypeStruct((1, *config.input_shape), jnp.float32)
    return jax.eval_shape(lambda x: model.init(jax.random.PRNGKey(0), x, train=False), x)


def family_of(config) -> str:
    return config.family


def entries_for(config, fmt: str, shapes: Mapping | None = None):
    """The key map of ``config``'s family for source ``fmt`` and the predicate of
    model leaves that keep their initialisation by design."""
    from jaxar.weights import mobilenetv2, resnet, x3d, x3d_ugt
    family = family_of(config)
    allowed = formats.FAMILY_FORMATS.get(family)
    if allowed is None:
        raise ValueError(f"no weight import for model family {family!r}; supported: "
                         f"{', '.join(formats.FAMILY_FORMATS)}")
    if fmt not in allowed:
        raise ValueError(f"format {fmt!r} does not map to family {family!r}; it reads "
                         f"{', '.join(allowed)}")
    none = lambda p: False                                                   # noqa: E731
    if family == "x3d":
        return x3d.x3d_entries(config, fmt), none
    if family in ("tsm_resnet", "arc_tsm_resnet"):
        return resnet.tsm_resnet_entries(config, fmt), resnet.arc_extra if family == "arc_tsm_resnet" else none
    if family == "ean":
        return resnet.ean_entries(config, fmt), resnet.ean_extra
    if family == "tsm_mobilenetv2":
        return mobilenetv2.mobilenetv2_entries(config, fmt), none
    return x3d_ugt.x3d_ugt_entries(shapes if shapes is not None else model_shapes(config)), none


def import_state_dict(sd: StateDict, config, fmt: str = "auto") -> Imported:
    """Maps an already-read :class:`StateDict` onto ``config``'s model."""
    detected = formats.detect_format(sd) if fmt == "auto" else fmt
    if detected not in formats.FORMATS:
        raise ValueError(f"unknown weight format {fmt!r}; choose auto or one of {', '.join(formats.FORMATS)}")
    fmt_label = f"{detected} (auto-detected)" if fmt == "auto" else detected
    shapes = model_shapes(config)
    entries, extras = entries_for(config, detected, shapes)
    targets = {p: tuple(v.shape) for p, v in flatten(shapes).items()}
    report = ImportReport(str(sd.path), fmt_label, family_of(config))
    leaves = apply_entries(sd.tensors, entries, targets, report, extras)
    return Imported(leaves, report)


def import_weights(path: str | Path, config, fmt: str = "auto") -> Imported:
    """Reads ``path`` and maps it onto the model of ``config`` (see module docstring).

    ``fmt``: ``"auto"`` (detected from the keys, and the report says so) or one of
    :data:`jaxar.weights.formats.FORMATS`. Raises
    :class:`~jaxar.weights.keymap.WeightImportError` listing every missing,
    unexpected and mismatched key."""
    return import_state_dict(read_state_dict(path), config, fmt)


def merge(variables: Mapping, imported: Imported) -> dict:
    """``variables`` (a fresh ``{"params", "batch_stats"}``) with the imported leaves
    replacing theirs; everything else (a re-initialised head, ARC's extras) as given."""
    flat = flatten(variables)
    for path, value in imported.leaves.items():
        if path not in flat:
            raise KeyError(f"imported leaf {'/'.join(path)} is not in the model's variables")
        if tuple(np.shape(flat[path])) != value.shape:
            raise ValueError(f"imported leaf {'/'.join(path)} has shape {value.shape}, the model "
                             f"{tuple(np.shape(flat[path]))}")
        flat[path] = jnp.asarray(value, jnp.asarray(flat[path]).dtype)
    return unflatten(flat)

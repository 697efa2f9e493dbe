"""One record for a loaded model, and its one on-disk form.

:class:`InferenceBundle` is what every consumer of a trained (or demo) model
holds: the network configuration, the variables, the class names, the input
preprocessing, the training step and free-form training metadata.
:func:`jaxar.checkpoint.restore_inference` builds it from a checkpoint, the
exporter writes it into every export directory with :func:`write_bundle`, and
:func:`read_bundle` reads it back (``export/parity.py`` re-runs parity from it).

Directory form (every file written atomically: temporary file + rename)::

    config.json          {"class", "fields"} of the model config (tuples as lists); unknown fields are an error
    jax_variables.npz    {"params", "batch_stats"} flattened to "params/stage1/.../kernel" keys
    labels.json          class index -> name (``class_<i>`` names when the model has none)
    preprocessing.json   input contract (only when the record has one)
    bundle.json          {"format", "step", "origin", "metadata"}

Every read error is a ``ValueError`` / ``FileNotFoundError`` naming the file.
"""
from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any, Mapping

import numpy as np
from flax import traverse_util

from jaxar import registry
from jaxar.runtime.files import atomic_write_bytes, atomic_write_json  # noqa: F401  (re-exported)

FORMAT = "jaxar-bundle/1"
FILES = ("config.json", "jax_variables.npz", "labels.json", "preprocessing.json", "bundle.json")


@dataclasses.dataclass(frozen=True)
class InferenceBundle:
    """A model ready to build and run: ``config.build().apply(variables, x)``.

    Attributes:
      config: the network configuration (input ``frames`` x ``size``^2, classes...).
      variables: ``{"params", "batch_stats"}`` trees of float32 arrays.
      class_names: ``num_classes`` names, or None when the run had none.
      step: training step of the weights (None for a random-init demo).
      preprocessing: the input contract dict (``export.preprocess.spec``), or None.
      metadata: free-form JSON-able training metadata (run config, data position...).
      origin: where the record came from (``checkpoint:<dir>``, ``variant:<name>...``).
    """
    config: Any                      # a registered model config (any family)
    variables: Mapping
    class_names: list[str] | None = None
    step: int | None = None
    preprocessing: dict | None = None
    metadata: dict = dataclasses.field(default_factory=dict)
    origin: str = ""

    @property
    def labels(self) -> list[str]:
        """Class names, or ``class_<i>`` for each output when the model has none."""
        return list(self.class_names) if self.class_names else [
            f"class_{i}" for i in range(self.config.num_classes)]

    def replace(self, **kw: Any) -> "InferenceBundle":
        return dataclasses.replace(self, **kw)


# ----------------------------------------------------------------------------
# reading JSON (atomic writes: jaxar.runtime.files)

def read_json(path: str | os.PathLike) -> Any:
    """JSON from ``path``; a missing or malformed file is one error naming it."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: file not found")
    try:
        return json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: not valid JSON ({e})") from e


# ----------------------------------------------------------------------------
# variables <-> .npz

def save_variables(variables: Mapping, path: str | os.PathLike) -> Path:
    """``{"params", "batch_stats"}`` -> ``.npz`` with ``a/b/c`` keys (atomic)."""
    import io
    flat = traverse_util.flatten_dict(_plain(variables), sep="/")
    buf = io.BytesIO()
    np.savez(buf, **{k: np.asarray(v) for k, v in flat.items()})
    return atomic_write_bytes(path, buf.getvalue())


def load_variables(path: str | os.PathLike) -> dict:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: variables file not found")
    try:
        with np.load(path) as data:
            flat = {k: data[k] for k in data.files}
    except Exception as e:                       # zipfile/OSError/ValueError on a damaged file
        raise ValueError(f"{path}: not a readable .npz of model variables ({type(e).__name__}: {e})") from e
    return traverse_util.unflatten_dict(flat, sep="/")


def _plain(tree: Mapping) -> dict:
    """Nested mappings (FrozenDict, State...) as plain dicts."""
    return {str(k): _plain(v) if isinstance(v, Mapping) else v for k, v in tree.items()}


# ----------------------------------------------------------------------------
# the directory form

def write_bundle(bundle: InferenceBundle, out_dir: str | os.PathLike) -> list[str]:
    """Writes ``bundle`` into ``out_dir`` (created); returns the file names written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "config.json", registry.config_to_json(bundle.config))
    save_variables(bundle.variables, out / "jax_variables.npz")
    atomic_write_json(out / "labels.json", bundle.labels)
    written = ["config.json", "jax_variables.npz", "labels.json"]
    if bundle.preprocessing is not None:
        atomic_write_json(out / "preprocessing.json", bundle.preprocessing)
        written.append("preprocessing.json")
    atomic_write_json(out / "bundle.json", {"format": FORMAT, "step": bundle.step, "origin": bundle.origin,
                                            "metadata": bundle.metadata})
    return written + ["bundle.json"]


def read_bundle(out_dir: str | os.PathLike) -> InferenceBundle:
    """Reads a directory written by :func:`write_bundle`."""
    out = Path(out_dir)
    if not (out / "config.json").is_file():
        raise FileNotFoundError(f"{out}: not a model directory (no config.json)")
    config = registry.config_from_json(read_json(out / "config.json"), where=str(out / "config.json"))
    head = read_json(out / "bundle.json") if (out / "bundle.json").is_file() else {}
    if head and head.get("format") != FORMAT:
        raise ValueError(f"{out / 'bundle.json'}: format {head.get('format')!r}, expected {FORMAT!r}")
    labels = read_json(out / "labels.json") if (out / "labels.json").is_file() else None
    if labels is not None and (not isinstance(labels, list) or len(labels) != config.num_classes):
        raise ValueError(f"{out / 'labels.json'}: expected a list of {config.num_classes} class names")
    prep = read_json(out / "preprocessing.json") if (out / "preprocessing.json").is_file() else None
    return InferenceBundle(config=config, variables=load_variables(out / "jax_variables.npz"),
                           class_names=labels, step=head.get("step"), preprocessing=prep,
                           metadata=head.get("metadata") or {}, origin=head.get("origin") or f"directory:{out}")

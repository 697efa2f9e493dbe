"""One record for a loaded model, and its one on-disk form.

:class:`ModelRecord` is what every consumer of a trained (or demo) model
holds: the network configuration, the variables, the class names, the input
preprocessing, the training step and free-form training metadata.
:func:`jaxar.checkpoint.restore_inference` builds it from a checkpoint, the
exporter writes it into every export directory with :func:`write_record`, and
:func:`read_record` reads it back (``export/parity.py`` re-runs parity from it).

Directory form (every file written atomically: temporary file + rename)::

    config.json          {"class", "fields"} of the model config (tuples as lists); unknown fields are an error
    jax_variables.npz    {"params", "batch_stats"} flattened to "params/stage1/.../kernel" keys
    labels.json          class index -> name (``class_<i>`` names when the model has none)
    preprocessing.json   input contract (only when the record has one)
    record.json          {"format", "step", "origin", "input", "metadata", "sampling"}; "input" is
                         input_signature(config): domain, input names and shapes

``sampling`` is the config's ``clip_sampling`` (``{"segments": N,
"segment_frames": L}``, :mod:`jaxar.runtime.segments`), written so a reader
without jaxar knows how the model's frames are drawn; records written before
it existed lack it and mean one frame per segment (it is checked against
config.json when present).

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
from jaxar.runtime.files import atomic_write_bytes, atomic_write_json

FORMAT = "jaxar-model-record/1"
FILES = ("config.json", "jax_variables.npz", "labels.json", "preprocessing.json", "record.json")


@dataclasses.dataclass(frozen=True)
class ModelRecord:
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

    def clip_seconds(self) -> tuple[float | None, str]:
        """``(seconds, how it was obtained)``: the training clip duration that the
        training loop recorded in the checkpoint meta (``metadata["clip_seconds"]``,
        see docs/predict.md), or ``(None, why not)``."""
        info = self.metadata.get("clip_seconds") or {}
        if info.get("seconds"):
            return float(info["seconds"]), f"training clip duration: {info.get('source', 'checkpoint meta')}"
        return None, info.get("source") or f"not recorded ({self.origin.split(' ')[0] or 'unknown origin'} " \
                                            "has no training clip duration)"

    def replace(self, **kw: Any) -> "ModelRecord":
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

def write_record(record: ModelRecord, out_dir: str | os.PathLike) -> list[str]:
    """Writes ``record`` into ``out_dir`` (created); returns the file names written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "config.json", registry.config_to_json(record.config))
    save_variables(record.variables, out / "jax_variables.npz")
    atomic_write_json(out / "labels.json", record.labels)
    written = ["config.json", "jax_variables.npz", "labels.json"]
    if record.preprocessing is not None:
        atomic_write_json(out / "preprocessing.json", record.preprocessing)
        written.append("preprocessing.json")
    atomic_write_json(out / "record.json", {"format": FORMAT, "step": record.step, "origin": record.origin,
                                            "input": input_signature(record.config),
                                            "metadata": record.metadata,
                                            "sampling": record.config.clip_sampling.to_json()})
    return written + ["record.json"]


def input_signature(config) -> dict:
    """What a runtime feeds the exported model: ``{"domain", "layout", "inputs":
    {name: [N, T, C, S, S]}}``; ``domain`` ``"compressed"`` (CD-KD students:
    ``iframe``, ``mv``, ``residual``, read from the video stream with PyAV) or
    ``"rgb"`` (one ``clip`` of decoded RGB frames; the model families' default, :mod:`jaxar.models.base`)."""
    domain = getattr(config, "input_domain", "rgb")
    shapes = getattr(config, "input_shapes", None)          # channels-last per clip
    if isinstance(shapes, Mapping):
        inputs = {k: ["N", s[0], s[-1], *s[1:-1]] for k, s in shapes.items()}
    else:
        inputs = {"clip": ["N", config.frames, 3, config.size, config.size]}
    return {"domain": domain, "layout": "NTCHW", "inputs": inputs}


def read_record(out_dir: str | os.PathLike) -> ModelRecord:
    """Reads a directory written by :func:`write_record`."""
    out = Path(out_dir)
    if not (out / "config.json").is_file():
        raise FileNotFoundError(f"{out}: not a model directory (no config.json)")
    config = registry.config_from_json(read_json(out / "config.json"), where=str(out / "config.json"))
    head = read_json(out / "record.json") if (out / "record.json").is_file() else {}
    if head and head.get("format") != FORMAT:
        raise ValueError(f"{out / 'record.json'}: format {head.get('format')!r}, expected {FORMAT!r}")
    if head.get("sampling") is not None:
        from jaxar.runtime.segments import SegmentSpec
        where = f"{out / 'record.json'}: sampling"
        if SegmentSpec.from_json(head["sampling"], config.frames, where=where) != config.clip_sampling:
            raise ValueError(f"{where} {head['sampling']} disagrees with config.json "
                             f"({config.clip_sampling.to_json()})")
    labels = read_json(out / "labels.json") if (out / "labels.json").is_file() else None
    if labels is not None and (not isinstance(labels, list) or len(labels) != config.num_classes):
        raise ValueError(f"{out / 'labels.json'}: expected a list of {config.num_classes} class names")
    prep = read_json(out / "preprocessing.json") if (out / "preprocessing.json").is_file() else None
    return ModelRecord(config=config, variables=load_variables(out / "jax_variables.npz"),
                       class_names=labels, step=head.get("step"), preprocessing=prep,
                       metadata=head.get("metadata") or {}, origin=head.get("origin") or f"directory:{out}")

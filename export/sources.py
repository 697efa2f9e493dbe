"""Where the weights come from: a trained checkpoint or a random-init demo.

* ``from_checkpoint(path)`` calls ``jaxar.checkpoint.restore_inference`` (the
  training issue's API: a work directory or a checkpoint directory ->
  ``InferenceBundle(config, variables, class_names, step)``), imported lazily;
* ``from_variant(name)`` builds ``create_config(name)`` with
  :func:`export.demo_variables.realistic_variables` (non-trivial BN
  statistics and TAda coefficients, so the export is a meaningful test).

Also the ``config.json`` / ``jax_variables.npz`` round trip that lets the
parity report be re-run from an export directory alone.
"""
from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Mapping

import numpy as np

from jaxar.config import ModelConfig


@dataclasses.dataclass
class ModelSource:
    config: ModelConfig
    variables: Mapping                 # {"params", "batch_stats"}
    class_names: list[str] | None
    step: int | None
    origin: str                        # "checkpoint:<path>" or "variant:<name> (random init, seed s)"


def from_checkpoint(path: str | os.PathLike) -> ModelSource:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"--checkpoint path does not exist: {path}")
    try:
        from jaxar.checkpoint import restore_inference
    except ImportError as e:
        raise RuntimeError(
            "--checkpoint needs jaxar.checkpoint.restore_inference, which is not available in this "
            f"checkout ({e}); it lands with the training issue. Use --variant NAME for a random-init "
            "demo export.") from e
    bundle = restore_inference(str(path))
    return ModelSource(bundle.config, bundle.variables, getattr(bundle, "class_names", None),
                       getattr(bundle, "step", None), f"checkpoint:{path}")


def from_variant(name: str, num_classes: int = 60, seed: int = 0, **overrides) -> ModelSource:
    from export.demo_variables import realistic_variables
    from jaxar.registry import create_config
    config = create_config(name, num_classes=num_classes, **overrides)
    return ModelSource(config, realistic_variables(config, seed), None, None,
                       f"variant:{name} (random init with realistic BN/TAda statistics, seed {seed})")


def with_input_size(source: ModelSource, frames: int | None, size: int | None) -> ModelSource:
    """Same weights at another clip length / resolution (the network is fully
    convolutional up to global pooling, so every parameter shape is unchanged)."""
    over = {k: v for k, v in (("frames", frames), ("size", size)) if v is not None}
    if not over:
        return source
    return dataclasses.replace(source, config=source.config.replace(**over))


def config_to_json(config: ModelConfig) -> dict:
    return dataclasses.asdict(config)


def config_from_json(doc: Mapping) -> ModelConfig:
    fields = {f.name: f for f in dataclasses.fields(ModelConfig)}
    kw = {k: tuple(v) if isinstance(v, list) else v for k, v in doc.items() if k in fields}
    return ModelConfig(**kw)


def save_variables(variables: Mapping, path: str | os.PathLike) -> None:
    """Flattens ``{"params", "batch_stats"}`` to ``a/b/c`` keys in an ``.npz``."""
    flat = {}

    def walk(prefix, node):
        if isinstance(node, Mapping):
            for k, v in node.items():
                walk(f"{prefix}/{k}" if prefix else str(k), v)
        else:
            flat[prefix] = np.asarray(node)

    walk("", variables)
    np.savez(path, **flat)


def load_variables(path: str | os.PathLike) -> dict:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"variables file not found: {path}")
    out: dict = {}
    with np.load(path) as data:
        for key in data.files:
            node = out
            *parents, leaf = key.split("/")
            for p in parents:
                node = node.setdefault(p, {})
            node[leaf] = data[key]
    return out


def write_source_files(source: ModelSource, out_dir: Path) -> None:
    (out_dir / "config.json").write_text(json.dumps(config_to_json(source.config), indent=2) + "\n")
    save_variables(source.variables, out_dir / "jax_variables.npz")


def read_source_files(out_dir: Path) -> ModelSource:
    cfg_path = out_dir / "config.json"
    if not cfg_path.is_file():
        raise FileNotFoundError(f"{out_dir} is not an export directory (no config.json)")
    config = config_from_json(json.loads(cfg_path.read_text()))
    labels = out_dir / "labels.json"
    names = json.loads(labels.read_text()) if labels.is_file() else None
    return ModelSource(config, load_variables(out_dir / "jax_variables.npz"), names, None, f"export:{out_dir}")

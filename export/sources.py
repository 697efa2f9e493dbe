"""Where the exported weights come from: a trained checkpoint or a random-init demo.

Both return the one model record, :class:`jaxar.model_record.ModelRecord`:

* :func:`from_checkpoint` -- :func:`jaxar.checkpoint.restore_inference` on a
  work directory or one checkpoint step directory;
* :func:`from_variant` -- ``create_config(name)`` with
  :func:`jaxar.demo_variables.realistic_variables` (non-trivial BN statistics
  and TAda coefficients, so the export is a meaningful test).
"""
from __future__ import annotations

import os
from pathlib import Path

from jaxar.model_record import ModelRecord


def from_checkpoint(path: str | os.PathLike) -> ModelRecord:
    """Raises ``FileNotFoundError``/``ValueError`` naming the path on a missing
    or damaged checkpoint."""
    from jaxar.checkpoint import restore_inference
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"--checkpoint path does not exist: {path}")
    return restore_inference(path)


def from_variant(name: str, num_classes: int = 60, seed: int = 0, **overrides) -> ModelRecord:
    from jaxar.demo_variables import realistic_variables
    from jaxar.registry import create_config
    config = create_config(name, num_classes=num_classes, **overrides)
    return ModelRecord(config=config, variables=realistic_variables(config, seed),
                           origin=f"variant:{name} (random init with realistic BN/TAda statistics, seed {seed})")


def with_input_size(record: ModelRecord, frames: int | None, size: int | None) -> ModelRecord:
    """Same weights at another clip length / resolution (the network is fully
    convolutional up to global pooling, so every parameter shape is unchanged)."""
    over = {k: v for k, v in (("frames", frames), ("size", size)) if v is not None}
    if not over:
        return record
    return record.replace(config=record.config.replace(**over))

"""The numerical reference of every parity check: the JAX training form in eval mode.

All formulations (``impl``) compute the same function (tests/test_ops.py,
tests/test_train_formulations.py) but differ a lot in speed per backend, so
the reference runs in the fastest one for the running backend, chosen by
:func:`reference_impl` alone.
"""
from __future__ import annotations

import os

import numpy as np

from jaxar.model_record import ModelRecord
from jaxar.models.base import ModelConfigBase


def reference_impl() -> str:
    """Formulation for the reference forward pass: the one ``impl="auto"``
    resolves to on the running backend (all formulations are tested equal;
    on CPU the others spend minutes in XLA's grouped convolutions)."""
    from jaxar.ops.formulation import resolve_impl
    return resolve_impl("auto")


def reference_config(config: ModelConfigBase) -> ModelConfigBase:
    return config.replace(impl=reference_impl(), dtype="float32")


def jax_reference(record: ModelRecord, x_ntchw: np.ndarray, chunk: int = 8) -> np.ndarray:
    """Logits ``(N, classes)`` of the training form (eval mode, float32) for
    deploy-layout clips ``(N, T, 3, H, W)``, ``chunk`` clips per call."""
    import jax
    model = reference_config(record.config).build()
    fn = jax.jit(lambda v, x: model.apply(v, x, train=False))
    outs = [np.asarray(fn(record.variables, np.transpose(x_ntchw[i:i + chunk], (0, 1, 3, 4, 2))))
            for i in range(0, len(x_ntchw), chunk)]
    return np.concatenate(outs)


def deploy_logits(deploy_model, x_ntchw: np.ndarray, chunk: int = 8) -> np.ndarray:
    """Logits of a :class:`jaxar.deploy.DeployModel` for ``(N, T, 3, H, W)`` clips, ``chunk`` per call."""
    return np.concatenate([np.asarray(deploy_model(x_ntchw[i:i + chunk])) for i in range(0, len(x_ntchw), chunk)])


def parity_clips(record: ModelRecord, clips_path: str | os.PathLike | None,
                 num_clips: int) -> tuple[np.ndarray, str]:
    """Preprocessed clips ``(N, T, 3, H, W)`` for parity and a one-line description:
    the uint8 clips in ``clips_path``, else ``num_clips`` synthetic ones."""
    from export.preprocess import load_clips, preprocess, synthetic_clips
    cfg = record.config
    if clips_path:
        raw = load_clips(clips_path, cfg.frames, cfg.size)
        return preprocess(raw), f"{len(raw)} clips from {clips_path}"
    raw = synthetic_clips(num_clips, cfg.frames, cfg.size)
    return preprocess(raw), (f"{num_clips} synthetic clips (seeded moving patterns), "
                             f"{cfg.frames}x{cfg.size}x{cfg.size}")

"""Recognise actions in videos, cameras or streams.

    python -m jaxar.predict VIDEO [VIDEO|DIR ...] --checkpoint WORKDIR --out results.jsonl
    python -m jaxar.predict VIDEO --bundle EXPORT_DIR --out results.jsonl
    python -m jaxar.predict --camera 0 --bundle EXPORT_DIR --max-seconds 60
    python -m jaxar.predict clips/ --bundle EAN_EXPORT --whole-video   # one prediction per file (TSN protocol)

``--checkpoint`` runs the trained model with JAX (the default window is the
training clip duration stored in the checkpoint); ``--bundle`` runs an export
directory with ONNX Runtime or its TensorRT engine, exactly like the bundle's
own ``runtime/run.py``. Everything but the JAX backend is :mod:`jaxar.runtime`;
see docs/predict.md for the flags, the row format and the boxes-file format.
"""
from __future__ import annotations

import sys
from pathlib import Path

from jaxar.runtime import app
from jaxar.runtime.errors import InputError
from jaxar.runtime.preprocess import Preprocessing


class JaxBackend:
    """The trained model (training form, eval mode) on ``(N, T, 3, S, S)`` clips
    (a dict of ``(N, T, C, S, S)`` clips for a compressed-domain model)."""

    name = "jax"
    batch = None

    def __init__(self, config, variables):
        import jax
        import jax.numpy as jnp
        model = config.build()           # any model family (jaxar.models.base protocol)
        # (N, T, C, S, S) -> channels-last; every array of a dict input (compressed-domain models)
        last = lambda a: jnp.transpose(a, (0, 1, 3, 4, 2))            # noqa: E731
        self._fn = jax.jit(lambda v, x: model.apply(v, jax.tree.map(last, x), train=False))
        self.variables = variables

    def __call__(self, x):
        import numpy as np
        return np.asarray(self._fn(self.variables, x), np.float32)


def load_checkpoint_model(path: str) -> app.Model:
    import logging
    logging.getLogger("absl").setLevel(logging.ERROR)     # Orbax's read-only notices
    from jaxar.checkpoint import restore_inference
    try:
        record = restore_inference(path)
    except (FileNotFoundError, ValueError) as e:
        raise InputError(f"--checkpoint {path}: {e}") from None
    cfg = record.config
    window, source = record.clip_seconds()
    prep = Preprocessing(cfg.frames, cfg.size, segment_frames=cfg.clip_sampling.segment_frames)
    model = app.Model(JaxBackend(cfg, record.variables), record.labels, prep,
                      window, source, f"JAX checkpoint {record.metadata['checkpoint']} (step {record.step})")
    if cfg.input_domain == "compressed":          # CD-KD students: docs/cdkd.md
        from jaxar.runtime.compressed_predict import compressed_model, spec_from_data_config
        data = (record.metadata.get("train_config") or {}).get("data")
        model = compressed_model(model, spec_from_data_config(cfg.frames, cfg.size, data),
                                 f"--checkpoint {path}")
    return model


def _load(a) -> app.Model:
    if bool(a.checkpoint) == bool(a.bundle):
        raise InputError("give exactly one of --checkpoint WORKDIR or --bundle EXPORT_DIR")
    if a.checkpoint:
        if a.backend not in ("auto", "jax"):
            raise InputError(f"--backend {a.backend}: a checkpoint runs with JAX; export it for "
                             "onnxruntime/tensorrt (export/to_trt.py) and use --bundle")
        if not Path(a.checkpoint).exists():
            raise InputError(f"--checkpoint {a.checkpoint}: does not exist")
        return load_checkpoint_model(a.checkpoint)
    if a.backend == "jax":
        raise InputError("--backend jax needs --checkpoint (a bundle runs with onnxruntime or tensorrt)")
    return app.load_bundle(a.bundle, backend=a.backend, threads=a.threads)


def _add_arguments(parser):
    parser.add_argument("--checkpoint", help="work directory or checkpoint step directory (JAX)")
    parser.add_argument("--bundle", help="export directory (ONNX Runtime or TensorRT)")


def main(argv=None) -> int:
    return app.main(argv, _load, prog="python -m jaxar.predict", description=__doc__.split("\n")[0],
                    backends=("jax", "onnxruntime", "tensorrt"), add_arguments=_add_arguments)


if __name__ == "__main__":
    sys.exit(main())

"""Export steps of compressed-domain models (CD-KD students, ``input_domain == "compressed"``).

The same bridge as :mod:`export.pipeline` (its driver, output directory,
model record, runtime bundle, ONNX Runtime parity and profile, default choice,
TensorRT engine, reports and manifest), with the steps that touch the input
replaced:

* the graph has three inputs, ``iframe (N, T, 3, S, S)``, ``mv (N, T, 2, S, S)``,
  ``residual (N, T, 3, S, S)`` (:func:`export.multi_input.export_jax2onnx_inputs`);
* ``preprocessing.json`` describes them (``"input_domain": "compressed"``, the
  extraction settings the runtime's reader uses, from the checkpoint's data
  section) and the bundle runtime reads video files through PyAV
  (:mod:`jaxar.runtime.compressed_predict`);
* parity inputs are real compressed-domain clips: synthetic moving patterns
  encoded to MPEG-4 Part 2 and read back by the runtime's reader;
* only the jax2onnx route: the SavedModel / TFLite route converts one-input
  functions, so it is skipped (and said so in the log and the manifest).
  INT8 is refused (the calibrator feeds one input), as are ``--clips`` and
  ``--calib-clips`` (they hold RGB clips).
"""
from __future__ import annotations

from typing import Mapping

import numpy as np

from export import pipeline as P
from export.pipeline import Context, Step

DOMAIN = "compressed"


def is_compressed(config) -> bool:
    return getattr(config, "input_domain", "rgb") == DOMAIN


def check_options(opts) -> None:
    """Options a compressed-domain export cannot honour; ``ValueError`` names the flag."""
    if opts.precision == "int8":
        raise ValueError("--precision int8: INT8 calibration feeds one RGB input; a compressed-domain "
                         "model has three (iframe, mv, residual): use fp16 or fp32")
    for flag, value in (("--clips", opts.clips), ("--calib-clips", opts.calib_clips)):
        if value:
            raise ValueError(f"{flag} holds RGB clips; a compressed-domain model's parity uses "
                             "synthetic MPEG-4 Part 2 clips read by the runtime's reader")


def extraction(record):
    """The :class:`jaxar.runtime.compressed_clip.CompressedInput` the model was trained with."""
    from jaxar.runtime.compressed_predict import spec_from_data_config
    c = record.config
    data = (record.metadata.get("train_config") or {}).get("data")
    return spec_from_data_config(c.frames, c.size, data)


def input_shapes(ctx: Context) -> dict[str, tuple]:
    from jaxar.runtime.compressed_predict import INPUTS
    c = ctx.record.config
    return {k: (ctx.opts.static_batch, c.frames, ch, c.size, c.size) for k, ch in INPUTS.items()}


def parity_inputs(record, n: int, seed: int = 0) -> tuple[dict[str, np.ndarray], str]:
    """``n`` channels-first compressed-domain clips ``{name: (n, T, C, S, S)}``:
    synthetic moving patterns of ``3 T`` frames, encoded (MPEG-4 Part 2, the
    model's GOP and qscale) and read back with the runtime's reader."""
    from export.preprocess import synthetic_clips
    from jaxar.runtime.compressed_clip import read_clip
    from jaxar.runtime.compressed_predict import INPUTS
    from jaxar.runtime.compressed_video import encode_mpeg4
    spec = extraction(record)
    side = spec.size + spec.size % 2
    videos = synthetic_clips(n, 3 * spec.frames, side, seed=seed)
    clips = [read_clip(encode_mpeg4(v, gop=spec.gop, qscale=spec.qscale), spec) for v in videos]
    x = {k: np.stack([np.transpose(c[k], (0, 3, 1, 2)) for c in clips]).astype(np.float32) for k in INPUTS}
    return x, (f"{n} synthetic clips (seeded moving patterns, {3 * spec.frames} frames of {side}^2) encoded "
               f"to MPEG-4 Part 2 (GOP {spec.gop}, qscale {spec.qscale}) and read by the runtime's reader, "
               f"{spec.frames}x{spec.size}x{spec.size}")


def jax_reference(record, x: Mapping[str, np.ndarray], chunk: int = 8) -> np.ndarray:
    """Logits of the training form (eval mode, float32) on channels-first dict clips."""
    import jax
    from export.reference import reference_config
    model = reference_config(record.config).build()
    fn = jax.jit(lambda v, x: model.apply(v, x, train=False))
    n = len(next(iter(x.values())))
    return np.concatenate([np.asarray(fn(record.variables, {k: np.transpose(a[i:i + chunk], (0, 1, 3, 4, 2))
                                                            for k, a in x.items()}))
                           for i in range(0, n, chunk)])


# ----------------------------------------------------------------------------
# steps

def write_model_record(ctx: Context, done: Mapping) -> dict:
    from export import preprocess
    from jaxar.model_record import write_record
    record = ctx.record.replace(preprocessing=preprocess.compressed_spec(
        extraction(ctx.record), ctx.opts.static_batch, ctx.record.metadata.get("train_config")))
    write_record(record, ctx.work)
    return {"record": record}


def reference_logits(ctx: Context, done: Mapping) -> dict:
    x, desc = parity_inputs(ctx.record, ctx.opts.num_clips)
    ctx.log(f"  {desc}")
    ref = jax_reference(ctx.record, x)
    few = {k: v[:ctx.opts.xla_clips] for k, v in x.items()}
    deploy = np.asarray(done["deploy"](few))
    skipped = {"savedmodel": "one-input functions only (jax2tf route); the graph has three inputs",
               "tflite": "converts the SavedModel, which is skipped"}
    ctx.log("  SavedModel / TFLite route skipped: " + skipped["savedmodel"])
    c = ctx.record.config
    return {"x": x, "inputs_desc": desc, "ref": ref, "outputs": {"jax-deploy-form": (deploy, "fp32")},
            "skipped": skipped,
            "manifest_input": {"domain": DOMAIN, "names": list(x), "shapes": {
                k: [d or "N" for d in s] for k, s in input_shapes(ctx).items()}},
            "manifest_output": {"name": "logits", "shape": ["N", c.num_classes]}}


def onnx_jax2onnx(ctx: Context, done: Mapping) -> dict:
    from export import allowlist
    from export.multi_input import export_jax2onnx_inputs
    path = ctx.work / P.ONNX_NAMES["jax2onnx"]
    try:
        model = export_jax2onnx_inputs(done["deploy"].as_function(), input_shapes(ctx), path,
                                       simplify=ctx.opts.simplify)
    except Exception as e:                         # recorded; the export then fails with it
        path.unlink(missing_ok=True)
        ctx.log(f"  FAILED: {type(e).__name__}: {e}")
        return {"errors": {"jax2onnx": f"{type(e).__name__}: {e}"}}
    problems = allowlist.validate_for_tensorrt(model, strict_deploy=True)
    if problems:
        ctx.log("  allow-list problems:\n    " + "\n    ".join(problems))
    return {"onnx": {"jax2onnx": {"file": path.name, "nodes": len(model.graph.node),
                                  "inputs": [i.name for i in model.graph.input],
                                  "ops": allowlist.op_histogram(model), "allowlist_problems": problems,
                                  "group_post_pass": [], "bytes": path.stat().st_size}}}


STEPS = (
    Step("folding BN into the deploy form (the three streams; no pseudo-decoder)", P.fold_deploy_form),
    Step("model record (config, variables, labels, compressed-domain preprocessing)", write_model_record),
    Step("device runtime (runtime/run.py, PyAV reader) and metadata.json", P.write_device_runtime),
    Step("reference logits on MPEG-4 clips (JAX training form, eval mode) and the JAX deploy form",
         reference_logits),
    Step("three-input ONNX via jax2onnx (checker, shape inference, simplify, allow-list)", onnx_jax2onnx),
    Step("ONNX Runtime on the parity clips", P.onnx_parity),
    Step("latency profile on ONNX Runtime", P.profile_onnx, lambda o: o.profile),
    Step("default ONNX", P.choose_default),
    Step("TensorRT engine (an optimization profile per input)", P.tensorrt, lambda o: o.tensorrt),
    Step("parity and profile reports", P.write_reports),
    Step("manifest", P.write_manifest),
)

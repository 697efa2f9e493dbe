"""Numerical parity of logits across runtimes: metrics, verdicts, reports, CLI.

For each runtime against the reference (the JAX training form in eval mode):
max abs error, max relative error (``|a-b| / max(|ref|)``, i.e. relative to
the logit scale), mean cosine similarity of the logit vectors, and top-1
agreement. Verdicts use stated tolerances:

* FP32 runtimes: max abs error <= ``1e-4 * max(1, max|ref|)`` and top-1 100 %;
* FP16: top-1 agreement >= 99 %;  INT8: top-1 agreement >= 95 %.

Standalone, on an export directory written by ``to_trt.py``::

    python export/parity.py OUT_DIR [--clips clips.npy] [--num-clips 16]

reads the model record in ``OUT_DIR`` (``config.json``, ``jax_variables.npz``,
``labels.json``: :func:`jaxar.model_record.read_record`) for the JAX reference and
the deploy form, runs the SavedModel (``saved_model/``), every ONNX listed in
``manifest.json`` and, when TensorRT is present, the ``model_*.plan`` engines on
the same clips, and rewrites ``parity.json`` / ``parity.md``.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

TOLERANCES = {
    "fp32": {"max_abs_rel_to_scale": 1e-4, "top1_agreement": 1.0},
    "fp16": {"top1_agreement": 0.99},
    "int8": {"top1_agreement": 0.95},
}


def compare(ref: np.ndarray, out: np.ndarray, precision: str = "fp32") -> dict:
    """Metrics + verdict for ``out`` vs ``ref``, both ``(N, classes)``."""
    ref = np.asarray(ref, np.float64)
    out = np.asarray(out, np.float64)
    if ref.shape != out.shape:
        return {"precision": precision, "passed": False, "error": f"shape {out.shape} != {ref.shape}"}
    diff = np.abs(out - ref)
    scale = max(1.0, float(np.max(np.abs(ref))))
    cos = np.sum(ref * out, -1) / np.maximum(np.linalg.norm(ref, axis=-1) * np.linalg.norm(out, axis=-1), 1e-30)
    top1 = float(np.mean(ref.argmax(-1) == out.argmax(-1)))
    m = {"precision": precision, "n": int(len(ref)), "max_abs_err": float(diff.max()),
         "max_rel_err": float(diff.max() / max(float(np.max(np.abs(ref))), 1e-30)),
         "mean_abs_err": float(diff.mean()), "cosine_min": float(cos.min()),
         "cosine_mean": float(cos.mean()), "top1_agreement": top1}
    tol = TOLERANCES[precision]
    ok = top1 >= tol["top1_agreement"]
    if "max_abs_rel_to_scale" in tol:
        ok = ok and m["max_abs_err"] <= tol["max_abs_rel_to_scale"] * scale
        m["max_abs_tolerance"] = tol["max_abs_rel_to_scale"] * scale
    m["passed"] = bool(ok and np.all(np.isfinite(out)))
    return m


def parity_report(reference: np.ndarray, outputs: dict[str, tuple[np.ndarray, str]],
                  inputs_desc: str) -> dict:
    """``outputs``: ``{runtime name: (logits, precision)}``; a runtime given
    fewer clips than the reference (the slow TF SavedModel) is compared on the
    first ``len(logits)`` of them (its row's ``n``). Returns the report dict."""
    rows = {name: compare(reference[:len(out)], out, prec) for name, (out, prec) in outputs.items()}
    return {"reference": "jax (training form, eval mode)", "inputs": inputs_desc,
            "tolerances": TOLERANCES, "runtimes": rows,
            "passed": all(r["passed"] for r in rows.values())}


def to_markdown(report: dict) -> str:
    lines = [f"Parity vs {report['reference']} on {report['inputs']}", "",
             "| runtime | precision | max abs err | max rel err | cosine (min) | top-1 agree | pass |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for name, r in report["runtimes"].items():
        if "error" in r:
            lines.append(f"| {name} | {r['precision']} | error: {r['error']} | | | | FAIL |")
            continue
        lines.append(f"| {name} | {r['precision']} | {r['max_abs_err']:.2e} | {r['max_rel_err']:.2e} | "
                     f"{r['cosine_min']:.7f} | {100 * r['top1_agreement']:.1f} % | "
                     f"{'ok' if r['passed'] else 'FAIL'} |")
    lines += ["", "Tolerances: FP32 max abs err <= 1e-4 x max(1, max|ref logit|) and top-1 100 %; "
              "FP16 top-1 >= 99 %; INT8 top-1 >= 95 %.",
              f"Overall: {'PASS' if report['passed'] else 'FAIL'}"]
    return "\n".join(lines) + "\n"


def write_report(report: dict, out_dir: str | os.PathLike) -> tuple[Path, Path]:
    from jaxar.runtime.files import atomic_write_bytes, atomic_write_json
    out_dir = Path(out_dir)
    j, m = out_dir / "parity.json", out_dir / "parity.md"
    atomic_write_json(j, report)
    atomic_write_bytes(m, to_markdown(report).encode())
    return j, m


def rerun_parity(out_dir: str | os.PathLike, clips: str | None = None, num_clips: int = 16,
                 log=print) -> dict:
    """Re-runs the parity report from an export directory alone (see module doc)."""
    from export.reference import deploy_logits, jax_reference, parity_clips
    from export.runtimes import OrtRunner, run_batched
    from jaxar.model_record import read_record, read_json
    from jaxar.deploy import DeployModel
    out = Path(out_dir)
    if not out.is_dir():
        raise FileNotFoundError(f"{out}: export directory not found")
    if not (out / "manifest.json").is_file():
        raise FileNotFoundError(f"{out / 'manifest.json'}: not found; is {out} an export directory "
                                "written by export/to_trt.py?")
    doc = read_json(out / "manifest.json")
    record = read_record(out)
    from export import compressed_export
    from export.runtimes import batch_size, take
    compressed = compressed_export.is_compressed(record.config)
    if compressed:                       # CD-KD student: MPEG-4 clips through the runtime's reader
        if clips:
            raise ValueError("--clips holds RGB clips; a compressed-domain model's parity uses synthetic "
                             "MPEG-4 Part 2 clips (--num-clips)")
        x, desc = compressed_export.parity_inputs(record, num_clips)
        ref = compressed_export.jax_reference(record, x)
    else:
        x, desc = parity_clips(record, clips, num_clips)
        ref = jax_reference(record, x)
    log(f"reference: JAX on {desc}")
    from export.options import DEFAULT_LAYOUT
    layout = doc.get("layout") or DEFAULT_LAYOUT        # manifests written before --layout existed
    dm = DeployModel.from_variables(record.config, record.variables, layout=layout)
    k = int(doc.get("options", {}).get("xla_clips", batch_size(x)))
    few = take(x, slice(0, k))
    outputs = {"jax-deploy-form": (np.asarray(dm(few)) if compressed else deploy_logits(dm, few), "fp32")}
    if (out / "saved_model" / "saved_model.pb").is_file():
        from export.savedmodel import SavedModelRunner
        outputs["tf-savedmodel"] = (run_batched(SavedModelRunner(out / "saved_model"), x[:k], 8), "fp32")
    for name in sorted(n for n in doc.get("files", {}) if n.endswith(".onnx")):
        r = OrtRunner(out / name)
        outputs[r.name] = (run_batched(r, x, 8), "fp32")
    from export.tensorrt_engine import TensorRTRunner, tensorrt_status
    for name in sorted(n for n in doc.get("files", {}) if n.endswith(".plan")):
        prec = Path(name).stem.split("_")[-1]
        if tensorrt_status():
            log(f"skipping {name}: TensorRT not available here")
            continue
        outputs[f"tensorrt-{prec}"] = (run_batched(TensorRTRunner(out / name), x, 8), prec)
    report = parity_report(ref, outputs, desc)
    write_report(report, out)
    return report


def main(argv=None) -> int:
    import argparse
    ap = argparse.ArgumentParser(prog="python export/parity.py", description=__doc__.split("\n")[0])
    ap.add_argument("out_dir", help="an export directory written by export/to_trt.py")
    ap.add_argument("--clips", default=None, help="uint8 RGB clips (N,T,H,W,3) .npy; default synthetic")
    ap.add_argument("--num-clips", type=int, default=16)
    args = ap.parse_args(argv)
    if args.num_clips < 1:
        ap.error("--num-clips must be a positive integer")
    try:
        report = rerun_parity(args.out_dir, clips=args.clips, num_clips=args.num_clips)
    except (FileNotFoundError, ValueError) as e:
        ap.error(str(e))
    print(to_markdown(report))
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())

"""The whole bridge as one library call: :func:`export_all`.

    from export.pipeline import export_all
    from export.sources import from_checkpoint          # or from_variant("x3d_ugt")
    result = export_all(from_checkpoint("work_dirs/demo"), "artifacts/demo")
    result["default_onnx"]       # path of the parity-checked default ONNX
    result["parity"]["passed"]   # True when every runtime met its tolerance

Writes into ``out_dir`` (all described in ``manifest.json``)::

    saved_model/                 jax2tf SavedModel (checked in TF)
    model.jax2onnx.onnx          deploy form via jax2onnx (opset 18, checked, simplified)
    model.tflite.onnx            deploy form via SavedModel -> TFLite -> tf2onnx (+ group post-pass)
    model.onnx                   copy of the default: passes allow-list + parity, fastest on ORT
    model_<precision>.plan       TensorRT engine (only where TensorRT + GPU exist), timing.cache
    build_engine.sh              the trtexec command for the Jetson
    parity.json / parity.md      JAX vs TF vs ORT (each ONNX) vs TensorRT
    profile.json / latency.png   deployment profile of each artifact
    labels.json, preprocessing.json, config.json, jax_variables.npz, manifest.json

Each step logs progress through ``log``. A converter that fails is recorded
(``result["errors"]``) and the other route carries on; the call raises only
when no ONNX passes the checks.
"""
from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from export.runtime_bundle import write_runtime
from export.sources import ModelSource, read_source_files, write_source_files

ROUTES = ("jax2onnx", "tflite")
ONNX_NAMES = {"jax2onnx": "model.jax2onnx.onnx", "tflite": "model.tflite.onnx"}


def _jax_reference(source: ModelSource, x_ntchw: np.ndarray, chunk: int = 8) -> np.ndarray:
    """Training form (eval mode) logits for ``(N, T, 3, H, W)`` clips."""
    import jax
    from jaxar.network import X3DUGT
    model = X3DUGT(source.config)
    fn = jax.jit(lambda v, x: model.apply(v, x, train=False))
    outs = [np.asarray(fn(source.variables, np.transpose(x_ntchw[i:i + chunk], (0, 1, 3, 4, 2))))
            for i in range(0, len(x_ntchw), chunk)]
    return np.concatenate(outs)


def _clips(source: ModelSource, clips_path, num_clips: int) -> tuple[np.ndarray, str]:
    from export.preprocess import load_clips, preprocess, synthetic_clips
    cfg = source.config
    if clips_path:
        raw = load_clips(clips_path, cfg.frames, cfg.size)
        return preprocess(raw), f"{len(raw)} clips from {clips_path}"
    raw = synthetic_clips(num_clips, cfg.frames, cfg.size)
    return preprocess(raw), f"{num_clips} synthetic clips (seeded moving patterns), {cfg.frames}x{cfg.size}x{cfg.size}"


def _onnx_runners(out_dir: Path, threads: int | None = None):
    from export.runtimes import OrtRunner
    return {f"ort:{p.name}": OrtRunner(p, threads=threads) for p in sorted(out_dir.glob("model*.onnx"))}


def export_all(source: ModelSource, out_dir: str | os.PathLike, batch: int = 1,
               dynamic_batch: bool = False, max_batch: int = 8, precision: str = "fp16",
               routes: Sequence[str] = ROUTES, savedmodel: bool = True, clips: str | None = None,
               num_clips: int = 16, profile: bool = True, profile_runs: int = 30,
               profile_batches: Sequence[int] = (1, 8), threads: int | None = None,
               tensorrt: bool = True, calib_clips: str | None = None, simplify: bool = True,
               log: Callable[[str], None] = print) -> dict:
    """Exports ``source`` into ``out_dir``; returns a summary dict (see module doc)."""
    from jaxar.deploy import DeployModel
    from export import allowlist, manifest, parity, preprocess
    from export.onnx_check import OPSET

    t_start = time.time()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    bad = set(routes) - set(ROUTES)
    if bad or not routes:
        raise ValueError(f"routes must be a non-empty subset of {ROUTES}, got {list(routes)}")
    if "tflite" in routes and not savedmodel:
        raise ValueError("the 'tflite' route converts the SavedModel; enable savedmodel")
    if batch < 1 or max_batch < batch:
        raise ValueError(f"need 1 <= batch <= max_batch, got batch={batch}, max_batch={max_batch}")
    cfg = source.config
    sample = (cfg.frames, 3, cfg.size, cfg.size)
    in_shape = (None if dynamic_batch else batch, *sample)
    step = _Steps(log)
    result: dict = {"out_dir": str(out), "origin": source.origin, "errors": {}, "onnx": {}}

    with step("folding BN/TAda into the deploy form"):
        dm = DeployModel.from_variables(cfg, source.variables)
        write_source_files(source, out)
        write_runtime(out, source)          # runtime/ (the device runner) + metadata.json
        (out / "labels.json").write_text(json.dumps(
            source.class_names or [f"class_{i}" for i in range(cfg.num_classes)], indent=1) + "\n")
        (out / "preprocessing.json").write_text(json.dumps(
            preprocess.spec(cfg.frames, cfg.size, None if dynamic_batch else batch), indent=2) + "\n")
    with step("reference logits (JAX training form, eval mode)"):
        x, inputs_desc = _clips(source, clips, num_clips)
        ref = _jax_reference(source, x)
        outputs = {"jax-deploy-form": (np.asarray(dm(x)), "fp32")}
    fn = dm.as_function()
    if savedmodel:
        with step("SavedModel via jax2tf, checked in TF"):
            from export.savedmodel import SavedModelRunner, write_savedmodel
            sm = out / "saved_model"
            shutil.rmtree(sm, ignore_errors=True)
            write_savedmodel(fn, in_shape, sm)
            from export.runtimes import run_batched
            outputs["tf-savedmodel"] = (run_batched(SavedModelRunner(sm), x, max_batch), "fp32")
    for route in routes:
        path = out / ONNX_NAMES[route]
        with step(f"ONNX via {route} (opset {OPSET}, checker, shape inference, simplify)", result, route):
            if route == "jax2onnx":
                from export.onnx_jax2onnx import export_jax2onnx
                model = export_jax2onnx(fn, in_shape, path, simplify=simplify)
                fixes: list[str] = []
            else:
                from export.onnx_tflite import export_via_tflite
                model, fixes = export_via_tflite(out / "saved_model", path, simplify=simplify)
            problems = allowlist.validate_for_tensorrt(model, strict_deploy=True)
            result["onnx"][route] = {"path": str(path), "nodes": len(model.graph.node),
                                     "ops": allowlist.op_histogram(model), "allowlist_problems": problems,
                                     "group_post_pass": fixes, "bytes": path.stat().st_size}
            if problems:
                log("  allow-list problems:\n    " + "\n    ".join(problems))
    from export.runtimes import run_batched
    ort_runners = {}
    for route, info in result["onnx"].items():
        from export.runtimes import OrtRunner
        r = OrtRunner(info["path"], threads=threads)
        ort_runners[route] = r
        outputs[r.name] = (run_batched(r, x, max_batch), "fp32")
    report = parity.parity_report(ref, outputs, inputs_desc)

    profiles: list[dict] = []
    if profile:
        from export.deploy_profile import profile_in_subprocess
        for route, info in result["onnx"].items():
            with step(f"profiling {Path(info['path']).name} on ONNX Runtime ({profile_runs} runs)", result,
                      f"profile:{route}"):
                batches = profile_batches if dynamic_batch else (batch,)
                p = profile_in_subprocess(info["path"], batches, profile_runs, threads=threads)
                info["ort_p50_ms"] = p["batches"][0].get("p50_ms")
                profiles.append(p)
    default = _choose_default(result["onnx"], report, ort_runners, x[:batch], log)
    result["default_route"] = default
    if default is None:
        parity.write_report(report, out)
        raise RuntimeError(f"no ONNX export passed the checker, the allow-list and parity; see "
                           f"{out / 'parity.md'} and errors: {result['errors']}")
    shutil.copyfile(result["onnx"][default]["path"], out / "model.onnx")
    result["default_onnx"] = str(out / "model.onnx")
    log(f"default ONNX: {ONNX_NAMES[default]} -> model.onnx (the other is kept as a cross-check)")

    if tensorrt:
        _tensorrt_step(out, precision, batch, dynamic_batch, max_batch, calib_clips, source, x, ref,
                       outputs, profiles, profile, profile_runs, profile_batches, result, step, log)
        report = parity.parity_report(ref, outputs, inputs_desc)
    parity.write_report(report, out)
    result["parity"] = report
    log(parity.to_markdown(report))
    if profiles:
        from export.deploy_profile import format_table
        from export.plot import latency_plot
        (out / "profile.json").write_text(json.dumps({"profiles": profiles}, indent=2) + "\n")
        latency_plot(profiles, out / "latency.png", title=f"{cfg.frames}x{cfg.size}x{cfg.size} clip latency")
        log(format_table(profiles))
        result["profile"] = profiles
    manifest.write_manifest(out, {
        "origin": source.origin, "step": source.step, "default_onnx": "model.onnx",
        "default_route": default, "opset": OPSET, "input": {"name": "clip", "shape": [d or "N" for d in in_shape]},
        "output": {"name": "logits", "shape": ["N", cfg.num_classes]}, "precision": precision,
        "deploy_params": dm.num_params, "onnx": result["onnx"], "tensorrt": result.get("tensorrt"),
        "parity_passed": report["passed"], "errors": result["errors"]})
    log(f"done in {time.time() - t_start:.0f} s: {out}")
    return result


def _choose_default(onnx_info: dict, report: dict, runners: dict, x1: np.ndarray, log) -> str | None:
    """Among exports passing the allow-list and parity, the fastest on ORT (batch 1)."""
    ok = []
    for route, info in onnx_info.items():
        row = report["runtimes"].get(runners[route].name, {})
        if info["allowlist_problems"] or not row.get("passed"):
            continue
        ms = info.get("ort_p50_ms")
        if ms is None:                       # profiling off: a short in-process timing
            from export.deploy_profile import latency
            ms = latency(runners[route], x1, runs=10, warmup=2)["p50_ms"]
            info["ort_p50_ms"] = ms
        ok.append((ms, row["max_abs_err"], route))
        log(f"  {route}: parity ok (max abs err {row['max_abs_err']:.2e}), ORT p50 {ms:.2f} ms")
    return min(ok)[2] if ok else None


def _tensorrt_step(out, precision, batch, dynamic, max_batch, calib_clips, source, x, ref, outputs,
                   profiles, profile, runs, profile_batches, result, step, log):
    from export.tensorrt_engine import TensorRTRunner, TensorRTUnavailable, build_engine
    plan = out / f"model_{precision}.plan"
    calib = None
    if precision == "int8":
        calib = _clips(source, calib_clips, 64)[0] if calib_clips else x
    bounds = (1, batch, max_batch) if dynamic else (batch, batch, batch)
    try:
        build_engine(out / "model.onnx", plan, precision, bounds, out / "timing.cache",
                     calib_clips=calib, calib_cache=out / "calibration.cache" if calib is not None else None,
                     log=log)
    except TensorRTUnavailable as e:
        (out / "build_engine.sh").write_text("#!/bin/sh\n# Build the TensorRT engine on the target "
                                             "(JetPack 6 / TensorRT 10.3); run from this directory.\n"
                                             + e.trtexec + "\n")
        result["tensorrt"] = {"built": False, "missing": e.missing, "trtexec": e.trtexec}
        log("TensorRT step skipped: " + str(e))
        return
    result["tensorrt"] = {"built": True, "plan": str(plan), "precision": precision}
    with step(f"TensorRT {precision} parity and profile", result, "tensorrt"):
        runner = TensorRTRunner(plan, name=f"tensorrt-{precision}")
        from export.runtimes import run_batched
        outputs[runner.name] = (run_batched(runner, x, max_batch), precision)
        result["tensorrt"]["context_device_memory_mib"] = runner.device_memory_bytes / 2 ** 20
        if profile:
            from export.deploy_profile import profile_in_subprocess
            profiles.append(profile_in_subprocess(plan, profile_batches if dynamic else (batch,), runs))


def rerun_parity(out_dir: str | os.PathLike, clips: str | None = None, num_clips: int = 16,
                 log: Callable[[str], None] = print) -> dict:
    """Re-runs the parity report from an export directory alone (``parity.py`` CLI)."""
    from export import parity
    from export.runtimes import run_batched
    from jaxar.deploy import DeployModel
    out = Path(out_dir)
    source = read_source_files(out)
    x, desc = _clips(source, clips, num_clips)
    ref = _jax_reference(source, x)
    outputs = {"jax-deploy-form": (np.asarray(DeployModel.from_variables(source.config, source.variables)(x)), "fp32")}
    if (out / "saved_model" / "saved_model.pb").is_file():
        from export.savedmodel import SavedModelRunner
        outputs["tf-savedmodel"] = (run_batched(SavedModelRunner(out / "saved_model"), x, 8), "fp32")
    for name, r in _onnx_runners(out).items():
        outputs[name] = (run_batched(r, x, 8), "fp32")
    from export.tensorrt_engine import TensorRTRunner, tensorrt_status
    for plan in sorted(out.glob("model_*.plan")):
        prec = plan.stem.split("_")[-1]
        if tensorrt_status():
            log(f"skipping {plan.name}: TensorRT not available here")
            continue
        outputs[f"tensorrt-{prec}"] = (run_batched(TensorRTRunner(plan), x, 8), prec)
    report = parity.parity_report(ref, outputs, desc)
    parity.write_report(report, out)
    return report


class _Steps:
    """``with step("what", result, key):`` logs start/end times; with ``result``
    and ``key`` an exception is recorded in ``result["errors"][key]`` and swallowed."""

    def __init__(self, log):
        self.log = log

    def __call__(self, what: str, result: dict | None = None, key: str | None = None):
        return _Step(self.log, what, result, key)


class _Step:
    def __init__(self, log, what, result, key):
        self.log, self.what, self.result, self.key = log, what, result, key

    def __enter__(self):
        self.t0 = time.time()
        self.log(f"[export] {self.what} ...")
        return self

    def __exit__(self, etype, exc, tb):
        dt = time.time() - self.t0
        if exc is None:
            self.log(f"[export]   done ({dt:.1f} s)")
            return False
        if self.result is None:
            return False
        self.result["errors"][self.key] = f"{etype.__name__}: {exc}"
        self.log(f"[export]   FAILED after {dt:.1f} s: {etype.__name__}: {exc}")
        return True

"""The whole bridge as one library call: :func:`export`, a list of small steps.

    from export.options import ExportOptions
    from export.pipeline import export
    from export.sources import from_checkpoint          # or from_variant("x3d_ugt")
    result = export(from_checkpoint("work_dirs/demo"), "artifacts/demo", ExportOptions())
    result["default_onnx"]       # path of the parity-checked default ONNX
    result["parity"]["passed"]   # True when every runtime met its tolerance

Writes into ``out_dir`` (all listed in ``manifest.json``, nothing else)::

    config.json, jax_variables.npz, labels.json, preprocessing.json, record.json
                                 the model record (jaxar.model_record), for re-running parity
    saved_model/                 jax2tf SavedModel (checked in TF)
    model.jax2onnx.onnx          deploy form via jax2onnx (opset 18, checked, simplified)
    model.tflite.onnx            deploy form via SavedModel -> TFLite -> tf2onnx (+ group post-pass)
    model.onnx                   copy of the default (see ROUTE_PREFERENCE)
    model_<precision>.plan       TensorRT engine (only where TensorRT + GPU exist), timing.cache
    build_engine.sh              how to build the engine on the Jetson (where TensorRT is absent)
    calibration_clips.npy        INT8 only: the calibration clips
    parity.json / parity.md      JAX vs TF vs ORT (each ONNX) vs TensorRT
    profile.json / latency.png   deployment profile of each artifact
    manifest.json                options, tool versions, per-file sha256

A compressed-domain model (a CD-KD student: three inputs) runs
:data:`export.compressed_export.STEPS` instead of :data:`STEPS`: the same
driver and most of the same steps, with its own input contract, parity
clips and ONNX export (jax2onnx only).

The export is built in a temporary directory next to ``out_dir`` and moved
into place at the end, so ``out_dir`` never mixes two exports: a non-empty
``out_dir`` is refused unless ``options.overwrite``, and a crash leaves no
partial directory. Every step is a function ``step(ctx, done) -> dict`` of
the read-only :class:`Context` (options, model record, build directory) and
the products of earlier steps; it returns its own products, which the
driver merges (dicts are merged key by key, lists appended). A converter or
profiler that fails is recorded in ``errors`` and the other route carries on;
:class:`ExportFailed` is raised, after the directory is in place, when no
ONNX passes the checks.
"""
from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
import time
from pathlib import Path
from types import MappingProxyType
from typing import Callable, Mapping

from export.options import ROUTE_PREFERENCE, ExportOptions
from jaxar.model_record import ModelRecord

ONNX_NAMES = {"jax2onnx": "model.jax2onnx.onnx", "tflite": "model.tflite.onnx"}


class OutputError(ValueError):
    """The output directory cannot be used (names ``--out``)."""


class ExportFailed(RuntimeError):
    """No ONNX passed the checker, the allow-list and parity (artifacts kept for inspection)."""


@dataclasses.dataclass(frozen=True)
class Context:
    """What every step reads: the options, the model record and the build directory."""
    opts: ExportOptions
    record: ModelRecord
    work: Path
    log: Callable[[str], None]

    @property
    def input_shape(self) -> tuple:
        c = self.record.config
        return (self.opts.static_batch, c.frames, 3, c.size, c.size)


@dataclasses.dataclass(frozen=True)
class Step:
    title: str
    run: Callable[[Context, Mapping], dict]
    when: Callable[[ExportOptions], bool] = lambda opts: True


# ----------------------------------------------------------------------------
# steps

def fold_deploy_form(ctx: Context, done: Mapping) -> dict:
    from jaxar.deploy import DeployModel
    dm = DeployModel.from_variables(ctx.record.config, ctx.record.variables, layout=ctx.opts.layout)
    return {"deploy": dm}


def write_model_record(ctx: Context, done: Mapping) -> dict:
    """The model record (jaxar.model_record) with this export's input contract."""
    from export import preprocess
    from jaxar.model_record import write_record
    c = ctx.record.config
    record = ctx.record.replace(preprocessing=preprocess.spec(
        c.frames, c.size, ctx.opts.static_batch, ctx.record.metadata.get("train_config"),
        sampling=c.clip_sampling.to_json()))
    write_record(record, ctx.work)
    return {"record": record}


def write_device_runtime(ctx: Context, done: Mapping) -> dict:
    """``runtime/`` (the standalone device runner) and ``metadata.json`` (default window)."""
    from export.runtime_bundle import write_runtime
    return {"runtime_meta": write_runtime(ctx.work, ctx.record)}


def reference_logits(ctx: Context, done: Mapping) -> dict:
    from export.reference import deploy_logits, jax_reference, parity_clips, reference_impl
    x, desc = parity_clips(ctx.record, ctx.opts.clips, ctx.opts.num_clips)
    ctx.log(f"  {desc}; training form with impl={reference_impl() or ctx.record.config.impl}")
    ref = jax_reference(ctx.record, x)
    deploy = deploy_logits(done["deploy"], x[:ctx.opts.xla_clips])
    return {"x": x, "inputs_desc": desc, "ref": ref, "outputs": {"jax-deploy-form": (deploy, "fp32")}}


def savedmodel(ctx: Context, done: Mapping) -> dict:
    from export.runtimes import run_batched
    from export.savedmodel import SavedModelRunner, write_savedmodel
    path = ctx.work / "saved_model"
    write_savedmodel(done["deploy"].as_function(), ctx.input_shape, path)
    x = done["x"][:ctx.opts.xla_clips]
    ctx.log(f"  checking in TF on {len(x)} of the parity clips")
    return {"outputs": {"tf-savedmodel": (run_batched(SavedModelRunner(path), x, ctx.opts.max_batch), "fp32")}}


def onnx_route(route: str) -> Callable[[Context, Mapping], dict]:
    def step(ctx: Context, done: Mapping) -> dict:
        from export import allowlist
        path = ctx.work / ONNX_NAMES[route]
        try:
            if route == "jax2onnx":
                from export.onnx_jax2onnx import export_jax2onnx
                model = export_jax2onnx(done["deploy"].as_function(), ctx.input_shape, path,
                                        simplify=ctx.opts.simplify)
                fixes: list[str] = []
            else:
                from export.onnx_tflite import export_via_tflite
                model, fixes = export_via_tflite(ctx.work / "saved_model", path, simplify=ctx.opts.simplify)
        except Exception as e:                     # recorded; the other route carries on
            path.unlink(missing_ok=True)
            ctx.log(f"  FAILED: {type(e).__name__}: {e}")
            return {"errors": {route: f"{type(e).__name__}: {e}"}}
        problems = allowlist.validate_for_tensorrt(model, strict_deploy=True)
        if problems:
            ctx.log("  allow-list problems:\n    " + "\n    ".join(problems))
        return {"onnx": {route: {"file": path.name, "nodes": len(model.graph.node),
                                 "ops": allowlist.op_histogram(model), "allowlist_problems": problems,
                                 "group_post_pass": fixes, "bytes": path.stat().st_size}}}
    return step


def onnx_parity(ctx: Context, done: Mapping) -> dict:
    from export.runtimes import OrtRunner, run_batched
    outputs = {}
    for route, info in done.get("onnx", {}).items():
        r = OrtRunner(ctx.work / info["file"], threads=ctx.opts.threads)
        outputs[r.name] = (run_batched(r, done["x"], ctx.opts.max_batch), "fp32")
    return {"outputs": outputs}


def profile_onnx(ctx: Context, done: Mapping) -> dict:
    from export.deploy_profile import profile_in_subprocess
    profiles, timings, errors = [], {}, {}
    for route, info in done.get("onnx", {}).items():
        ctx.log(f"  {info['file']}: batches {list(ctx.opts.profile_batches)}, {ctx.opts.profile_runs} runs")
        try:
            p = profile_in_subprocess(ctx.work / info["file"], ctx.opts.profile_batches,
                                      ctx.opts.profile_runs, threads=ctx.opts.threads)
        except Exception as e:
            errors[f"profile:{route}"] = f"{type(e).__name__}: {e}"
            continue
        p["file"] = info["file"]
        profiles.append(p)
        timings[route] = {str(b["batch"]): round(b["p50_ms"], 3) for b in p["batches"] if "p50_ms" in b}
    return {"profiles": profiles, "ort_timings": timings, "errors": errors}


def choose_default(ctx: Context, done: Mapping) -> dict:
    """``model.onnx``: the first route of ROUTE_PREFERENCE passing the allow-list and parity."""
    from export.parity import parity_report
    report = parity_report(done["ref"], done["outputs"], done["inputs_desc"])
    route = pick_default(done.get("onnx", {}), report)
    for r, info in done.get("onnx", {}).items():
        row = report["runtimes"].get(f"ort:{info['file']}", {})
        ms = done.get("ort_timings", {}).get(r)
        ctx.log(f"  {r}: allow-list {'ok' if not info['allowlist_problems'] else 'FAIL'}, parity "
                f"{'ok' if row.get('passed') else 'FAIL'} (max abs err {row.get('max_abs_err', float('nan')):.2e})"
                + ("".join(f", ORT p50 {v:.2f} ms (batch {b})" for b, v in ms.items()) if ms else ""))
    if route is None:
        return {"default_route": None}
    shutil.copyfile(ctx.work / done["onnx"][route]["file"], ctx.work / "model.onnx")
    ctx.log(f"  default: {ONNX_NAMES[route]} -> model.onnx")
    return {"default_route": route}


def pick_default(onnx_info: Mapping, report: Mapping) -> str | None:
    """First route in ROUTE_PREFERENCE whose ONNX has no allow-list problem and
    passed parity; timings play no part (the choice must be reproducible)."""
    for route in ROUTE_PREFERENCE:
        info = onnx_info.get(route)
        if info and not info["allowlist_problems"] and \
                report["runtimes"].get(f"ort:{info['file']}", {}).get("passed"):
            return route
    return None


def tensorrt(ctx: Context, done: Mapping) -> dict:
    from export.calibrate import write_calibration_set
    from export.tensorrt_engine import TensorRTRunner, TensorRTUnavailable, build_engine, build_script
    from export.runtimes import run_batched
    if done.get("default_route") is None:
        ctx.log("  skipped: no ONNX passed the checks")
        return {}
    opts, c = ctx.opts, ctx.record.config
    plan = ctx.work / f"model_{opts.precision}.plan"
    info: dict = {"precision": opts.precision, "profile": list(opts.trt_profile)}
    calib = None
    if opts.precision == "int8":
        info["calibration"] = write_calibration_set(opts.calib_clips, c.frames, c.size, opts.trt_profile[1],
                                                    ctx.work)
        from export.reference import parity_clips
        calib = parity_clips(ctx.record, opts.calib_clips, 0)[0]
    try:
        build_engine(ctx.work / "model.onnx", plan, opts.precision, opts.trt_profile, ctx.work / "timing.cache",
                     calib_clips=calib, calib_cache=ctx.work / "calibration.cache" if calib is not None else None,
                     log=ctx.log)
    except TensorRTUnavailable as e:
        from jaxar.runtime.files import atomic_write_bytes
        atomic_write_bytes(ctx.work / "build_engine.sh", build_script(e.trtexec, opts.precision).encode(),
                           mode=0o777)
        ctx.log("  not built here: missing " + "; ".join(e.missing) + " (see build_engine.sh)")
        return {"tensorrt": {**info, "built": False, "missing": e.missing, "trtexec": e.trtexec or None,
                             "script": "build_engine.sh"}}
    runner = TensorRTRunner(plan, name=f"tensorrt-{opts.precision}")
    out = {"tensorrt": {**info, "built": True, "plan": plan.name,
                        "context_device_memory_mib": runner.device_memory_bytes / 2 ** 20},
           "outputs": {runner.name: (run_batched(runner, done["x"], opts.max_batch), opts.precision)}}
    if opts.profile:
        from export.deploy_profile import profile_in_subprocess
        out["profiles"] = [profile_in_subprocess(plan, opts.profile_batches, opts.profile_runs)]
    return out


def write_reports(ctx: Context, done: Mapping) -> dict:
    from export import parity
    report = parity.parity_report(done["ref"], done["outputs"], done["inputs_desc"])
    parity.write_report(report, ctx.work)
    ctx.log(parity.to_markdown(report))
    profiles = done.get("profiles", [])
    if profiles:
        from export.deploy_profile import format_table
        from export.plot import latency_plot
        from jaxar.runtime.files import atomic_write_json
        c = ctx.record.config
        atomic_write_json(ctx.work / "profile.json", {"profiles": profiles})
        latency_plot(profiles, ctx.work / "latency.png", title=f"{c.frames}x{c.size}x{c.size} clip latency")
        ctx.log(format_table(profiles))
    return {"parity": report}


def write_manifest(ctx: Context, done: Mapping) -> dict:
    from export import manifest
    from export.onnx_check import OPSET
    c = ctx.record.config
    manifest.write_manifest(ctx.work, {
        "origin": ctx.record.origin, "step": ctx.record.step, "options": ctx.opts.to_json(),
        "layout": ctx.opts.layout, "default_onnx": "model.onnx" if done.get("default_route") else None,
        "default_route": done.get("default_route"), "route_preference": list(ROUTE_PREFERENCE),
        "opset": OPSET,
        "input": done.get("manifest_input") or {"name": "clip", "shape": [d or "N" for d in ctx.input_shape]},
        "output": {"name": "logits", "shape": ["N", c.num_classes]}, "precision": ctx.opts.precision,
        "skipped": done.get("skipped", {}),
        "deploy_params": done["deploy"].num_params, "onnx": done.get("onnx", {}),
        "ort_p50_ms_by_batch": done.get("ort_timings", {}), "tensorrt": done.get("tensorrt"),
        "parity_passed": done["parity"]["passed"], "errors": done.get("errors", {})})
    return {}


# The steps in order. A step that adds files to the export is one more entry here.
STEPS = (
    Step("folding BN/TAda into the deploy form", fold_deploy_form),
    Step("model record (config, variables, labels, preprocessing)", write_model_record),
    Step("device runtime (runtime/run.py) and metadata.json", write_device_runtime),
    Step("reference logits (JAX training form, eval mode) and the JAX deploy form", reference_logits),
    Step("SavedModel via jax2tf, checked in TF", savedmodel, lambda o: o.savedmodel),
    Step("ONNX via jax2onnx (checker, shape inference, simplify, allow-list)", onnx_route("jax2onnx"),
         lambda o: "jax2onnx" in o.routes),
    Step("ONNX via SavedModel -> TFLite -> tf2onnx (checker, simplify, allow-list)", onnx_route("tflite"),
         lambda o: "tflite" in o.routes),
    Step("ONNX Runtime on the parity clips", onnx_parity),
    Step("latency profile on ONNX Runtime", profile_onnx, lambda o: o.profile),
    Step("default ONNX (fixed route preference among those that pass)", choose_default),
    Step("TensorRT engine", tensorrt, lambda o: o.tensorrt),
    Step("parity and profile reports", write_reports),
    Step("manifest", write_manifest),
)


# ----------------------------------------------------------------------------
# driver

def export(record: ModelRecord, out_dir: str | os.PathLike, opts: ExportOptions = ExportOptions(),
           log: Callable[[str], None] = print) -> dict:
    """Exports ``record`` into ``out_dir``; returns the steps' products plus
    ``out_dir``, ``default_onnx``, ``errors`` (see module doc).

    Raises:
      OutputError: ``out_dir`` is a file, non-empty without ``overwrite``, or not writable.
      ExportFailed: no ONNX passed (the export directory is still written).
    """
    from export import compressed_export
    out = Path(out_dir).absolute()
    compressed = compressed_export.is_compressed(record.config)
    if compressed:                                  # CD-KD students: three inputs
        compressed_export.check_options(opts)
    else:
        check_clip_files(record, opts)
    work = prepare_output(out, opts.overwrite)
    steps = [s for s in (compressed_export.STEPS if compressed else STEPS) if s.when(opts)]
    ctx = Context(opts, record, work, log)
    done: dict = {"errors": {}}
    t_start = time.time()
    try:
        for i, step in enumerate(steps, 1):
            log(f"[export {i}/{len(steps)}] {step.title} ...")
            t0, c0 = time.time(), _cpu_seconds()
            _merge(done, step.run(ctx, MappingProxyType(done)))
            log(f"[export {i}/{len(steps)}]   done ({time.time() - t0:.1f} s, "
                f"CPU {_cpu_seconds() - c0:.1f} s)")
        move_into_place(work, out)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    log(f"[export] finished in {time.time() - t_start:.0f} s: {out}")
    result = {k: v for k, v in done.items() if k not in ("x", "ref", "deploy", "outputs", "record")}
    result["input_domain"] = "compressed" if compressed else "rgb"
    result["out_dir"] = str(out)
    result["default_onnx"] = str(out / "model.onnx") if done.get("default_route") else None
    if done.get("default_route") is None:
        raise ExportFailed(f"no ONNX export passed the checker, the allow-list and parity; see "
                           f"{out / 'parity.md'} and errors: {done['errors']}")
    return result


def check_clip_files(record: ModelRecord, opts: ExportOptions) -> None:
    """``--clips`` / ``--calib-clips`` match the model input (and INT8 has at
    least one calibration batch), checked before any work; ``ValueError`` names the flag."""
    from export.preprocess import load_clips
    c = record.config
    for flag, path in (("--clips", opts.clips), ("--calib-clips", opts.calib_clips)):
        if path:
            try:
                n = len(load_clips(path, c.frames, c.size))
            except ValueError as e:
                raise ValueError(f"{flag} {e}") from e
            if flag == "--calib-clips" and n < opts.trt_profile[1]:
                raise ValueError(f"--calib-clips {path}: {n} clips, the INT8 calibrator needs at least "
                                 f"one batch of {opts.trt_profile[1]}")


def _cpu_seconds() -> float:
    """CPU time of this process and its finished children (the profiler
    subprocesses): on a shared machine a steadier measure than wall time."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _merge(done: dict, new: Mapping) -> None:
    for k, v in new.items():
        if isinstance(v, dict) and isinstance(done.get(k), dict):
            done[k] = {**done[k], **v}
        elif isinstance(v, list) and isinstance(done.get(k), list):
            done[k] = done[k] + v
        else:
            done[k] = v


def prepare_output(out: Path, overwrite: bool) -> Path:
    """Checks ``out`` and returns a fresh temporary build directory beside it."""
    if out.exists() and not out.is_dir():
        raise OutputError(f"--out {out}: exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise OutputError(f"--out {out}: directory is not empty; choose a new directory or pass "
                          "--overwrite to replace its contents")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{out.name}.building-", dir=out.parent))
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(work, 0o777 & ~umask)            # mkdtemp's 0700 would become the export's mode
        return work
    except OSError as e:
        raise OutputError(f"--out {out}: cannot write there ({e.strerror or e})") from e


def move_into_place(work: Path, out: Path) -> None:
    """Replaces ``out`` (empty, absent, or an old export when overwriting) by ``work``."""
    if out.is_dir():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
        os.replace(out, old / "x")
        os.replace(work, out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(work, out)

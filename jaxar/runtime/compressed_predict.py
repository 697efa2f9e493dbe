"""Compressed-domain models (CD-KD students) in the video -> actions application.

A model whose input is I-frames, motion vectors and residuals
(``input_domain == "compressed"``: the bundle's ``preprocessing.json`` says so,
or the checkpoint's model config) reads each video file through
:mod:`.compressed_clip` (the one reader of training, ``jaxar.predict`` and the
bundle runtime) instead of OpenCV frames. Everything else -- windows
(:func:`.sampling.plan_windows`: same training clip duration, stride, tail
window), rows, summary, timeline, batch error rows, ``<out>.partial`` -- is
the application's (:mod:`.app`), so a compressed-domain model writes the same
rows as an RGB one.

The model input per window (channels-first, as exported)::

    iframe    float32 (1, T, 3, S, S)   normalised RGB of each sampled frame's I-frame
    mv        float32 (1, T, 2, S, S)   motion field, model-input pixels / mv_scale
    residual  float32 (1, T, 3, S, S)   RGB residual / residual_scale

Needs PyAV (``av``), an optional dependency of the runtime: without it the
model is refused when it is loaded, with one line naming the package and its
pin. Only MPEG-4 Part 2 I/P streams are read as they are; others (H.264,
HEVC, VP9, AV1, B-frames) get the reader's error unless ``--reencode`` asks
to convert them in memory first (a full decode plus an MPEG-4 encode: slow,
and a second lossy step). Live input (``--camera``, ``--url``,
``--realtime``) and per-frame person boxes are not supported for these
models (the extraction reads a whole file; one crop box per video).
"""
from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import numpy as np

from . import compressed_video
from .app import Model
from .backends import run_in_batches
from .compressed_clip import MV_SCALE, RESIDUAL_SCALE, CompressedInput, iter_windows
from .errors import InputError
from .preprocess import to_ntchw
from .results import softmax, summary_row, window_row
from .sampling import plan_windows

DOMAIN = "compressed"
INPUTS = {"iframe": 3, "mv": 2, "residual": 3}     # graph input -> channels


@dataclasses.dataclass
class CompressedModel(Model):
    """A :class:`.app.Model` whose backend takes ``{"iframe", "mv", "residual"}``
    channels-first clips; ``spec`` says how clips are extracted."""
    spec: CompressedInput = CompressedInput()
    input_domain: str = DOMAIN

    def probs(self, clip: dict) -> np.ndarray:
        """One contract dict (channels-last ``(T, S, S, C)``) -> probabilities ``(C,)``."""
        x = {k: to_ntchw(clip[k][None]) for k in INPUTS}
        logits = run_in_batches(self.backend, x)[0]
        if logits.shape[-1] != len(self.labels):
            raise InputError(f"the model outputs {logits.shape[-1]} classes but there are "
                             f"{len(self.labels)} labels")
        return softmax(logits)


def require_pyav(what: str) -> None:
    """:class:`InputError` naming the optional dependency when PyAV is missing."""
    try:
        compressed_video.require_av()
    except compressed_video.MissingPyAVError as e:
        raise InputError(f"{what} reads compressed-domain input (I-frames, motion vectors, "
                         f"residuals), which needs PyAV, an optional dependency of the runtime: "
                         f"pip install {compressed_video.AV_PIN} ({e.__cause__ or 'import av failed'})"
                         ) from None


# ----------------------------------------------------------------------------
# the contract in preprocessing.json

def spec_to_json(spec: CompressedInput) -> dict:
    """The extraction settings as JSON (the ``compressed`` entry of preprocessing.json)."""
    d = dataclasses.asdict(spec)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}


def spec_from_json(doc: dict, where: str) -> CompressedInput:
    try:
        fields = {f.name for f in dataclasses.fields(CompressedInput)}
        unknown = sorted(set(doc) - fields)
        if unknown:
            raise ValueError(f"unknown fields {unknown}")
        kw = {k: tuple(map(float, v)) if k in ("mean", "std") else v for k, v in doc.items()}
        return CompressedInput(**kw)
    except (TypeError, ValueError) as e:
        raise InputError(f"{where}: invalid 'compressed' entry ({e})") from None


def spec_from_data_config(frames: int, size: int, data: dict | None) -> CompressedInput:
    """The extraction a checkpoint was trained with, from its run config's data
    section (keys of :mod:`jaxar.train.compressed_data`; defaults when absent)."""
    data = data or {}
    return CompressedInput(
        frames=frames, size=size, accumulate=bool(data.get("compressed_accumulate", True)),
        mv_scale=float(data.get("compressed_mv_scale", MV_SCALE)),
        residual_scale=float(data.get("compressed_residual_scale", RESIDUAL_SCALE)),
        gop=int(data.get("compressed_gop", compressed_video.DEFAULT_GOP)),
        qscale=int(data.get("compressed_qscale", compressed_video.DEFAULT_QSCALE)))


def input_shapes(frames: int, size: int, batch: int | str | None = "N") -> dict[str, list]:
    """``{name: [batch, T, C, S, S]}`` of the three graph inputs."""
    return {k: [batch, frames, c, size, size] for k, c in INPUTS.items()}


def bundle_domain(prep_path: Path) -> str:
    """``input_domain`` of a bundle's preprocessing.json (``"rgb"`` when absent)."""
    try:
        return str(json.loads(Path(prep_path).read_text()).get("input_domain", "rgb"))
    except (OSError, ValueError, AttributeError):
        return "rgb"                    # Preprocessing.from_json reports a bad file


def as_compressed(model: Model, prep_path: Path) -> Model:
    """``model`` unchanged for an RGB bundle; for a compressed-domain bundle (its
    ``preprocessing.json`` has ``"input_domain": "compressed"``) the
    :class:`CompressedModel` with the bundle's extraction settings, after
    checking PyAV and the model's input names."""
    if bundle_domain(prep_path) != DOMAIN:
        return model
    doc = json.loads(Path(prep_path).read_text())
    if "compressed" not in doc:
        raise InputError(f"{prep_path}: input_domain is 'compressed' but there is no 'compressed' entry")
    spec = spec_from_json(doc["compressed"], str(prep_path))
    if (spec.frames, spec.size) != (model.prep.frames, model.prep.size):
        raise InputError(f"{prep_path}: 'compressed' says {spec.frames}x{spec.size}, the file "
                         f"{model.prep.frames}x{model.prep.size}")
    names = getattr(model.backend, "input_names", None) or getattr(model.backend, "in_names", None)
    if names is not None and sorted(names) != sorted(INPUTS):
        raise InputError(f"{prep_path}: a compressed-domain model needs inputs {list(INPUTS)}, "
                         f"the model has {list(names)}")
    return compressed_model(model, spec, f"the model in {prep_path.parent}")


def compressed_model(model: Model, spec: CompressedInput, what: str) -> CompressedModel:
    require_pyav(what)
    fields = {f.name: getattr(model, f.name) for f in dataclasses.fields(Model)
              if f.name != "input_domain"}
    fields["description"] += (" (compressed-domain input: I-frames, motion vectors and residuals "
                              "read with PyAV)")
    return CompressedModel(**fields, spec=spec)


# ----------------------------------------------------------------------------
# running

def check_args(a, model: Model) -> None:
    """Flags a compressed-domain model cannot honour (and ``--reencode`` for an RGB one)."""
    if model.input_domain != DOMAIN:
        if getattr(a, "reencode", False):
            raise InputError("--reencode is for compressed-domain models (it converts videos to "
                             "MPEG-4 Part 2 for their reader); this model reads decoded frames")
        return
    live = [f for f, v in (("--camera", a.camera is not None), ("--url", a.url),
                           ("--realtime", a.realtime)) if v]
    if live:
        raise InputError(f"{live[0]}: a compressed-domain model reads video files (the motion "
                         "vectors and residuals come from the file's stream); live input is not supported")
    if a.boxes or a.skeleton:
        raise InputError(f"{'--boxes' if a.boxes else '--skeleton'}: per-frame person crops are not "
                         "supported for compressed-domain models (one crop box per video: --crop)")
    if getattr(a, "whole_video", False):
        raise InputError("--whole-video: compressed-domain models read GOP-aligned windows of the "
                         "stream; use the default sliding windows (--window/--stride)")


def _source(a, video: str, spec: CompressedInput, log, tag: str):
    """The stream to read: the file, or its in-memory MPEG-4 re-encoding
    (``--reencode``, only when the reader cannot use it as it is)."""
    if not getattr(a, "reencode", False):
        return video, False
    info = compressed_video.probe(video)
    try:
        compressed_video.check_supported(info)
        return video, False
    except compressed_video.UnsupportedStreamError:
        why = f"codec {info.codec}" + (" with B-frames" if info.has_b_frames else "")
        log(f"{tag}{Path(video).name}: {why}: --reencode: re-encoding to MPEG-4 Part 2 (GOP "
            f"{spec.gop}, qscale {spec.qscale}, no B-frames) in memory: a full decode and encode, "
            "and a second lossy step")
        return compressed_video.reencode_mpeg4(video, gop=spec.gop, qscale=spec.qscale, name=video), True


def run_file(a, model: CompressedModel, video: str, window: float, stride: float, writer, log,
             suffix: str, tag: str) -> None:
    """One video file: windows as :func:`.sampling.plan_windows` places them,
    each window's clip from :func:`.compressed_clip.iter_windows` (one decode
    of the file), the same rows as an RGB model (:mod:`.results`)."""
    from .app import _display_name
    from .outputs import suffixed
    from .plots import render_video, timeline_png
    t0 = time.perf_counter()
    name = _display_name(video)
    if not Path(video).is_file():
        raise InputError(f"{video}: a compressed-domain model reads local video files")
    src, reencoded = _source(a, video, model.spec, log, tag)
    info = compressed_video.probe(src, name=video)
    try:
        compressed_video.check_supported(info)
    except compressed_video.UnsupportedStreamError as e:     # here the way out is a flag
        raise compressed_video.UnsupportedStreamError(
            f"{e}; or run with --reencode to convert it in memory") from None
    frames = info.frames or compressed_video.count_frames(src, name=video)
    fps, fps_source = (a.fps, "--fps") if a.fps else (info.fps, "container")
    if not fps or not np.isfinite(fps) or fps <= 0:
        raise InputError(f"{video}: the file states no frame rate; pass --fps")
    windows = plan_windows(frames, fps, model.spec.frames, window, stride)
    box = None if a.crop == "center" else np.array([0, 0, info.width, info.height], np.float32)
    probs, rows, last_print = [], 0, t0
    for k, clip in iter_windows(src, [w.frames for w in windows], model.spec, box=box, name=video):
        w = windows[k]
        p = model.probs(clip)
        writer.write(window_row(video, w, p, model.labels, a.topk, model.spec.frames))
        probs.append(p)
        rows += 1
        if time.perf_counter() - last_print > 5:
            last_print = time.perf_counter()
            log(f"{tag}{name}: {rows} windows, {w.end_s:.1f} s of video")
    extra = {"frames_read": int(max(w.frames.max() for w in windows)) + 1, "fps": round(fps, 3),
             "truncated": False, "crop": a.crop, "window_s": window, "stride_s": stride,
             "input_domain": DOMAIN, "header_frames": frames}
    if fps_source != "container":
        extra["fps_source"] = fps_source
    if reencoded:
        extra["reencoded"] = f"MPEG-4 Part 2, GOP {model.spec.gop}, qscale {model.spec.qscale}"
    row = summary_row(video, probs, model.labels, **extra)
    writer.write(row)
    log(f"{tag}{name}: {row['label']} (mean p={row['mean_prob']:.3f}) over {len(probs)} windows, "
        f"compressed-domain input, {frames} frames in {time.perf_counter() - t0:.1f} s")
    ends = np.array([w.end_s for w in windows])
    if a.timeline:
        starts = np.array([w.start_s for w in windows])
        timeline_png(suffixed(a.timeline, suffix, bool(suffix)), (starts + ends) / 2, np.stack(probs),
                     model.labels, f"{name}: class probabilities per window")
    if a.render:
        top = [(model.labels[int(np.argmax(p))], float(np.max(p))) for p in probs]
        render_video(video, suffixed(a.render, suffix, bool(suffix)), ends, top, fps, use_timestamps=False)

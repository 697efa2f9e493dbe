"""Preprocessing contract of the exported model, and the clips used for parity.

The exported graph takes ``clip``: float32 ``(N, T, 3, H, W)``, RGB, values
``(pixel / 255 - mean) / std`` on the 0-1 scale, with the constants of the
training input pipeline (``jaxar.runtime.preprocess.DEFAULT_MEAN/DEFAULT_STD``,
the one definition that training, export and the runtime read: the
X3D/pytorchvideo values 0.45 / 0.225), so a deployed model sees what it was trained on. Frames are
sampled evenly over a window of the training clip duration (the bundle's
``metadata.json``; :mod:`jaxar.runtime.sampling`), cropped as the training data
was (:func:`training_crop`), resized to ``H x W``. :func:`preprocess` turns
decoded uint8 ``(N, T, H, W, 3)`` frames into it.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from jaxar.runtime.preprocess import DEFAULT_MEAN, DEFAULT_STD, normalise, to_ntchw


def training_crop(train_config: dict | None, size: int) -> str:
    """How the training clips were cropped, from a checkpoint's run config
    (``meta["train_config"]``); says so where it is not known."""
    data = (train_config or {}).get("data") or {}
    source, name = data.get("source"), str(data.get("tfds_name") or "")
    if source == "synthetic":
        return (f"whole frame (the synthetic set's frames are square), resized to {size}x{size}; "
                "training used random resized crops of it")
    if name.startswith("ntu_rgbd"):
        return (f"person-centred square crop from the NTU skeleton (padded), resized to {size}x{size}; "
                "full frame when a video has no usable skeleton")
    if name.startswith("video_folder"):
        return (f"the crop chosen when the video folder was prepared (its preparation_report.json), "
                f"resized to {size}x{size}")
    if not data:
        return f"not known (no training run config: random-initialised export); {size}x{size} input"
    return f"as prepared for {source or '?'} {name}, resized to {size}x{size}"


def spec(frames: int, size: int, batch: int | None, train_config: dict | None = None,
         sampling: dict | None = None) -> dict:
    """The ``preprocessing.json`` content; ``train_config`` (the checkpoint's
    run config) says how the training clips were cropped; ``sampling``
    (``SegmentSpec.to_json()`` of the model config's ``clip_sampling``) how
    its frames are drawn, stored under ``"sampling"`` (the runtime reads it;
    absent: one frame per segment)."""
    out = {
        "input_name": "clip", "output_name": "logits",
        "input_shape": [batch if batch else "N", frames, 3, size, size],
        "layout": "NTCHW (batch, frame, RGB channel, height, width), float32",
        "color": "RGB", "scale": "pixel / 255", "mean": [float(m) for m in DEFAULT_MEAN],
        "std": [float(v) for v in DEFAULT_STD],
        "constants_from": "jaxar.runtime.preprocess (DEFAULT_MEAN, DEFAULT_STD; the training pipeline's)",
        "normalise": "(pixel / 255 - mean[c]) / std[c]",
        "frames": frames, "height": size, "width": size,
        "frame_sampling": f"{frames} frames evenly spaced over a window of the training clip duration "
                          "(metadata.json window_seconds), windows every half window "
                          "(runtime/sampling.py); a window spanning fewer source frames repeats frames",
        "crop": training_crop(train_config, size),
        "crop_at_prediction": "runtime/run.py --crop center (default) | full, or person crops from "
                              "--boxes (any detector) / --skeleton (NTU); docs/predict.md",
        "output": "logits (N, num_classes); softmax for probabilities; labels.json maps index -> name",
    }
    if sampling is not None and int(sampling.get("segment_frames", 1)) > 1:
        n, run = int(sampling["segments"]), int(sampling["segment_frames"])
        out["frame_sampling"] = (f"{n} segments of {run} adjacent frames ({frames} frames, segment-major): "
                                 f"the window is cut into {n} equal groups and the run centred in each "
                                 "is taken (runtime/segments.py); windows as metadata.json says, or "
                                 "--whole-video; a window too short repeats frames")
    if sampling is not None:
        out["sampling"] = {"segments": int(sampling["segments"]),
                           "segment_frames": int(sampling.get("segment_frames", 1))}
    return out


def compressed_spec(extraction, batch: int | None, train_config: dict | None = None) -> dict:
    """The ``preprocessing.json`` of a compressed-domain model (a CD-KD student):
    three inputs instead of ``clip``, and the extraction settings the bundle's
    reader uses (``extraction``: :class:`jaxar.runtime.compressed_clip.CompressedInput`)."""
    from jaxar.runtime.compressed_predict import input_shapes, spec_to_json
    from jaxar.runtime.compressed_video import AV_PIN
    t, s = extraction.frames, extraction.size
    shapes = input_shapes(t, s, batch if batch else "N")
    return {
        "input_domain": "compressed", "input_names": list(shapes), "output_name": "logits",
        "input_shapes": shapes,
        "inputs": {
            "iframe": "decoded I-frame of the GOP holding each sampled frame, RGB, (pixel / 255 - mean) / std",
            "mv": f"motion field (dx, dy) accumulated back to the I-frame ({'on' if extraction.accumulate else 'off'}), "
                  f"in model-input pixels / {extraction.mv_scale:g}; 0 on I-frames",
            "residual": f"decoded frame minus motion-compensated prediction, RGB / {extraction.residual_scale:g}"},
        "layout": "NTCHW (batch, frame, channel, height, width), float32, each input",
        "color": "RGB", "mean": [float(m) for m in extraction.mean], "std": [float(v) for v in extraction.std],
        "frames": t, "height": s, "width": s,
        "compressed": spec_to_json(extraction),
        "reader": f"runtime/compressed_clip.py (PyAV, an optional dependency of the runtime: pip install {AV_PIN}); "
                  "MPEG-4 Part 2 I/P streams, others with runtime/run.py --reencode; docs/compressed.md",
        "frame_sampling": f"{t} frames evenly spaced over a window of the training clip duration "
                          "(metadata.json window_seconds), windows every half window (runtime/sampling.py)",
        "crop": training_crop(train_config, s),
        "crop_at_prediction": "runtime/run.py --crop center (default) | full",
        "output": "logits (N, num_classes); softmax for probabilities; labels.json maps index -> name",
    }


def preprocess(frames_uint8: np.ndarray) -> np.ndarray:
    """uint8 ``(N, T, H, W, 3)`` RGB -> float32 ``(N, T, 3, H, W)`` normalised."""
    x = np.asarray(frames_uint8)
    if x.ndim != 5 or x.shape[-1] != 3:
        raise ValueError(f"expected uint8 RGB clips (N, T, H, W, 3), got shape {x.shape}")
    return to_ntchw(normalise(x))


def synthetic_clips(n: int, frames: int, size: int, seed: int = 0) -> np.ndarray:
    """Deterministic uint8 ``(n, T, S, S, 3)`` clips with moving structure
    (drifting colour gradients and a moving blob plus noise) -- not white noise,
    so activations resemble those of real video."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / max(size - 1, 1)
    out = np.empty((n, frames, size, size, 3), np.uint8)
    for i in range(n):
        base = rng.uniform(0, 1, 3)
        freq = rng.uniform(1, 4, 3)
        vel = rng.uniform(-0.05, 0.05, 2)
        c0 = rng.uniform(0.2, 0.8, 2)
        for t in range(frames):
            cy, cx = c0 + vel * t
            blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 0.02)
            img = np.stack([base[c] + 0.3 * np.sin(freq[c] * np.pi * (xx + yy) + 0.2 * t) for c in range(3)], -1)
            img = img + 0.5 * blob[..., None] + rng.normal(0, 0.05, img.shape)
            out[i, t] = np.clip(img * 255, 0, 255).astype(np.uint8)
    return out


def load_clips(path: str | os.PathLike, frames: int, size: int) -> np.ndarray:
    """Reads uint8 RGB clips ``(N, T, H, W, 3)`` from ``.npy`` (or ``.npz`` key
    ``clips``) and checks them against the export shape."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"--clips file not found: {path}")
    arr = np.load(path)
    if isinstance(arr, np.lib.npyio.NpzFile):
        if "clips" not in arr:
            raise ValueError(f"{path}: .npz has no 'clips' array (has {list(arr.keys())})")
        arr = arr["clips"]
    if arr.ndim != 5 or arr.shape[1:] != (frames, size, size, 3) or arr.dtype != np.uint8:
        raise ValueError(f"{path}: expected uint8 clips (N, {frames}, {size}, {size}, 3), "
                         f"got {arr.dtype} {arr.shape}")
    return arr

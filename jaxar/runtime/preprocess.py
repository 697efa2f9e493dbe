"""Model input contract and normalisation (numpy only).

A clip is ``T`` frames of ``S x S`` RGB, sampled (:mod:`.sampling`), cropped
and resized (:mod:`.crop`), then normalised ``(pixel / 255 - mean) / std`` per
channel. Layouts: the JAX model takes ``(N, T, S, S, 3)`` (channels last), the
exported ONNX / TensorRT models ``(N, T, 3, S, S)``.

:class:`Preprocessing` is read from an export bundle's ``preprocessing.json``
(or built from a checkpoint's model config) so the device uses the constants
the model was trained with.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from .errors import InputError
from .segments import SegmentSpec

# The normalisation constants (RGB, [0, 1] units) of training, export and
# prediction alike: this is their one definition (data_pipelines.clip_config,
# export/preprocess.py and the runtime all read it).
DEFAULT_MEAN = (0.45, 0.45, 0.45)
DEFAULT_STD = (0.225, 0.225, 0.225)


@dataclasses.dataclass(frozen=True)
class Preprocessing:
    """What the model expects: ``frames`` T, ``size`` S, normalisation constants,
    and ``segment_frames`` L: the ``T`` frames are ``T / L`` segments of ``L``
    adjacent frames (:mod:`.segments`; 1 for every model but EAN with LMC)."""
    frames: int
    size: int
    mean: tuple = DEFAULT_MEAN
    std: tuple = DEFAULT_STD
    segment_frames: int = 1

    def __post_init__(self):
        if self.segment_frames < 1 or self.frames % self.segment_frames:
            raise InputError(f"the model takes {self.frames} frames, not a multiple of its "
                             f"{self.segment_frames} frames per segment")

    @property
    def sampling(self) -> SegmentSpec:
        """The model's :class:`.segments.SegmentSpec`."""
        return SegmentSpec(self.frames // self.segment_frames, self.segment_frames)

    @classmethod
    def from_json(cls, path: str | Path) -> "Preprocessing":
        """Reads a bundle's ``preprocessing.json`` (keys frames, height, width, mean, std
        and, from bundles that record it, ``sampling``: ``{"segments", "segment_frames"}``;
        without it, one frame per segment)."""
        path = Path(path)
        if not path.is_file():
            raise InputError(f"{path}: missing (the bundle has no preprocessing.json; "
                             "re-export it with export/to_trt.py)")
        try:
            doc = json.loads(path.read_text())
            frames, h, w = int(doc["frames"]), int(doc["height"]), int(doc["width"])
            mean, std = tuple(map(float, doc["mean"])), tuple(map(float, doc["std"]))
            spec = SegmentSpec.from_json(doc.get("sampling"), frames, where=f"{path}: sampling")
        except (ValueError, KeyError, TypeError) as e:
            raise InputError(f"{path}: not a valid preprocessing.json ({type(e).__name__}: {e})") from None
        if h != w:
            raise InputError(f"{path}: height {h} != width {w}; only square inputs are supported")
        if len(mean) != 3 or len(std) != 3 or min(std) <= 0:
            raise InputError(f"{path}: mean/std must be 3 values with std > 0")
        return cls(frames, h, mean, std, spec.segment_frames)


def normalise_affine(mean=DEFAULT_MEAN, std=DEFAULT_STD) -> tuple[np.ndarray, np.ndarray]:
    """float32 ``(scale, shift)``, one value per channel, with
    ``(x / 255 - mean) / std == x * scale - shift`` (the form every pipeline
    computes, the tf.data graph included)."""
    std = np.asarray(std, np.float32)
    return np.float32(1.0 / 255.0) / std, np.asarray(mean, np.float32) / std


def normalise(clips_uint8: np.ndarray, mean=DEFAULT_MEAN, std=DEFAULT_STD) -> np.ndarray:
    """uint8 RGB (last axis = channels) -> float32 ``(x / 255 - mean) / std``."""
    scale, shift = normalise_affine(mean, std)
    return np.asarray(clips_uint8).astype(np.float32) * scale - shift


def to_ntchw(clips_nthwc: np.ndarray) -> np.ndarray:
    """``(N, T, H, W, C)`` -> contiguous ``(N, T, C, H, W)``."""
    return np.ascontiguousarray(np.transpose(clips_nthwc, (0, 1, 4, 2, 3)))

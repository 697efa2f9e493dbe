"""Clip sampling / augmentation settings shared by both input pipelines."""
from __future__ import annotations

import dataclasses

from jaxar.runtime.preprocess import DEFAULT_MEAN, DEFAULT_STD   # the one source (also the runtime's)


@dataclasses.dataclass(frozen=True)
class ClipConfig:
    """How a training / evaluation clip is made from a stored video.

    Attributes:
      num_frames: T, frames per clip (sampled uniformly, see ``sampling``).
      segment_frames: L, adjacent frames per segment: the clip is ``T / L``
        TSN segments of ``L`` consecutive frames (``jaxar.runtime.segments``;
        the model config's ``clip_sampling``: 5 for EAN with LMC, else 1).
      size: S, output frames are ``S x S``.
      area_range: random resized crop (training): fraction of the stored
        frame's area kept, uniform in this range; ``(1, 1)`` with
        ``aspect_range=(1, 1)`` disables it (then a centre square is used).
      aspect_range: crop aspect ratio w/h range (log-uniform).
      flip: random horizontal flip in training. Off by default: it swaps
        left/right motions (and the synthetic set's left/right, cw/ccw classes).
      num_clips: evaluation only: K temporal clips per video; ``video`` then
        has shape ``(B, K, T, S, S, 3)``.
      mean, std: normalisation constants (RGB, [0, 1] units).
      normalize: True: float32 ``(x / 255 - mean) / std``; False: uint8 pixels
        (normalise on the accelerator; 4x less host memory traffic).
    """
    num_frames: int = 16
    size: int = 224
    segment_frames: int = 1
    area_range: tuple[float, float] = (0.4, 1.0)
    aspect_range: tuple[float, float] = (3 / 4, 4 / 3)
    flip: bool = False
    num_clips: int = 1
    mean: tuple[float, float, float] = DEFAULT_MEAN
    std: tuple[float, float, float] = DEFAULT_STD
    normalize: bool = True

    def __post_init__(self):
        if self.num_frames < 1:
            raise ValueError(f"num_frames={self.num_frames}: must be >= 1")
        if self.segment_frames < 1 or self.num_frames % self.segment_frames:
            raise ValueError(f"num_frames={self.num_frames} must be a multiple of "
                             f"segment_frames={self.segment_frames}")
        if self.size < 1:
            raise ValueError(f"size={self.size}: must be >= 1")
        lo, hi = self.area_range
        if not 0 < lo <= hi <= 1:
            raise ValueError(f"area_range={self.area_range}: need 0 < low <= high <= 1")
        lo, hi = self.aspect_range
        if not 0 < lo <= hi:
            raise ValueError(f"aspect_range={self.aspect_range}: need 0 < low <= high")
        if self.num_clips < 1:
            raise ValueError(f"num_clips={self.num_clips}: must be >= 1")

    @property
    def segments(self) -> int:
        """N: segments per clip (``num_frames / segment_frames``)."""
        return self.num_frames // self.segment_frames

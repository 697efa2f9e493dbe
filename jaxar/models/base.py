"""The base every model family's config derives from (no family owns this module).

A family config is a frozen dataclass deriving from :class:`ModelConfigBase`:

* the task and input fields ``num_classes``, ``frames``, ``size`` and the
  execution fields ``impl`` (conv formulation, :mod:`jaxar.ops.formulation`)
  and ``dtype`` (compute dtype, a key of :data:`DTYPES`; parameters stay
  float32), validated here;
* ``family`` -- a class variable naming the family (``"x3d_ugt"``, ``"x3d"``,
  ``"tsm_resnet"``, ...), read by the registry, summaries and export;
* ``input_domain`` -- a class variable: ``"rgb"`` (the default) for a network
  whose input is one decoded RGB clip ``(N, T, H, W, 3)``, ``"compressed"``
  for the CD-KD students, whose input is a dict of I-frames, motion vectors
  and residuals (:mod:`jaxar.models.cdkd`); tools and generic tests that feed
  a single RGB clip (training on raw clips, the per-variant tests, the
  Table-3 comparison) take the ``"rgb"`` families, the others have their own;
* ``replace(**fields)`` -- a copy with fields replaced, unknown names rejected;
* ``input_shape`` -- the per-clip input ``(T, H, W, 3)``;
* ``clip_sampling`` -- how the ``T`` frames are drawn from a span of video
  (:class:`jaxar.runtime.segments.SegmentSpec`: ``T / L`` segments of ``L``
  adjacent frames, ``L`` the config's ``segment_frames`` field when the family
  has one -- EAN -- else 1); the data sources, ``jaxar.predict`` and the
  bundle runtime all sample with it (docs/ean.md, "Sampling");
* ``small(**overrides)`` -- a narrow, shallow copy with the same block
  structure, for tests (every family gives one);
* ``build()`` -- the family's ``flax.linen.Module`` (input ``(N, T, H, W, 3)``,
  logits ``(N, num_classes)`` float32), which also provides the deploy protocol
  of :mod:`jaxar.deploy`;
* ``frame_features()`` -- where the training-form network holds one feature
  map per input frame (:class:`FrameFeatures`), the contract of a CD-KD teacher
  (:mod:`jaxar.distill.teacher`); a family that has no such map raises
  :class:`NoFrameFeaturesError` saying why (the default: not declared).

A family redeclares a field to change its default (e.g. ``num_classes = 400``).
"""
from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import jax.numpy as jnp

from jaxar.ops.formulation import IMPL_CHOICES
from jaxar.runtime.segments import SegmentSpec

DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}


class NoFrameFeaturesError(ValueError):
    """The family's network keeps no feature map per input frame (the message says why)."""


@dataclasses.dataclass(frozen=True)
class FrameFeatures:
    """Where a family's training-form network holds one feature map per input frame.

    ``path``: module names from the network's root to the module whose
    ``__call__`` output is the map ``(N, T, h, w, width)``, one ``(h, w)`` map
    per input frame (``T`` = the input's frames); ``activation``: applied to
    that output to get the map (``""``: none; ``"relu"`` where the module is a
    BN whose ReLU the network applies outside any module).
    """
    path: tuple[str, ...]
    width: int
    activation: str = ""

    def __post_init__(self):
        if not self.path or not all(isinstance(p, str) and p for p in self.path):
            raise ValueError(f"FrameFeatures.path must be non-empty module names, got {self.path!r}")
        if self.width < 1:
            raise ValueError(f"FrameFeatures.width must be positive, got {self.width}")
        if self.activation not in ("", "relu", "relu6"):
            raise ValueError(f"FrameFeatures.activation must be '', 'relu' or 'relu6', got "
                             f"{self.activation!r}")


@dataclasses.dataclass(frozen=True)
class ModelConfigBase:
    family: ClassVar[str] = ""
    input_domain: ClassVar[str] = "rgb"

    num_classes: int = 60
    frames: int = 16
    size: int = 224
    impl: str = "auto"        # conv formulation: "auto" | "lowered" | "conv3d" | "shifted" (same maths)
    dtype: str = "float32"    # compute dtype; params stay float32

    def __post_init__(self):
        if not self.family:
            raise TypeError(f"{type(self).__name__} does not name its family (class variable 'family')")
        if self.num_classes < 1 or self.frames < 1 or self.size < 1:
            raise ValueError(f"num_classes/frames/size must be positive, got "
                             f"{self.num_classes}/{self.frames}/{self.size}")
        if self.impl not in IMPL_CHOICES:
            raise ValueError(f"impl must be one of {IMPL_CHOICES}, got {self.impl!r}")
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {sorted(DTYPES)}, got {self.dtype!r}")

    def replace(self, **kw: Any):
        unknown = set(kw) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise ValueError(f"unknown {type(self).__name__} fields: {sorted(unknown)}")
        return dataclasses.replace(self, **kw)

    @property
    def input_shape(self) -> tuple[int, int, int, int]:
        """Per-clip input shape ``(T, H, W, 3)``."""
        return (self.frames, self.size, self.size, 3)

    @property
    def clip_sampling(self) -> SegmentSpec:
        """``SegmentSpec(T / L, L)``: ``L = segment_frames`` when the family
        declares that field (EAN: 1 for RGB, 5 for RGB+LMC), else 1."""
        run = int(getattr(self, "segment_frames", 1))
        return SegmentSpec(self.frames // run, run)

    def small(self, **overrides: Any):
        """A narrow, shallow copy with the same block structure (tests)."""
        raise NotImplementedError(f"{type(self).__name__} gives no small() copy")

    def build(self):
        """The family's Flax module for this configuration."""
        raise NotImplementedError(f"{type(self).__name__} gives no build()")

    def frame_features(self) -> FrameFeatures:
        """Where :meth:`build`'s network holds one feature map per input frame;
        :class:`NoFrameFeaturesError` (with the reason) where it holds none."""
        raise NoFrameFeaturesError(f"{type(self).__name__} (family {self.family!r}) declares no "
                                   f"per-frame feature layer (ModelConfigBase.frame_features)")


def check_clip(x: Any, name: str) -> None:
    """Raises ``ValueError`` unless ``x`` is a batch of RGB clips ``(N, T, H, W, 3)``
    (``name``: the network, for the message)."""
    if x.ndim != 5 or x.shape[-1] != 3:
        raise ValueError(f"{name} expects (N, T, H, W, 3) clips, got shape {x.shape}")


def stage_count(cfg: Any, *fields: str) -> int:
    """The number of stages of ``cfg``: the common, non-zero length of its
    per-stage tuples ``fields`` (e.g. ``"widths", "depths", "strides"``).
    Raises ``ValueError`` naming the fields and their values otherwise."""
    values = [getattr(cfg, f) for f in fields]
    if len({len(v) for v in values}) != 1 or not values[0]:
        raise ValueError(f"{'/'.join(fields)} must have equal non-zero lengths, got "
                         f"{'/'.join(str(v) for v in values)}")
    return len(values[0])

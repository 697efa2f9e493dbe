"""Synthetic action set: classes that differ only in how an object moves.

Pure numpy, no downloads, deterministic from a seed. Used for the training
demo, for tests, and (through the ``synthetic_actions`` TFDS builder) as a
stand-in dataset with the same interface as NTU RGB+D.

Public API
----------
``CLASS_NAMES``: tuple of the 10 class names (index = label).
``generate(num_clips, frames=16, size=64, seed=0, num_classes=None)``
    -> ``(videos, labels)``: ``videos`` uint8 ``(N, T, S, S, 3)`` channels-last
    RGB, ``labels`` int32 ``(N,)``.
``TRAIN_SEED``, ``TEST_SEED``: the conventional seeds for the two splits.

Splits
------
Train and test sets are simply different seeds (``generate(..., seed=TRAIN_SEED)``
and ``generate(..., seed=TEST_SEED)``); every clip is drawn independently,
so two seeds give independent samples of the same distribution.

Design (why a single frame does not identify the class)
-------------------------------------------------------
Each clip is one textured object (rectangle, ellipse, triangle or arrow;
striped in two colours) over a static, textured random background with mild
per-frame uniform pixel noise (+-5 levels). The classes come in time-reversed pairs:

======================  ===================================================
``move_left/right``     translation along x, 1.5-3 % of the frame per frame
``move_up/down``        translation along y
``rotate_cw/ccw``       rotation, 12-24 degrees per frame
``approach/recede``     size grows / shrinks 10-15 % per frame (sawtooth in log-size)
``appear/disappear``    opacity rises / falls 10-16 % per frame (sawtooth in opacity)
======================  ===================================================

Every time-varying attribute is *stationary*: positions live on a torus
(the object wraps around the frame edges) with a uniform start, angles start
uniformly, and size and opacity follow a sawtooth with a uniform random
phase (an approaching object that reaches the maximum size is replaced by a
small one, a fading-in object by an invisible one). Hence the distribution of
any single frame is the same at every time step, and identical for a class
and its time-reversed partner: a single frame can tell at most which pair a
clip belongs to, never the class. (Object size ranges differ between the
approach/recede pair, the rotate pair and the rest, so a frame can hint at
the pair.)

Clip ``i`` depends only on ``(seed, i, frames, size)`` (and its label on
``(seed, num_classes, i // num_classes)``), so a prefix of a larger set equals
a smaller set with the same seed. Transcendental functions are evaluated
only on per-frame scalars (Python's ``math``); the per-pixel work is plain
IEEE float32 arithmetic, so the output is bit-identical across machines for
a given numpy version (the random streams are numpy's PCG64).
"""
from __future__ import annotations

import math

import numpy as np

CLASS_NAMES: tuple[str, ...] = (
    "move_left",
    "move_right",
    "move_up",
    "move_down",
    "rotate_cw",
    "rotate_ccw",
    "approach",
    "recede",
    "appear",
    "disappear",
)

TRAIN_SEED = 0
TEST_SEED = 1
SPLIT_SEEDS = {"train": TRAIN_SEED, "test": TEST_SEED}
# The set's sizes offered by the TFDS builders (synthetic_actions, compressed_video).
BUILDER_SIZES = {"default": dict(num_train=2000, num_test=500, frames=16, size=64),
                 "small": dict(num_train=400, num_test=100, frames=16, size=32)}
# The set has no time base of its own; its clips are defined to play at this
# frame rate (demo videos are written at it; a 16-frame clip lasts 2 s).
SYNTHETIC_FPS = 8.0

# Geometry in units of the frame side (so motion scales with ``size``).
_SPEED = (0.045, 0.09)        # translation per frame (1.4-2.9 px at 32 px)
_ANG_SPEED = (12.0, 24.0)     # degrees per frame
_RADIUS = (0.15, 0.32)        # object half-extent (log-uniform), translation and fade classes
_ROT_RADIUS = (0.22, 0.38)    # rotate_cw/ccw: larger, so the rotation is visible at 32 px
_SCALE_RADIUS = (0.08, 0.45)  # approach/recede: sawtooth between these half-extents
_LOG_RATE = (0.10, 0.15)      # log-size change per frame for approach/recede
_FADE_RATE = (0.10, 0.16)     # opacity change per frame for appear/disappear
_ALPHA_MIN = 0.0              # opacity at the bottom of the fade sawtooth
_NUM_SHAPES = 4
_CHUNK = 64                   # clips rendered together (memory ~ CHUNK*T*S*S*4 B * few)


def _clip_params(seed: int, index: int, frames: int) -> dict:
    """Draws the parameters of clip ``index``; label is applied later."""
    rng = np.random.default_rng([seed, 0, index])
    p = {
        "shape": int(rng.integers(_NUM_SHAPES)),
        "aspect": float(rng.uniform(0.35, 0.65)),
        "stripes": float(rng.uniform(1.2, 2.2)),
        "stripe_phase": float(rng.uniform(0.0, 1.0)),
        "colour1": rng.uniform(0.0, 255.0, size=3),
        "cx": float(rng.uniform()),
        "cy": float(rng.uniform()),
        "angle0": float(rng.uniform(0.0, 2.0 * math.pi)),
        "log_r0": float(rng.uniform(0.0, 1.0)),   # mapped to the class's size range below
        "phase": float(rng.uniform()),
        "speed": float(rng.uniform(*_SPEED)),
        "ang_speed": math.radians(float(rng.uniform(*_ANG_SPEED))),
        "log_rate": float(rng.uniform(*_LOG_RATE)),
        "fade_rate": float(rng.uniform(*_FADE_RATE)),
        "bg_grid": int(rng.integers(3, 7)),
    }
    p["colour2"] = 255.0 - p["colour1"]   # complementary stripes: always visible texture
    p["bg_coarse"] = rng.uniform(20.0, 235.0, size=(p["bg_grid"], p["bg_grid"], 3))
    p["rng"] = rng  # continues with the background texture and the noise
    return p


def _trajectory(p: dict, label: int, frames: int) -> np.ndarray:
    """Per-frame (cx, cy, cos, sin, radius, alpha) as float32 ``(T, 6)``."""
    name = CLASS_NAMES[label]
    out = np.empty((frames, 6), dtype=np.float64)
    log_lo, log_hi = math.log(_SCALE_RADIUS[0]), math.log(_SCALE_RADIUS[1])
    span = log_hi - log_lo
    lo, hi = _ROT_RADIUS if name.startswith("rotate") else _RADIUS
    log_r0 = math.log(lo) + p["log_r0"] * (math.log(hi) - math.log(lo))
    for t in range(frames):
        cx, cy, ang = p["cx"], p["cy"], p["angle0"]
        log_r, alpha = log_r0, 1.0
        if name == "move_left":
            cx -= p["speed"] * t
        elif name == "move_right":
            cx += p["speed"] * t
        elif name == "move_up":
            cy -= p["speed"] * t
        elif name == "move_down":
            cy += p["speed"] * t
        elif name == "rotate_cw":   # image y points down: +angle is clockwise on screen
            ang += p["ang_speed"] * t
        elif name == "rotate_ccw":
            ang -= p["ang_speed"] * t
        elif name in ("approach", "recede"):
            frac = (p["phase"] + p["log_rate"] * t / span) % 1.0
            log_r = log_lo + span * (frac if name == "approach" else 1.0 - frac)
        elif name in ("appear", "disappear"):
            frac = (p["phase"] + p["fade_rate"] * t) % 1.0
            alpha = _ALPHA_MIN + (1.0 - _ALPHA_MIN) * (frac if name == "appear" else 1.0 - frac)
        out[t] = (cx % 1.0, cy % 1.0, math.cos(ang), math.sin(ang), math.exp(log_r), alpha)
    return out.astype(np.float32)


def _background(p: dict, size: int) -> np.ndarray:
    """Static textured background, float32 ``(S, S, 3)``: a smooth random
    colour field (bilinear from a coarse grid) plus static fine grain."""
    g = p["bg_grid"]
    pos = (np.arange(size, dtype=np.float64) + 0.5) / size * (g - 1)
    lo = np.minimum(np.floor(pos).astype(int), g - 2)
    w = pos - lo
    m = np.zeros((size, g))
    m[np.arange(size), lo] = 1.0 - w
    m[np.arange(size), lo + 1] = w
    smooth = (m @ p["bg_coarse"].transpose(2, 0, 1) @ m.T).transpose(1, 2, 0)
    grain = p["rng"].uniform(-14.0, 14.0, size=(size, size, 1))
    return (smooth + grain).astype(np.float32)


def _shape_mask(shape: int, u: np.ndarray, v: np.ndarray, aspect: float) -> np.ndarray:
    """Inside-test in object coordinates (unit half-extent), boolean like ``u``."""
    if shape == 0:      # rectangle
        return (np.abs(u) <= 1.0) & (np.abs(v) <= aspect)
    if shape == 1:      # ellipse
        return u * u + (v * v) / np.float32(aspect * aspect) <= 1.0
    if shape == 2:      # triangle, apex at +u
        return (u >= -0.7) & (np.abs(v) <= (1.0 - u) * np.float32(0.75 / 1.7))
    # arrow pointing to +u: shaft and head
    shaft = (u >= -1.0) & (u <= 0.2) & (np.abs(v) <= 0.22)
    head = (u >= 0.2) & (np.abs(v) <= (1.0 - u) * np.float32(0.75 / 0.8))
    return shaft | head


# Uniform per-pixel noise in [-_NOISE_AMP, _NOISE_AMP], looked up from random bytes.
_NOISE_AMP = 5.0
_NOISE_TABLE = ((np.arange(256, dtype=np.float32) - np.float32(127.5))
                * np.float32(2.0 * _NOISE_AMP / 255.0))


def _render(params: list[dict], labels: np.ndarray, frames: int, size: int) -> np.ndarray:
    """Renders a chunk of clips to uint8 ``(n, T, S, S, 3)``."""
    n = len(params)
    traj = np.stack([_trajectory(p, int(l), frames) for p, l in zip(params, labels)])
    coord = ((np.arange(size, dtype=np.float32) + np.float32(0.5)) / np.float32(size))
    half, one = np.float32(0.5), np.float32(1.0)
    # Torus offsets of every pixel from the object centre: (n, T, 1, S) and (n, T, S, 1).
    dx = (coord[None, None, None, :] - traj[:, :, 0, None, None] + half) % one - half
    dy = (coord[None, None, :, None] - traj[:, :, 1, None, None] + half) % one - half
    c = traj[:, :, 2, None, None]
    s = traj[:, :, 3, None, None]
    inv_r = one / traj[:, :, 4, None, None]
    u = (c * dx + s * dy) * inv_r          # (n, T, S, S) object coordinates
    v = (c * dy - s * dx) * inv_r
    videos = np.empty((n, frames, size, size, 3), dtype=np.uint8)
    for k, p in enumerate(params):
        frame = _background(p, size)[None] + _NOISE_TABLE[
            p["rng"].integers(0, 256, size=(frames, size, size, 3), dtype=np.uint8)]
        inside = _shape_mask(p["shape"], u[k], v[k], p["aspect"])        # (T, S, S)
        # Two-colour stripes across the object's u axis (u + 2 > 0 inside).
        band = ((u[k][inside] + np.float32(2.0 + p["stripe_phase"]))
                * np.float32(p["stripes"])).astype(np.int32) & 1
        c1 = p["colour1"].astype(np.float32)
        colour = c1 + band[:, None].astype(np.float32) * (p["colour2"].astype(np.float32) - c1)
        alpha = np.broadcast_to(traj[k, :, 5, None, None], inside.shape)[inside][:, None]
        under = frame[inside]
        frame[inside] = under + alpha * (colour - under)
        np.clip(frame, 0.0, 255.0, out=frame)
        videos[k] = np.rint(frame).astype(np.uint8)
    return videos


def labels_for(num_clips: int, seed: int = 0, num_classes: int | None = None) -> np.ndarray:
    """Balanced labels int32 ``(num_clips,)``: each block of ``num_classes``
    consecutive clips holds every class once, in a seeded random order."""
    k = _check_num_classes(num_classes)
    labels = np.empty(num_clips, dtype=np.int32)
    for b in range(0, num_clips, k):
        perm = np.random.default_rng([seed, 1, k, b // k]).permutation(k)
        labels[b:b + k] = perm[: min(k, num_clips - b)]
    return labels


def _check_num_classes(num_classes: int | None) -> int:
    if num_classes is None:
        return len(CLASS_NAMES)
    if not 2 <= int(num_classes) <= len(CLASS_NAMES):
        raise ValueError(
            f"num_classes={num_classes!r}: must be between 2 and {len(CLASS_NAMES)}")
    return int(num_classes)


def generate(num_clips: int, frames: int = 16, size: int = 64, seed: int = 0,
             num_classes: int | None = None, start: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Generates ``num_clips`` synthetic action clips.

    Args:
      num_clips: number of clips N (>= 0).
      frames: frames per clip T (>= 2).
      size: frame side S in pixels (>= 8); frames are square.
      seed: random seed; use different seeds for train and test.
      num_classes: use only the first ``num_classes`` entries of
        ``CLASS_NAMES`` (default: all 10).
      start: index of the first clip; ``generate(n, start=a)`` equals
        ``generate(a + n)[a:]`` (for generating a large set in chunks).

    Returns:
      ``(videos, labels)``: ``videos`` uint8 ``(N, T, S, S, 3)`` RGB,
      channels-last; ``labels`` int32 ``(N,)`` in ``[0, num_classes)``,
      balanced (class counts differ by at most one).
    """
    if int(num_clips) < 0:
        raise ValueError(f"num_clips={num_clips!r}: must be >= 0")
    if int(start) < 0:
        raise ValueError(f"start={start!r}: must be >= 0")
    if int(frames) < 2:
        raise ValueError(f"frames={frames!r}: must be >= 2 (motion needs two frames)")
    if int(size) < 8:
        raise ValueError(f"size={size!r}: must be >= 8 pixels")
    num_clips, frames, size, start = int(num_clips), int(frames), int(size), int(start)
    labels = labels_for(start + num_clips, seed, num_classes)[start:]
    videos = np.empty((num_clips, frames, size, size, 3), dtype=np.uint8)
    for a in range(0, num_clips, _CHUNK):
        b = min(a + _CHUNK, num_clips)
        params = [_clip_params(seed, start + i, frames) for i in range(a, b)]
        videos[a:b] = _render(params, labels[a:b], frames, size)
    return videos, labels


def describe_size(num_train: int, num_test: int, frames: int, size: int) -> str:
    """A builder config's description, e.g. ``"2000/500 clips, 16x64x64"``."""
    return f"{num_train}/{num_test} clips, {frames}x{size}x{size}"


def split_chunks(cfg, split: str, chunk: int = _CHUNK):
    """The clips of ``split`` (``"train"``: ``cfg.num_train`` clips with
    ``TRAIN_SEED``, ``"test"``: ``cfg.num_test`` with ``TEST_SEED``) of a builder
    config with ``num_train``, ``num_test``, ``frames``, ``size`` and
    ``num_classes``, rendered ``chunk`` at a time: yields ``(names, videos,
    labels)``, videos uint8 ``(n, T, S, S, 3)``, labels int32 ``(n,)``, names
    ``synthetic_<split>_<index:06d>``."""
    if split not in SPLIT_SEEDS:
        raise ValueError(f"split={split!r}: the synthetic set has splits {sorted(SPLIT_SEEDS)}")
    num = cfg.num_train if split == "train" else cfg.num_test
    for a in range(0, num, chunk):
        videos, labels = generate(min(chunk, num - a), cfg.frames, cfg.size, SPLIT_SEEDS[split],
                                  cfg.num_classes, start=a)
        yield [f"synthetic_{split}_{a + j:06d}" for j in range(len(labels))], videos, labels

"""Channels-first 4-D operators of the deploy graph, in two layouts.

A deploy activation is an :class:`Act`: the array plus its geometry
(channels ``C``, frames ``T``, height ``H``, width ``W``), the layout, and
which 4-D *view* the array is currently stored in. Operators ask for the view
they need (:meth:`Act.view`); a view change is one ``Reshape`` from the stored
array, so switching views back and forth never stacks reshapes.

``layout="channels-major"`` (default), the memory order of PyTorch's ``NCTHW``:

* ``"seq"``    ``(N, C, T, H*W)`` -- 1x1 convs, the temporal conv and the
  temporal shift (one depthwise ``(k x 1)`` Conv each), pooling;
* ``"planes"`` ``(N, C*T, H, W)`` -- every ``1xkxk`` depthwise conv is a 2-D
  depthwise Conv with ``groups = C*T``, its kernel and bias repeated over the
  ``T`` frames (:func:`plane_kernel`; the weights grow, the arithmetic does
  not);
* ``"rows"``   ``(N, C, T*H, W)`` -- strided 1x1 convs.

``layout="frames-major"``: the order of a batch of frames ``(N, T, C, H, W)``:

* ``"planes"`` ``(N*T, C, H, W)`` -- every spatial op (1x1 and depthwise
  convs, SE's and SimAM's products) with one copy of each kernel;
* ``"seq"``    ``(N, T, C, H*W)`` -- only the temporal ops see time: the
  temporal conv as ``k`` shifted multiply-adds, the temporal shift as
  ``Slice``/``Pad``/``Concat``, clip pooling.

Kernels are ONNX ``OIHW``. Weights may be numpy arrays (closed over at export:
kernel re-layouts then happen in numpy and become initializers) or traced
arrays (jit with the weights as arguments).
"""
from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxar.ops.conv import same_pad

LAYOUTS = ("channels-major", "frames-major")
_CONV_DIMS = ("NCHW", "OIHW", "NCHW")


def check_layout(layout: str) -> str:
    if layout not in LAYOUTS:
        raise ValueError(f"deploy layout must be one of {LAYOUTS}, got {layout!r}")
    return layout


def xp_of(a):
    """numpy for concrete numpy weights (folded at trace time), else jax.numpy."""
    return np if isinstance(a, np.ndarray) else jnp


@dataclasses.dataclass(frozen=True)
class Act:
    """Activation ``data`` of ``channels`` x ``frames`` x ``height`` x ``width`` per
    clip, stored in view ``view`` of ``layout`` (see the module docstring)."""
    data: jax.Array
    channels: int
    frames: int
    height: int
    width: int
    layout: str
    view: str

    def shape_of(self, view: str) -> tuple[int, int, int, int]:
        c, t, h, w = self.channels, self.frames, self.height, self.width
        if self.layout == "channels-major":
            shapes = {"seq": (-1, c, t, h * w), "planes": (-1, c * t, h, w), "rows": (-1, c, t * h, w)}
        else:
            shapes = {"planes": (-1, c, h, w), "seq": (-1, t, c, h * w)}
        if view not in shapes:
            raise ValueError(f"{self.layout} has no view {view!r}")
        return shapes[view]

    def view_as(self, view: str) -> jax.Array:
        """The data in ``view`` (one Reshape from the stored array, or none)."""
        if view == self.view:
            return self.data
        return self.data.reshape(self.shape_of(view))

    def to(self, view: str) -> "Act":
        return self.replace(self.view_as(view), view)

    def replace(self, data: jax.Array, view: str | None = None, **geometry) -> "Act":
        return dataclasses.replace(self, data=data, view=view or self.view, **geometry)

    @property
    def channel_axis_views(self) -> tuple[str, ...]:
        """Views whose axis 1 is channels (1x1 convs, per-channel broadcasts)."""
        return ("seq", "rows") if self.layout == "channels-major" else ("planes",)


def from_frames(x: jax.Array, frames: int, layout: str) -> Act:
    """``(N*T, C, H, W)`` per-frame maps -> an :class:`Act` of ``layout``
    (channels-major: the graph's one Transpose)."""
    nt, c, h, w = x.shape
    a = Act(x, c, frames, h, w, "frames-major", "planes")
    if check_layout(layout) == "frames-major":
        return a
    seq = jnp.transpose(a.view_as("seq"), (0, 2, 1, 3))                 # (N, C, T, S)
    return Act(seq, c, frames, h, w, "channels-major", "seq")


def conv(x: jax.Array, w, b=None, stride=(1, 1), padding=((0, 0), (0, 0)), groups: int = 1,
         dilation=(1, 1)) -> jax.Array:
    """``Conv`` on an NCHW-shaped 4-D tensor; ``b`` is ``(C_out,)`` or None."""
    y = lax.conv_general_dilated(x, jnp.asarray(w, x.dtype), tuple(stride), tuple(padding),
                                 rhs_dilation=tuple(dilation), dimension_numbers=_CONV_DIMS,
                                 feature_group_count=groups)
    if b is not None:
        y = y + jnp.asarray(b, x.dtype).reshape(1, -1, 1, 1)
    return y


def dense_as_conv(w):
    """Dense kernel ``(C_in, C_out)`` -> 1x1 conv kernel ``(C_out, C_in, 1, 1)``."""
    return xp_of(w).transpose(w)[:, :, None, None]


def plane_kernel(w, frames: int):
    """``(C, ...)`` -> ``(C*T, ...)``: plane channel ``c*T + t`` gets entry ``c``."""
    return xp_of(w).repeat(w, frames, axis=0)


def _identity(x):
    return x


def pointwise(a: Act, w, b=None, stride: int = 1, act=_identity) -> Act:
    """1x1 conv ``(C_out, C_in, 1, 1)`` with optional spatial stride, bias and
    activation (applied before any later view change)."""
    cout = w.shape[0]
    if stride == 1:
        view = a.view if a.view in a.channel_axis_views else a.channel_axis_views[0]
        return a.replace(act(conv(a.view_as(view), w, b)), view, channels=cout)
    ho, wo = (math.ceil(a.height / stride), math.ceil(a.width / stride))
    if a.layout == "frames-major":
        y = conv(a.view_as("planes"), w, b, stride=(stride, stride))
        return a.replace(act(y), "planes", channels=cout, height=ho, width=wo)
    if a.height % stride == 0:           # row t*H + s*i of the (T*H, W) map is frame t's row s*i
        y = conv(a.view_as("rows"), w, b, stride=(stride, stride))
        return a.replace(act(y), "rows", channels=cout, height=ho, width=wo)
    v = a.view_as("planes")              # otherwise subsample every frame first (one Slice)
    v = lax.slice(v, (0, 0, 0, 0), v.shape, (1, 1, stride, stride))
    sub = a.replace(v, "planes", height=ho, width=wo)
    return a.replace(act(conv(sub.view_as("seq"), w, b)), "seq", channels=cout, height=ho, width=wo)


def depthwise(a: Act, w, b=None, stride: int = 1, act=_identity) -> Act:
    """``1xkxk`` depthwise conv, kernel ``(C*m, 1, k, k)`` (channel multiplier ``m``:
    output ``c*m + j`` reads input ``c``), symmetric 'same' padding, on the planes
    view; bias and activation are applied there too."""
    c, t = a.channels, a.frames
    m = w.shape[0] // c
    pad = same_pad(w.shape[-1])
    v = a.view_as("planes")
    if a.layout == "frames-major":
        y = act(conv(v, w, b, stride=(stride, stride), padding=(pad, pad), groups=c))
        return a.replace(y, "planes", channels=c * m, height=y.shape[2], width=y.shape[3])
    outs = []
    for j in range(m):                   # m == 1 for every registered variant (Ghost ratio 2)
        wj = w[j::m] if m > 1 else w
        bj = None if b is None else plane_kernel(b[j::m] if m > 1 else b, t)
        outs.append(act(conv(v, plane_kernel(wj, t), bj, stride=(stride, stride),
                             padding=(pad, pad), groups=c * t)))
    ho, wo = outs[0].shape[2], outs[0].shape[3]
    if m == 1:
        return a.replace(outs[0], "planes", height=ho, width=wo)
    # channel order j*C + c -> c*m + j (one Gather on the seq view)
    perm = np.arange(c * m).reshape(m, c).T.reshape(-1)
    seq = [o.reshape(-1, c, t, ho * wo) for o in outs]
    y = jnp.take(jnp.concatenate(seq, axis=1), perm, axis=1)
    return a.replace(y, "seq", channels=c * m, height=ho, width=wo)


def shift_time(x: jax.Array, offset: int, axis: int = 1) -> jax.Array:
    """The deploy form's one time shift: ``y[t] = x[t + offset]`` along ``axis``
    (time), zero outside the clip, as a static ``Slice`` + ``Pad`` (no
    arithmetic, so bit-exact). The training form's shift is
    :func:`jaxar.modules.temporal_shift.temporal_shift`."""
    t = x.shape[axis]
    if offset == 0:
        return x
    if abs(offset) >= t:
        return jnp.zeros_like(x)
    pads = [(0, 0)] * x.ndim
    if offset > 0:
        pads[axis] = (0, offset)
        return jnp.pad(lax.slice_in_dim(x, offset, t, axis=axis), pads)
    pads[axis] = (-offset, 0)
    return jnp.pad(lax.slice_in_dim(x, 0, t + offset, axis=axis), pads)


def shift_act(a: Act, offset: int) -> Act:
    """:func:`shift_time` of a whole activation, on its seq view
    (``(N, C, T, S)`` channels-major, ``(N, T, C, S)`` frames-major)."""
    axis = 2 if a.layout == "channels-major" else 1
    return a.replace(shift_time(a.view_as("seq"), offset, axis), "seq")


def temporal(a: Act, w, b=None, act=_identity) -> Act:
    """Depthwise temporal conv, kernel ``(k, C)``, zero padded:
    ``y[c, t] = b[c] + sum_j w[j, c] * x[c, t + j - k//2]``.

    channels-major: one depthwise ``(k x 1)`` Conv on the seq view;
    frames-major: ``k`` shifted multiply-adds on ``(N, T, C, S)``."""
    xp = xp_of(w)
    k, c = w.shape
    p = k // 2
    if a.layout == "channels-major":
        wk = xp.transpose(w).reshape(c, 1, k, 1)
        y = conv(a.view_as("seq"), wk, b, padding=((p, p), (0, 0)), groups=c)
        return a.replace(act(y), "seq")
    x = a.view_as("seq")
    y = None
    for j in range(k):
        term = shift_time(x, j - p) * jnp.asarray(w[j], x.dtype).reshape(1, 1, c, 1)
        y = term if y is None else y + term
    if b is not None:
        y = y + jnp.asarray(b, x.dtype).reshape(1, 1, c, 1)
    return a.replace(act(y), "seq")


def shift_channels(a: Act, offsets: np.ndarray) -> Act:
    """Moves channel ``c`` by ``offsets[c]`` in {-1, 0, +1} frames
    (``y[c, t] = x[c, t + offsets[c]]``, zero filled); no arithmetic.

    channels-major: one depthwise ``(3 x 1)`` Conv with one-hot taps (bit-exact:
    each output is ``1 * x`` plus exact zeros); frames-major: channel slices
    shifted in time and concatenated (``Slice``/``Pad``/``Concat``)."""
    offsets = np.asarray(offsets)
    if a.layout == "channels-major":
        taps = np.zeros((3, a.channels), np.float32)
        taps[offsets + 1, np.arange(a.channels)] = 1.0
        return temporal(a, taps)
    x = a.view_as("seq")
    parts, start = [], 0
    for stop in list(np.flatnonzero(np.diff(offsets)) + 1) + [a.channels]:
        parts.append(shift_time(lax.slice_in_dim(x, start, int(stop), axis=2), int(offsets[start])))
        start = int(stop)
    return a.replace(parts[0] if len(parts) == 1 else jnp.concatenate(parts, axis=2), "seq")


def channel_slice(a: Act, start: int, stop: int) -> Act:
    """Channels ``[start, stop)`` as one static ``Slice`` in the current view."""
    if start == 0 and stop == a.channels:
        return a
    if a.layout == "frames-major":
        axis, scale = (1, 1) if a.view == "planes" else (2, 1)
    else:
        axis, scale = 1, (a.frames if a.view == "planes" else 1)
    y = lax.slice_in_dim(a.data, start * scale, stop * scale, axis=axis)
    return a.replace(y, channels=stop - start)


def concat_channels(parts: list[Act]) -> Act:
    """Concatenation along channels, in the first part's view when it allows it
    (channels-major planes are channel-major blocks, so both views work); one
    part is returned as it is."""
    first = parts[0]
    if len(parts) == 1:
        return first
    view = first.view if first.view in ("seq", "planes") else "planes"
    axis = 2 if (first.layout == "frames-major" and view == "seq") else 1
    data = jnp.concatenate([p.view_as(view) for p in parts], axis=axis)
    return first.replace(data, view, channels=sum(p.channels for p in parts))


def add(a: Act, b: Act) -> Act:
    """Elementwise sum, in ``a``'s view."""
    return a.replace(a.data + b.view_as(a.view))


def multiply(a: Act, s: Act) -> Act:
    """``a * s`` where ``s`` has the same channels and 1x1 (per-frame: ``T``
    frames; per-clip: 1 frame) maps, broadcast over space (and time)."""
    if s.frames == 1 and a.frames > 1:
        view = "seq"                     # (N, C, T, S) * (N, C, 1, 1) / (N, T, C, S) * (N, 1, C, 1)
    else:
        view = a.view if a.view in ("seq", "planes") else "seq"
    return a.replace(a.view_as(view) * s.view_as(view), view)


def add_channel_bias(a: Act, b) -> Act:
    """``a + b[c]`` per channel."""
    view = a.view
    x = a.data
    if a.layout == "frames-major":
        shape = (1, -1, 1, 1) if view == "planes" else (1, 1, -1, 1)
    else:
        if view == "planes":
            b = plane_kernel(b, a.frames)
        shape = (1, -1, 1, 1)
    return a.replace(x + jnp.asarray(b, x.dtype).reshape(shape))


def apply(a: Act, fn) -> Act:
    """An elementwise function, in the current view."""
    return a.replace(fn(a.data))


def spatial_mean(a: Act) -> Act:
    """Mean over each frame's ``H x W`` -> per-frame 1x1 maps (a 1x1 map is
    returned as it is)."""
    if a.height == a.width == 1:
        return a
    if a.layout == "channels-major" and a.view != "planes":
        y = jnp.mean(a.view_as("seq"), axis=3, keepdims=True)            # (N, C, T, 1)
        return a.replace(y, "seq", height=1, width=1)
    y = jnp.mean(a.view_as("planes"), axis=(2, 3), keepdims=True)
    return a.replace(y, "planes", height=1, width=1)


def clip_mean(a: Act) -> Act:
    """Mean over ``T x H x W`` -> one 1x1 map per clip (``frames == 1``)."""
    if a.layout == "channels-major":
        y = jnp.mean(a.view_as("seq"), axis=(2, 3), keepdims=True)       # (N, C, 1, 1)
    else:
        y = jnp.mean(a.view_as("seq"), axis=(1, 3), keepdims=True)       # (N, 1, C, 1)
    return a.replace(y, "seq", frames=1, height=1, width=1)


def pooled_vector(a: Act) -> jax.Array:
    """Mean over ``T x H x W`` as ``(N, C)``."""
    return clip_mean(a).view_as("seq").reshape(-1, a.channels)


def reduce_axes(a: Act, over_time: bool) -> tuple[jax.Array, tuple[int, ...], str]:
    """``(data, axes, view)`` for a per-channel reduction over space (and time)."""
    if not over_time:
        if a.view == "planes":
            return a.data, (2, 3), "planes"
        return a.view_as("seq"), (3,), "seq"
    return a.view_as("seq"), ((2, 3) if a.layout == "channels-major" else (1, 3)), "seq"


def dense(x: jax.Array, w, b=None) -> jax.Array:
    """``(B, C_in) @ (C_in, C_out) + b``: a 2-D GEMM."""
    y = jnp.dot(x, jnp.asarray(w, x.dtype))
    if b is not None:
        y = y + jnp.asarray(b, x.dtype)
    return y

"""Earlier forms of the ``"shifted"`` training step, for before/after timings only.

The library has one behaviour per configuration: ``impl="shifted"`` always
uses the hand-written gradients of :mod:`jaxar.ops.shifted`, sums the kernel
gradients' per-tap products in chunks (:func:`jaxar.ops.shifted.tap_sums`),
and every X3D-UGT block shifts the pre-depthwise conv's *output* in time.
The benchmarks still compare against the forms that came before; this module
puts them back for the duration of a ``with`` block (while a step is traced
and compiled; the compiled program keeps them):

* ``autodiff``: the same shifted forward, differentiated by JAX
  (the undecorated forward of each ``custom_vjp``);
* ``per_tap``: the hand-written gradients, one full reduction per kernel tap
  (:func:`jaxar.ops.shifted.tap_sums_per_tap`);
* ``shift_first``: each block shifts its *input* before the pre-depthwise conv
  (a Flax method interceptor shifts that conv's input, and the block's own
  shift of the conv's output is skipped).

All three compute the same maths; ``bench_formulations.py`` prints each form's
loss next to the first form's so a broken substitution shows in its output.
"""
from __future__ import annotations

import contextlib
from unittest import mock

import flax.linen as nn

from jaxar.modules import uib
from jaxar.ops import shifted

FORMS = {                       # benchmark name -> the older choices it puts back
    "shifted-autodiff": ("autodiff",),
    "shifted-per-tap": ("per_tap",),
    "shifted-shift-first": ("shift_first",),
    "shifted-original": ("per_tap", "shift_first"),   # the "shifted" step issue 10 measured
}


def _per_tap(windows, g, axis):
    return shifted.tap_sums_per_tap(windows, g)


@contextlib.contextmanager
def _shift_first():
    conv_outputs = []           # pre-depthwise conv outputs traced in this block

    def interceptor(next_fun, args, kwargs, context):
        m = context.module
        if context.method_name == "__call__" and m.name == "pre_dw" and isinstance(m.parent, uib.UIB3D):
            y = next_fun(uib.temporal_shift(args[0], m.parent.shift_div), *args[1:], **kwargs)
            conv_outputs.append(y)
            return y
        return next_fun(*args, **kwargs)

    library_shift = uib.temporal_shift

    def shift(h, div):
        if any(h is y for y in conv_outputs):      # already shifted before the conv
            return h
        return library_shift(h, div)

    with nn.intercept_methods(interceptor), mock.patch.object(uib, "temporal_shift", shift):
        yield


@contextlib.contextmanager
def old_form(name: str):
    """Puts back the older choices of benchmark form ``name`` (a key of
    :data:`FORMS`); any other name changes nothing."""
    choices = FORMS.get(name, ())
    with contextlib.ExitStack() as stack:
        if "autodiff" in choices:
            stack.enter_context(mock.patch.object(shifted, "depthwise_spatial", shifted.depthwise_spatial.fun))
            stack.enter_context(mock.patch.object(shifted, "depthwise_temporal", shifted.depthwise_temporal.fun))
        if "per_tap" in choices:
            stack.enter_context(mock.patch.object(shifted, "tap_sums", _per_tap))
        if "shift_first" in choices:
            stack.enter_context(_shift_first())
        yield

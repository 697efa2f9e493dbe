"""The TFLite route (jax2tf SavedModel -> TFLite -> tf2onnx) needs the group
post-pass for grouped 3-D convs: real TF, TFLite, tf2onnx and onnxruntime."""
import jax
import numpy as np
import onnxruntime as ort
import pytest
from jax import lax

from export.onnx_tflite import export_via_tflite
from export.savedmodel import SavedModelRunner, write_savedmodel

pytestmark = pytest.mark.slow


def test_tflite_route_fixes_depthwise_conv3d_groups(tmp_path):
    c = 6
    w = np.random.default_rng(0).normal(size=(3, 1, 1, 1, c)).astype(np.float32)   # DHWIO, depthwise

    def fn(x):                                     # (N, T, H, W, C) depthwise temporal conv
        return lax.conv_general_dilated(x, w, (1, 1, 1), ((1, 1), (0, 0), (0, 0)),
                                        dimension_numbers=("NDHWC", "DHWIO", "NDHWC"),
                                        feature_group_count=c)

    x = np.random.default_rng(1).normal(size=(1, 4, 5, 5, c)).astype(np.float32)
    ref = np.asarray(jax.jit(fn)(x))
    sm = write_savedmodel(fn, x.shape, tmp_path / "sm")
    np.testing.assert_allclose(SavedModelRunner(sm)(x), ref, atol=1e-5)
    model, log = export_via_tflite(sm, tmp_path / "m.onnx")
    assert log and "group 1 -> 6" in log[0], "the tf2onnx group trap did not show up"
    sess = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    out = sess.run(None, {sess.get_inputs()[0].name: x})[0]
    np.testing.assert_allclose(out, ref, atol=1e-5)

"""The deploy form's ONNX graph in both layouts (jax2onnx, tiny shapes):
checker, strict TensorRT allow-list, ONNX Runtime == the JAX deploy form, and
the lean-graph properties (channels-major: the temporal shift is a Conv, BN
shifts sit in Conv biases, no reshape chains; frames-major: no Transpose and
one copy of each kernel)."""
import jax
import numpy as np
import onnx
import pytest

from export.allowlist import op_histogram, validate_for_tensorrt
from export.onnx_jax2onnx import export_jax2onnx
from export.runtimes import OrtRunner
from jaxar.deploy import LAYOUTS, DeployModel
from jaxar.demo_variables import realistic_variables
from jaxar.registry import create_config


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """``(cfg, x, {layout: (DeployModel, onnx model, path)})``, each layout exported once."""
    cfg = create_config("x3d_ugt").small()
    variables = jax.tree_util.tree_map(np.asarray, realistic_variables(cfg, seed=4))
    x = np.random.default_rng(5).normal(size=(1, cfg.frames, 3, cfg.size, cfg.size)).astype(np.float32)
    out = {}
    for layout in LAYOUTS:
        path = tmp_path_factory.mktemp("onnx") / f"{layout}.onnx"
        dm = DeployModel.from_variables(cfg, variables, layout=layout)
        model = export_jax2onnx(dm.as_function(), (1, cfg.frames, 3, cfg.size, cfg.size), path)
        out[layout] = (dm, model, path)
    return cfg, x, out


def _weights(model) -> int:
    return sum(int(np.prod(i.dims)) for i in model.graph.initializer
               if i.data_type == onnx.TensorProto.FLOAT)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_deploy_onnx_layout(exported, layout):
    cfg, x, graphs = exported
    dm, model, path = graphs[layout]
    onnx.checker.check_model(model, full_check=True)
    assert validate_for_tensorrt(model, strict_deploy=True) == []
    np.testing.assert_allclose(OrtRunner(path)(x), np.asarray(dm(x)), atol=1e-4, rtol=1e-4)
    ops = op_histogram(model)
    blocks = sum(cfg.depths)
    if layout == "channels-major":
        assert ops.get("Transpose", 0) == 1
        assert ops.get("Slice", 0) == 0 and ops.get("Pad", 0) == 0, ops     # shift = one-hot Conv
        # a view change is one Reshape from the stored tensor: never Reshape -> Reshape
        producer = {o: n for n in model.graph.node for o in n.output}
        chained = [n.name for n in model.graph.node if n.op_type == "Reshape"
                   and getattr(producer.get(n.input[0]), "op_type", None) == "Reshape"]
        assert not chained, chained
        # Adds: residuals, TAda's BN shift, SimAM's two; BN shifts and biases live in Convs
        tada = sum(min(cfg.tada_blocks, cfg.depths[s - 1]) for s in cfg.tada_stages)
        assert ops["Add"] == blocks + tada + 2 * len(cfg.simam_stages), ops
    else:
        assert ops.get("Transpose", 0) == 0
        # one copy of each kernel: the depthwise Conv weights are not repeated per frame
        inits = {i.name: i for i in model.graph.initializer}
        for n in model.graph.node:
            if n.op_type == "Conv":
                group = next((a.i for a in n.attribute if a.name == "group"), 1)
                assert group == 1 or inits[n.input[1]].dims[0] // group <= cfg.ghost_ratio


def test_frames_major_stores_each_kernel_once(exported):
    """Weights: channels-major repeats every spatial depthwise kernel over the T
    frames; frames-major stores each once (about the deploy tree's size)."""
    cfg, _, graphs = exported
    sizes = {layout: _weights(model) for layout, (_, model, _) in graphs.items()}
    num_params = graphs["frames-major"][0].num_params
    assert sizes["frames-major"] < 0.8 * sizes["channels-major"], sizes
    assert sizes["frames-major"] <= num_params * 1.05, (sizes, num_params)

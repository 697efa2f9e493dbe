"""impl="auto": per-backend resolution, config validation, and equality with the resolved model."""
import jax
import numpy as np
import pytest

from jaxar.models.x3d_ugt import X3DUGTConfig
from jaxar.initialization import init_variables
from jaxar.ops import conv as ops
from jaxar.ops.formulation import AUTO_IMPL, IMPLS, resolve_impl
from jaxar.registry import create_model
from jaxar.train.config import default_config, model_config


def test_auto_is_the_default_everywhere_a_model_is_configured():
    assert X3DUGTConfig().impl == "auto"
    assert model_config(default_config()).impl == "auto"          # a run config's model section


@pytest.mark.parametrize("backend,expected", [("cpu", "shifted"), ("gpu", "lowered"),
                                              ("cuda", "lowered"), ("rocm", "lowered"),
                                              ("tpu", "lowered"), ("metal", "lowered")])
def test_auto_resolves_per_backend(backend, expected):
    assert resolve_impl("auto", backend) == expected


def test_auto_uses_the_default_backend_and_explicit_choices_pass_through():
    assert resolve_impl("auto") == AUTO_IMPL[jax.default_backend()]
    for impl in IMPLS:
        assert resolve_impl(impl, "cpu") == impl
        assert resolve_impl(impl, "gpu") == impl


def test_bad_impl_is_rejected_by_config_and_ops():
    with pytest.raises(ValueError, match="impl must be one of"):
        X3DUGTConfig(impl="fast")
    with pytest.raises(ValueError, match="impl must be one of"):
        resolve_impl("Auto")
    with pytest.raises(ValueError, match="impl"):
        ops.spatial_conv(np.zeros((1, 1, 4, 4, 2), np.float32), np.zeros((3, 3, 1, 2), np.float32),
                         1, 2, "cudnn")


def test_auto_model_is_the_resolved_model():
    """Same parameter tree and bit-identical train-mode outputs as the explicit formulation."""
    x = jax.random.normal(jax.random.PRNGKey(1), (1, 4, 32, 32, 3))
    auto = create_model("x3d_ugt_tiny", frames=4, size=32)
    assert auto.config.impl == "auto"
    explicit = create_model("x3d_ugt_tiny", frames=4, size=32, impl=resolve_impl("auto"))
    v = init_variables(auto, jax.random.PRNGKey(0), x)
    v2 = init_variables(explicit, jax.random.PRNGKey(0), x)
    assert jax.tree_util.tree_structure(v) == jax.tree_util.tree_structure(v2)

    def run(model):
        return jax.jit(lambda v, x: model.apply(v, x, train=True, mutable=["batch_stats"],
                                                rngs={"dropout": jax.random.PRNGKey(2)}))(v, x)

    (ya, sa), (yb, sb) = run(auto), run(explicit)
    np.testing.assert_array_equal(np.asarray(ya), np.asarray(yb))
    for a, b in zip(jax.tree_util.tree_leaves(sa), jax.tree_util.tree_leaves(sb)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))

"""Shared helpers of the EAN tests: trained-looking variables without a jitted init.

``perturbed_variables`` draws every EAN variable with numpy from the shapes of
``jax.eval_shape(model.init)`` (tracing only; a jitted init of the network
compiles for about a minute on a loaded CPU): kernels ``N(0, 1/fan_in)``, BN
statistics and affines away from their initial values, biases non-zero,
so BN folding or a dropped branch would change the logits far beyond the
tolerances. The zero-initialised residual convs are non-zero here.
"""
import functools

import jax
import jax.numpy as jnp
import numpy as np

from jaxar.initialization import fast_compile_options


def _value(path, shape, rng):
    name = path[-1]
    if path[0] == "batch_stats":
        return rng.normal(0.0, 0.3, shape) if name == "mean" else rng.uniform(0.5, 2.0, shape)
    if name == "scale":                                  # BN / LayerNorm scale
        return rng.uniform(0.6, 1.3, shape)
    if name == "bias":
        return rng.normal(0.0, 0.2, shape)
    if name == "pos_embedding":
        return rng.normal(0.0, 0.5, shape)
    if name == "kernel":
        if len(shape) == 2 and path[-2] == "t_conv":     # (k, C) channel-wise temporal
            fan_in = shape[0]
        else:
            fan_in = int(np.prod(shape[:-1])) if len(shape) > 1 else 1
        return rng.normal(0.0, 1.0 / np.sqrt(max(fan_in, 1)), shape)
    raise ValueError(f"no test value for {'/'.join(path)}")


def variable_shapes(cfg, batch=1):
    model = cfg.build()
    x = jax.ShapeDtypeStruct((batch, *cfg.input_shape), jnp.float32)
    return jax.eval_shape(lambda x: model.init(jax.random.PRNGKey(0), x), x)


def perturbed_variables(cfg, seed=0):
    rng = np.random.default_rng(seed)

    def visit(path, leaf):
        keys = tuple(str(getattr(p, "key", p)) for p in path)
        return jnp.asarray(_value(keys, tuple(leaf.shape), rng), jnp.float32)
    variables = jax.tree_util.tree_map_with_path(visit, dict(variable_shapes(cfg)))
    fc = variables["params"]["fc"]                       # spread logits: top-1 is meaningful
    fc["kernel"] = fc["kernel"] * 5.0
    return variables


@functools.lru_cache(maxsize=None)
def eval_fn(cfg):
    """Jitted eval-mode forward of ``cfg`` (cheap XLA settings: compiled once, run a few times)."""
    model = cfg.build()
    return jax.jit(lambda v, x: model.apply(v, x, train=False), compiler_options=fast_compile_options())


def perturbed_module_variables(module, x, seed=0, **kwargs):
    """:func:`perturbed_variables` for a single module applied to ``x``."""
    rng = np.random.default_rng(seed)
    shapes = jax.eval_shape(lambda x: module.init(jax.random.PRNGKey(0), x, **kwargs), x)

    def visit(path, leaf):
        keys = tuple(str(getattr(p, "key", p)) for p in path)
        return jnp.asarray(_value(keys, tuple(leaf.shape), rng), jnp.float32)
    return jax.tree_util.tree_map_with_path(visit, dict(shapes))


@functools.lru_cache(maxsize=None)
def deploy_fn(cfg, layout="frames-major"):
    """Jitted deploy-form forward ``(params, x (N, T, 3, H, W)) -> logits`` of ``cfg``
    (cheap XLA settings, like :func:`eval_fn`)."""
    model = cfg.build()
    return jax.jit(lambda p, x: model.deploy_apply(p, x, layout), compiler_options=fast_compile_options())

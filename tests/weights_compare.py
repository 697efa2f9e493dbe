"""The imported-weights comparison the weights tests share: run a config's
jaxar model on imported variables and compare its eval logits with the
PyTorch source network's (``tests/test_weights_*.py``).

PyTorch is imported only inside :func:`torch_logits` (the tests skip without it).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxar.initialization import fast_compile_options, init_variables
from jaxar.weights import merge

RTOL = 1e-4          # max relative logit error of a correct import
CLASSES = 5
_APPLY = {}


def clips(cfg, seed=0) -> np.ndarray:
    """Two random clips ``(2, T, S, S, 3)`` float32 of ``cfg``'s input shape."""
    return np.random.default_rng(seed).normal(size=(2, *cfg.input_shape)).astype(np.float32)


def torch_logits(net, x) -> np.ndarray:
    """Eval logits of the PyTorch network ``net`` on its layout of the clips ``x``."""
    import torch
    with torch.no_grad():
        return net(x).numpy()


def jax_logits(cfg, imported, x):
    """``(logits, variables)`` of ``cfg``'s model with the imported variables
    (merged into a fresh init when some leaves keep their initialisation)."""
    model = cfg.build()
    if imported.report.kept_init:
        v = merge(init_variables(model, jax.random.PRNGKey(0), jnp.asarray(x[:1])), imported)
    else:                                  # every leaf imported: no init needed
        v = imported.variables
    key = repr(cfg)
    if key not in _APPLY:
        _APPLY[key] = jax.jit(lambda v, x: model.apply(v, x, train=False),
                              compiler_options=fast_compile_options())
    return np.asarray(_APPLY[key](v, jnp.asarray(x))), v


def rel_err(a, b) -> float:
    return float(np.abs(a - b).max() / np.abs(b).max())


def import_and_compare(path, cfg, fmt: str, x, want, label: str):
    """Imports ``path`` into ``cfg`` (format auto-detected, must be ``fmt``) and
    checks jaxar's logits on ``x`` against ``want`` to ``RTOL``; returns the import."""
    from jaxar.weights import import_weights
    imp = import_weights(path, cfg)
    assert imp.report.format == f"{fmt} (auto-detected)", imp.report.format
    err = logit_error(cfg, imp, x, want, label)
    assert err <= RTOL, (label, err)
    return imp


def logit_error(cfg, imported, x, want, label: str) -> float:
    """Max relative error of jaxar's logits vs ``want`` (printed with ``label``)."""
    got, _ = jax_logits(cfg, imported, x)
    err = rel_err(got, want)
    print(f"{label}: max rel logit error {err:.2e}")
    return err

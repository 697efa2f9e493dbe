"""Model complexity: parameters and multiply-adds per stage, no compute.

Both counts come from tracing under ``jax.eval_shape``, so a full-size
profile (1x16x224x224) costs a second of tracing.  MACs follow the fvcore /
X3D convention (convs and dense layers only; see :mod:`jaxar.macs`).
"""
from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from jaxar import macs


@dataclasses.dataclass
class Profile:
    rows: list[dict]          # one per top-level part: name, params, macs
    params: int
    macs: int
    batch_stats: int
    input_shape: tuple[int, ...]

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def _group(path: tuple[str, ...]) -> str:
    top = path[0] if path else "?"
    if top.startswith("stage"):
        return top
    return {"stem": "stem", "stem_bn": "stem", "head_proj": "head", "classifier": "head",
            "bn1": "conv1"}.get(top, top)            # bn1: torchvision-named stems (EAN)


def init_shapes(config, batch: int = 1):
    """``jax.eval_shape`` of ``model.init``; returns (variables, mac records).

    ``config``: any model config (see :mod:`jaxar.models.base`)."""
    model = config.build()
    x = jax.ShapeDtypeStruct((batch, *config.input_shape), jnp.float32)
    with macs.counting() as records:
        variables = jax.eval_shape(lambda x: model.init(jax.random.PRNGKey(0), x, train=False), x)
    return variables, records


def profile(config, batch: int = 1) -> Profile:
    """Per-part counts; parts (``stem``, ``stage<s>``, ``head``, or a model's
    other top-level modules) are listed in execution order."""
    variables, records = init_shapes(config, batch)
    mac: dict[str, int] = {}
    for path, n in records:                       # records come in execution order
        mac[_group(path)] = mac.get(_group(path), 0) + n
    params = dict.fromkeys(mac, 0)
    for path, leaf in jax.tree_util.tree_leaves_with_path(variables["params"]):
        key = _group(tuple(p.key for p in path))
        params[key] = params.get(key, 0) + int(np.prod(leaf.shape))
    order = list(params)
    mac = {k: mac.get(k, 0) for k in order}
    stats = sum(int(np.prod(l.shape)) for l in jax.tree_util.tree_leaves(variables.get("batch_stats", {})))
    rows = [{"name": k, "params": params[k], "macs": mac[k]} for k in order]
    return Profile(rows, sum(params.values()), sum(mac.values()), stats,
                   (batch, *config.input_shape))

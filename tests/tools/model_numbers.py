"""Records the numbers a refactor must not change, and compares two records.

    python tests/tools/model_numbers.py record before.json [VARIANT ...]
    python tests/tools/model_numbers.py compare before.json after.json

For every registered variant (or those named): at full size, parameters,
multiply-adds, BN statistics and the per-part rows of
:func:`jaxar.complexity.profile`, and a digest of the parameter tree's paths
and shapes (``jax.eval_shape``); at ``config.small()``, a digest of a fixed
PRNG init and its sum of magnitudes, and the logits of the training form and
of the deploy form in each layout for :func:`jaxar.demo_variables.realistic_variables`
(seed 0) on a fixed input. ``compare`` requires the counts and digests to be
equal and the logits to agree within 1e-6, and exits 1 otherwise.
"""
from __future__ import annotations

import hashlib
import json
import sys


def _tree_digest(tree) -> list:
    import jax
    items = sorted((jax.tree_util.keystr(p), tuple(leaf.shape))
                   for p, leaf in jax.tree_util.tree_leaves_with_path(tree))
    return [hashlib.sha256(repr(items).encode()).hexdigest(), len(items)]


def record(names: list[str]) -> dict:
    import jax
    import jax.numpy as jnp
    import numpy as np

    from jaxar.complexity import init_shapes, profile
    from jaxar.demo_variables import realistic_variables
    from jaxar.deploy import LAYOUTS, DeployModel
    from jaxar.registry import create_config, list_variants

    out = {}
    for name in names or list_variants():
        cfg = create_config(name)
        prof = profile(cfg)
        rec = {"params": prof.params, "macs": prof.macs, "batch_stats": prof.batch_stats,
               "rows": prof.rows, "full_tree": _tree_digest(init_shapes(cfg)[0])}
        small = cfg.small()
        model = small.build()
        x = jax.random.normal(jax.random.PRNGKey(7), (2, *small.input_shape), jnp.float32)
        v = realistic_variables(small, 0)
        rec["train_logits"] = np.asarray(jax.jit(lambda v, x: model.apply(v, x, train=False))(v, x)).tolist()
        for layout in LAYOUTS:
            dm = DeployModel.from_variables(small, v, layout=layout)
            rec[f"deploy_{layout}"] = np.asarray(dm.apply_channels_last(x)).tolist()
            rec[f"deploy_tree_{layout}"] = _tree_digest(dm.params)
            rec["deploy_num_params"] = dm.num_params
        init = model.init(jax.random.PRNGKey(0), x[:1], train=False)
        rec["init_tree"] = _tree_digest(init)
        rec["init_sum"] = float(sum(float(jnp.sum(jnp.abs(leaf))) for leaf in jax.tree_util.tree_leaves(init)))
        out[name] = rec
        print(name, prof.params, prof.macs, flush=True)
    return out


LOGITS = ("train_logits", "deploy_channels-major", "deploy_frames-major")


def compare(before: dict, after: dict, atol: float = 1e-6) -> list[str]:
    """Differences between two records (empty: identical within ``atol``)."""
    import numpy as np
    problems = []
    for name, a in before.items():
        b = after.get(name)
        if b is None:
            problems.append(f"{name}: missing after")
            continue
        for key, va in a.items():
            vb = b.get(key)
            if key in LOGITS:
                d = float(np.max(np.abs(np.asarray(va) - np.asarray(vb))))
                if d > atol:
                    problems.append(f"{name}: {key} differs by {d:.3g}")
            elif key == "init_sum":
                if abs(va - vb) > 1e-5 * abs(va):
                    problems.append(f"{name}: init_sum {va} -> {vb}")
            elif va != vb:
                problems.append(f"{name}: {key} {va} -> {vb}")
    return problems


def main(argv: list[str]) -> int:
    if len(argv) >= 2 and argv[0] == "record":
        from jaxar.runtime.files import atomic_write_json
        atomic_write_json(argv[1], record(argv[2:]))
        return 0
    if len(argv) == 3 and argv[0] == "compare":
        before, after = (json.load(open(p)) for p in argv[1:])
        problems = compare(before, after)
        print("\n".join(problems) or f"{len(before)} variants: identical (logits within 1e-6)")
        return 1 if problems else 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""What the CD-KD pseudo-decoder and attention gate would cost at inference.

For each CD-KD student variant at its full input (T x S^2), the FLOPs of the
forward pass from XLA's cost analysis of the lowered program (no compile):
the inference graph (the three streams + the FC fusion, what the deploy form
and the ONNX export hold) against the forward with ``return_features=True``
(+ pseudo-decoder and attention gate), and the parameter counts of each part.
A raw-frame reference (the teacher family at the same input) is measured in
the same run. Prints a markdown table; ``--json PATH`` writes the rows.

    python benchmarks/bench_cdkd_cost.py [--variants cdkd_tsm_resnet50 cdkd_mobilenetv2]
"""
from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
import numpy as np

from jaxar.models.cdkd import MODALITIES
from jaxar.registry import create_config

REFERENCES = {"cdkd_tsm_resnet50": "tsm_resnet50", "cdkd_mobilenetv2": "x3d_ugt"}


def flops(fn, *args) -> float:
    cost = jax.jit(fn).lower(*args).cost_analysis()
    cost = cost[0] if isinstance(cost, (list, tuple)) else cost
    return float(cost["flops"])


def count(tree) -> int:
    return sum(int(np.prod(x.shape)) for x in jax.tree.leaves(tree))


def measure(name: str, num_classes: int) -> dict:
    cfg = create_config(name, num_classes=num_classes)
    model = cfg.build()
    x = {m: jax.ShapeDtypeStruct((1, *s), jnp.float32) for m, s in cfg.input_shapes.items()}
    v = jax.eval_shape(lambda x: model.init(jax.random.PRNGKey(0), x), x)
    infer = flops(lambda v, x: model.apply(v, x), v, x)
    train = flops(lambda v, x: model.apply(v, x, return_features=True), v, x)
    heads = {k: count(v["params"][k]) for k in ("pseudo_decoder", "attention_gate")}
    ref_name = REFERENCES.get(name)
    ref = {}
    if ref_name:
        rcfg = create_config(ref_name, num_classes=num_classes, frames=cfg.frames, size=cfg.size)
        rmodel = rcfg.build()
        rx = jax.ShapeDtypeStruct((1, *rcfg.input_shape), jnp.float32)
        rv = jax.eval_shape(lambda x: rmodel.init(jax.random.PRNGKey(0), x), rx)
        ref = {"reference": ref_name, "reference_gflops": flops(lambda v, x: rmodel.apply(v, x), rv, rx) / 1e9,
               "reference_params": count(rv["params"])}
    return {"variant": name, "input": f"{cfg.frames}x{cfg.size}^2",
            "streams_params": sum(count(v["params"][m]) for m in MODALITIES),
            "decoder_params": heads["pseudo_decoder"], "gate_params": heads["attention_gate"],
            "inference_gflops": infer / 1e9, "with_decoder_gflops": train / 1e9, **ref}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument("--variants", nargs="+", default=["cdkd_tsm_resnet50", "cdkd_mobilenetv2"])
    ap.add_argument("--num-classes", type=int, default=174)
    ap.add_argument("--json", help="write the rows here")
    args = ap.parse_args(argv)
    rows = [measure(n, args.num_classes) for n in args.variants]
    print("| variant | input | streams params (M) | decoder+gate params (M) | inference GFLOPs "
          "| + decoder/gate GFLOPs | raw-frame reference GFLOPs |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        ref = f"{r['reference']}: {r['reference_gflops']:.2f}" if "reference" in r else "-"
        print(f"| {r['variant']} | {r['input']} | {r['streams_params'] / 1e6:.2f} | "
              f"{(r['decoder_params'] + r['gate_params']) / 1e6:.2f} | {r['inference_gflops']:.2f} | "
              f"{r['with_decoder_gflops']:.2f} | {ref} |")
    if args.json:
        from jaxar.runtime.files import atomic_write_json
        atomic_write_json(args.json, {"num_classes": args.num_classes, "rows": rows,
                                      "flops": "XLA cost analysis of the lowered program (2 per multiply-add)"})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

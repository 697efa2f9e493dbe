"""``python -m jaxar.weights``: look into checkpoint files, export X3D-UGT to PyTorch.

    python -m jaxar.weights inspect FILE [--variant NAME [--num-classes K] [--format F]] [--keys]
        what FILE holds (container, tensor count, parameters), the source format it
        is read as and the jaxar family it maps to; with --variant, the full import
        report against that model (or every missing/unexpected/mismatched key).
    python -m jaxar.weights to-torch --checkpoint RUN --out model.pt|model.safetensors
        an X3D-UGT training run (work directory or step directory) as a state dict
        for the project's PyTorch reference (jaxar/weights/torch_x3d_ugt.py):
        ``X3DUGT(cfg).load_state_dict(torch.load("model.pt"))``.
"""
from __future__ import annotations

import argparse
import sys
from collections import Counter

import numpy as np


def _inspect(a) -> int:
    from jaxar.weights import formats
    from jaxar.weights.load import import_state_dict
    from jaxar.weights.readers import read_state_dict
    sd = read_state_dict(a.file)
    n = sum(int(np.prod(v.shape)) for v in sd.tensors.values())
    print(f"{sd.path}: {sd.kind} file, {len(sd.tensors)} tensors, {n:,} values"
          + (f", unwrapped from '{sd.container}'" if sd.container else ""))
    try:
        fmt = formats.detect_format(sd) if a.format == "auto" else a.format
        print(f"format: {fmt}{' (auto-detected)' if a.format == 'auto' else ''}; maps to: "
              f"{formats.describe_family(sd, fmt)}")
    except ValueError as e:
        print(f"format: unknown ({e})")
    groups = Counter(k.split(".")[0] for k in sd.tensors)
    print("top-level names: " + ", ".join(f"{k} ({c})" for k, c in groups.most_common()))
    if a.keys:
        for k, v in sd.tensors.items():
            print(f"  {k} {tuple(v.shape)} {v.dtype}")
    if a.variant:
        from jaxar.registry import create_config
        fields = {"num_classes": a.num_classes} if a.num_classes else {}
        imp = import_state_dict(sd, create_config(a.variant, **fields), a.format)
        print(imp.report.summary())
    return 0


def _to_torch(a) -> int:
    from jaxar.checkpoint import restore_inference
    from jaxar.registry import model_family
    from jaxar.weights.readers import write_state_dict
    from jaxar.weights.x3d_ugt import export_state_dict
    bundle = restore_inference(a.checkpoint)
    family = model_family(bundle.config)
    if family != "x3d_ugt":
        raise SystemExit(f"to-torch: {a.checkpoint} holds a {family} model; the PyTorch export "
                         f"covers X3D-UGT (the project's reference jaxar/weights/torch_x3d_ugt.py)")
    state = export_state_dict(bundle.variables)
    path = write_state_dict(state, a.out)
    n = sum(int(np.prod(v.shape)) for k, v in state.items() if not k.endswith("num_batches_tracked"))
    print(f"wrote {path}: {len(state)} tensors ({n:,} values) from {bundle.origin} (step {bundle.step}); "
          f"load with jaxar/weights/torch_x3d_ugt.py X3DUGT(cfg).load_state_dict(...)")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m jaxar.weights", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    i = sub.add_parser("inspect", help="what a checkpoint file holds and which family it maps to")
    i.add_argument("file")
    i.add_argument("--format", default="auto", help="auto (default) or a source format")
    i.add_argument("--variant", help="also import into this jaxar variant and print the report")
    i.add_argument("--num-classes", type=int, help="the variant's class count (default: its own)")
    i.add_argument("--keys", action="store_true", help="list every tensor")
    t = sub.add_parser("to-torch", help="X3D-UGT run -> state dict for the PyTorch reference")
    t.add_argument("--checkpoint", required=True, help="training work directory or step directory")
    t.add_argument("--out", required=True, help="model.pt / model.pth (torch.save) or model.safetensors")
    a = ap.parse_args(argv)
    try:
        return _inspect(a) if a.cmd == "inspect" else _to_torch(a)
    except (ValueError, FileNotFoundError, ImportError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())

"""Inspect a prepared dataset: ``python -m data_pipelines.inspect_dataset``.

Prints example counts per split and class, the full-frame-fallback counts and
skipped samples recorded at preparation, and writes a contact sheet PNG:
one row per sampled clip, columns spread uniformly over its stored frames;
the tight person box (from the skeleton / box file) is drawn in green,
mapped into the stored crop; fallback crops get a red frame.

Example::

    python -m data_pipelines.inspect_dataset ntu_rgbd/ntu60_xsub --data_dir /data/tfds \\
        --split train --clips 8 --out ntu60_xsub_train.png
"""
from __future__ import annotations

import argparse
import collections
import sys

import numpy as np


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m data_pipelines.inspect_dataset",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("dataset", help="e.g. ntu_rgbd/ntu60_xsub, video_folder, synthetic_actions/small")
    p.add_argument("--data_dir", default=None)
    p.add_argument("--split", default=None, help="split for the contact sheet (default: first)")
    p.add_argument("--clips", type=int, default=8, help="clips on the contact sheet")
    p.add_argument("--frames", type=int, default=6, help="frames per clip on the sheet")
    p.add_argument("--seed", type=int, default=0, help="which clips are sampled")
    p.add_argument("--out", default=None, help="PNG path (default: <dataset>_<split>.png)")
    p.add_argument("--no_counts", action="store_true", help="skip the per-class count pass")
    return p.parse_args(argv)


def class_counts(builder, split: str) -> collections.Counter:
    """Label counts of a split, reading only the label of each record."""
    import tensorflow_datasets as tfds
    src = builder.as_data_source(split, deserialize_method=tfds.decode.DeserializeMethod.DESERIALIZE_NO_DECODE)
    counts: collections.Counter = collections.Counter()
    for i in range(len(src)):
        counts[int(src[i].features.feature["label"].int64_list.value[0])] += 1
    return counts


def box_in_crop(box, crop_box, out_w: int, out_h: int):
    """Maps a source-pixel box into stored-frame pixels of the crop ``crop_box``."""
    sx = out_w / (crop_box[2] - crop_box[0])
    sy = out_h / (crop_box[3] - crop_box[1])
    return ((box[0] - crop_box[0]) * sx, (box[1] - crop_box[1]) * sy,
            (box[2] - crop_box[0]) * sx, (box[3] - crop_box[1]) * sy)


def contact_sheet(examples, frames_per_clip: int, path: str, title: str) -> None:
    """Writes the PNG contact sheet for decoded examples (dicts from the data source)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.patches as patches
    import matplotlib.pyplot as plt

    rows = max(len(examples), 1)
    fig, axes = plt.subplots(rows, frames_per_clip, figsize=(1.6 * frames_per_clip, 1.9 * rows),
                             squeeze=False)
    for r, ex in enumerate(examples):
        video = ex["video"]
        n = len(video)
        picks = np.floor((np.arange(frames_per_clip) + 0.5) * n / frames_per_clip).astype(int)
        fallback = ex["crop_source"].decode().startswith("fallback")
        for c, t in enumerate(picks):
            ax = axes[r, c]
            frame = video[t]
            ax.imshow(frame)
            ax.set_xticks([])
            ax.set_yticks([])
            pb = ex["person_boxes"][t]
            if np.isfinite(pb).all():
                x0, y0, x1, y1 = box_in_crop(pb, ex["crop_boxes"][t], frame.shape[1], frame.shape[0])
                ax.add_patch(patches.Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False,
                                               edgecolor="lime", linewidth=1.2))
            if fallback:
                for side in ax.spines.values():
                    side.set_edgecolor("red")
                    side.set_linewidth(2.5)
            ax.set_title(f"t={int(ex['frame_index'][t])}", fontsize=6)
        axes[r, 0].set_ylabel(f"{ex['name'].decode()[-24:]}\n{ex['action_name'].decode()[:24]}\n"
                              f"{ex['crop_source'].decode()}", fontsize=6)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    args = parse_args(argv)
    import tensorflow_datasets as tfds

    import data_pipelines  # noqa: F401
    try:
        builder = tfds.builder(args.dataset, data_dir=args.data_dir)
    except (tfds.core.registered.DatasetNotFoundError, ValueError) as e:
        print(f"inspect_dataset: error: {args.dataset!r}: {str(e).splitlines()[0]}",
              file=sys.stderr)
        return 2
    if not builder.is_prepared():
        print(f"{args.dataset} is not prepared in {builder.data_dir}; run "
              f"python -m data_pipelines.prepare {args.dataset} ...", file=sys.stderr)
        return 2
    info = builder.info
    if not info.splits:
        print(f"{args.dataset} in {builder.data_dir} has no splits (an empty build); "
              f"prepare it again", file=sys.stderr)
        return 2
    if args.split is not None and args.split not in info.splits:
        print(f"--split {args.split!r}: {args.dataset} has splits {list(info.splits)}",
              file=sys.stderr)
        return 2
    names = info.features["label"].names
    print(f"{args.dataset}: {info.features['label'].num_classes} classes, data in {builder.data_dir}")
    for split, si in info.splits.items():
        print(f"  {split}: {si.num_examples} examples")
        if not args.no_counts:
            counts = class_counts(builder, split)
            for label in sorted(counts):
                print(f"    {label:4d} {names[label][:50]:50s} {counts[label]}")
    meta = info.metadata or {}
    if "crop_fallbacks" in meta:
        print(f"  full-frame fallback crops: {dict(meta['crop_fallbacks'])}")
    if meta.get("skipped_samples"):
        print(f"  skipped at preparation ({len(meta['skipped_samples'])}): "
              f"{list(meta['skipped_samples'])[:20]}")
    if "preparation" in meta:
        from data_pipelines.builders.report import summary_lines
        for line in summary_lines(meta["preparation"]):
            print(f"  {line}")
    split = args.split or next(iter(info.splits))
    src = builder.as_data_source(split)
    rng = np.random.default_rng(args.seed)
    picks = sorted(rng.choice(len(src), size=min(args.clips, len(src)), replace=False))
    out = args.out or f"{args.dataset.replace('/', '_')}_{split}.png"
    contact_sheet([src[int(i)] for i in picks], args.frames, out,
                  f"{args.dataset} [{split}] - green: person box, red frame: full-frame fallback")
    print(f"contact sheet: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Prepare (build) TFDS datasets: ``python -m data_pipelines.prepare``.

Examples::

    # NTU RGB+D 60, both protocols, 8 decoding processes:
    python -m data_pipelines.prepare ntu_rgbd/ntu60_xsub ntu_rgbd/ntu60_xview \\
        --manual_dir /data/ntu --data_dir /data/tfds --workers 8

    # smaller footprint: 224 px crops, at most 64 stored frames per video
    python -m data_pipelines.prepare ntu_rgbd/ntu120_xsub --manual_dir /data/ntu \\
        --size 224 --max_frames 64

    # your own videos (class sub-folders), 20 % validation
    python -m data_pipelines.prepare video_folder --manual_dir ~/my_videos

    # the synthetic set (no manual dir)
    python -m data_pipelines.prepare synthetic_actions/small

    # compressed-domain (MPEG-4 Part 2) form of a prepared dataset or the synthetic set
    python -m data_pipelines.prepare compressed_video/ntu60_xsub --data_dir /data/tfds

Non-default preparation options create a config named ``<protocol>_<hash>``;
the command prints the dataset name to give to the input pipeline. Re-running
after an interruption resumes: prepared samples are cached under
``<data_dir>/downloads/prepared/``. Each build writes
``preparation_report.json`` next to the dataset and prints its summary.
Bad input, an empty result and unwritable outputs end with a one-line error
(exit code 2).
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import sys

from data_pipelines.clip_prep import CROP_MODES, PrepOptions
from data_pipelines.crop import BOX_MODES, OUT_OF_FRAME

PREP_FLAGS = ("crop_mode", "size", "max_frames", "jpeg_quality")
CROP_FLAGS = ("padding", "smooth_sigma", "box_mode", "out_of_frame")


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m data_pipelines.prepare",
                                description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("datasets", nargs="+",
                   help="ntu_rgbd/<ntu60_xsub|ntu60_xview|ntu120_xsub|ntu120_xset>, "
                        "video_folder, synthetic_actions[/default|/small]")
    p.add_argument("--manual_dir", help="NTU archives / extracted files, or your video folder")
    p.add_argument("--data_dir", default=None, help="TFDS data dir (default ~/tensorflow_datasets)")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                   help="decoding processes (default: all CPU cores)")
    p.add_argument("--skip_corrupt", action="store_true",
                   help="leave out (and list) samples whose video/skeleton cannot be read")
    g = p.add_argument_group("frame preparation (ntu_rgbd, video_folder)")
    g.add_argument("--crop_mode", choices=CROP_MODES)
    g.add_argument("--size", type=int, help="square side, or short side for crop_mode none")
    g.add_argument("--max_frames", type=int, help="store at most this many frames per video")
    g.add_argument("--jpeg_quality", type=int)
    g.add_argument("--padding", type=float, help="person box padding per side (fraction)")
    g.add_argument("--smooth_sigma", type=float, help="temporal smoothing (frames, 0 = off)")
    g.add_argument("--box_mode", choices=BOX_MODES)
    g.add_argument("--out_of_frame", choices=OUT_OF_FRAME)
    g.add_argument("--validation_fraction", type=float, help="video_folder only (default 0.2)")
    g.add_argument("--split_seed", type=int, help="video_folder only (default 0)")
    return p.parse_args(argv)


def prep_options(args, base: PrepOptions | None) -> PrepOptions | None:
    """Applies the command-line overrides to ``base`` (None if none given)."""
    prep_over = {k: getattr(args, k) for k in PREP_FLAGS if getattr(args, k) is not None}
    crop_over = {k: getattr(args, k) for k in CROP_FLAGS if getattr(args, k) is not None}
    if not prep_over and not crop_over:
        return base
    base = base or PrepOptions()
    crop = dataclasses.replace(base.crop, **crop_over) if crop_over else base.crop
    return dataclasses.replace(base, crop=crop, **prep_over)


def make_builder(name: str, args):
    """The builder object for ``name`` with the command-line options applied;
    ``ValueError`` (naming the dataset or option) for bad names and values."""
    from data_pipelines.builders import ntu_rgbd, synthetic_actions, video_folder
    base, _, config = name.partition("/")
    kw = dict(data_dir=args.data_dir)
    if base == "ntu_rgbd":
        if not config:
            raise ValueError("ntu_rgbd needs a protocol: ntu_rgbd/ntu60_xsub, ntu60_xview, "
                             "ntu120_xsub or ntu120_xset")
        cfg = ntu_rgbd.make_config(config, prep_options(args, None))
        return ntu_rgbd.NtuRgbd(config=cfg, workers=args.workers,
                                skip_corrupt=args.skip_corrupt, **kw)
    if base == "video_folder":
        prep = prep_options(args, None)
        over = {k: getattr(args, k) for k in ("validation_fraction", "split_seed")
                if getattr(args, k) is not None}
        if prep is None and not over:
            return video_folder.VideoFolder(workers=args.workers, skip_corrupt=args.skip_corrupt,
                                            config=config or None, **kw)
        blob = json.dumps({"prep": dataclasses.asdict(prep) if prep else None, **over},
                          sort_keys=True).encode()
        cfg = video_folder.VideoFolderConfig(
            name=f"custom_{hashlib.sha1(blob).hexdigest()[:12]}", prep=prep, **over)
        return video_folder.VideoFolder(config=cfg, workers=args.workers,
                                        skip_corrupt=args.skip_corrupt, **kw)
    if base == "synthetic_actions":
        return synthetic_actions.SyntheticActions(config=config or "default", **kw)
    if base == "compressed_video":   # MPEG-4 streams of a prepared dataset (docs/compressed.md)
        from data_pipelines.compressed.builder import CompressedVideo
        return CompressedVideo(config=config or "synthetic", **kw)
    raise ValueError(f"unknown dataset {name!r}: use ntu_rgbd/<protocol>, video_folder or "
                     "synthetic_actions[/small]")


def check_manual_dir(name: str, builder, manual_dir: str | None) -> str | None:
    """One-line problem with the manual directory of ``name``, or None."""
    if not name.startswith(("ntu_rgbd", "video_folder")):
        return None
    path = manual_dir or os.path.join(os.fspath(builder.data_dir_root), "downloads", "manual")
    flag = "--manual_dir" if manual_dir else "default manual directory (no --manual_dir given)"
    what = ("the NTU RGB+D videos and skeletons (zipped or extracted)"
            if name.startswith("ntu_rgbd") else "one sub-folder of videos per class")
    if not os.path.isdir(path):
        return f"{flag} {path!r} does not exist; it must hold {what} (see docs/data.md)"
    if not any(not e.startswith(".") for e in os.listdir(path)):
        return f"{flag} {path!r} is empty; it must hold {what} (see docs/data.md)"
    return None


def main(argv=None) -> int:
    args = parse_args(argv)
    import tensorflow_datasets as tfds

    from data_pipelines.builders.common import PreparationError
    from data_pipelines.builders.report import REPORT_FILE
    for name in args.datasets:
        try:
            builder = make_builder(name, args)
        except ValueError as e:
            print(f"prepare: error: {e}", file=sys.stderr)
            return 2
        problem = check_manual_dir(name, builder, args.manual_dir)
        if problem:
            print(f"prepare: error: {name}: {problem}", file=sys.stderr)
            return 2
        dl = tfds.download.DownloadConfig(manual_dir=args.manual_dir) if args.manual_dir else None
        try:
            builder.download_and_prepare(download_config=dl)
        except (PreparationError, FileNotFoundError, ValueError, OSError) as e:
            # Bad input, nothing left to store, or an output that cannot be
            # written (the message names the path): no traceback.
            print(f"prepare: error: {e}", file=sys.stderr)
            return 2
        full = f"{builder.name}/{builder.builder_config.name}"
        splits = {s: v.num_examples for s, v in builder.info.splits.items()}
        print(f"prepared {full} in {builder.data_dir}: {splits}")
        report = os.path.join(os.fspath(builder.data_dir), REPORT_FILE)
        if os.path.exists(report):
            print(f"  preparation report: {report}")
        print(f"  input pipeline: tfds_batches({full!r}, 'train', batch_size, "
              f"data_dir={os.fspath(builder.data_dir).rsplit('/' + builder.name + '/', 1)[0]!r})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

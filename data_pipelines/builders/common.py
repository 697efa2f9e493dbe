"""Feature layout shared by all jaxar TFDS builders, and helpers.

Every example (``ntu_rgbd``, ``video_folder``, ``synthetic_actions``) has:

==================  ===========================  ==============================================
key                 type / shape                 meaning
==================  ===========================  ==============================================
``video``           Video (T, H, W, 3) uint8     stored frames, each a JPEG image
``label``           ClassLabel                   0-based class
``action_name``     Text                         class name
``name``            Text                         sample name (NTU) or path relative to the folder
``num_frames``      int32                        T (number of stored frames)
``source_frames``   int32                        frames decoded from the source video
``frame_index``     int32 (T,)                   source frame index of each stored frame
``source_size``     int32 (2,)                   source (width, height) in pixels
``crop_boxes``      float32 (T, 4)               (x0, y0, x1, y1) source-pixel box of each stored frame
``person_boxes``    float32 (T, 4)               tight person box per frame (source pixels), NaN if none
``crop_source``     Text                         ``person`` / ``center`` / ``none`` / ``fallback:<reason>``
``setup``           int32                        NTU setup id (-1 for other datasets)
``camera``          int32                        NTU camera id (-1 ...)
``subject``         int32                        NTU performer id (-1 ...)
``replication``     int32                        NTU replication (-1 ...)
==================  ===========================  ==============================================

The builders write ArrayRecord files by default (random access, which the
input pipeline uses for exact resume and per-host sharding).
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
from typing import Iterable, NamedTuple

import numpy as np
import tensorflow_datasets as tfds

from data_pipelines.builders import report as report_lib
from data_pipelines.clip_prep import PreparedClip
from data_pipelines.video_io import OutputWriteError

# Bumped when the per-sample result changes for the same inputs and options
# (e.g. new skeleton filtering rules), so older cache files are not reused.
CACHE_FORMAT = 2

DEFAULT_FILE_FORMAT = "array_record"


def features(class_names, height: int | None, width: int | None) -> tfds.features.FeaturesDict:
    """The shared :class:`tfds.features.FeaturesDict` (see module docstring)."""
    f = tfds.features
    label = f.ClassLabel(names=list(class_names)) if class_names is not None else f.ClassLabel()
    return f.FeaturesDict({
        "video": f.Video(shape=(None, height, width, 3), encoding_format="jpeg"),
        "label": label,
        "action_name": f.Text(),
        "name": f.Text(),
        "num_frames": f.Scalar(np.int32),
        "source_frames": f.Scalar(np.int32),
        "frame_index": f.Tensor(shape=(None,), dtype=np.int32),
        "source_size": f.Tensor(shape=(2,), dtype=np.int32),
        "crop_boxes": f.Tensor(shape=(None, 4), dtype=np.float32),
        "person_boxes": f.Tensor(shape=(None, 4), dtype=np.float32),
        "crop_source": f.Text(),
        "setup": f.Scalar(np.int32),
        "camera": f.Scalar(np.int32),
        "subject": f.Scalar(np.int32),
        "replication": f.Scalar(np.int32),
    })


def example_from_clip(clip: PreparedClip, name: str, label: int, action_name: str,
                      setup: int = -1, camera: int = -1, subject: int = -1,
                      replication: int = -1) -> dict:
    """Feature dict for one prepared clip."""
    return {
        "video": list(clip.jpegs),
        "label": int(label),
        "action_name": action_name,
        "name": name,
        "num_frames": len(clip.jpegs),
        "source_frames": clip.source_frames,
        "frame_index": clip.frame_index.astype(np.int32),
        "source_size": np.array([clip.source_width, clip.source_height], np.int32),
        "crop_boxes": clip.crop_boxes.astype(np.float32),
        "person_boxes": clip.person_boxes.astype(np.float32),
        "crop_source": clip.crop_source,
        "setup": setup, "camera": camera, "subject": subject, "replication": replication,
    }


class PrepResult(NamedTuple):
    """What a preparation worker reports for one sample (picklable)."""
    key: str                # the sample's name (NTU) or relative path (video folder)
    status: str             # "done" | "cached" | "failed"
    message: str = ""       # failed: what went wrong, naming the file
    reason: str = ""        # failed: unreadable_video | truncated_video | unreadable_skeleton


class PreparationError(RuntimeError):
    """Preparation cannot produce a trustworthy dataset (unreadable samples in
    strict mode, nothing left to store); the message says what and where."""


def cache_dir(dl_manager, builder_name: str, options_key: str) -> str:
    """Where per-sample prepared clips are kept between (interrupted) runs:
    ``<download_dir>/prepared/<builder>-<options hash>/``."""
    path = os.path.join(os.fspath(dl_manager.download_dir), "prepared",
                        f"{builder_name}-{options_key}")
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as e:
        raise OutputWriteError(f"{path}: cannot create the preparation cache ({e})") from None
    return path


def cache_file(cache: str, key: str, *identity: object) -> str:
    """Cache file of one sample: ``<cache>/<key>-<hash>.npz``, the hash over
    the source files' identities (size, mtime) and anything else that changes
    the result, so a replaced source file is prepared again."""
    digest = hashlib.sha1(json.dumps([CACHE_FORMAT, *identity], sort_keys=True,
                                     default=str).encode()).hexdigest()[:16]
    return os.path.join(cache, f"{key}-{digest}.npz")


def remove_stale_cache_files(cache: str, keys: Iterable[str], current: Iterable[str]) -> int:
    """Deletes cache files of ``keys`` other than the ``current`` paths (left
    by earlier versions of the source files, or by older cache layouts, or
    ``.tmp`` leftovers of killed runs); returns how many."""
    keep = {os.path.basename(p) for p in current}
    keys = set(keys)
    removed = 0
    for fn in os.listdir(cache):
        stem = fn.split(".npz", 1)[0]
        key = stem.rsplit("-", 1)[0] if "-" in stem else stem
        if fn not in keep and (key in keys or stem in keys):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(cache, fn))
                removed += 1
    return removed


def manual_dir_or_error(dl_manager, builder_name: str, instructions: str) -> str:
    """The manual dir as a string; a clear error if it is missing or empty."""
    path = os.fspath(dl_manager.manual_dir)
    if not os.path.isdir(path) or not os.listdir(path):
        raise FileNotFoundError(
            f"{builder_name}: manual directory {path!r} is missing or empty.\n{instructions}")
    return path


def report_failures(builder_name: str, results, skip_corrupt: bool) -> list[tuple[str, str, str]]:
    """Raises :class:`PreparationError` (listing every failed sample) unless
    ``skip_corrupt``; returns ``(sample, reason, message)`` of the failed
    samples (to be skipped). ``results`` are the workers' :class:`PrepResult`."""
    failed = [(r.key, r.reason, r.message) for r in results if r.status == "failed"]
    if failed and not skip_corrupt:
        lines = "\n".join(f"  {k}: {msg}" for k, _, msg in failed)
        raise PreparationError(
            f"{builder_name}: {len(failed)} sample(s) could not be prepared:\n{lines}\n"
            "Fix or remove them, or pass skip_corrupt=True (CLI: --skip_corrupt) to "
            "leave them out; the samples prepared so far are cached and will not be "
            "redone.")
    for k, _, msg in failed:
        print(f"[{builder_name}] SKIPPED {k}: {msg}", flush=True)
    return failed


def finish_preparation(builder, label: str, samples_found: int,
                       kept: dict[str, list[str]], skipped, ignored: dict[str, list[str]],
                       prep_options: dict, warnings=()) -> dict:
    """Builds the preparation report, prints its summary, records it in
    ``builder.info.metadata`` and writes it next to the dataset.

    Raises :class:`PreparationError` if no sample is left to store.
    """
    rep = report_lib.build_report(label, prep_options, samples_found, kept, skipped, ignored,
                                  warnings)
    for line in report_lib.summary_lines(rep):
        print(f"[{label}] {line}", flush=True)
    if not rep["samples_kept"]["total"]:
        raise PreparationError(
            f"{label}: none of the {samples_found} samples could be prepared "
            f"(skipped: {dict((r, len(v)) for r, v in rep['skipped'].items())}); "
            "nothing to store")
    meta = builder.info.metadata
    meta["preparation"] = rep
    meta["crop_fallbacks"] = rep["crop_fallbacks"]
    meta["skipped_samples"] = sorted(n for names in rep["skipped"].values() for n in names)
    meta["prep_options"] = prep_options
    meta["clip_duration"] = rep["clip_duration"]
    report_lib.write_report(rep, builder.data_dir)
    return rep


class PreparingBuilder:
    """Constructor options of the builders that prepare clips from source videos
    (mixed in before ``tfds.core.GeneratorBasedBuilder``).

    ``workers``: processes preparing clips in parallel; ``skip_corrupt``: skip
    (and report) videos that fail to decode instead of stopping the build.
    Files are written as :data:`DEFAULT_FILE_FORMAT` unless ``file_format`` is given.
    """

    def __init__(self, *, workers: int = 1, skip_corrupt: bool = False, **kwargs):
        kwargs.setdefault("file_format", DEFAULT_FILE_FORMAT)
        self.workers = int(workers)
        self.skip_corrupt = bool(skip_corrupt)
        super().__init__(**kwargs)

"""TFDS builder ``video_folder``: your own videos, one sub-folder per class.

Manual directory layout (``--manual_dir``)::

    <manual_dir>/<class name>/<video>.{mp4,avi,mkv,mov,webm,...}
    <manual_dir>/person_boxes.csv            (optional, see below)

or, with fixed splits, ``<manual_dir>/<split>/<class>/...`` where ``<split>``
is any of ``train``, ``validation`` (or ``val``) and ``test``: each recognised
split folder present becomes a split of that name, even when it is the only
one, and other sub-folders of the manual directory are not used (they are
listed in the preparation report). Only one class gives a warning.

Without fixed split folders, ``validation_fraction`` of each class (rounded,
at least one video when the class has two or more and the fraction is > 0)
goes to ``validation``, chosen by a seeded permutation of the class's sorted
file names (``split_seed``): the split is deterministic and does not depend
on file-system order.

Class names are the sorted sub-folder names; labels follow that order.

Person boxes (optional) ``person_boxes.csv``: a header line
``video,frame,x0,y0,x1,y1`` then one row per person and frame: ``video`` is
the path relative to the manual directory with ``/`` separators, ``frame`` the
0-based frame index, ``x0,y0,x1,y1`` the box in pixels of the original
video. Several rows for the same frame (several persons) are merged; frames
without rows are interpolated. When the file exists, frames are cropped
person-centrically like NTU (:mod:`data_pipelines.crop`); videos without any
row use the full-frame centre square and are counted as fallbacks. Without
the file, whole frames are stored (short side ``size``), unless the config
says otherwise.

Constructor extras as for ``ntu_rgbd``: ``workers``, ``skip_corrupt``.
"""
from __future__ import annotations

import collections
import csv
import dataclasses
import hashlib
import logging
import os
import zlib
from typing import NamedTuple

import numpy as np
import tensorflow_datasets as tfds
from etils import epath

from data_pipelines.builders import common
from data_pipelines.clip_prep import PrepOptions, PreparedClip, prepare_clip
from data_pipelines.parallel_prep import run_tasks
from data_pipelines.video_io import VIDEO_EXTENSIONS, TruncatedVideoError, VideoDecodeError

BOXES_FILE = "person_boxes.csv"
SPLIT_DIRS = ("train", "validation", "val", "test")   # recognised split folder names

MANUAL_DOWNLOAD_INSTRUCTIONS = """\
Put your videos into the manual directory (pass --manual_dir), one sub-folder
per class:  <manual_dir>/<class name>/<video>.mp4 (mp4, avi, mkv, mov, webm, ...).
Optionally add fixed splits (<manual_dir>/train/<class>/..., <manual_dir>/validation/<class>/...)
and a person box file <manual_dir>/person_boxes.csv (header video,frame,x0,y0,x1,y1).
"""


@dataclasses.dataclass(eq=False)
class VideoFolderConfig(tfds.core.BuilderConfig):
    """``prep=None``: person crop (``size`` 256) if ``person_boxes.csv`` exists,
    else whole frames with short side 256."""
    prep: PrepOptions | None = None
    validation_fraction: float = 0.2
    split_seed: int = 0

    def __post_init__(self):
        if not 0.0 <= self.validation_fraction < 1.0:
            raise ValueError(f"validation_fraction={self.validation_fraction!r}: must be in [0, 1)")


def read_person_boxes(path: str) -> dict[str, dict[int, list]]:
    """Parses ``person_boxes.csv`` -> ``{video: {frame: [(x0, y0, x1, y1), ...]}}``;
    errors name the file and line."""
    out: dict = collections.defaultdict(lambda: collections.defaultdict(list))
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None or [h.strip() for h in header] != ["video", "frame", "x0", "y0", "x1", "y1"]:
            raise ValueError(f"{path}, line 1: header must be 'video,frame,x0,y0,x1,y1', "
                             f"got {header!r}")
        for row in reader:
            line = reader.line_num
            if not row or not "".join(row).strip():
                continue
            if len(row) != 6:
                raise ValueError(f"{path}, line {line}: expected 6 fields, got {len(row)}")
            try:
                frame = int(row[1])
                box = tuple(float(v) for v in row[2:])
            except ValueError:
                raise ValueError(f"{path}, line {line}: frame must be an integer and "
                                 f"x0,y0,x1,y1 numbers, got {row!r}") from None
            if frame < 0 or not (box[2] >= box[0] and box[3] >= box[1]):
                raise ValueError(f"{path}, line {line}: need frame >= 0, x1 >= x0, y1 >= y0; got {row!r}")
            out[row[0].strip()][frame].append(box)
    return {k: dict(v) for k, v in out.items()}


def boxes_to_points(frames: dict[int, list]) -> list[np.ndarray]:
    """Per-frame box corners as ``(P, 2)`` points for :func:`crop.person_boxes`."""
    n = max(frames) + 1
    pts = []
    for t in range(n):
        b = np.asarray(frames.get(t, []), np.float64).reshape(-1, 4)
        pts.append(np.concatenate([b[:, :2], b[:, 2:]]) if len(b) else np.zeros((0, 2)))
    return pts


def _list_class_dir(root: str, rel: str, ignored: dict) -> tuple[list[str], list[str]]:
    """Sorted class names and relative video paths under ``root/rel``; files
    that are not used are added to ``ignored[category]``."""
    base = os.path.join(root, rel) if rel else root
    classes, videos = [], []
    for entry in sorted(os.listdir(base)):
        cdir = os.path.join(base, entry)
        if entry.startswith("."):
            continue
        if not os.path.isdir(cdir):
            relpath = os.path.relpath(cdir, root).replace(os.sep, "/")
            if entry.lower().endswith(VIDEO_EXTENSIONS):
                ignored["video_outside_class_folder"].append(relpath)
            elif not (rel == "" and entry == BOXES_FILE):
                ignored["not_video"].append(relpath)
            continue
        classes.append(entry)
        for dirpath, dirnames, files in os.walk(cdir):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for fn in sorted(files):
                if fn.startswith("."):
                    continue
                relpath = os.path.relpath(os.path.join(dirpath, fn), root).replace(os.sep, "/")
                if fn.lower().endswith(VIDEO_EXTENSIONS):
                    videos.append(relpath)
                else:
                    ignored["not_video"].append(relpath)
    return classes, videos


def split_folders(root: str) -> list[str]:
    """The recognised split folders (``SPLIT_DIRS``) directly under ``root``,
    in ``SPLIT_DIRS`` order; raises if both ``val/`` and ``validation/`` exist."""
    subdirs = {d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d))}
    found = [d for d in SPLIT_DIRS if d in subdirs]
    if "val" in found and "validation" in found:
        raise ValueError(f"{root}: both val/ and validation/ exist; keep one of them")
    return found


def plan_splits(root: str, fraction: float, seed: int,
                ignored: dict | None = None) -> tuple[list[str], dict[str, list]]:
    """Class names and ``{split: [(relpath, class name), ...]}``.

    If ``root`` holds any recognised split folder (``train/``, ``val/`` or
    ``validation/``, ``test/``), each one present is a split, even alone, and
    other sub-folders are not used. Otherwise the sub-folders are classes and
    ``fraction`` of each class goes to ``validation``. Files not used are
    added to ``ignored[category]`` when given.
    """
    ignored = ignored if ignored is not None else collections.defaultdict(list)
    folders = split_folders(root)
    if folders:
        splits = {}
        classes = set()
        for entry in sorted(os.listdir(root)):
            path = os.path.join(root, entry)
            if entry.startswith(".") or entry in folders or entry == BOXES_FILE:
                continue
            key = "not_a_split_folder" if os.path.isdir(path) else (
                "video_outside_class_folder" if entry.lower().endswith(VIDEO_EXTENSIONS)
                else "not_video")
            ignored[key].append(entry)
        for split in folders:
            cls, vids = _list_class_dir(root, split, ignored)
            classes.update(cls)
            splits[split] = [(v, v.split("/")[1]) for v in vids]
        return sorted(classes), splits
    classes, vids = _list_class_dir(root, "", ignored)
    by_class = collections.defaultdict(list)
    for v in vids:
        by_class[v.split("/")[0]].append(v)
    splits = {"train": [], "validation": []}
    for cls in classes:
        files = sorted(by_class[cls])
        n_val = int(round(fraction * len(files)))
        if fraction > 0 and len(files) >= 2:
            n_val = max(n_val, 1)
        n_val = min(n_val, len(files) - 1) if files else 0
        perm = np.random.default_rng([seed, zlib.crc32(cls.encode())]).permutation(len(files))
        val = {files[i] for i in perm[:n_val]}
        for f in files:
            splits["validation" if f in val else "train"].append((f, cls))
    return classes, splits


class FolderTask(NamedTuple):
    """One video for :func:`prepare_folder_sample` (picklable, for worker processes)."""
    rel: str                        # path relative to the folder root (the sample key)
    path: str                       # the video file
    boxes: dict | None              # {frame: [box, ...]} from person_boxes.csv, or None
    prep: PrepOptions
    out_path: str                   # the cache file (.npz) to write


def prepare_folder_sample(task: FolderTask) -> common.PrepResult:
    """Worker: prepare one video into its cache file (see ``run_tasks``).
    Returns a :class:`~data_pipelines.builders.common.PrepResult`; errors
    writing the cache raise :class:`OutputWriteError` (fatal)."""
    rel, path = task.rel, task.path
    if os.path.exists(task.out_path):
        return common.PrepResult(rel, "cached")
    try:
        points = boxes_to_points(task.boxes) if task.boxes else None
        clip = prepare_clip(path, points, task.prep, display_name=path, fallback_reason="no_boxes")
    except TruncatedVideoError as e:
        return common.PrepResult(rel, "failed", str(e), "truncated_video")
    except VideoDecodeError as e:
        return common.PrepResult(rel, "failed", str(e), "unreadable_video")
    except OSError as e:
        return common.PrepResult(rel, "failed", f"{path}: cannot read ({e})", "unreadable_video")
    clip.save(task.out_path)
    return common.PrepResult(rel, "done")


class VideoFolder(common.PreparingBuilder, tfds.core.GeneratorBasedBuilder):
    """A folder of class-named sub-folders of videos."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First release."}
    BUILDER_CONFIGS = [VideoFolderConfig(name="default", description="auto crop, 20 % validation")]
    MANUAL_DOWNLOAD_INSTRUCTIONS = MANUAL_DOWNLOAD_INSTRUCTIONS
    code_path = epath.Path(__file__)   # see NtuRgbd.code_path

    def _info(self) -> tfds.core.DatasetInfo:
        return self.dataset_info_from_configs(
            description=__doc__,
            features=common.features(None, None, None),
            metadata=tfds.core.MetadataDict(),
        )

    def _split_generators(self, dl_manager):
        cfg = self.builder_config
        label = f"video_folder/{cfg.name}"
        root = common.manual_dir_or_error(dl_manager, label, MANUAL_DOWNLOAD_INSTRUCTIONS)
        ignored = collections.defaultdict(list)
        classes, splits = plan_splits(root, cfg.validation_fraction, cfg.split_seed, ignored)
        if not classes or not any(splits.values()):
            raise FileNotFoundError(f"{label}: no class folders with videos in {root!r}.\n"
                                    f"{MANUAL_DOWNLOAD_INSTRUCTIONS}")
        warnings = []
        if len(classes) == 1:
            warnings.append(f"only one class ({classes[0]!r}): every label is 0; expected "
                            f"one sub-folder per class in {root!r}"
                            + (" or in its split folders" if split_folders(root) else ""))
            logging.warning("%s: %s", label, warnings[-1])
        boxes_path = os.path.join(root, BOXES_FILE)
        boxes = read_person_boxes(boxes_path) if os.path.exists(boxes_path) else None
        prep = cfg.prep or PrepOptions(crop_mode="person" if boxes is not None else "none")
        if boxes is not None:
            known = {rel for items in splits.values() for rel, _ in items}
            unknown = sorted(set(boxes) - known)
            if unknown:
                raise ValueError(f"{boxes_path}: boxes for videos that are not in the folder: "
                                 f"{unknown[:5]}")
        self.info.features["label"].names = classes
        cache = common.cache_dir(dl_manager, "video_folder", prep.key())
        tasks, paths = [], {}
        for items in splits.values():
            for rel, _ in items:
                key = hashlib.sha1(rel.encode()).hexdigest()[:20]
                st = os.stat(os.path.join(root, rel))
                rows = (boxes or {}).get(rel)
                paths[rel] = common.cache_file(
                    cache, key, st.st_size, st.st_mtime_ns,
                    sorted((k, v) for k, v in rows.items()) if rows else None)
                tasks.append(FolderTask(rel, os.path.join(root, rel), rows, prep, paths[rel]))
        common.remove_stale_cache_files(
            cache, [os.path.basename(p).rsplit("-", 1)[0] for p in paths.values()],
            paths.values())
        results = run_tasks(prepare_folder_sample, tasks, self.workers, label)
        skipped = common.report_failures(label, results, self.skip_corrupt)
        skipped_names = {k for k, _, _ in skipped}
        kept = {split: [(rel, cls) for rel, cls in items if rel not in skipped_names]
                for split, items in splits.items()}
        rep = common.finish_preparation(
            self, label, len(tasks),
            {split: [paths[rel] for rel, _ in items] for split, items in kept.items() if items},
            skipped, ignored, dataclasses.asdict(prep), warnings)
        self.info.metadata["crop_fallbacks"] = {s: f["total"]
                                                for s, f in rep["crop_fallbacks"].items()}
        print(f"[{label}] classes: {len(classes)}; samples: "
              f"{ {s: len(v) for s, v in kept.items()} }", flush=True)
        return {split: self._generate_examples(items, paths, classes)
                for split, items in kept.items() if items}

    def _generate_examples(self, items, paths, classes):
        index = {c: i for i, c in enumerate(classes)}
        for rel, cls in items:
            clip = PreparedClip.load(paths[rel])
            yield rel, common.example_from_clip(clip, rel, index[cls], cls)

"""TFDS builder ``ntu_rgbd``: NTU RGB+D 60/120 RGB videos with person-centric crops.

Configs (one per protocol, see :mod:`data_pipelines.ntu.protocols`):
``ntu60_xsub``, ``ntu60_xview``, ``ntu120_xsub``, ``ntu120_xset``; splits
``train`` and ``test``. Frames are cropped around the Kinect skeleton's
colorX/colorY joints (:mod:`data_pipelines.crop`), resized to
``size x size`` (default 256) and stored as JPEG (quality 90). Spurious
("ghost") bodies are removed from the skeletons before cropping
(:mod:`data_pipelines.ntu.ghost_bodies`). Samples on the
published missing-skeleton list, without a skeleton file, or whose skeleton
has no body in any frame use the full-frame centre square instead; they are
counted per split and reason in ``info.metadata["crop_fallbacks"]`` and the
preparation report (:mod:`data_pipelines.builders.report`).

Extra constructor arguments: ``workers`` (processes for decoding, default 1)
and ``skip_corrupt`` (default False: preparation stops with an error listing
every unreadable or truncated video and unreadable skeleton file). With
``skip_corrupt``, unreadable and truncated videos are left out and listed, and
a video whose skeleton file is unreadable is kept with the full-frame crop
(``fallback:unreadable_skeleton``). Preparation is restartable: each prepared
sample is cached under ``<data_dir>/downloads/prepared/``, keyed on the
options and the source files' size and modification time, and reused.
"""
from __future__ import annotations

import collections
import dataclasses
import json
import logging
import os
import zipfile
import zlib
from typing import NamedTuple

import numpy as np
import tensorflow_datasets as tfds
from etils import epath

from data_pipelines.builders import common
from data_pipelines.clip_prep import PrepOptions, PreparedClip, prepare_clip
from data_pipelines.ntu import protocols
from data_pipelines.ntu.ghost_bodies import filter_ghost_bodies
from data_pipelines.ntu.skeleton import SkeletonFormatError
from data_pipelines.ntu.sources import Location, index_manual_dir, load_skeleton, video_path
from data_pipelines.parallel_prep import run_tasks
from data_pipelines.video_io import OutputWriteError, TruncatedVideoError, VideoDecodeError

FULL_SIZE = {60: 56880, 120: 114480}

MANUAL_DOWNLOAD_INSTRUCTIONS = """\
NTU RGB+D cannot be downloaded automatically. Request access (sign the
dataset release agreement) at https://rose1.ntu.edu.sg/dataset/actionRecognition/
and download the RGB videos and the 3-D skeletons:
  NTU RGB+D 60 : nturgbd_rgb_s001.zip ... nturgbd_rgb_s017.zip,
                 nturgbd_skeletons_s001_to_s017.zip
  NTU RGB+D 120: additionally nturgbd_rgb_s018.zip ... nturgbd_rgb_s032.zip,
                 nturgbd_skeletons_s018_to_s032.zip
Put them into the manual directory (default <data_dir>/downloads/manual/, or
pass --manual_dir), either still zipped or extracted as
  <manual_dir>/nturgb+d_rgb/S001C001P001R001A001_rgb.avi ...
  <manual_dir>/nturgb+d_skeletons/S001C001P001R001A001.skeleton ...
(the directory is searched recursively; file names matter, folder names do not).
"""


@dataclasses.dataclass(eq=False)
class NtuRgbdConfig(tfds.core.BuilderConfig):
    """A protocol plus how frames are prepared."""
    protocol: str = "ntu60_xsub"
    prep: PrepOptions = PrepOptions()

    def __post_init__(self):
        if self.protocol not in protocols.PROTOCOLS:
            raise ValueError(f"protocol={self.protocol!r}: must be one of "
                             f"{sorted(protocols.PROTOCOLS)}")


def _default_configs():
    return [NtuRgbdConfig(name=p.name, description=p.description, protocol=p.name)
            for p in protocols.PROTOCOLS.values()]


def make_config(protocol: str, prep: PrepOptions | None = None) -> NtuRgbdConfig:
    """The registered config of ``protocol`` if ``prep`` is None or the default,
    else a custom config named ``<protocol>_<prep hash>`` (its own data dir)."""
    default = next(c for c in NtuRgbd.BUILDER_CONFIGS if c.name == protocol) \
        if protocol in protocols.PROTOCOLS else None
    if default is None:
        raise ValueError(f"protocol={protocol!r}: must be one of {sorted(protocols.PROTOCOLS)}")
    if prep is None or prep == default.prep:
        return default
    return NtuRgbdConfig(name=f"{protocol}_{prep.key()}", protocol=protocol, prep=prep,
                         description=f"{default.description}; {prep}")


class NtuTask(NamedTuple):
    """One sample for :func:`prepare_ntu_sample` (picklable, for worker processes)."""
    name: str                       # NTU sample name, e.g. S001C001P001R001A001
    video: Location                 # <name>_rgb.avi
    skeleton: Location | None       # <name>.skeleton
    listed_missing: bool            # on the dataset's list of samples without a usable skeleton
    prep: PrepOptions
    out_path: str                   # the cache file (.npz) to write
    skip_corrupt: bool


def _cached_result(name: str, out_path: str, skip_corrupt: bool) -> common.PrepResult:
    """Result for a sample whose cache file exists. A full-frame fallback that
    was kept only because of ``skip_corrupt`` (unreadable skeleton) fails
    again in strict mode."""
    with np.load(out_path, allow_pickle=False) as z:
        notes = json.loads(str(z["notes"])) if "notes" in z.files else {}
    if "skeleton_error" in notes and not skip_corrupt:
        return common.PrepResult(name, "failed", notes["skeleton_error"], "unreadable_skeleton")
    return common.PrepResult(name, "cached")


def prepare_ntu_sample(task: NtuTask) -> common.PrepResult:
    """Worker: prepare one sample into its cache file (see ``run_tasks``).

    Returns a :class:`~data_pipelines.builders.common.PrepResult`: status ``done``, ``cached``
    or ``failed`` (then ``reason`` is ``unreadable_video``,
    ``truncated_video`` or ``unreadable_skeleton`` and ``message`` names the
    file). With ``skip_corrupt``, an unreadable skeleton does not fail the
    sample: the video is kept with the full-frame fallback
    (``fallback:unreadable_skeleton``). Errors writing the cache file raise
    :class:`OutputWriteError` (fatal)."""
    name, video_loc, out_path = task.name, task.video, task.out_path
    if os.path.exists(out_path):
        return _cached_result(name, out_path, task.skip_corrupt)
    points, reason, expected, notes = None, "no_points", None, {}
    if task.listed_missing:
        reason = "missing_list"
    elif task.skeleton is None:
        reason = "no_skeleton_file"
    else:
        try:
            seq = load_skeleton(task.skeleton)
        except SkeletonFormatError as e:
            if not task.skip_corrupt:
                return common.PrepResult(name, "failed", str(e), "unreadable_skeleton")
            reason, notes["skeleton_error"] = "unreadable_skeleton", str(e)
        else:
            expected = seq.num_frames
            seq, removed = filter_ghost_bodies(seq)
            if any(removed.values()):
                notes["ghost_bodies"] = removed
            if seq.has_any_body():
                points = seq.color_points()
            else:
                reason = "no_body"
    try:
        with video_path(video_loc) as local:
            clip = prepare_clip(local, points, task.prep, display_name=str(video_loc),
                                fallback_reason=reason, expected_frames=expected)
    except TruncatedVideoError as e:
        return common.PrepResult(name, "failed", str(e), "truncated_video")
    except VideoDecodeError as e:
        return common.PrepResult(name, "failed", str(e), "unreadable_video")
    except OutputWriteError:
        raise
    except (OSError, zipfile.BadZipFile, zlib.error, KeyError) as e:
        return common.PrepResult(name, "failed", f"{video_loc}: cannot read ({type(e).__name__}: {e})",
                                 "unreadable_video")
    clip.notes = notes
    clip.save(out_path)
    return common.PrepResult(name, "done")


class NtuRgbd(common.PreparingBuilder, tfds.core.GeneratorBasedBuilder):
    """NTU RGB+D 60/120 RGB clips, person-centric crops from the skeletons."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First release: four protocols, person-centric crops."}
    BUILDER_CONFIGS = _default_configs()
    MANUAL_DOWNLOAD_INSTRUCTIONS = MANUAL_DOWNLOAD_INSTRUCTIONS
    # TFDS derives this from the package and then needs the optional
    # ``importlib_resources`` backport; giving it directly avoids that import.
    code_path = epath.Path(__file__)

    def _info(self) -> tfds.core.DatasetInfo:
        proto = protocols.PROTOCOLS[self.builder_config.protocol]
        prep = self.builder_config.prep
        side = prep.size if prep.crop_mode != "none" else None
        return self.dataset_info_from_configs(
            description=__doc__,
            features=common.features(protocols.action_names(proto.num_classes), side, side),
            homepage="https://rose1.ntu.edu.sg/dataset/actionRecognition/",
            metadata=tfds.core.MetadataDict(),
        )

    def _split_generators(self, dl_manager):
        cfg = self.builder_config
        proto = protocols.PROTOCOLS[cfg.protocol]
        label = f"ntu_rgbd/{cfg.name}"
        root = common.manual_dir_or_error(dl_manager, label, MANUAL_DOWNLOAD_INSTRUCTIONS)
        index = index_manual_dir(root)
        names = sorted(n for n in index.videos if proto.contains(protocols.parse_name(n)))
        if not names:
            raise FileNotFoundError(
                f"{label}: no NTU video (<name>_rgb.avi, setups S001-S{proto.max_setup:03d}) "
                f"found in {root!r}.\n{MANUAL_DOWNLOAD_INSTRUCTIONS}")
        if len(names) < FULL_SIZE[proto.num_classes]:
            logging.warning("%s: %d of the %d videos of the full dataset found; the "
                            "dataset will be partial", label, len(names),
                            FULL_SIZE[proto.num_classes])
        no_video = sorted(str(loc) for n, loc in index.skeletons.items()
                          if n not in index.videos and proto.contains(protocols.parse_name(n)))
        listed = protocols.missing_skeleton_samples(proto.num_classes)
        cache = common.cache_dir(dl_manager, "ntu_rgbd", cfg.prep.key())
        tasks = []
        for n in names:
            video, skel = index.videos[n], index.skeletons.get(n)
            out = common.cache_file(cache, n, video.identity(), skel and skel.identity(),
                                    n in listed)
            tasks.append(NtuTask(n, video, skel, n in listed, cfg.prep, out, self.skip_corrupt))
        common.remove_stale_cache_files(cache, names, [t.out_path for t in tasks])
        results = run_tasks(prepare_ntu_sample, tasks, self.workers, label)
        skipped = common.report_failures(label, results, self.skip_corrupt)
        skipped_names = {k for k, _, _ in skipped}
        paths = {t.name: t.out_path for t in tasks}
        per_split = collections.defaultdict(list)
        for n in names:
            if n not in skipped_names:
                per_split[proto.split_of(protocols.parse_name(n))].append(n)
        common.finish_preparation(
            self, label, len(names),
            {s: [paths[n] for n in per_split[s]] for s in ("train", "test") if per_split[s]},
            skipped, {"not_ntu_name": index.ignored, "skeleton_without_video": no_video},
            dataclasses.asdict(cfg.prep))
        return {split: self._generate_examples(per_split[split], paths)
                for split in ("train", "test") if per_split[split]}

    def _generate_examples(self, names, paths):
        num_classes = protocols.PROTOCOLS[self.builder_config.protocol].num_classes
        class_names = protocols.action_names(num_classes)
        for n in names:
            s = protocols.parse_name(n)
            clip = PreparedClip.load(paths[n])
            yield n, common.example_from_clip(
                clip, n, s.label, class_names[s.label], s.setup, s.camera, s.subject,
                s.replication)

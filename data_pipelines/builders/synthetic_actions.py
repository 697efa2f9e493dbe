"""TFDS builder ``synthetic_actions``: the synthetic motion set as a TFDS dataset.

Same features as ``ntu_rgbd`` (see :mod:`data_pipelines.builders.common`);
frames are whole synthetic frames (``crop_source="none"``, crop box = full
frame). Splits: ``train`` (seed ``synthetic.TRAIN_SEED``) and ``test``
(seed ``synthetic.TEST_SEED``). Nothing is downloaded.

Configs: ``default`` (2000 train / 500 test clips, 16 frames, 64x64),
``small`` (400 / 100, 16 frames, 32x32). Make others with
``SyntheticActionsConfig(name=..., num_train=..., ...)``.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow_datasets as tfds
from etils import epath

from data_pipelines import synthetic
from data_pipelines.builders import common
from data_pipelines.clip_prep import PreparedClip
from data_pipelines.video_io import encode_jpeg

_CHUNK = 256


@dataclasses.dataclass(eq=False)
class SyntheticActionsConfig(tfds.core.BuilderConfig):
    """Defaults: ``synthetic.BUILDER_SIZES["default"]``."""
    num_train: int = 2000
    num_test: int = 500
    frames: int = 16
    size: int = 64
    num_classes: int | None = None
    jpeg_quality: int = 95


class SyntheticActions(tfds.core.GeneratorBasedBuilder):
    """Synthetic motion-only action clips (no download)."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First release."}
    BUILDER_CONFIGS = [SyntheticActionsConfig(name=name, description=synthetic.describe_size(**size),
                                              **size)
                       for name, size in synthetic.BUILDER_SIZES.items()]
    code_path = epath.Path(__file__)   # see NtuRgbd.code_path

    def __init__(self, **kwargs):
        kwargs.setdefault("file_format", common.DEFAULT_FILE_FORMAT)
        super().__init__(**kwargs)

    def _info(self) -> tfds.core.DatasetInfo:
        cfg = self.builder_config
        k = cfg.num_classes or len(synthetic.CLASS_NAMES)
        return self.dataset_info_from_configs(
            description=__doc__,
            features=common.features(synthetic.CLASS_NAMES[:k], cfg.size, cfg.size),
        )

    def _split_generators(self, dl_manager):
        del dl_manager
        return {split: self._generate_examples(split) for split in synthetic.SPLIT_SEEDS}

    def _generate_examples(self, split):
        cfg = self.builder_config
        s, t = cfg.size, cfg.frames
        box = np.tile(np.array([0, 0, s, s], np.float32), (t, 1))
        for names, videos, labels in synthetic.split_chunks(cfg, split, _CHUNK):
            for name, video, label in zip(names, videos, labels):
                clip = PreparedClip(jpegs=[encode_jpeg(f, cfg.jpeg_quality) for f in video],
                                    crop_boxes=box, person_boxes=np.full((t, 4), np.nan, np.float32),
                                    frame_index=np.arange(t), fallback=False, source_width=s,
                                    source_height=s, source_frames=t, fps=synthetic.SYNTHETIC_FPS,
                                    crop_source="none")
                yield name, common.example_from_clip(clip, name, int(label), synthetic.CLASS_NAMES[label])

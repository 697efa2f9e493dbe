"""TFDS builder ``compressed_video``: a dataset's clips as MPEG-4 Part 2 streams.

Each example stores one re-encoded stream (the layout chosen in
``docs/compressed.md``: streams are far smaller than extracted arrays, and
extracting at load time keeps random frame sampling and crops):

================  ==========================  ==========================================
key               type                        meaning
================  ==========================  ==========================================
``stream``        bytes (scalar)              MPEG-4 Part 2 in an mp4 container, I-frame
                                              every ``gop`` frames, P-frames between, no
                                              B-frames, fixed quantiser ``qscale``
``label``         ClassLabel                  0-based class (the source dataset's names)
``name``          Text                        the source example's name
``num_frames``    int32                       frames in the stream
``height``        int32                       frame height (even)
``width``         int32                       frame width (even)
================  ==========================  ==========================================

Configs: ``synthetic`` (2000 / 500 clips, 16 frames, 64x64, rendered here),
``synthetic_small`` (400 / 100, 16 x 32x32), ``ntu60_xsub``, ``ntu60_xview``,
``ntu120_xsub``, ``ntu120_xset`` (from the prepared ``ntu_rgbd/<config>``) and
``video_folder`` (from the prepared ``video_folder``). For the prepared
sources, the stored (person-cropped) JPEG frames of every split are decoded
and re-encoded: the source dataset must be prepared first, in the same
``data_dir`` unless the builder gets ``source_data_dir=``. Odd frame sides
lose their last row / column (YUV 4:2:0). This is a re-encoding (a second
lossy step), as the paper does for every dataset.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow_datasets as tfds
from etils import epath

from data_pipelines import synthetic
from data_pipelines.compressed.encode import encode_videos, even_crop
from jaxar.runtime.compressed_video import DEFAULT_GOP, DEFAULT_QSCALE

SYNTHETIC = "synthetic"
_NTU = ("ntu60_xsub", "ntu60_xview", "ntu120_xsub", "ntu120_xset")


@dataclasses.dataclass(eq=False)
class CompressedVideoConfig(tfds.core.BuilderConfig):
    """``source``: ``"synthetic"`` or the TFDS name of a prepared jaxar dataset."""
    source: str = SYNTHETIC
    gop: int = DEFAULT_GOP
    qscale: int = DEFAULT_QSCALE
    num_train: int = 2000          # synthetic only
    num_test: int = 500
    frames: int = 16
    size: int = 64
    num_classes: int | None = None

    def __post_init__(self):
        if self.gop < 1 or not 1 <= self.qscale <= 31:
            raise ValueError(f"gop={self.gop} must be >= 1, qscale={self.qscale} in 1..31")
        if self.source == SYNTHETIC and self.size % 2:
            raise ValueError(f"size={self.size}: must be even")


class CompressedVideo(tfds.core.GeneratorBasedBuilder):
    """Clips of a jaxar dataset re-encoded as MPEG-4 Part 2 I/P streams."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First release."}
    BUILDER_CONFIGS = [
        *[CompressedVideoConfig(name=SYNTHETIC if name == "default" else f"{SYNTHETIC}_{name}",
                                description=f"synthetic set, {synthetic.describe_size(**size)}",
                                **size)
          for name, size in synthetic.BUILDER_SIZES.items()],
        *[CompressedVideoConfig(name=p, description=f"ntu_rgbd/{p} re-encoded",
                                source=f"ntu_rgbd/{p}") for p in _NTU],
        CompressedVideoConfig(name="video_folder", description="video_folder re-encoded",
                              source="video_folder"),
    ]
    code_path = epath.Path(__file__)   # see NtuRgbd.code_path

    def __init__(self, *, source_data_dir: str | None = None, source_builder=None, **kwargs):
        """``source_data_dir``: where the source dataset is prepared (default: this
        builder's data_dir); ``source_builder``: an already constructed source
        builder (for source configs that are not registered by name)."""
        kwargs.setdefault("file_format", "array_record")
        self.source_data_dir = source_data_dir
        self.source_builder = source_builder
        super().__init__(**kwargs)

    def _info(self) -> tfds.core.DatasetInfo:
        cfg = self.builder_config
        if cfg.source == SYNTHETIC:
            label = tfds.features.ClassLabel(
                names=list(synthetic.CLASS_NAMES[:cfg.num_classes or len(synthetic.CLASS_NAMES)]))
        else:
            label = tfds.features.ClassLabel()
        return self.dataset_info_from_configs(
            description=__doc__,
            features=tfds.features.FeaturesDict({
                "stream": tfds.features.Tensor(shape=(), dtype=np.object_),
                "label": label,
                "name": tfds.features.Text(),
                "num_frames": tfds.features.Scalar(np.int32),
                "height": tfds.features.Scalar(np.int32),
                "width": tfds.features.Scalar(np.int32),
            }),
            metadata=tfds.core.MetadataDict(),
        )

    def _split_generators(self, dl_manager):
        del dl_manager
        cfg = self.builder_config
        self.info.metadata["encoding"] = {"codec": "mpeg4", "gop": cfg.gop, "qscale": cfg.qscale,
                                          "b_frames": 0, "source": cfg.source}
        if cfg.source == SYNTHETIC:
            return {split: self._generate_examples(split) for split in synthetic.SPLIT_SEEDS}
        src = self.source_builder or tfds.builder(
            cfg.source, data_dir=self.source_data_dir or self.data_dir_root)
        if not src.is_prepared():
            raise FileNotFoundError(
                f"compressed_video/{cfg.name}: the source dataset {cfg.source} is not prepared in "
                f"{src.data_dir_root}; prepare it first (python -m data_pipelines.prepare ...) "
                "or pass source_data_dir=")
        self.info.features["label"].names = list(src.info.features["label"].names)
        for key in ("clip_duration", "prep_options"):   # the source's records, kept
            if key in (src.info.metadata or {}):
                self.info.metadata[key] = src.info.metadata[key]
        return {split: self._generate_examples(split, source=src) for split in src.info.splits}

    def _generate_examples(self, split: str, source=None):
        """The synthetic set's ``split``, or every example of ``source``'s ``split``."""
        if source is None:
            return self._synthetic(split)
        return self._from_source(source, split)

    def _synthetic(self, split: str):
        cfg = self.builder_config
        for names, videos, labels in synthetic.split_chunks(cfg, split):
            streams = encode_videos(videos, gop=cfg.gop, qscale=cfg.qscale,
                                    fps=synthetic.SYNTHETIC_FPS)
            for name, stream, label in zip(names, streams, labels):
                yield name, {"stream": stream, "label": int(label), "name": name,
                             "num_frames": cfg.frames, "height": cfg.size, "width": cfg.size}

    def _from_source(self, src, split: str):
        cfg = self.builder_config
        source = src.as_data_source(split)
        for i in range(len(source)):
            ex = source[i]
            video = even_crop(np.asarray(ex["video"]))
            name = ex["name"].decode() if isinstance(ex["name"], bytes) else str(ex["name"])
            (stream,) = encode_videos([video], gop=cfg.gop, qscale=cfg.qscale)
            yield f"{split}_{i:07d}", {"stream": stream, "label": int(ex["label"]), "name": name,
                                       "num_frames": len(video), "height": video.shape[1],
                                       "width": video.shape[2]}

"""TFDS builders; importing this package registers ``ntu_rgbd``,
``video_folder`` and ``synthetic_actions`` with tensorflow-datasets."""
from data_pipelines.builders.ntu_rgbd import NtuRgbd, NtuRgbdConfig  # noqa: F401

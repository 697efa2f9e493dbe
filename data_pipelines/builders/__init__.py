"""TFDS builders; importing this package registers ``ntu_rgbd``,
``video_folder`` and ``synthetic_actions`` with tensorflow-datasets."""
from data_pipelines.builders.ntu_rgbd import NtuRgbd, NtuRgbdConfig  # noqa: F401
from data_pipelines.builders.synthetic_actions import (  # noqa: F401
    SyntheticActions, SyntheticActionsConfig)
from data_pipelines.builders.video_folder import VideoFolder, VideoFolderConfig  # noqa: F401

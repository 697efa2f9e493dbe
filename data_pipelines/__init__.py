"""jaxar data pipelines: TFDS builders (registered on import), the synthetic
action set and the tf.data / in-memory input pipelines.

Registered TFDS builders: ``ntu_rgbd`` (configs ``ntu60_xsub``, ``ntu60_xview``,
``ntu120_xsub``, ``ntu120_xset``), ``video_folder``, ``synthetic_actions``,
``compressed_video`` (MPEG-4 Part 2 streams for compressed-domain models).
See ``docs/data.md``.
"""
from data_pipelines import builders  # noqa: F401  (registers the TFDS builders)
from data_pipelines.compressed import builder as _compressed_builder  # noqa: F401,E402  (registers compressed_video)

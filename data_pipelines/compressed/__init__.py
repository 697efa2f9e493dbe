"""Compressed-domain (CD-KD) data: MPEG-4 Part 2 streams -> I-frame, motion
vector, residual and raw-frame clips, through the same sampling, sharding
and resume machinery as the raw-frame pipelines.

Modules
-------
``encode``    in-memory MPEG-4 Part 2 encoding of frame arrays; the
              compressed synthetic set (:func:`encode.compressed_synthetic`).
``clips``     one training / evaluation clip from a stored stream
              (:func:`clips.make_compressed_clip`).
``pipeline``  batches: :func:`pipeline.compressed_numpy_batches` (streams in
              memory), :func:`pipeline.compressed_synthetic_batches`,
              :func:`pipeline.compressed_tfds_batches` (the prepared
              ``compressed_video`` TFDS dataset).
``builder``   TFDS builder ``compressed_video``: any prepared jaxar dataset
              (``ntu_rgbd/*``, ``video_folder``) or the synthetic set, its
              frames re-encoded to MPEG-4 Part 2 (fixed GOP, no B-frames)
              and stored as one stream per example.
``reencode``  CLI: re-encode a video file to MPEG-4 Part 2 (the explicit
              preparation step for HEVC / VP9 / AV1 / B-frame videos).

The reader itself (PyAV) and the clip geometry live in
:mod:`jaxar.runtime.compressed_video` and :mod:`jaxar.runtime.compressed_clip`
(shared with ``jaxar.predict`` and the export bundle). See ``docs/compressed.md``.
"""

"""What runs on the device: video -> clips -> model -> actions.

numpy + OpenCV only (onnxruntime / tensorrt imported lazily), never JAX,
TensorFlow or the rest of jaxar, and relative imports only, so the exporter
copies this folder into every bundle as ``runtime/`` (entry point
``runtime/run.py``) and ``jaxar.predict`` runs the very same code.

Modules: :mod:`.sampling` (which frames), :mod:`.crop` (crop boxes and
crop + resize), :mod:`.skeleton` (NTU skeleton files), :mod:`.boxes`
(per-frame crop boxes: centre / full / boxes file / skeleton),
:mod:`.preprocess` (normalisation, model input contract), :mod:`.video`
(files, cameras, streams, URLs), :mod:`.frames` (decoding a file: bad
frames, end of stream, timestamps, frame-rate checks; also used by dataset
preparation), :mod:`.outputs` (output paths checked up front, per-video
names), :mod:`.compressed_video` and :mod:`.compressed_clip`
(compressed-domain input: I-frames, motion vectors, residuals; PyAV imported
lazily, an optional dependency), :mod:`.compressed_predict` (the application
for compressed-domain models: CD-KD students), :mod:`.clips` (sliding windows over a file,
decoded on its own thread), :mod:`.live` (capture thread + ring buffer),
:mod:`.backends` (ONNX Runtime, TensorRT), :mod:`.results` (JSONL rows),
:mod:`.plots` (timeline PNG, rendered video), :mod:`.app` (the CLI shared with
``jaxar.predict``), ``run.py`` (bundle entry point).
"""

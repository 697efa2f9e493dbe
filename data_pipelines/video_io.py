"""Video decoding (OpenCV) and JPEG encoding.

Frames are uint8 RGB ``(H, W, 3)``. A video that cannot be opened or yields
no frame raises :class:`VideoDecodeError` naming the file.
"""
from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import zipfile
from typing import Iterator

import cv2
import numpy as np

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")


class VideoDecodeError(RuntimeError):
    """A video file is missing, unreadable or has no decodable frame."""


class VideoReader:
    """Streams RGB frames from a video file with OpenCV.

    Attributes (valid after construction): ``width``, ``height``, ``fps``,
    ``header_frames`` (frame count the container claims; may be 0 or wrong).
    """

    def __init__(self, path: str | os.PathLike, display_name: str | None = None):
        self.path = str(path)
        self.name = display_name or self.path
        if not os.path.isfile(self.path):
            raise VideoDecodeError(f"{self.name}: video file not found")
        self._cap = cv2.VideoCapture(self.path)
        if not self._cap.isOpened():
            raise VideoDecodeError(f"{self.name}: OpenCV cannot open this video "
                                   "(corrupt file or unsupported codec)")
        self.width = int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        self.height = int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        self.fps = float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self.header_frames = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        if self.width <= 0 or self.height <= 0:
            self.close()
            raise VideoDecodeError(f"{self.name}: no video stream (frame size "
                                   f"{self.width}x{self.height})")

    def frames(self) -> Iterator[np.ndarray]:
        """Yields uint8 RGB ``(H, W, 3)`` frames; raises if none decodes."""
        count = 0
        while True:
            ok, bgr = self._cap.read()
            if not ok:
                break
            count += 1
            yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        if count == 0:
            raise VideoDecodeError(f"{self.name}: no decodable frame (corrupt or empty video)")
        if self.header_frames > 0 and count < 0.9 * self.header_frames:
            logging.warning("%s: decoded %d frames but the header claims %d "
                            "(truncated video?)", self.name, count, self.header_frames)

    def close(self):
        self._cap.release()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def write_video(path: str | os.PathLike, frames: np.ndarray, fps: float = 30.0,
                codec: str = "MJPG") -> None:
    """Encodes uint8 RGB ``(T, H, W, 3)`` frames with OpenCV's VideoWriter
    (``MJPG`` in ``.avi`` by default; ``mp4v`` for ``.mp4``)."""
    t, h, w = frames.shape[:3]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*codec), fps, (w, h))
    if not writer.isOpened():
        raise VideoDecodeError(f"{path}: OpenCV cannot write codec {codec!r}")
    try:
        for f in frames:
            writer.write(cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2BGR))
    finally:
        writer.release()


def encode_jpeg(rgb: np.ndarray, quality: int = 90) -> bytes:
    """uint8 RGB ``(H, W, 3)`` -> JPEG bytes."""
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                           [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return buf.tobytes()


def decode_jpeg(data: bytes) -> np.ndarray:
    """JPEG bytes -> uint8 RGB ``(H, W, 3)``."""
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError("not a decodable JPEG image")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


@contextlib.contextmanager
def local_copy(zip_path: str, member: str, tmp_dir: str | None = None) -> Iterator[str]:
    """Extracts one zip member to a temporary file (OpenCV needs a path) and
    yields its path; the file is removed afterwards."""
    suffix = os.path.splitext(member)[1]
    fd, tmp = tempfile.mkstemp(suffix=suffix, dir=tmp_dir)
    try:
        with os.fdopen(fd, "wb") as out, zipfile.ZipFile(zip_path) as zf, zf.open(member) as src:
            shutil.copyfileobj(src, out, length=1 << 20)
        yield tmp
    finally:
        os.unlink(tmp)

"""Video decoding (OpenCV) and JPEG encoding.

Frames are uint8 RGB ``(H, W, 3)``, read with the application's reader
(:mod:`jaxar.runtime.frames`, so training data and inference agree):
undecodable frames are skipped and counted (``bad_frames``), not taken for the
end; frames are placed by their timestamps and put on a constant-rate time
line at the video's rate (the frame on screen at each ``k / fps``,
:func:`jaxar.runtime.sampling.on_screen`), so a variable-frame-rate video's
stored frame ``k`` is its picture at ``k / fps`` seconds, as for any other
video; a file that states no frame rate (FFmpeg's default 25 fps) raises
:class:`VideoDecodeError` unless the caller gives ``fps``.

A video that cannot be opened or yields
no frame raises :class:`VideoDecodeError` naming the file; one that decodes to
fewer than ``MIN_DECODED_FRACTION`` (90 %) of the frames its container header
(or the caller, e.g. from the skeleton file) claims raises
:class:`TruncatedVideoError`. Errors writing outputs raise
:class:`OutputWriteError` naming the output path, so they are never mistaken
for bad input.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
import zipfile
from typing import Iterator

import cv2
import numpy as np

from jaxar.runtime.errors import InputError
from jaxar.runtime.frames import FrameSource, check_frame_rate, no_frame_message
from jaxar.runtime.video import VIDEO_EXTENSIONS  # noqa: F401  (one list of video file types)


# A video must decode to at least this fraction of the frames that its
# container header or the caller's expected count (the skeleton) claims.
MIN_DECODED_FRACTION = 0.9


class VideoDecodeError(RuntimeError):
    """A video file is missing, unreadable or has no decodable frame."""


class TruncatedVideoError(VideoDecodeError):
    """A video decodes to clearly fewer frames than its header or skeleton claims."""


class OutputWriteError(OSError):
    """Writing an output (cache file, temporary copy) failed: disk full, file
    size limit, permissions. The message names the output path. Fatal: never
    counted as a corrupt input."""


class VideoReader:
    """Streams RGB frames from a video file with OpenCV.

    Attributes (valid after construction): ``width``, ``height``, ``fps``
    (``fps`` if given, else the rate the file states), ``header_frames``
    (frame count the container claims; may be 0 or wrong); after
    :meth:`frames`: ``decoded``, ``bad_frames``, ``variable_rate``.
    """

    def __init__(self, path: str | os.PathLike, display_name: str | None = None,
                 fps: float | None = None):
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
        try:
            self.rate = check_frame_rate(self.name, self.fps, self.header_frames, fps, path=self.path)
        except InputError as e:
            self.close()
            raise VideoDecodeError(str(e)) from None
        self.fps = self.rate.fps
        self.decoded = self.bad_frames = 0
        self.variable_rate = False

    def frames(self, expected_frames: int | None = None,
               expected_from: str = "skeleton") -> Iterator[np.ndarray]:
        """Yields uint8 RGB ``(H, W, 3)`` frames on the constant-rate time line
        (frame ``k`` = the picture on screen at ``k / fps``; for a constant-rate
        file exactly its decoded frames, see the module doc).

        Raises :class:`VideoDecodeError` if none decodes, and
        :class:`TruncatedVideoError` (after the last frame) if fewer than
        ``MIN_DECODED_FRACTION`` of ``header_frames`` or of ``expected_frames``
        (counted by ``expected_from``, e.g. the skeleton file) decoded.
        """
        src = FrameSource(self._cap, self.fps, self.header_frames, self.rate.use_timestamps)
        held = None
        k = 0
        for _, pos, bgr in src:
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            while k + 1e-9 < pos:                 # instants before this frame: the previous one
                yield held if held is not None else rgb
                k += 1
            held = rgb
        while held is not None and k + 1e-9 < src.end_position:
            yield held
            k += 1
        self.decoded, self.bad_frames, self.variable_rate = src.decoded, src.bad_frames, src.variable
        count = src.decoded
        if count == 0:
            raise VideoDecodeError(no_frame_message(self.name, self.header_frames, self._cap, src))
        for claimed, source in ((self.header_frames, "its container header"),
                                (expected_frames or 0, f"the {expected_from}")):
            if claimed > 0 and count < MIN_DECODED_FRACTION * claimed:
                raise TruncatedVideoError(
                    f"{self.name}: decoded only {count} of the {claimed} frames {source} "
                    f"claims (below {MIN_DECODED_FRACTION * 100:.0f} %; truncated or damaged video)")

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
    """JPEG bytes (a stored frame) -> uint8 RGB ``(H, W, 3)``, decoded with
    OpenCV as the device runtime decodes video frames."""
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError("not a decodable JPEG image")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


@contextlib.contextmanager
def local_copy(zip_path: str, member: str, tmp_dir: str | None = None) -> Iterator[str]:
    """Extracts one zip member to a temporary file (OpenCV needs a path) and
    yields its path; the file is removed afterwards.

    Errors reading the archive propagate as ``OSError``/``zipfile.BadZipFile``
    (bad input); errors writing the temporary file raise
    :class:`OutputWriteError` naming it (bad environment)."""
    suffix = os.path.splitext(member)[1]
    try:
        fd, tmp = tempfile.mkstemp(suffix=suffix, dir=tmp_dir)
    except OSError as e:
        raise OutputWriteError(f"{tmp_dir or tempfile.gettempdir()}: cannot create a "
                               f"temporary file ({e})") from None
    try:
        with os.fdopen(fd, "wb") as out, zipfile.ZipFile(zip_path) as zf, zf.open(member) as src:
            while True:
                chunk = src.read(1 << 20)
                try:
                    if chunk:
                        out.write(chunk)
                    else:
                        out.flush()
                except OSError as e:
                    raise OutputWriteError(f"{tmp}: cannot write the extracted copy of "
                                           f"{zip_path}:{member} ({e})") from None
                if not chunk:
                    break
        yield tmp
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)

"""Opening videos, cameras and streams with OpenCV, with one-line errors.

Frames come out as OpenCV gives them (uint8 BGR ``(H, W, 3)``); the
pipeline crops and resizes in BGR and converts the small crop to RGB
(a per-channel resize commutes with the channel swap, so this equals
converting first).
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path

import cv2

from .errors import InputError

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".gif",
                    ".ts", ".m2ts", ".mts", ".3gp", ".flv", ".ogv", ".mxf", ".h264", ".264", ".h265",
                    ".265", ".hevc", ".mjpeg", ".mjpg", ".ivf")
URL_SCHEMES = ("http://", "https://", "rtsp://", "rtsps://", "rtmp://", "rtmps://", "srt://", "udp://",
               "tcp://", "ftp://")


def is_url(text: str) -> bool:
    """``scheme://...`` with a network scheme OpenCV's FFmpeg can open."""
    return str(text).lower().startswith(URL_SCHEMES)


def _quiet_opencv() -> None:
    """OpenCV's own warnings would add lines to our one-line errors."""
    try:
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    except AttributeError:
        pass
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")


@contextlib.contextmanager
def _stderr_silenced():
    """Demuxers print diagnostics straight to file descriptor 2 while probing
    a broken file; the error we raise says what matters."""
    try:
        fd = os.dup(2)
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(fd, 2)
        os.close(fd)


_quiet_opencv()          # before the first capture: FFmpeg reads its log level once


def _open(*args) -> "cv2.VideoCapture":
    _quiet_opencv()
    with _stderr_silenced():
        return cv2.VideoCapture(*args)


class Capture:
    """An opened source.

    Attributes: ``name`` (for messages and rows), ``cap`` (``cv2.VideoCapture``),
    ``width``, ``height``, ``fps`` (0 when unknown), ``header_frames`` (the
    count the container claims; files only, may be 0 or wrong), ``live``,
    ``path`` (the local file, else ``None``).
    """

    def __init__(self, cap, name: str, live: bool, path: str | None = None):
        self.cap, self.name, self.live, self.path = cap, name, live, path
        self.width = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        self.height = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        self.fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        if not 0 < self.fps < 1000:
            self.fps = 0.0
        self.header_frames = 0 if live else max(0, int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0))

    def read(self):
        """Next BGR frame or ``None`` at the end of the stream."""
        ok, frame = self.cap.read()
        return frame if ok and frame is not None else None

    def close(self) -> None:
        self.cap.release()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def open_file(path: str | os.PathLike) -> Capture:
    """Opens a video file; :class:`InputError` if missing or unreadable."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: video file not found")
    if not p.is_file():
        raise InputError(f"{p}: not a file")
    if not os.access(p, os.R_OK):
        raise InputError(f"{p}: video file is not readable (permission denied)")
    cap = _open(str(p))
    if not cap.isOpened():
        cap.release()
        raise InputError(f"{p}: OpenCV cannot open this video (not a video, corrupt, or unsupported codec)")
    c = Capture(cap, str(p), live=False, path=str(p))
    if c.width <= 0 or c.height <= 0:
        c.close()
        raise InputError(f"{p}: no video stream in this file")
    return c


def open_input(item: str | os.PathLike, timeout_s: float = 10.0) -> Capture:
    """A video input given on the command line: a file, or a URL read like a
    file (its frame count and timestamps as the server gives them)."""
    if is_url(str(item)):
        c = open_url(str(item), timeout_s)
        c.live = False
        c.header_frames = max(0, int(c.cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0))
        return c
    return open_file(item)


def open_camera(index: int) -> Capture:
    """Opens camera ``index`` (``/dev/video<index>`` on Linux)."""
    cap = _open(int(index))
    if not cap.isOpened():
        cap.release()
        raise InputError(f"camera {index}: cannot be opened (no such device, or it is busy)")
    c = Capture(cap, f"camera:{index}", live=True)
    if c.read() is None:
        c.close()
        raise InputError(f"camera {index}: opened but delivers no frames")
    return c


def open_url(url: str, timeout_s: float = 10.0) -> Capture:
    """Opens an RTSP / HTTP stream with open and read timeouts of ``timeout_s``."""
    if "://" not in url:
        raise InputError(f"--url {url!r}: not a URL (expected rtsp://..., http://... or https://...)")
    ms = int(timeout_s * 1000)
    params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms]
    try:
        cap = _open(url, cv2.CAP_FFMPEG, params)
    except cv2.error:
        cap = _open(url)
    if not cap.isOpened():
        cap.release()
        raise InputError(f"--url {url}: cannot open the stream within {timeout_s:g} s "
                         "(unreachable host, wrong path, or unsupported protocol)")
    return Capture(cap, url, live=True)


def list_videos(directory: str | os.PathLike, recursive: bool = False) -> list[Path]:
    """Video files (by extension, :data:`VIDEO_EXTENSIONS`) in ``directory``
    (and its sub-directories with ``recursive``), sorted by path; hidden files
    (``.name``, e.g. our own temporary files) are not videos."""
    d = Path(directory)
    found = d.rglob("*") if recursive else d.iterdir()
    return sorted(p for p in found if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS
                  and not p.name.startswith("."))

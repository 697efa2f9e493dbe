"""Output paths: checked before any video is read, and named per video.

:func:`check_outputs` validates ``--out``, ``--timeline`` and ``--render``
up front (extension, not a directory, directory exists or can be made, a file
can be created there, the video writer opens), so a mistake is one line
``error: ...`` and exit 2 before minutes of work, never a traceback after.
:func:`per_video_names` gives each video of a batch its own suffix for the
timeline / render file names, distinct even for ``clip.mp4`` and ``clip.mov``
or ``a/clip.mp4`` and ``b/clip.mp4``.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import cv2
import numpy as np

from .errors import InputError

TIMELINE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
RENDER_CODECS = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".mkv": "mp4v", ".avi": "MJPG"}


def _writable_dir(flag: str, path: Path) -> Path:
    if path.is_dir():
        raise InputError(f"{flag} {path}: is a directory; give a file name")
    parent = path.parent if str(path.parent) else Path(".")
    if parent.exists() and not parent.is_dir():
        raise InputError(f"{flag} {path}: {parent} is not a directory")
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(f"{flag} {path}: cannot create the directory {parent} ({e.strerror or e})") from None
    try:
        fd, probe = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".check", dir=parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise InputError(f"{flag} {path}: cannot write in {parent} ({e.strerror or e})") from None
    return parent


def check_timeline_path(path: str) -> None:
    p = Path(path)
    if p.suffix.lower() not in TIMELINE_EXTENSIONS:
        raise InputError(f"--timeline {path}: unsupported image type "
                         f"{p.suffix or '(no extension)'!s}; use one of {', '.join(TIMELINE_EXTENSIONS)}")
    _writable_dir("--timeline", p)


def check_render_path(path: str) -> None:
    p = Path(path)
    codec = RENDER_CODECS.get(p.suffix.lower())
    if codec is None:
        raise InputError(f"--render {path}: unsupported video type {p.suffix or '(no extension)'!s}; "
                         f"use one of {', '.join(RENDER_CODECS)}")
    parent = _writable_dir("--render", p)
    fd, probe = tempfile.mkstemp(prefix=f".{p.stem}.", suffix=p.suffix, dir=parent)
    os.close(fd)
    try:
        out = cv2.VideoWriter(probe, cv2.VideoWriter_fourcc(*codec), 8.0, (16, 16))
        ok = out.isOpened()
        if ok:
            out.write(np.zeros((16, 16, 3), np.uint8))
        out.release()
    finally:
        Path(probe).unlink(missing_ok=True)
    if not ok:
        raise InputError(f"--render {path}: this OpenCV build cannot write {codec} video into {p.suffix}")


def check_outputs(a, inputs: list[str]) -> None:
    """All output arguments of parsed args ``a``; :class:`InputError` on the
    first problem. ``inputs``: the video inputs (an output must not be one)."""
    if a.out:
        _writable_dir("--out", Path(a.out))
    if a.timeline:
        check_timeline_path(a.timeline)
    if a.render:
        check_render_path(a.render)
    given = {os.path.realpath(v) for v in inputs if os.path.isfile(v)}
    for flag, value in (("--out", a.out), ("--timeline", a.timeline), ("--render", a.render)):
        if value and os.path.realpath(value) in given:
            raise InputError(f"{flag} {value}: is one of the input videos; choose another name")


def _parts(video: str) -> list[str]:
    """Path components of a video (file path or URL path), last first."""
    if "://" in video:
        path = PurePosixPath(urlsplit(video).path or "/stream")
    else:
        path = PurePosixPath(Path(video).as_posix())
    return [p for p in reversed(path.parts) if p not in ("/", "")]


def per_video_names(videos: list[str]) -> list[str]:
    """A distinct, file-name-safe suffix per video: the stem; the stem and the
    extension where stems collide (``clip_mp4``, ``clip_mov``); with parent
    folders prepended until all differ (``a_clip``, ``b_clip``); finally the
    position in the batch."""
    def name(v: str, depth: int, ext: bool) -> str:
        parts = _parts(v) or ["video"]
        last = PurePosixPath(parts[0])
        stem = last.stem + (f"_{last.suffix[1:]}" if ext and last.suffix else "")
        return "_".join(list(reversed(parts[1:1 + depth])) + [stem])

    def safe(s: str) -> str:
        return "".join(c if c.isalnum() or c in "-_." else "_" for c in s)

    names = [safe(name(v, 0, False)) for v in videos]
    for depth, ext in ((0, True), (1, True), (2, True), (8, True)):
        dup = {n for n in names if names.count(n) > 1}
        if not dup:
            return names
        names = [safe(name(v, depth, ext)) if n in dup else n for v, n in zip(videos, names)]
    seen: dict[str, int] = {}
    out = []
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        out.append(n if names.count(n) == 1 else f"{n}_{seen[n]}")
    return out


def suffixed(path: str, suffix: str, many: bool) -> Path:
    """``x.png`` -> ``x_<suffix>.png`` for a batch, else ``x.png``."""
    p = Path(path)
    return p.with_name(f"{p.stem}_{suffix}{p.suffix}") if many else p

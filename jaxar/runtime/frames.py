"""Decoding a video into frames placed on its own time line.

One reader serves ``jaxar.predict``, the bundle's ``runtime/run.py`` and
dataset preparation (``data_pipelines/video_io.py``), so they agree on three
things real files get wrong:

* **Decode errors are not the end.** A frame that fails to decode (a damaged
  packet) is counted in ``bad_frames`` and reading goes on. The video ends
  when the frames the container claims have all been tried, or, when it
  claims none (or claims too many: a truncated file), after
  ``MAX_CONSECUTIVE_FAILURES`` failures in a row. Failures just before the
  end are the end, not bad frames.
* **Frames are placed by their timestamps** (``CAP_PROP_POS_MSEC``, the
  presentation time FFmpeg gives each decoded frame), so a variable-frame-rate
  file (a phone dropping frames) keeps its real time line. Positions are in
  units of ``1 / fps`` (the nominal rate): frame ``i`` of a constant-rate file
  is at position ``i`` (timestamp jitter below ``SNAP`` frames, e.g. a
  millisecond time base, is rounded away). A frame without a usable timestamp
  (none, or not after the previous one: raw H.264) is placed one slot after
  the previous frame. With ``use_timestamps=False`` (``--fps``) every frame
  is at its slot: ``i``, counting undecodable slots.
* **A frame rate the file does not state is not invented.** FFmpeg reports 25
  fps for streams without timing (raw H.264, an AVI with zeroed rate fields);
  :func:`check_frame_rate` detects that and asks for ``--fps``.
"""
from __future__ import annotations

import dataclasses
import struct
from pathlib import Path
from typing import Callable, Iterator

import cv2
import numpy as np

from .errors import InputError

MAX_CONSECUTIVE_FAILURES = 64
SNAP = 0.1                        # timestamp jitter (in frames) rounded to the slot grid
FFMPEG_DEFAULT_FPS = 25.0
RAW_STREAM_EXTENSIONS = (".h264", ".264", ".h265", ".265", ".hevc", ".mjpeg", ".mjpg", ".m2v", ".ivf")

_CODEC_NAMES = {"AV01": "AV1", "av01": "AV1", "hev1": "HEVC", "hvc1": "HEVC", "HEVC": "HEVC",
                "h264": "H.264", "avc1": "H.264", "H264": "H.264", "VP90": "VP9", "VP80": "VP8",
                "MJPG": "Motion JPEG", "FMP4": "MPEG-4 Part 2", "mp4v": "MPEG-4 Part 2",
                "XVID": "MPEG-4 Part 2", "gif ": "GIF", "apcn": "ProRes", "apch": "ProRes",
                "dvh1": "Dolby Vision HEVC", "vvc1": "H.266/VVC"}


def fourcc_of(cap) -> str:
    """The stream's FourCC as OpenCV reports it (``"AV01"``), or ``""``."""
    code = int(cap.get(cv2.CAP_PROP_FOURCC) or 0)
    if code <= 0:
        return ""
    text = code.to_bytes(4, "little").decode("latin-1")
    return text if text.isprintable() else ""


def codec_description(fourcc: str) -> str:
    """``"AV01"`` -> ``"AV01 (AV1)"``; unknown FourCCs are given as they are."""
    if not fourcc:
        return "an unknown codec"
    name = _CODEC_NAMES.get(fourcc) or _CODEC_NAMES.get(fourcc.strip())
    return f"{fourcc.strip()} ({name})" if name else fourcc.strip()


@dataclasses.dataclass(frozen=True)
class AviRates:
    """Rates an AVI header states: ``avih`` microseconds per frame and the
    first video stream's ``strh`` ``rate / scale`` (0 when a field is 0)."""
    main_fps: float
    stream_fps: float


def read_avi_rates(path: str | Path) -> AviRates | None:
    """The rates in an AVI file's header (first 64 KiB), or ``None`` when the
    file is not an AVI or the header cannot be found."""
    try:
        with open(path, "rb") as f:
            head = f.read(65536)
    except OSError:
        return None
    if head[:4] != b"RIFF" or head[8:12] != b"AVI ":
        return None
    main = stream = 0.0
    i = head.find(b"avih")
    if i >= 0 and i + 12 <= len(head):
        us = struct.unpack_from("<I", head, i + 8)[0]
        main = 1e6 / us if us else 0.0
    j = head.find(b"strh")
    while j >= 0 and head[j + 8:j + 12] != b"vids":        # the first video stream header
        j = head.find(b"strh", j + 4)
    if j >= 0 and j + 36 <= len(head):
        scale, rate = struct.unpack_from("<II", head, j + 28)
        stream = rate / scale if scale and rate else 0.0
    return AviRates(main, stream)


def _timestamps_advance(source: str) -> bool:
    """Whether the first two decodable frames of ``source`` have increasing
    timestamps (a raw elementary stream has none)."""
    cap = cv2.VideoCapture(source)
    try:
        ts = []
        for _ in range(8):
            if cap.grab():
                ts.append(cap.get(cv2.CAP_PROP_POS_MSEC))
                if len(ts) == 2:
                    return ts[1] > ts[0]
        return True                     # too few frames to tell: nothing to refuse
    finally:
        cap.release()


@dataclasses.dataclass(frozen=True)
class FrameRate:
    """The rate used to place frames: ``fps``, ``source`` (``"container"`` or
    ``"--fps"``), ``use_timestamps`` and any ``warnings`` to show."""
    fps: float
    source: str
    use_timestamps: bool
    warnings: tuple = ()


def check_frame_rate(name: str, stated_fps: float, header_frames: int, override: float | None,
                     path: str | None = None) -> FrameRate:
    """The frame rate to use for a file, or :class:`InputError` when the file
    states none (FFmpeg's default 25 fps is recognised, see module doc).

    ``override`` (``--fps``) wins: frames are then placed at ``i / override``
    seconds, ignoring the file's rate and timestamps."""
    if override:
        return FrameRate(float(override), "--fps", use_timestamps=False)
    ask = "; pass --fps F (frames per second) to process it"
    if not stated_fps > 0:
        raise InputError(f"{name}: the video states no frame rate{ask}")
    warnings = []
    if path is not None and stated_fps == FFMPEG_DEFAULT_FPS:
        avi = read_avi_rates(path)
        if avi is not None and avi.stream_fps == 0:
            raise InputError(f"{name}: the AVI header states no frame rate (its rate fields are 0; "
                             f"OpenCV/FFmpeg would assume {FFMPEG_DEFAULT_FPS:g} fps){ask}")
        if Path(path).suffix.lower() in RAW_STREAM_EXTENSIONS or (
                header_frames <= 0 and not _timestamps_advance(path)):
            raise InputError(f"{name}: a raw stream without timing: it states no frame rate "
                             f"(OpenCV/FFmpeg would assume {FFMPEG_DEFAULT_FPS:g} fps){ask}")
    if path is not None:
        avi = read_avi_rates(path)
        if avi is not None and avi.main_fps > 0 and avi.stream_fps > 0 \
                and abs(avi.main_fps - avi.stream_fps) > 0.01 * avi.stream_fps:
            warnings.append(f"warning: {name}: the AVI header states two frame rates ({avi.main_fps:.3f} fps "
                            f"in avih, {avi.stream_fps:.3f} fps for the stream); using the stream's "
                            "(FFmpeg's) and the frame timestamps; pass --fps to override")
    return FrameRate(float(stated_fps), "container", use_timestamps=True, warnings=tuple(warnings))


class FrameSource:
    """Reads a ``cv2.VideoCapture`` to its end; see the module doc.

    Iterating yields ``(slot, position, bgr or None)``: ``slot`` counts every
    frame the stream holds, undecodable ones included (so it is the source
    frame number a boxes file refers to); ``position`` is the frame's place on
    the time line in units of ``1 / fps`` (seconds = position / fps); the
    image is retrieved only when ``want(slot, position)`` says so (otherwise
    ``None``: grabbing decodes, retrieving converts the colour).

    After iteration: ``decoded`` (frames decoded), ``bad_frames`` (slots that
    failed to decode with decodable frames after them), ``bad_slots`` (the
    first 20 of them), ``timestamps`` (frames placed by their timestamp),
    ``variable`` (some step between consecutive decoded frames is not one
    slot), ``bad_slots`` lists slots given back to undecodable frames,
    ``end_position`` (the position just after the last frame: the
    video's length in frames at ``fps``), ``failed_first_frames`` (failures
    before any frame decoded).
    """

    def __init__(self, cap, fps: float, header_frames: int = 0, use_timestamps: bool = True,
                 max_failures: int = MAX_CONSECUTIVE_FAILURES):
        self.cap, self.fps, self.header = cap, float(fps), int(header_frames)
        self.use_timestamps, self.max_failures = use_timestamps, max_failures
        self.decoded = self.bad_frames = self.timestamps = 0
        self.bad_slots: list[int] = []
        self.variable = False
        self.end_position = 0.0
        self.failed_first_frames = 0

    def _timestamp_position(self, slot_guess: int, last_pos: float | None, origin: list) -> float | None:
        """The frame's position from its timestamp, or ``None`` when it has no
        usable one (no timestamps, or not after the previous frame)."""
        if not self.use_timestamps:
            return None
        ms = self.cap.get(cv2.CAP_PROP_POS_MSEC)
        if origin[0] is None:
            origin[0] = ms / 1000.0 - slot_guess / self.fps
        p = (ms / 1000.0 - origin[0]) * self.fps
        r = round(p)
        if abs(p - r) < SNAP:
            p = float(r)
        if last_pos is None or p > last_pos + 1e-6:
            return p
        return None

    def __iter__(self) -> Iterator[tuple[int, float, np.ndarray | None]]:
        return self.read()

    def read(self, want: Callable[[int, float], bool] | None = None
             ) -> Iterator[tuple[int, float, np.ndarray | None]]:
        """Undecodable frames get their slots back where the timestamps show a
        gap of whole frames (a decoder reorders frames, so the failure's place
        in decode order is not its place in time); without timestamps they
        take the next slots."""
        pending = 0              # failures since the last decoded frame
        unplaced = 0             # failures not yet given a slot
        last_slot, last_pos = -1, None
        origin = [None]
        while True:
            if not self.cap.grab():
                pending += 1
                tried = self.decoded + self.bad_frames + pending
                if pending >= self.max_failures or (self.header > 0 and tried >= self.header):
                    break
                continue
            if pending:
                self.bad_frames += pending
                unplaced += pending
                pending = 0
            pos = self._timestamp_position(last_slot + 1 + unplaced, last_pos, origin)
            if pos is not None:
                self.timestamps += 1
                skip = 0
                if last_pos is None:
                    skip = unplaced
                else:
                    gap = round(pos - last_pos)
                    if abs(pos - last_pos - gap) < SNAP:
                        skip = min(max(gap - 1, 0), unplaced)
            else:
                skip = unplaced
            slot = last_slot + 1 + skip
            if skip:
                self.bad_slots.extend(range(last_slot + 1, slot)[:max(0, 20 - len(self.bad_slots))])
                unplaced -= skip
            if pos is None:
                pos = float(slot) if last_pos is None else last_pos + (slot - last_slot)
            if last_pos is not None and slot == last_slot + 1 and abs(pos - last_pos - 1) > SNAP:
                self.variable = True
            image = None
            if want is None or want(slot, pos):
                ok, image = self.cap.retrieve()
                if not ok or image is None:         # a frame that grabs but does not convert
                    self.bad_frames += 1
                    unplaced += 1
                    continue
            self.decoded += 1
            last_slot, last_pos = slot, pos
            self.end_position = pos + 1.0
            yield slot, pos, image


def no_frame_message(name: str, header_frames: int, cap, source: FrameSource | None) -> str:
    """The one-line error for a video of which no frame decodes: a container
    that claims frames none of which decodes names its codec (FourCC), which
    this OpenCV build most likely cannot decode."""
    if header_frames > 0 and source is not None and source.decoded == 0:
        codec = codec_description(fourcc_of(cap))
        return (f"{name}: none of its {header_frames} frames decodes: this OpenCV build cannot decode "
                f"{codec} video, or every frame is damaged")
    return f"{name}: no decodable frame (empty or corrupt video)"

"""Reader for NTU RGB+D ``.skeleton`` text files (Kinect v2 skeletons).

File layout (whitespace-separated, CRLF or LF line ends)::

    <frame count>
    per frame:
      <body count>                      (may be 0)
      per body:
        <10 values>: bodyID clippedEdges handLeftConfidence handLeftState
                     handRightConfidence handRightState isRestricted leanX leanY
                     trackingState
        <joint count>                   (25)
        <joint count lines of 12 values>: x y z depthX depthY colorX colorY
                     orientationW orientationX orientationY orientationZ
                     trackingState

``bodyID`` is a 17-digit integer (e.g. 72057594037931101) that is not exactly
representable as float64; it is kept as a Python ``int``. Any truncated or
malformed file raises :class:`SkeletonFormatError` naming the file and the
1-based line number.
"""
from __future__ import annotations

import dataclasses
import os

import numpy as np

JOINT_FIELDS = ("x", "y", "z", "depthX", "depthY", "colorX", "colorY",
                "orientationW", "orientationX", "orientationY", "orientationZ",
                "trackingState")
BODY_INFO_FIELDS = ("bodyID", "clippedEdges", "handLeftConfidence", "handLeftState",
                    "handRightConfidence", "handRightState", "isRestricted",
                    "leanX", "leanY", "trackingState")
COLOR_X, COLOR_Y = 5, 6   # column indices of colorX / colorY in ``Body.joints``


class SkeletonFormatError(ValueError):
    """A ``.skeleton`` file is truncated or malformed (message names file and line)."""


@dataclasses.dataclass
class Body:
    """One tracked body in one frame.

    Attributes:
      body_id: the exact 17-digit Kinect body id (Python int).
      info: float64 ``(9,)`` the other nine values of the info line
        (clippedEdges ... trackingState, see ``BODY_INFO_FIELDS[1:]``).
      joints: float64 ``(J, 12)`` one row per joint, columns ``JOINT_FIELDS``;
        ``joints[:, 5:7]`` are the colorX/colorY pixel coordinates in the
        1920x1080 RGB frame.
    """
    body_id: int
    info: np.ndarray
    joints: np.ndarray

    @property
    def color_xy(self) -> np.ndarray:
        """float64 ``(J, 2)`` joint positions in RGB-frame pixels."""
        return self.joints[:, COLOR_X:COLOR_Y + 1]


@dataclasses.dataclass
class SkeletonSequence:
    """A parsed file: ``frames[t]`` is the (possibly empty) list of bodies in frame t."""
    source: str
    frames: list[list[Body]]

    @property
    def num_frames(self) -> int:
        return len(self.frames)

    def has_any_body(self) -> bool:
        return any(self.frames)

    def color_points(self) -> list[np.ndarray]:
        """Per frame, float64 ``(P, 2)`` colorX/colorY of all joints of all
        bodies in that frame (``P = 0`` for frames without bodies)."""
        return [np.concatenate([b.color_xy for b in bodies]) if bodies
                else np.zeros((0, 2)) for bodies in self.frames]


class _Lines:
    """Line cursor that reports file and 1-based line number in errors."""

    def __init__(self, text: str, source: str):
        self.lines = text.splitlines()   # handles \r\n and \n
        self.pos = 0
        self.source = source

    def error(self, msg: str, line: int | None = None) -> SkeletonFormatError:
        return SkeletonFormatError(f"{self.source}, line {line or self.pos}: {msg}")

    def next_tokens(self, what: str) -> list[str]:
        if self.pos >= len(self.lines):
            raise self.error(f"file ends early (truncated?); expected {what}",
                             line=len(self.lines) + 1)
        self.pos += 1
        return self.lines[self.pos - 1].split()

    def next_int(self, what: str) -> int:
        tok = self.next_tokens(what)
        if len(tok) != 1 or not tok[0].lstrip("-").isdigit():
            raise self.error(f"expected {what} (one integer), got {' '.join(tok)!r}")
        value = int(tok[0])
        if value < 0:
            raise self.error(f"{what} must be >= 0, got {value}")
        return value

    def next_floats(self, count: int, what: str) -> np.ndarray:
        tok = self.next_tokens(what)
        if len(tok) != count:
            raise self.error(f"expected {count} values for {what}, got {len(tok)}")
        try:
            return np.array([float(t) for t in tok])
        except ValueError:
            raise self.error(f"non-numeric value in {what}: {' '.join(tok)!r}") from None


def parse_skeleton(text: str, source: str = "<string>") -> SkeletonSequence:
    """Parses the content of a ``.skeleton`` file; ``source`` names it in errors."""
    cur = _Lines(text, source)
    num_frames = cur.next_int("frame count")
    frames: list[list[Body]] = []
    for t in range(num_frames):
        bodies = []
        for b in range(cur.next_int(f"body count of frame {t}")):
            tok = cur.next_tokens(f"body info line (frame {t}, body {b})")
            if len(tok) != len(BODY_INFO_FIELDS):
                raise cur.error(f"body info line (frame {t}, body {b}) must have "
                                f"{len(BODY_INFO_FIELDS)} values, got {len(tok)}")
            if not tok[0].isdigit():
                raise cur.error(f"bodyID must be a non-negative integer, got {tok[0]!r}")
            try:
                info = np.array([float(v) for v in tok[1:]])
            except ValueError:
                raise cur.error(f"non-numeric value in body info line: {' '.join(tok)!r}") from None
            num_joints = cur.next_int(f"joint count (frame {t}, body {b})")
            joints = np.empty((num_joints, len(JOINT_FIELDS)))
            for j in range(num_joints):
                joints[j] = cur.next_floats(len(JOINT_FIELDS), f"joint {j} (frame {t}, body {b})")
            bodies.append(Body(int(tok[0]), info, joints))
        frames.append(bodies)
    for extra in range(cur.pos, len(cur.lines)):
        if cur.lines[extra].strip():
            raise cur.error(f"unexpected data after the last of {num_frames} frames",
                            line=extra + 1)
    return SkeletonSequence(source, frames)


def read_skeleton(path: str | os.PathLike) -> SkeletonSequence:
    """Reads and parses a ``.skeleton`` file from disk."""
    with open(path, "rb") as f:
        data = f.read()
    return parse_skeleton_bytes(data, str(path))


def parse_skeleton_bytes(data: bytes, source: str) -> SkeletonSequence:
    """Parses ``.skeleton`` bytes (e.g. a zip member); ``source`` names it in errors."""
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        raise SkeletonFormatError(f"{source}, line {line}: not an ASCII text file") from None
    return parse_skeleton(text, source)


def format_skeleton(frames: list[list[Body]], newline: str = "\r\n") -> str:
    """Writes frames back in the NTU text layout (used to make test fixtures).

    Values are written with ``repr`` precision; ``body_id`` exactly."""
    out = [str(len(frames))]
    for bodies in frames:
        out.append(str(len(bodies)))
        for body in bodies:
            out.append(" ".join([str(body.body_id)] + [_fmt(v) for v in body.info]))
            out.append(str(len(body.joints)))
            out.extend(" ".join(_fmt(v) for v in row) for row in body.joints)
    return newline.join(out) + newline


def _fmt(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))

"""Small real-world video files made inside the tests (PyAV's bundled FFmpeg
encoders, OpenCV's writer): H.264 with B-frames, damaged H.264, raw H.264
without timing, variable frame rate, an AVI whose rate fields are zero, AV1,
VP9. All 64x48 or 64x64 and a few dozen frames."""
from __future__ import annotations

import fractions
import struct
from pathlib import Path

import numpy as np


def stamp(img: np.ndarray, value: int) -> np.ndarray:
    """Writes ``value`` (0..255) into two flat 16x16 blocks at the top centre
    of the picture (``value % 16`` and ``value // 16``, 16 grey levels apart:
    survives lossy coding and a centre crop); :func:`read_stamp` reads it."""
    w = img.shape[1]
    x = w // 2 - 16
    img[0:16, x:x + 16] = 8 + 16 * (value % 16)
    img[0:16, x + 16:x + 32] = 8 + 16 * (value // 16)
    return img


def read_stamp(img: np.ndarray) -> int:
    """The value :func:`stamp` wrote into a full-size picture."""
    cx = img.shape[1] // 2

    def level(x: int) -> int:
        return int(round((float(img[4:12, x - 4:x + 4].mean()) - 8) / 16))
    return level(cx - 8) + 16 * level(cx + 8)


def _pictures(n: int, w: int = 64, h: int = 48, seed: int = 0, values=None):
    """A moving square on noise, frame ``t`` stamped with ``values[t]``
    (default ``t``)."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 120, (h, w, 3), dtype=np.uint8)
    for t in range(n):
        img = base.copy()
        x = (t * 3) % max(w - 12, 1)
        img[h // 3:h // 3 + 12, x:x + 12] = (250, 220, 40)
        yield t, stamp(img, int(values[t] if values is not None else t) % 256)


def encode(path: Path, codec: str = "libx264", n: int = 48, fps: int = 24, fmt: str | None = None,
           pts: list[int] | None = None, options: dict | None = None, w: int = 64, h: int = 48,
           noise: bool = False, pix_fmt: str = "yuv420p") -> Path:
    """Encodes ``n`` frames with PyAV. ``pts``: per-frame presentation times in
    units of ``1 / fps`` (a variable frame rate when not consecutive)."""
    import av
    out = av.open(str(path), "w", format=fmt)
    s = out.add_stream(codec, rate=fps, options=options or {})
    s.width, s.height, s.pix_fmt = w, h, pix_fmt
    s.time_base = fractions.Fraction(1, fps)
    rng = np.random.default_rng(1)
    for t, img in _pictures(n, w, h, values=pts):
        if noise:
            img = stamp(rng.integers(0, 255, img.shape, dtype=np.uint8), t)
        frame = av.VideoFrame.from_ndarray(img, format="rgb24")
        frame.pts = pts[t] if pts is not None else t
        frame.time_base = fractions.Fraction(1, fps)
        for p in s.encode(frame):
            out.mux(p)
    for p in s.encode():
        out.mux(p)
    out.close()
    return path


def damage_packets(src: Path, dst: Path, which: list[int]) -> Path:
    """Copy of ``src`` with the packets ``which`` (decode order) zeroed: those
    frames fail to decode, the stream goes on."""
    import av
    with av.open(str(src)) as c:
        packets = [(p.pos, p.size) for p in c.demux(video=0) if p.size]
    data = bytearray(src.read_bytes())
    for k in which:
        pos, size = packets[k]
        data[pos:pos + size] = bytes(size)
    dst.write_bytes(bytes(data))
    return dst


def h264_with_bad_frames(d: Path, bad=(3, 7, 12)) -> Path:
    good = encode(d / "good_h264.mp4", n=48, fps=24, w=64, h=64, noise=True, options={"g": "6", "bf": "2"})
    return damage_packets(good, d / "damaged.mp4", list(bad))


def zero_avi_rates(src: Path, dst: Path) -> Path:
    """Copy of an AVI with ``avih`` microseconds-per-frame and the video
    stream's ``strh`` scale/rate set to 0 (a file that states no rate)."""
    data = bytearray(src.read_bytes())
    i = data.find(b"avih")
    struct.pack_into("<I", data, i + 8, 0)
    j = data.find(b"strh")
    while data[j + 8:j + 12] != b"vids":
        j = data.find(b"strh", j + 4)
    struct.pack_into("<II", data, j + 28, 0, 0)
    dst.write_bytes(bytes(data))
    return dst


def dropped_frames_pts(n_timeline: int, keep_fraction: float, seed: int = 0) -> list[int]:
    """Sorted frame times (in slots of a constant-rate time line of
    ``n_timeline`` frames) of the frames a phone kept: the first and the last
    always, ``keep_fraction`` of the others at random."""
    rng = np.random.default_rng(seed)
    k = int(round(n_timeline * keep_fraction))
    inner = rng.choice(np.arange(1, n_timeline - 1), k - 2, replace=False)
    return sorted([0, n_timeline - 1, *inner.tolist()])


def encode_isolated(path: Path, **kwargs) -> Path:
    """:func:`encode` in a child process: some encoders (SVT-AV1) change the
    signal mask of the process that loads them, which child processes of the
    test process would inherit."""
    import json
    import subprocess
    import sys
    root = Path(__file__).resolve().parents[1]
    code = ("import json; from tests.video_files import encode; "       # python -c: the cwd is on the path
            f"encode({str(path)!r}, **json.loads({json.dumps(json.dumps(kwargs))}))")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, timeout=120, cwd=root)
    return path

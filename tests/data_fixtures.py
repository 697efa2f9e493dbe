"""Writes tiny datasets in the exact NTU RGB+D / video-folder layouts for tests.

Videos are real MJPG ``.avi`` files written with OpenCV's VideoWriter; each
frame shows a textured background and bright rectangles ("persons") exactly
where the matching ``.skeleton`` file puts the bodies' colorX/colorY joints,
so crops can be checked against the skeleton. Frame size is tiny (64x48).
"""
from __future__ import annotations

import dataclasses
import os
import zipfile

import numpy as np

from data_pipelines.ntu.skeleton import Body, format_skeleton
from data_pipelines.video_io import write_video

W, H = 64, 48
BODY_IDS = (72057594037931101, 72057594037931103)   # 17 digits; differ only beyond float64 precision


@dataclasses.dataclass
class FakeSample:
    """A sample to write: ``bodies[t]`` lists (cx, cy, half_w, half_h) person boxes."""
    name: str
    frames: int = 8
    bodies: list = None
    write_skeleton: bool = True
    truncate_skeleton: bool = False
    corrupt_video: bool = False
    truncate_video: float | None = None   # keep this fraction of the .avi's bytes

    def __post_init__(self):
        if self.bodies is None:
            self.bodies = [[(20 + 2 * t, 24, 6, 14)] for t in range(self.frames)]


def joints_for(box, rng) -> np.ndarray:
    """25 joints (25, 12) whose colorX/colorY fill ``box`` = (cx, cy, hw, hh);
    corners are included so the tight box equals ``box`` exactly."""
    cx, cy, hw, hh = box
    xy = np.column_stack([rng.uniform(cx - hw, cx + hw, 25), rng.uniform(cy - hh, cy + hh, 25)])
    xy[:4] = [(cx - hw, cy - hh), (cx + hw, cy + hh), (cx - hw, cy + hh), (cx + hw, cy - hh)]
    j = np.zeros((25, 12))
    # Camera-space metres: x right, y up, z depth; 2 cm per pixel here, so a
    # box taller than wide in the image is a body taller than wide in 3-D.
    j[:, 0] = (xy[:, 0] - W / 2) * 0.02
    j[:, 1] = (H / 2 - xy[:, 1]) * 0.02
    j[:, 2] = 3.0 + rng.normal(scale=0.05, size=25)
    j[:, 3:5] = xy / 4                      # depthX/Y (other image; unused)
    j[:, 5:7] = xy
    j[:, 7] = 1.0
    j[:, 11] = 2
    return j


def render_frames(sample: FakeSample, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    bg = rng.integers(0, 80, size=(H, W, 3), dtype=np.uint8)
    frames = np.repeat(bg[None], sample.frames, axis=0)
    for t, boxes in enumerate(sample.bodies[:sample.frames]):
        for (cx, cy, hw, hh) in boxes:
            x0, x1 = int(max(cx - hw, 0)), int(min(cx + hw + 1, W))
            y0, y1 = int(max(cy - hh, 0)), int(min(cy + hh + 1, H))
            frames[t, y0:y1, x0:x1] = (230, 200, 60)
    return frames


def skeleton_text(sample: FakeSample, seed: int = 0) -> str:
    rng = np.random.default_rng(seed + 1)
    frames = []
    for boxes in sample.bodies:
        frames.append([Body(BODY_IDS[k], np.array([0, 1, 1, 1, 1, 0, 0.01, -0.2, 2.0]),
                            joints_for(b, rng)) for k, b in enumerate(boxes)])
    text = format_skeleton(frames, newline="\r\n")
    if sample.truncate_skeleton:
        lines = text.split("\r\n")
        text = "\r\n".join(lines[: len(lines) // 2])   # cut mid-file
    return text


def write_ntu_dir(root: str, samples: list[FakeSample]) -> None:
    """Extracted official layout: nturgb+d_rgb/<name>_rgb.avi, nturgb+d_skeletons/<name>.skeleton."""
    os.makedirs(os.path.join(root, "nturgb+d_rgb"), exist_ok=True)
    os.makedirs(os.path.join(root, "nturgb+d_skeletons"), exist_ok=True)
    for i, s in enumerate(samples):
        vpath = os.path.join(root, "nturgb+d_rgb", f"{s.name}_rgb.avi")
        if s.corrupt_video:
            with open(vpath, "wb") as f:
                f.write(b"RIFF\x00\x00\x00\x00AVI garbage, not a video" * 10)
        else:
            write_video(vpath, render_frames(s, seed=i), fps=30.0)
            if s.truncate_video is not None:
                with open(vpath, "r+b") as f:
                    f.truncate(int(os.path.getsize(vpath) * s.truncate_video))
        if s.write_skeleton:
            with open(os.path.join(root, "nturgb+d_skeletons", f"{s.name}.skeleton"), "w",
                      newline="") as f:
                f.write(skeleton_text(s, seed=i))


def zip_ntu_dir(extracted: str, out_dir: str) -> None:
    """The distributed archive layout: nturgbd_rgb_sXXX.zip per setup and one
    skeleton zip, members under nturgb+d_rgb/ and nturgb+d_skeletons/."""
    os.makedirs(out_dir, exist_ok=True)
    rgb = sorted(os.listdir(os.path.join(extracted, "nturgb+d_rgb")))
    for setup in sorted({f[1:4] for f in rgb}):
        with zipfile.ZipFile(os.path.join(out_dir, f"nturgbd_rgb_s{setup}.zip"), "w") as zf:
            for f in rgb:
                if f[1:4] == setup:
                    zf.write(os.path.join(extracted, "nturgb+d_rgb", f), f"nturgb+d_rgb/{f}")
    with zipfile.ZipFile(os.path.join(out_dir, "nturgbd_skeletons_s001_to_s017.zip"), "w",
                         compression=zipfile.ZIP_DEFLATED) as zf:
        for f in sorted(os.listdir(os.path.join(extracted, "nturgb+d_skeletons"))):
            zf.write(os.path.join(extracted, "nturgb+d_skeletons", f), f"nturgb+d_skeletons/{f}")


def standard_samples() -> list[FakeSample]:
    """Covers the protocols and every crop path.

    * two bodies, and a frame with zero bodies;
    * a published missing-skeleton sample (S001C002P005R002A008);
    * a sample without skeleton file; one whose skeleton has no body at all;
    * NTU120-only samples (setups >= 18, actions > 60).
    """
    two = [[(16, 24, 5, 12), (46, 22, 6, 13)] for _ in range(8)]
    gap = [[(24, 24, 6, 12)] if t != 3 else [] for t in range(8)]
    return [
        FakeSample("S001C001P001R001A001"),
        FakeSample("S001C002P003R001A002"),
        FakeSample("S002C003P002R002A003", bodies=two),
        FakeSample("S002C001P007R001A050", bodies=two),
        FakeSample("S003C002P008R001A004", bodies=gap),
        FakeSample("S001C002P005R002A008"),                       # on the missing list
        FakeSample("S004C003P009R001A005", write_skeleton=False),   # no skeleton file
        FakeSample("S005C001P013R002A006", bodies=[[] for _ in range(8)]),  # no body at all
        FakeSample("S018C001P045R001A061"),
        FakeSample("S019C002P050R002A100", frames=6),
        FakeSample("S021C003P060R001A120", frames=10),
    ]

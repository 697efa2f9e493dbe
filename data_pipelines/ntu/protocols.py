"""NTU RGB+D sample names, action names, evaluation protocols, missing-skeleton lists.

A sample name is ``SsssCcccPpppRrrrAaaa`` (setup, camera, performer/subject,
replication, action; e.g. ``S001C002P003R002A013``). Videos are
``<name>_rgb.avi``, skeletons ``<name>.skeleton``. NTU RGB+D 60 holds setups
S001-S017 and actions A001-A060; NTU RGB+D 120 holds S001-S032 and A001-A120.

Protocols (``PROTOCOLS``):

=============  ==========  ================================================
name           dataset     train split
=============  ==========  ================================================
ntu60_xsub     NTU60       subjects in ``NTU60_XSUB_TRAIN_SUBJECTS``
ntu60_xview    NTU60       cameras 2 and 3 (camera 1 is the test split)
ntu120_xsub    NTU120      subjects in ``NTU120_XSUB_TRAIN_SUBJECTS``
ntu120_xset    NTU120      even setup ids (odd setup ids are the test split)
=============  ==========  ================================================

Labels are ``action - 1`` (0-based).
"""
from __future__ import annotations

import dataclasses
import functools
import re
from importlib import resources

NAME_RE = re.compile(r"^S(\d{3})C(\d{3})P(\d{3})R(\d{3})A(\d{3})$")

NTU60_XSUB_TRAIN_SUBJECTS = frozenset(
    [1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38])
NTU120_XSUB_TRAIN_SUBJECTS = frozenset(
    [1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38,
     45, 46, 47, 49, 50, 52, 53, 54, 55, 56, 57, 58, 59, 70, 74, 78, 80, 81,
     82, 83, 84, 85, 86, 89, 91, 92, 93, 94, 95, 97, 98, 100, 103])
NTU60_XVIEW_TRAIN_CAMERAS = frozenset([2, 3])


@dataclasses.dataclass(frozen=True)
class SampleId:
    """Parsed NTU sample name (all fields 1-based as in the name)."""
    name: str
    setup: int
    camera: int
    subject: int
    replication: int
    action: int

    @property
    def label(self) -> int:
        """0-based class label."""
        return self.action - 1


def parse_name(name: str) -> SampleId:
    """Parses ``SsssCcccPpppRrrrAaaa`` (every number >= 1); raises ``ValueError``
    naming the bad name."""
    m = NAME_RE.match(name)
    if not m:
        raise ValueError(
            f"{name!r} is not an NTU sample name (expected SsssCcccPpppRrrrAaaa, "
            "e.g. S001C002P003R002A013)")
    s, c, p, r, a = (int(g) for g in m.groups())
    if 0 in (s, c, p, r, a):
        field = "SCPRA"[(s, c, p, r, a).index(0)]
        raise ValueError(f"{name!r} is not an NTU sample name: {field}000 is not a valid "
                         "number (setup, camera, performer, replication and action "
                         "numbers start at 1)")
    return SampleId(name, s, c, p, r, a)


@dataclasses.dataclass(frozen=True)
class Protocol:
    """An evaluation protocol: which samples belong to it and to which split."""
    name: str
    num_classes: int      # 60 or 120
    max_setup: int        # 17 for NTU60, 32 for NTU120
    description: str

    def contains(self, s: SampleId) -> bool:
        return s.setup <= self.max_setup and 1 <= s.action <= self.num_classes

    def split_of(self, s: SampleId) -> str:
        """``"train"`` or ``"test"`` for a sample of this protocol."""
        if self.name == "ntu60_xsub":
            train = s.subject in NTU60_XSUB_TRAIN_SUBJECTS
        elif self.name == "ntu120_xsub":
            train = s.subject in NTU120_XSUB_TRAIN_SUBJECTS
        elif self.name == "ntu60_xview":
            train = s.camera in NTU60_XVIEW_TRAIN_CAMERAS
        elif self.name == "ntu120_xset":
            train = s.setup % 2 == 0
        else:  # pragma: no cover - PROTOCOLS holds only the four above
            raise ValueError(f"unknown protocol {self.name!r}")
        return "train" if train else "test"


PROTOCOLS: dict[str, Protocol] = {
    p.name: p for p in [
        Protocol("ntu60_xsub", 60, 17, "NTU RGB+D 60, cross-subject (20 training subjects)"),
        Protocol("ntu60_xview", 60, 17, "NTU RGB+D 60, cross-view (train cameras 2, 3; test camera 1)"),
        Protocol("ntu120_xsub", 120, 32, "NTU RGB+D 120, cross-subject (53 training subjects)"),
        Protocol("ntu120_xset", 120, 32, "NTU RGB+D 120, cross-setup (even setups train, odd test)"),
    ]
}


def _read_list(filename: str) -> list[str]:
    text = resources.files("data_pipelines.ntu").joinpath("resources", filename).read_text("utf-8")
    return [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]


@functools.cache
def action_names(num_classes: int = 120) -> tuple[str, ...]:
    """The NTU action names in label order (60 or 120 of them)."""
    names = _read_list("ntu120_action_names.txt")
    if num_classes not in (60, 120) or len(names) != 120:
        raise ValueError(f"num_classes={num_classes!r}: must be 60 or 120")
    return tuple(names[:num_classes])


@functools.cache
def missing_skeleton_samples(num_classes: int = 120) -> frozenset[str]:
    """The published samples with missing/incomplete skeletons: 302 for NTU60
    (``num_classes=60``), 535 for NTU120. Shipped as package data in
    ``data_pipelines/ntu/resources/ntu{60,120}_missing_skeletons.txt``."""
    if num_classes not in (60, 120):
        raise ValueError(f"num_classes={num_classes!r}: must be 60 or 120")
    names = _read_list(f"ntu{num_classes}_missing_skeletons.txt")
    for n in names:
        parse_name(n)
    return frozenset(names)


def read_sample_list(path: str) -> frozenset[str]:
    """Reads a list of sample names: one name per line; ``#`` comments, blank
    lines and prose lines (containing a space, like the two header lines of the
    official ``NTU_RGBD*_samples_with_missing_skeletons.txt``) are ignored. Any
    other line must be a valid sample name; errors name the file and line."""
    out = set()
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f, 1):
            line = line.split("#", 1)[0].strip()
            if not line or " " in line:
                continue
            try:
                parse_name(line)
            except ValueError as e:
                raise ValueError(f"{path}, line {i}: {e}") from None
            out.add(line)
    return frozenset(out)

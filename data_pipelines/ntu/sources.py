"""Finds NTU RGB+D videos and skeleton files in the user's manual directory.

Accepted layouts (they can be mixed; the directory is searched recursively):

* extracted: ``nturgb+d_rgb/<name>_rgb.avi`` and ``nturgb+d_skeletons/<name>.skeleton``
  (any folder names work; files are matched by their names);
* the distributed archives, unextracted: ``nturgbd_rgb_s001.zip`` ...
  ``nturgbd_rgb_s032.zip`` and ``nturgbd_skeletons_s001_to_s017.zip`` /
  ``nturgbd_skeletons_s018_to_s032.zip`` (any ``*.zip`` is indexed by its
  member names).

An extracted file wins over the same name inside a zip. The same name twice
in extracted form, or twice across zips, is an error naming both places.
Files (and zip members) whose names are not NTU video/skeleton names (for
example ``S000...``, which no NTU setup is numbered) are listed in
``ManualDirIndex.ignored`` for the preparation report.
"""
from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import re
import zipfile

from data_pipelines.ntu.protocols import parse_name
from data_pipelines.ntu.skeleton import SkeletonFormatError, SkeletonSequence, parse_skeleton_bytes
from data_pipelines.video_io import local_copy

_VIDEO_RE = re.compile(r"^(S\d{3}C\d{3}P\d{3}R\d{3}A\d{3})_rgb\.avi$")
_SKEL_RE = re.compile(r"^(S\d{3}C\d{3}P\d{3}R\d{3}A\d{3})\.skeleton$")


@dataclasses.dataclass(frozen=True)
class Location:
    """A file on disk (``member is None``) or a member of a zip archive."""
    path: str
    member: str | None = None

    def __str__(self) -> str:
        return f"{self.path}:{self.member}" if self.member else self.path

    def identity(self) -> str:
        """Size and modification time of the file (of the archive for a zip
        member, plus the member name): changes when the file is replaced."""
        st = os.stat(self.path)
        return f"{st.st_size}:{st.st_mtime_ns}:{self.member or ''}"

    def read_bytes(self) -> bytes:
        if self.member is None:
            with open(self.path, "rb") as f:
                return f.read()
        with zipfile.ZipFile(self.path) as zf:
            return zf.read(self.member)


@dataclasses.dataclass
class ManualDirIndex:
    """``videos[name]`` and ``skeletons[name]`` -> :class:`Location`;
    ``ignored``: files and zip members (as ``str(Location)``) that are not NTU
    videos or skeletons."""
    root: str
    videos: dict[str, Location]
    skeletons: dict[str, Location]
    ignored: list[str] = dataclasses.field(default_factory=list)


def _add(table: dict, extracted: set, name: str, loc: Location, kind: str) -> None:
    old = table.get(name)
    if old is None:
        table[name] = loc
        if loc.member is None:
            extracted.add(name)
        return
    if (old.member is None) != (loc.member is None):   # one extracted, one zipped
        if loc.member is None:
            table[name] = loc
            extracted.add(name)
        return
    raise ValueError(f"NTU {kind} {name!r} found twice: {old} and {loc}; "
                     "remove one copy from the manual directory")


def index_manual_dir(root: str | os.PathLike) -> ManualDirIndex:
    """Scans ``root`` recursively for NTU videos/skeletons (files and zips)."""
    root = str(root)
    if not os.path.isdir(root):
        raise FileNotFoundError(f"manual directory {root!r} does not exist")
    videos: dict[str, Location] = {}
    skeletons: dict[str, Location] = {}
    ext_v: set = set()
    ext_s: set = set()
    zips, ignored = [], []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith((".", "__MACOSX")))
        for fn in sorted(filenames):
            full = os.path.join(dirpath, fn)
            kind, name = _classify(fn)
            if kind == "video":
                _add(videos, ext_v, name, Location(full), "video")
            elif kind == "skeleton":
                _add(skeletons, ext_s, name, Location(full), "skeleton")
            elif fn.lower().endswith(".zip"):
                zips.append(full)
            elif not fn.startswith("."):
                ignored.append(full)
    for zp in zips:
        try:
            with zipfile.ZipFile(zp) as zf:
                members = [m for m in zf.namelist() if not m.endswith("/")]
        except (zipfile.BadZipFile, OSError) as e:
            raise ValueError(f"{zp}: not a readable zip archive ({e})") from None
        for member in members:
            base = member.rsplit("/", 1)[-1]
            if "__MACOSX" in member or base.startswith("."):
                continue
            kind, name = _classify(base)
            if kind == "video":
                if name not in ext_v:
                    _add(videos, set(), name, Location(zp, member), "video")
            elif kind == "skeleton":
                if name not in ext_s:
                    _add(skeletons, set(), name, Location(zp, member), "skeleton")
            else:
                ignored.append(str(Location(zp, member)))
    logging.info("NTU manual dir %s: %d videos, %d skeleton files (%d zip archives)",
                 root, len(videos), len(skeletons), len(zips))
    return ManualDirIndex(root, videos, skeletons, ignored)


def _classify(filename: str) -> tuple[str | None, str | None]:
    """``("video" | "skeleton", sample name)`` for NTU file names with a valid
    sample name, else ``(None, None)``."""
    for kind, pattern in (("video", _VIDEO_RE), ("skeleton", _SKEL_RE)):
        if m := pattern.match(filename):
            try:
                parse_name(m.group(1))
            except ValueError:
                return None, None
            return kind, m.group(1)
    return None, None


def load_skeleton(loc: Location) -> SkeletonSequence:
    """Reads and parses a skeleton file or zip member (errors name it)."""
    try:
        data = loc.read_bytes()
    except (OSError, zipfile.BadZipFile, KeyError) as e:
        raise SkeletonFormatError(f"{loc}: cannot read ({e})") from None
    return parse_skeleton_bytes(data, str(loc))


def video_path(loc: Location) -> contextlib.AbstractContextManager[str]:
    """Context manager yielding a local path for the video (a zip member is
    extracted to a temporary file, removed afterwards). Entering it may raise
    ``OSError``/``zipfile.BadZipFile`` for unreadable archives."""
    if loc.member is None:
        return contextlib.nullcontext(loc.path)
    return local_copy(loc.path, loc.member)

"""Atomic file writes: readers see the old file or the whole new one, never a part.

Standard library only (this folder is copied into every export bundle), so the
runtime, training, export, data preparation and benchmarks all write files
through these helpers:

* :func:`atomic_write_bytes` / :func:`atomic_write_text` / :func:`atomic_write_json`
  -- whole contents at once;
* :func:`atomic_open` -- a context manager for contents produced bit by bit
  (a temporary file next to the target, renamed over it when the block ends
  normally, deleted when it raises);
* :func:`atomic_path` -- the same for writers that take a file name.
"""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator


def _umasked(mode: int) -> int:
    umask = os.umask(0)
    os.umask(umask)
    return mode & ~umask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, perms: int = 0o666) -> Iterator[Path]:
    """``with atomic_path(p) as tmp: writer.save(tmp)`` for writers that take a
    file name (OpenCV's ``VideoWriter``, ``np.savez`` of a path...): ``tmp`` is
    ``.<name>.<random>.tmp<suffix>`` next to ``p`` (same suffix, so writers that
    pick a format by it still do), renamed over ``p`` when the block ends
    normally (permissions ``perms`` less the umask, as ``open`` would give);
    on an exception it is removed and ``p`` is left as it was."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + path.suffix, dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, _umasked(perms))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "wb", perms: int = 0o666) -> Iterator[Any]:
    """``with atomic_open(p, "w") as f: ...``: ``f`` is open on a temporary file
    next to ``p`` that replaces ``p`` when the block ends normally and is
    removed when it raises (see :func:`atomic_path`)."""
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open: mode must be 'w' or 'wb', got {mode!r}")
    with atomic_path(path, perms) as tmp:
        with open(tmp, mode, **({"encoding": "utf-8"} if mode == "w" else {})) as f:
            yield f


def atomic_write_bytes(path: str | os.PathLike, data: bytes, mode: int = 0o666) -> Path:
    """Writes ``data`` to ``path`` atomically (see :func:`atomic_open`)."""
    with atomic_open(path, "wb", mode) as f:
        f.write(data)
    return Path(path)


def atomic_write_text(path: str | os.PathLike, text: str, mode: int = 0o666) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"), mode)


def atomic_write_json(path: str | os.PathLike, doc: Any) -> Path:
    """``doc`` as indented JSON plus a newline, atomically."""
    return atomic_write_text(path, json.dumps(doc, indent=2) + "\n")

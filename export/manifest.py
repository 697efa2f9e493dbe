"""``manifest.json``: what was exported, from what, with which tools, and checksums.

Every regular file under the export directory (recursively, the manifest
itself excluded) is listed with its size and sha256 -- the export is built in a
fresh directory, so that is exactly this export's files; ``verify`` re-checks
them and reports files the manifest does not list.
"""
from __future__ import annotations

import datetime
import hashlib
import importlib.metadata as md
import os
import platform
from pathlib import Path

PACKAGES = ("jax", "jaxlib", "flax", "numpy", "tensorflow-cpu", "tensorflow", "tf2onnx", "onnx",
            "onnxruntime", "onnxruntime-gpu", "jax2onnx", "onnxslim", "tensorrt")


def sha256(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "platform": platform.platform()}
    for p in PACKAGES:
        try:
            out[p] = md.version(p)
        except md.PackageNotFoundError:
            pass
    return out


def file_table(out_dir: Path) -> dict[str, dict]:
    files = {}
    for p in sorted(out_dir.rglob("*")):
        if p.is_file() and p.name != "manifest.json":
            files[p.relative_to(out_dir).as_posix()] = {"bytes": p.stat().st_size, "sha256": sha256(p)}
    return files


def file_table_names(out_dir: Path) -> list[str]:
    return sorted(p.relative_to(out_dir).as_posix() for p in out_dir.rglob("*")
                  if p.is_file() and p.name != "manifest.json")


def write_manifest(out_dir: str | os.PathLike, info: dict) -> Path:
    out_dir = Path(out_dir)
    doc = {"created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
           "versions": versions(), **info, "files": file_table(out_dir)}
    from jaxar.runtime.files import atomic_write_json
    return atomic_write_json(out_dir / "manifest.json", doc)


def verify(out_dir: str | os.PathLike) -> list[str]:
    """Files whose checksum or presence no longer matches the manifest, and
    files the manifest does not list."""
    from jaxar.model_record import read_json
    out_dir = Path(out_dir)
    doc = read_json(out_dir / "manifest.json")
    bad = [f"{rel}: not in the manifest" for rel in file_table_names(out_dir) if rel not in doc["files"]]
    for rel, entry in doc["files"].items():
        p = out_dir / rel
        if not p.is_file():
            bad.append(f"{rel}: missing")
        elif sha256(p) != entry["sha256"]:
            bad.append(f"{rel}: checksum changed")
    return bad

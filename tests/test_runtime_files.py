"""jaxar.runtime.files: a target is the old file or the whole new one, never a part."""
import json
import os

import pytest

from jaxar.runtime.files import atomic_open, atomic_path, atomic_write_json, atomic_write_text


def test_atomic_open_replaces_on_success_and_keeps_old_file_on_error(tmp_path):
    p = tmp_path / "a.txt"
    atomic_write_text(p, "old\n")
    with pytest.raises(RuntimeError):
        with atomic_open(p, "w") as f:
            f.write("half")
            raise RuntimeError("writer failed")
    assert p.read_text() == "old\n"
    assert os.listdir(tmp_path) == ["a.txt"]            # no temporary file left
    with atomic_open(p, "w") as f:
        f.write("new\n")
        assert p.read_text() == "old\n"                 # not visible before the block ends
    assert p.read_text() == "new\n" and os.listdir(tmp_path) == ["a.txt"]
    with pytest.raises(ValueError, match="mode"):
        with atomic_open(p, "a"):
            pass


def test_atomic_path_keeps_the_suffix_and_cleans_up(tmp_path):
    p = tmp_path / "clip.npz"
    with atomic_path(p) as tmp:
        assert tmp.parent == tmp_path and tmp.suffix == ".npz" and tmp != p
        tmp.write_bytes(b"data")
    assert p.read_bytes() == b"data"
    with pytest.raises(OSError):
        with atomic_path(p) as tmp:
            tmp.write_bytes(b"partial")
            raise OSError("disk full")
    assert p.read_bytes() == b"data" and os.listdir(tmp_path) == ["clip.npz"]
    atomic_write_json(tmp_path / "d.json", {"a": [1, 2]})
    assert json.loads((tmp_path / "d.json").read_text()) == {"a": [1, 2]}

"""Tests for the NTU .skeleton reader."""
import numpy as np
import pytest

from data_pipelines.ntu.skeleton import (
    Body, SkeletonFormatError, format_skeleton, parse_skeleton, parse_skeleton_bytes, read_skeleton)

ID_A, ID_B = 72057594037931101, 72057594037931103   # equal as float64, different as int
assert float(ID_A) == float(ID_B)


def _body(body_id, x0):
    joints = np.zeros((25, 12))
    joints[:, 5] = x0 + np.arange(25)           # colorX
    joints[:, 6] = 100.5 + np.arange(25) / 4    # colorY
    joints[:, 11] = 2
    return Body(body_id, np.array([0, 1, 1, 1, 1, 0, 0.01, -0.25, 2]), joints)


FRAMES = [[_body(ID_A, 10)], [], [_body(ID_A, 12), _body(ID_B, 300)]]


@pytest.mark.parametrize("newline", ["\r\n", "\n"])
def test_roundtrip_crlf_and_lf_zero_and_two_bodies(tmp_path, newline):
    path = tmp_path / "S001C001P001R001A001.skeleton"
    path.write_bytes(format_skeleton(FRAMES, newline=newline).encode())
    seq = read_skeleton(path)
    assert seq.num_frames == 3
    assert [len(f) for f in seq.frames] == [1, 0, 2]
    ids = [b.body_id for b in seq.frames[2]]
    assert ids == [ID_A, ID_B] and all(type(i) is int for i in ids)
    np.testing.assert_array_equal(seq.frames[2][1].joints, FRAMES[2][1].joints)
    pts = seq.color_points()
    assert [p.shape for p in pts] == [(25, 2), (0, 2), (50, 2)]
    assert pts[2][:, 0].min() == 12 and pts[2][:, 0].max() == 324
    assert seq.has_any_body()


def test_real_looking_text_with_float_fields():
    text = ("1\r\n1\r\n72057594037931101 0 1 1 1 1 0 0.01119184 -0.256052 2\r\n2\r\n"
            "0.2181153 0.1725972 3.785547 277.2263 191.1074 1036.18 506.3571 -0.2334 0.0115 0.9657 -0.1133 2\r\n"
            "0.2323292 0.4326636 3.714767 278.6895 163.7487 1040.5 428.1426 -0.2426 0.0143 0.9657 -0.09163 1\r\n")
    seq = parse_skeleton(text, "x.skeleton")
    body = seq.frames[0][0]
    assert body.body_id == 72057594037931101
    np.testing.assert_allclose(body.color_xy, [[1036.18, 506.3571], [1040.5, 428.1426]])
    assert body.joints.shape == (2, 12)


def test_all_frames_empty_has_no_body():
    seq = parse_skeleton("3\n0\n0\n0\n", "e.skeleton")
    assert seq.num_frames == 3 and not seq.has_any_body()


@pytest.mark.parametrize("text,line,what", [
    ("", 1, "frame count"),
    ("2\r\n0\r\n", 3, "truncated"),                                   # missing 2nd frame
    ("x\n", 1, "frame count"),
    ("1\n1\n7 0 1 1 1 1 0 0 0\n", 3, "10 values"),                     # 9 info values
    ("1\n1\n7.5 0 1 1 1 1 0 0 0 2\n", 3, "bodyID"),
    ("1\n1\n7 0 1 1 1 1 0 0 0 2\n2\n" + "1 " * 12 + "\n", 6, "truncated"),   # 1 of 2 joints
    ("1\n1\n7 0 1 1 1 1 0 0 0 2\n1\n" + "1 " * 11 + "\n", 5, "12 values"),
    ("1\n1\n7 0 1 1 1 1 0 0 0 2\n1\n" + "1 " * 11 + "abc\n", 5, "non-numeric"),
    ("1\n0\n5\n", 3, "after the last"),
])
def test_malformed_files_name_file_and_line(text, line, what):
    with pytest.raises(SkeletonFormatError) as err:
        parse_skeleton(text, "S001C001P001R001A001.skeleton")
    msg = str(err.value)
    assert msg.startswith(f"S001C001P001R001A001.skeleton, line {line}:"), msg
    assert what in msg


def test_truncated_real_file_reports_path(tmp_path):
    full = format_skeleton(FRAMES)
    path = tmp_path / "S002C001P001R001A001.skeleton"
    path.write_text(full[: len(full) // 2].rsplit("\r\n", 1)[0])
    with pytest.raises(SkeletonFormatError, match=r"S002C001P001R001A001\.skeleton, line \d+: "):
        read_skeleton(path)


def test_binary_garbage_is_an_error():
    with pytest.raises(SkeletonFormatError, match="bad.skeleton, line 2: not an ASCII"):
        parse_skeleton_bytes(b"3\n\xff\xfe", "bad.skeleton")

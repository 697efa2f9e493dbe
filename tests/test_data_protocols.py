"""Tests for NTU names, protocols and the shipped lists."""
import pytest

from data_pipelines.ntu import protocols as P


def test_parse_name():
    s = P.parse_name("S017C003P020R001A059")
    assert (s.setup, s.camera, s.subject, s.replication, s.action, s.label) == (17, 3, 20, 1, 59, 58)
    for bad in ["S17C003P020R001A059", "S017C003P020R001A059.skeleton", "s017c003p020r001a059"]:
        with pytest.raises(ValueError, match="not an NTU sample name"):
            P.parse_name(bad)


@pytest.mark.parametrize("name,expected", [
    # name,                  xsub60,  xview60, xsub120, xset120
    ("S001C001P001R001A001", ("train", "test", "train", "test")),
    ("S001C002P003R001A001", ("test", "train", "test", "test")),
    ("S002C003P038R001A001", ("train", "train", "train", "train")),
    ("S017C001P040R001A060", ("test", "test", "test", "test")),
    ("S018C002P045R001A061", (None, None, "train", "train")),
    ("S031C003P103R002A120", (None, None, "train", "test")),
    ("S032C001P106R002A120", (None, None, "test", "train")),
])
def test_protocol_splits(name, expected):
    s = P.parse_name(name)
    for proto, want in zip(["ntu60_xsub", "ntu60_xview", "ntu120_xsub", "ntu120_xset"], expected):
        p = P.PROTOCOLS[proto]
        if want is None:
            assert not p.contains(s)
        else:
            assert p.contains(s) and p.split_of(s) == want, (name, proto)


def test_subject_lists_match_spec_sizes():
    assert len(P.NTU60_XSUB_TRAIN_SUBJECTS) == 20
    assert len(P.NTU120_XSUB_TRAIN_SUBJECTS) == 53
    assert P.NTU60_XSUB_TRAIN_SUBJECTS < P.NTU120_XSUB_TRAIN_SUBJECTS


def test_action_names():
    assert len(P.action_names(60)) == 60 and len(P.action_names(120)) == 120
    assert P.action_names(120)[:60] == P.action_names(60)
    assert P.action_names(60)[0] == "drink water"
    assert P.action_names(120)[119].startswith("finger-guessing game")
    assert len(set(P.action_names(120))) == 120


def test_missing_skeleton_lists():
    m60, m120 = P.missing_skeleton_samples(60), P.missing_skeleton_samples(120)
    assert len(m60) == 302 and len(m120) == 535
    assert m60 < m120
    assert all(P.parse_name(n).setup <= 17 for n in m60)
    assert {n for n in m120 if P.parse_name(n).setup <= 17} == m60
    assert "S001C002P005R002A008" in m60 and "S032C003P067R002A077" in m120


def test_read_sample_list_accepts_official_header_and_reports_bad_lines(tmp_path):
    good = tmp_path / "list.txt"
    good.write_text("302 of the captured samples have missing skeletons.\n"
                    "If you are working on skeleton-based analysis, ignore them.\n\n"
                    "S001C002P005R002A008\nS001C002P006R001A008  # comment\n")
    assert P.read_sample_list(str(good)) == {"S001C002P005R002A008", "S001C002P006R001A008"}
    bad = tmp_path / "bad.txt"
    bad.write_text("S001C002P005R002A008\nS01C002P006R001A008\n")
    with pytest.raises(ValueError, match=r"bad\.txt, line 2: "):
        P.read_sample_list(str(bad))

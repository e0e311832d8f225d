"""Identity-disjoint splits, manifest read/write and the `avanomaly index` CLI."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from favc_tree import CLIPS, build_tree

from avanomaly.cli import cli
from avanomaly.data.fakeavceleb import index_fakeavceleb
from avanomaly.data.manifest import (
    REQUIRED_COLUMNS,
    index_folder,
    read_manifest,
    write_manifest,
)
from avanomaly.data.splits import (
    UNASSIGNED,
    check_identity_disjoint,
    identity_split,
    parse_fractions,
    split_counts,
)
from avanomaly.errors import DatasetError


# --- splits ----------------------------------------------------------------------------------------
def test_split_counts_default_matches_avh_align():
    assert split_counts(500) == [314, 35, 151]
    for n in (1, 2, 3, 7, 10, 99, 501):
        counts = split_counts(n)
        assert sum(counts) == n
        if n >= 3:
            assert min(counts) >= 1


def test_identity_split_properties(tmp_path):
    root, rows = build_tree(tmp_path, n_ids=20)
    df = index_fakeavceleb(root, warn=False)
    a = identity_split(df, seed=3)
    check_identity_disjoint(a)
    assert a.groupby("identity")["split"].nunique().max() == 1  # fakes follow their source identity
    ids = a.groupby("split")["identity"].nunique().to_dict()
    assert ids == dict(zip(("train", "val", "test"), split_counts(20)))
    assert sum(ids.values()) == 20 and len(a) == len(df)
    assert (a.groupby("identity").size() == len(CLIPS)).all()
    # same seed -> same split, independent of row order; another seed -> a different split
    b = identity_split(df.sample(frac=1.0, random_state=1), seed=3).sort_values("path").reset_index(drop=True)
    assert list(a.sort_values("path")["split"]) == list(b["split"])
    c = identity_split(df, seed=4)
    assert list(a["split"]) != list(c["split"])
    d = identity_split(df, fractions=(0.5, 0.0, 0.5), seed=0)
    assert set(d["split"]) == {"train", "test"}


def test_identity_split_errors():
    df = pd.DataFrame({"identity": ["a", "b", ""], "path": ["x", "y", "z"]})
    with pytest.raises(DatasetError, match="empty 'identity'"):
        identity_split(df)
    with pytest.raises(DatasetError, match="sum to 1"):
        identity_split(df.iloc[:2], fractions=(0.5, 0.5, 0.5))
    with pytest.raises(DatasetError, match="need 3"):
        parse_fractions("0.5,0.5")
    with pytest.raises(DatasetError, match="not a comma-separated"):
        parse_fractions("a,b,c")
    assert parse_fractions("0.8,0.1,0.1") == (0.8, 0.1, 0.1)
    leak = pd.DataFrame({"identity": ["a", "a", "b"], "split": ["train", "test", "train"]})
    with pytest.raises(DatasetError, match="several splits"):
        check_identity_disjoint(leak)


# --- manifest ---------------------------------------------------------------------------------------
def test_write_read_roundtrip_relative_paths(tmp_path):
    root, _ = build_tree(tmp_path / "data", n_ids=4)
    df = identity_split(index_fakeavceleb(root, warn=False), seed=1)
    out = write_manifest(df, tmp_path / "data" / "manifest.csv")
    raw = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert list(raw.columns[:6]) == list(REQUIRED_COLUMNS)
    assert not any(os.path.isabs(p) for p in raw["path"])  # inside the manifest folder -> relative
    back = read_manifest(out)
    pd.testing.assert_frame_equal(back[list(REQUIRED_COLUMNS)].reset_index(drop=True),
                                  df[list(REQUIRED_COLUMNS)].reset_index(drop=True))
    assert list(back["subcategory"]) == list(df["subcategory"])
    # the folder (manifest + data) can move: relative paths follow it
    (tmp_path / "data").rename(tmp_path / "moved")
    moved = read_manifest(tmp_path / "moved" / "manifest.csv")
    assert all(Path(p).exists() for p in moved["path"])


def test_read_manifest_from_root_is_split(tmp_path):
    root, rows = build_tree(tmp_path, n_ids=8)
    df = read_manifest(tmp_path, seed=5)  # parent of FakeAVCeleb_v1.2
    assert len(df) == len(rows) and set(df["split"]) <= {"train", "val", "test"}
    check_identity_disjoint(df)
    assert list(df["split"]) == list(read_manifest(root, seed=5)["split"])


def test_read_real_av_format(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "manifest.csv").write_text(
        "path,label,category,method,source\n"
        "real/a.mp4,real,RealVideo-RealAudio,original,repo@1:a.mp4\n"
        'fake/b.avi,fake,RealVideo-FakeAudio,"derived: audio delayed 120 ms, re-encoded",repo@1:a.mp4\n'
        "bad/c.mp4,bad,Corrupt,derived: truncated,repo@2:c.mp4\n")
    df = read_manifest(tmp_path)  # a folder holding manifest.csv
    assert list(df["label"]) == ["real", "fake", "bad"]  # bad rows kept
    assert df["path"].iloc[0] == str(tmp_path / "real" / "a.mp4")
    assert list(df["identity"]) == ["repo@1:a.mp4", "repo@1:a.mp4", "repo@2:c.mp4"]  # derived fake = original's id
    assert set(df["split"]) == {UNASSIGNED}
    assert df["subcategory"].iloc[0] == "RVRA"
    assert df["method"].iloc[1] == "derived: audio delayed 120 ms, re-encoded"


def test_read_shared_real_av(real_av):
    df = read_manifest(real_av / "manifest.csv")
    assert {"real", "fake", "bad"} <= set(df["label"])
    assert all(Path(p).exists() for p in df["path"])


@pytest.mark.parametrize("text,match", [
    ("path,label,category\nx.mp4,real,RealVideo-RealAudio\n", r"missing column\(s\) \['method', 'identity', 'split'\]"),
    ("path,label,category,method,identity,split\nx.mp4,maybe,A,real,id1,train\n", "label must be one of"),
    ("path,label,category,method,identity,split\nx.mp4,real,A,real,,train\n", "empty 'identity'"),
    ("path,label,category,method,identity,split\nx.mp4,real,A,real,i,train\nx.mp4,real,A,real,i,train\n",
     "duplicate path"),
    ("path,label,category,method,identity,split,trimmed\nx.mp4,real,A,real,i,train,abc\n", "'trimmed' must be"),
    ("", "cannot read manifest"),
])
def test_manifest_validation_errors(tmp_path, text, match):
    p = tmp_path / "m.csv"
    p.write_text(text)
    with pytest.raises(DatasetError, match=match) as err:
        read_manifest(p)
    assert str(p) in str(err.value)


def test_read_manifest_missing(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        read_manifest(tmp_path / "absent.csv")
    with pytest.raises(DatasetError, match="neither a FakeAVCeleb root"):
        read_manifest(tmp_path)


def test_trimmed_column_is_float(tmp_path):
    p = tmp_path / "m.csv"
    p.write_text("path,label,category,method,identity,split,trimmed\na.mp4,real,A,real,i,train,0.12\n"
                 "b.mp4,fake,B,rtvc,i,train,\n")
    df = read_manifest(p)
    assert df["trimmed"].iloc[0] == pytest.approx(0.12) and pd.isna(df["trimmed"].iloc[1])


def test_index_folder_identities(tmp_path):
    for rel in ("spk1/a.mp4", "spk1/b.mp4", "spk2/sub/c.avi", "top.mkv", "readme.txt"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"\x00")
    df = index_folder(tmp_path)
    assert sorted(df["identity"]) == ["spk1", "spk1", "spk2/sub", "top"]
    assert set(df["label"]) == {"real"} and set(df["subcategory"]) == {"RVRA"}
    assert sorted(index_folder(tmp_path, identity="file")["identity"]) == ["a", "b", "c", "top"]
    with pytest.raises(DatasetError, match="category"):
        index_folder(tmp_path, label="fake")
    (tmp_path / "emptydir").mkdir()
    with pytest.raises(DatasetError, match="no video files"):
        index_folder(tmp_path / "emptydir")


# --- CLI --------------------------------------------------------------------------------------------
def test_cli_index_fakeavceleb(tmp_path):
    root, rows = build_tree(tmp_path, n_ids=10)
    os.remove(rows[0]["path"])
    out = tmp_path / "m.csv"
    runner = CliRunner()
    res = runner.invoke(cli, ["index", "fakeavceleb", str(tmp_path), "--out", str(out), "--seed", "7",
                              "--split-fractions", "0.6,0.2,0.2"])
    assert res.exit_code == 0, res.output
    text = res.output
    assert "missing on disk" in text  # mismatch printed as a warning
    assert "identities per split: test=2, train=6, val=2" in text
    assert "fsgan-wav2lip" in text and "RealVideo-FakeAudio" in text
    df = read_manifest(out)
    assert len(df) == len(rows) - 1
    check_identity_disjoint(df)
    again = tmp_path / "m2.csv"
    runner.invoke(cli, ["index", "fakeavceleb", str(root), "-o", str(again), "--seed", "7",
                        "--split-fractions", "0.6,0.2,0.2"])
    assert again.read_text() == out.read_text()  # reproducible
    strict = runner.invoke(cli, ["index", "fakeavceleb", str(root), "-o", str(tmp_path / "s.csv"), "--strict"])
    assert strict.exit_code != 0 and isinstance(strict.exception, DatasetError)
    assert not (tmp_path / "s.csv").exists()


def test_cli_index_folder(tmp_path):
    for i in range(6):
        p = tmp_path / "clips" / f"spk{i}" / "x.mp4"
        p.parent.mkdir(parents=True)
        p.write_bytes(b"\x00")
    out = tmp_path / "m.csv"
    res = CliRunner().invoke(cli, ["index", "folder", str(tmp_path / "clips"), "--out", str(out), "--label", "real"])
    assert res.exit_code == 0, res.output
    df = read_manifest(out)
    assert len(df) == 6 and set(df["label"]) == {"real"}
    assert df.groupby("split")["identity"].nunique().sum() == 6
    assert "RealVideo-RealAudio" in res.output
    bad = CliRunner().invoke(cli, ["index", "folder", str(tmp_path / "clips"), "--out", str(out),
                                   "--split-fractions", "1,1,1"])
    assert bad.exit_code != 0


def test_one_real_rows_rule_for_training_and_calibration(tmp_path):
    """A row labelled real whose category is a fake one is not real, for training and calibration alike."""
    import pandas as pd

    from avanomaly.cli_common import UsageFailure
    from avanomaly.data.manifest import real_mask
    from avanomaly.errors import DatasetError
    from avanomaly.scoring.commands import read_real_clips
    from avanomaly.training.selection import select_real_rows

    df = pd.DataFrame({"path": ["a.mp4", "b.mp4", "c.mp4", "d.mp4"],
                       "label": ["real", "real", "real", "fake"],
                       "category": ["RealVideo-RealAudio", "", "FakeVideo-RealAudio", "RealVideo-FakeAudio"],
                       "method": ["real", "real", "faceswap", "rtvc"], "identity": ["p1", "p2", "p3", "p4"],
                       "split": ["val"] * 4})
    assert real_mask(df).tolist() == [True, True, False, False]
    assert real_mask(df.drop(columns=["label", "category"])).tolist() == [False] * 4
    with pytest.raises(DatasetError, match="2 non-real"):
        select_real_rows(df)
    real, n_fake = select_real_rows(df, drop_fakes=True)
    assert list(real["path"]) == ["a.mp4", "b.mp4"] and n_fake == 2
    manifest = tmp_path / "m.csv"
    df.to_csv(manifest, index=False)
    with pytest.raises(UsageFailure, match="2 non-real"):
        read_real_clips(manifest, None, real_only=False)
    paths, _, n_fake = read_real_clips(manifest, None, real_only=True)
    assert [p.split("/")[-1] for p in paths] == ["a.mp4", "b.mp4"] and n_fake == 2

"""FakeAVCeleb indexing on a tiny tree in the exact v1.2 layout."""

from __future__ import annotations

import os
import shutil
import warnings

import pandas as pd
import pytest
from favc_tree import CLIPS, build_tree, write_meta

from avanomaly.data.fakeavceleb import (
    DatasetWarning,
    index_fakeavceleb,
    infer_method,
    normalize_ethnicity,
    scan_fakeavceleb,
)
from avanomaly.errors import DatasetError


def _expected_frame(rows):
    return (pd.DataFrame(rows)[["path", "category", "method", "subcategory", "source", "gender"]]
            .sort_values("path").reset_index(drop=True))


@pytest.mark.parametrize("style", ["paren", "underscore"])
@pytest.mark.parametrize("use_csv", [True, False])
def test_index_matches_tree(tmp_path, style, use_csv):
    root, rows = build_tree(tmp_path, n_ids=6, ethnicity_style=style, write_csv=use_csv)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DatasetWarning)  # a consistent tree gives no warning
        df = index_fakeavceleb(root)
    assert len(df) == len(rows) == 6 * len(CLIPS)
    exp = _expected_frame(rows)
    assert list(df["path"]) == list(exp["path"])
    assert list(df["category"]) == list(exp["category"])
    assert list(df["method"]) == list(exp["method"])  # from the CSV or inferred from file names: same answer
    assert list(df["subcategory"]) == list(exp["subcategory"])
    assert list(df["identity"]) == list(exp["source"])
    assert list(df["gender"]) == list(exp["gender"])
    assert set(df["ethnicity"]) == {"African", "Asian (East)", "Caucasian (European)"}  # both spellings normalised
    assert (df["label"] == "real").sum() == 6
    assert set(df.loc[df["label"] == "real", "category"]) == {"RealVideo-RealAudio"}
    assert df.attrs["used_csv"] is use_csv
    assert df.attrs["missing_files"] == [] and df.attrs["unlisted_files"] == []
    assert df["subcategory"].value_counts().to_dict() == {c[2]: 6 for c in CLIPS}


def test_parent_folder_accepted(tmp_path):
    root, rows = build_tree(tmp_path / "datasets", n_ids=2)
    df = index_fakeavceleb(tmp_path / "datasets", warn=False)  # the folder holding FakeAVCeleb_v1.2
    assert len(df) == len(rows)
    assert df.attrs["root"] == str(root)


def test_csv_method_wins_over_file_name(tmp_path):
    root, rows = build_tree(tmp_path, n_ids=2)
    # a file named like wav2lip but listed as faceswap in the CSV: the CSV is trusted
    target = next(r for r in rows if r["subcategory"] == "FVRA-WL")
    target["method"] = "faceswap"
    write_meta(root, rows)
    df = index_fakeavceleb(root, warn=False)
    row = df[df["path"] == target["path"]].iloc[0]
    assert row["method"] == "faceswap" and row["subcategory"] == "FVRA-FS"


def test_mismatch_reported_not_dropped(tmp_path):
    root, rows = build_tree(tmp_path, n_ids=3)
    gone = rows[4]["path"]
    os.remove(gone)  # listed in the CSV, missing on disk
    extra = root / "FakeVideo-RealAudio" / "African" / "men" / "id00001" / "00999_id00002_wavtolip.mp4"
    extra.write_bytes(b"\x00")  # on disk, not in the CSV
    with pytest.warns(DatasetWarning) as record:
        idx = scan_fakeavceleb(root)
    messages = " | ".join(str(w.message) for w in record)
    assert "missing on disk" in messages and "not listed" in messages
    assert idx.missing_files == [gone]
    assert idx.unlisted_files == [str(extra)]
    df = idx.records
    assert gone not in set(df["path"])
    kept = df[df["path"] == str(extra)].iloc[0]  # unlisted file kept, method inferred from its name
    assert kept["method"] == "wav2lip" and kept["subcategory"] == "FVRA-WL" and kept["identity"] == "id00001"
    assert len(df) == len(rows)  # -1 missing +1 unlisted


def test_stray_and_unknown_method_warned(tmp_path):
    root, rows = build_tree(tmp_path, n_ids=2, write_csv=False)
    (root / "RealVideo-RealAudio" / "African" / "men" / "id00001" / "notes.txt").write_text("x")
    odd = root / "FakeVideo-RealAudio" / "African" / "men" / "id00001" / "00001_mystery.mp4"
    odd.write_bytes(b"\x00")
    idx = scan_fakeavceleb(root, warn=False)
    text = " | ".join(idx.all_warnings())
    assert "notes.txt" in text and "00001_mystery.mp4" in text
    row = idx.records[idx.records["path"] == str(odd)].iloc[0]
    assert row["method"] == "unknown" and row["subcategory"] == ""


def test_missing_root(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        index_fakeavceleb(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="not a FakeAVCeleb root"):
        index_fakeavceleb(tmp_path / "empty")


def test_unknown_category_folder(tmp_path):
    root, _ = build_tree(tmp_path, n_ids=2)
    (root / "FakeVideo-HalfAudio" / "African" / "men" / "id00001").mkdir(parents=True)
    with pytest.raises(DatasetError, match="unknown category folder.*FakeVideo-HalfAudio"):
        index_fakeavceleb(root)


@pytest.mark.parametrize("header", [
    "source,target1,target2,method,category,type,race,gender\n",          # too few columns
    "source,target1,target2,method,category,kind,race,gender,path,\n",    # renamed column
    "src,target1,target2,method,category,type,race,gender,path,\n",
])
def test_malformed_header(tmp_path, header):
    root, rows = build_tree(tmp_path, n_ids=2)
    write_meta(root, rows, header=header)
    with pytest.raises(DatasetError, match="malformed header"):
        index_fakeavceleb(root)


def test_malformed_rows(tmp_path):
    root, rows = build_tree(tmp_path, n_ids=2)
    path = write_meta(root, rows)
    lines = path.read_text().splitlines()
    lines[3] = ",".join(lines[3].split(",")[:9])  # row lost its folder field
    lines[5] = lines[5].replace(",C,FakeVideo-RealAudio,", ",Z,FakeVideo-HalfAudio,")
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetError) as err:
        index_fakeavceleb(root)
    msg = str(err.value)
    assert "meta_data.csv" in msg and "line 4: 9 fields" in msg and "line 6: unknown category" in msg


def test_unreadable_csv(tmp_path):
    root, _ = build_tree(tmp_path, n_ids=1)
    (root / "meta_data.csv").write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(DatasetError, match="cannot read"):
        index_fakeavceleb(root)


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root can read any file")
def test_unreadable_video(tmp_path):
    root, rows = build_tree(tmp_path, n_ids=1)
    os.chmod(rows[0]["path"], 0)
    try:
        with pytest.raises(DatasetError, match="unreadable"):
            index_fakeavceleb(root)
    finally:
        os.chmod(rows[0]["path"], 0o644)


def test_unreadable_video_reported_even_as_root(tmp_path, monkeypatch):
    import avanomaly.data.fakeavceleb as fav

    root, rows = build_tree(tmp_path, n_ids=1)
    locked = rows[2]["path"]
    real_access = os.access
    monkeypatch.setattr(fav.os, "access", lambda p, mode: str(p) != locked and real_access(p, mode))
    with pytest.raises(DatasetError, match="1 unreadable") as err:
        index_fakeavceleb(root)
    assert locked in str(err.value)


def test_folder_with_other_spelling_than_csv(tmp_path):
    # disk uses Asian_East, the CSV folder column uses 'Asian (East)': matched through normalisation
    root, rows = build_tree(tmp_path, n_ids=3, ethnicity_style="underscore")
    for r in rows:
        r["folder"] = r["folder"].replace("Asian_East", "Asian (East)")
    write_meta(root, rows)
    idx = scan_fakeavceleb(root, warn=False)
    assert idx.missing_files == [] and idx.unlisted_files == [] and len(idx.records) == len(rows)


def test_infer_method_names():
    assert infer_method("FakeVideo-RealAudio", "00347_id00732_wavtolip.mp4") == "wav2lip"
    assert infer_method("FakeVideo-FakeAudio", "00072_id00192_By3wxX0dyDw_faceswap_id00225_wavtolip.mp4") == \
        "faceswap-wav2lip"
    assert infer_method("FakeVideo-FakeAudio", "00021_id00192_By3wxX0dyDw_id00305_wavtolip.mp4") == "fsgan-wav2lip"
    assert infer_method("FakeVideo-RealAudio", "00021_id00192_By3wxX0dyDw_id00305.mp4") == "fsgan"
    assert infer_method("FakeVideo-FakeAudio", "46441_id51182_fsgan-wav2lip.mp4") == "fsgan-wav2lip"  # synth naming
    assert infer_method("RealVideo-FakeAudio", "00052_fake.mp4") == "rtvc"
    assert infer_method("FakeVideo-RealAudio", "whatever.mp4") == "unknown"
    assert normalize_ethnicity("Asian_East") == normalize_ethnicity("Asian (East)") == "Asian (East)"
    assert normalize_ethnicity("Caucasian_American") == "Caucasian (American)"


def test_copy_of_tree_gives_same_index(tmp_path):
    root, _ = build_tree(tmp_path / "a", n_ids=2)
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    a = index_fakeavceleb(root, warn=False)
    b = index_fakeavceleb(tmp_path / "b", warn=False)
    assert list(a.drop(columns="path").itertuples(index=False)) == list(b.drop(columns="path").itertuples(index=False))


def test_subcategory_of_is_one_function_with_fakeavceleb_s_taxonomy():
    """The data layer's subcategory_of is the one the report uses (issue 24: they disagreed). Only FakeAVCeleb's
    eight (category, method) pairs have a sub-category; spellings the index normalises elsewhere map too."""
    from avanomaly.data.fakeavceleb import SUBCATEGORIES, subcategory_of
    from avanomaly.evaluation import report

    assert report.subcategory_of is subcategory_of
    for (cat, method), sub in SUBCATEGORIES.items():
        assert subcategory_of(cat, method) == sub
    assert subcategory_of("C", "Wav2Lip") == "FVRA-WL"  # category letter, method capitalised
    assert subcategory_of("FakeVideo-FakeAudio", "fsgan_wavtolip") == "FVFA-GAN"  # the file-name spelling
    assert subcategory_of("RealVideo-RealAudio", "") == "RVRA"  # every real clip
    assert subcategory_of("FakeVideo-RealAudio", "newgen") == ""  # not in the taxonomy: no invented name
    assert subcategory_of("FakeVideo-RealAudio", "unknown") == ""

"""The synthetic benchmark: layout, meta_data.csv quirk, determinism, decodable clips, detectable faces."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import numpy as np
import pytest

av = pytest.importorskip("av")

from avanomaly.data.synth import SynthSize, generate  # noqa: E402
from avanomaly.data import fakeavceleb  # noqa: E402
from avanomaly.data.fakeavceleb import CATEGORIES, CATEGORY_LETTERS, ETHNICITIES, GENDERS, METHODS  # noqa: E402
from avanomaly.data.synth import generator  # noqa: E402
from avanomaly.data.synth.generator import META_HEADER, ROOT_NAME  # noqa: E402
from avanomaly.data.synth.sanity import auc, sync_statistic  # noqa: E402
from avanomaly.errors import ConfigError  # noqa: E402

TINY = SynthSize(identities=3, reals_per_identity=1, fakes_per_identity=3, duration=(1.0, 1.3), frame_size=128)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth")
    generate(out, seed=7, size=TINY)
    return out



def test_vocabulary_is_the_fakeavceleb_index_s():
    """The generator writes the index's vocabulary, not a copy of it (issue 24): one place to change it."""
    assert generator.ETHNICITIES is fakeavceleb.ETHNICITIES and generator.GENDERS is fakeavceleb.GENDERS
    assert generator.REAL_TYPE is fakeavceleb.REAL_CATEGORY
    assert generator.META_HEADER == ",".join(fakeavceleb.META_COLUMNS) + ","
    assert {generator.LETTER_OF[cat]: cat for cat in CATEGORIES} == CATEGORY_LETTERS
    assert {cat: tuple(m) for cat, m in generator.SYNTH_METHODS.items()} == {
        cat: METHODS[cat] for cat in generator.FAKE_TYPES}

def _frame_hashes(path: Path) -> list[str]:
    with av.open(str(path)) as c:
        return [hashlib.sha256(f.to_ndarray(format="rgb24").tobytes()).hexdigest() for f in c.decode(video=0)]


def test_layout_and_meta_quirk(tiny):
    root = tiny / ROOT_NAME
    lines = (root / "meta_data.csv").read_text().splitlines()
    assert lines[0] == META_HEADER and lines[0].count(",") == 9  # 9 names + trailing comma
    rows = list(csv.reader(lines[1:]))
    assert all(len(r) == 10 for r in rows)
    assert {r[5] for r in rows} == set(CATEGORIES)  # every category present
    for source, target1, target2, method, letter, type_, race, gender, name, folder in rows:
        assert CATEGORY_LETTERS[letter] == type_ and race in ETHNICITIES and gender in GENDERS
        assert method in METHODS[type_]  # a FakeAVCeleb method of that category
        assert folder == f"FakeAVCeleb/{type_}/{race}/{gender}/{source}"
        assert (root / type_ / race / gender / source / name).is_file()
        assert (method == "real") == (type_ == "RealVideo-RealAudio")
    assert len(rows) == TINY.identities * (TINY.reals_per_identity + TINY.fakes_per_identity)
    assert len(list(root.rglob("*.mp4"))) == len(rows)
    assert (tiny / "contact_sheet.png").stat().st_size > 0


def test_clips_decode_at_25fps_with_audio(tiny):
    root = tiny / ROOT_NAME
    with open(root / "synth_methods.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    for r in rows:
        with av.open(str(root / r["path"])) as c:
            v, a = c.streams.video[0], c.streams.audio[0]
            assert float(v.average_rate) == 25.0
            assert v.codec_context.name == "h264" and a.codec_context.name == "aac"
            assert a.rate == int(r["audio_rate"]) in (16000, 44100)
            n = sum(1 for _ in c.decode(video=0))
        assert n == int(r["n_frames"])


def test_same_seed_same_output(tiny, tmp_path):
    generate(tmp_path, seed=7, size=TINY, workers=2)
    a, b = tiny / ROOT_NAME, tmp_path / ROOT_NAME
    assert (a / "meta_data.csv").read_bytes() == (b / "meta_data.csv").read_bytes()
    assert (a / "synth_methods.csv").read_bytes() == (b / "synth_methods.csv").read_bytes()
    mp4s = sorted(a.rglob("*.mp4"))
    for p in mp4s:  # single-threaded encoders: byte-identical files whatever the worker count
        assert p.read_bytes() == (b / p.relative_to(a)).read_bytes(), p
    for p in mp4s[:2]:
        assert _frame_hashes(p) == _frame_hashes(b / p.relative_to(a))


def test_other_seed_differs(tiny, tmp_path):
    generate(tmp_path, seed=8, size=SynthSize(2, 1, 1, (1.0, 1.2), 128))
    assert (tmp_path / ROOT_NAME / "meta_data.csv").read_text() != (tiny / ROOT_NAME / "meta_data.csv").read_text()


def test_fakes_carry_leading_silence_reals_do_not(tiny):
    with open(tiny / ROOT_NAME / "synth_methods.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    for r in rows:
        s = float(r["leading_silence_s"])
        assert (s == 0.0) == (r["type"] == "RealVideo-RealAudio")


def test_centerface_finds_the_face(tiny):
    cv2 = pytest.importorskip("cv2")
    weights = Path(__file__).resolve().parents[2] / "avanomaly" / "preprocess" / "weights" / "centerface.onnx"
    net = cv2.dnn.readNetFromONNX(str(weights))
    found = total = 0
    for p in sorted((tiny / ROOT_NAME).rglob("*.mp4"))[:4]:
        with av.open(str(p)) as c:
            for f in c.decode(video=0):
                img = f.to_ndarray(format="rgb24")
                net.setInput(cv2.dnn.blobFromImage(img, 1.0, (128, 128), (0, 0, 0), swapRB=False, crop=False))
                heat = net.forward(["537", "538", "539", "540"])[0]
                found += float(heat.max()) > 0.5  # the project's CenterFace score threshold
                total += 1
    assert found / total >= 0.95, f"face found on {found}/{total} frames"


def test_unknown_size_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="unknown synthetic size"):
        generate(tmp_path, size="huge")


def test_sync_statistic_and_auc():
    rng = np.random.default_rng(0)
    env = rng.random(100)
    assert sync_statistic(env, env) == pytest.approx(-1.0)
    assert sync_statistic(np.roll(env, 1), env) == pytest.approx(-1.0, abs=0.05)  # within the lag window
    assert sync_statistic(rng.random(100), env) > -0.5
    assert auc([0, 1], [2, 3]) == 1.0 and auc([2, 3], [0, 1]) == 0.0 and auc([1], [1]) == 0.5


def test_rerun_same_settings_is_a_no_op_other_settings_refused(tiny, tmp_path):
    root = tiny / ROOT_NAME
    before = {p: p.stat().st_mtime_ns for p in root.rglob("*.mp4")}
    again = generate(tiny, seed=7, size=TINY)
    assert again.root == root and again.n_clips == len(before)
    assert {p: p.stat().st_mtime_ns for p in root.rglob("*.mp4")} == before  # nothing rewritten
    with pytest.raises(ConfigError, match="already exists"):
        generate(tiny, seed=99, size=TINY)
    small = SynthSize(2, 1, 1, (1.0, 1.1), 128)
    generate(tmp_path, seed=1, size=small)
    (tmp_path / ROOT_NAME / "stray.txt").write_text("x")
    (tmp_path / ROOT_NAME / "synth_settings.json").unlink()  # an unfinished run
    with pytest.raises(ConfigError):
        generate(tmp_path, seed=1, size=small)
    generate(tmp_path, seed=1, size=small, overwrite=True)
    assert not (tmp_path / ROOT_NAME / "stray.txt").exists()

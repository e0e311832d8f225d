"""The FakeAVCeleb protocol script cannot be run here (gated data, no GPU): check that every command it would
run is a valid `avanomaly` command line (known options, right arguments), for both protocols."""

from __future__ import annotations

import importlib.util
import shlex
import sys
import warnings
from pathlib import Path

import click
import pytest

REPO = Path(__file__).resolve().parents[2]


def _load(name, folder="scripts"):
    spec = importlib.util.spec_from_file_location(name, REPO / folder / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


def _parse(argv):
    """Resolve and parse ``argv`` down to the leaf command as click would; raises on any usage error."""
    from avanomaly.cli import cli

    def remaining(ctx):
        with warnings.catch_warnings():  # click 8.2 deprecates protected_args (folded into args in click 9)
            warnings.simplefilter("ignore", DeprecationWarning)
            return list(getattr(ctx, "protected_args", [])) + list(ctx.args)

    ctx = cli.make_context("avanomaly", list(argv))
    cmd, rest = cli, remaining(ctx)
    while isinstance(cmd, click.Group):
        name, cmd, rest = cmd.resolve_command(ctx, rest)
        ctx = cmd.make_context(name, rest, parent=ctx)
        rest = remaining(ctx)
    assert not rest, f"unparsed arguments {rest} in {argv}"
    return cmd.name, ctx.params


@pytest.mark.parametrize("extra", [[], ["--train-data", "lrs3_real.csv", "--temporal", "mamba", "--baselines",
                                        "stage1.max_epochs=60"]])
def test_fakeavceleb_script_commands_are_valid(tmp_path, capsys, extra):
    mod = _load("fakeavceleb")
    root = tmp_path / "FakeAVCeleb_v1.2"
    root.mkdir()
    (tmp_path / "lrs3_real.csv").write_text("path\n")
    args = mod.parse_args(["--root", str(root), "--out", str(tmp_path / "work"), *extra])
    if "--train-data" in extra:
        args.train_data = str(tmp_path / "lrs3_real.csv")
    steps = mod.plan(args)
    (tmp_path / "work" / "run").mkdir(parents=True)  # outputs of earlier steps that later ones check exist
    (tmp_path / "work" / "favc.csv").write_text("path\n")
    names = [s[0] for s in steps]
    assert names[:3] == ["index", "train", "evaluate"]
    assert len(steps) == (6 if "--baselines" in extra else 3)
    seen = {}
    for name, argv, _ in steps:
        leaf, params = _parse(argv)
        seen[name] = (leaf, params)
    leaf, params = seen["train"]
    assert leaf == "train" and params["real_only"] and params["config_path"] == "fakeavceleb"
    assert params["drop_fakes"] == ("--train-data" not in extra)
    assert seen["evaluate"][1]["split"] == "test"
    assert mod.main(["--root", str(root), "--out", str(tmp_path / "w"), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert [shlex.split(line)[1] for line in out.splitlines() if line.startswith("avanomaly ")] == \
        ["index", "train", "evaluate"]


def test_domain_corpus_splits_are_person_disjoint_and_test_sources_whole():
    """corpus_domains.assign_splits on a synthetic source list (no network, no mirrors)."""
    mod = _load("corpus_domains")
    Source = mod.Source

    def clip(repo, speaker, domain="web", person=""):
        return mod.Clip(Source(repo, f"{speaker}.mp4", speaker, commit="0" * 40), domain, "en", person)

    clips = [clip(f"a/train{i}", f"p{i}") for i in range(30)]
    clips += [clip("a/train0", "p0_again", person="p0"), clip("a/multi", "p1", person="p1"),
              clip("b/test", "t1", "noisy"), clip("b/test", "t2", "lab"), clip("c/test", "t3", "webcam"),
              clip("d/shared", "s1"), clip("a/train5", "gen_person")]
    kept, dropped = mod.assign_splits(clips, test_repos={"b/test", "c/test"}, exclude_repos={"d/shared"},
                                      exclude_people={"gen_person"}, always_train={"p3"})
    split = {}
    for c, s in kept:
        split.setdefault(c.person, set()).add(s)
    assert all(len(s) == 1 for s in split.values())
    assert {c.source.repo for c, s in kept if s == "test"} == {"b/test", "c/test"}
    assert not {c.source.repo for c, s in kept if s != "test"} & {"b/test", "c/test"}
    assert {c.source.speaker for c, _ in dropped} == {"s1", "gen_person"}
    val = {c.person for c, s in kept if s == "val"}
    assert len(val) == 10 and "p3" not in val  # a third of the 30 people, never a pinned one
    # the same people land in the same splits whatever the order of the list
    kept2, _ = mod.assign_splits(clips[::-1], test_repos={"b/test", "c/test"}, exclude_repos={"d/shared"},
                                 exclude_people={"gen_person"}, always_train={"p3"})
    assert {(c.source.path, c.source.repo, s) for c, s in kept2} == {(c.source.path, c.source.repo, s) for c, s in kept}
    # a test person also shown by a train source is refused
    from avanomaly.errors import DatasetError

    with pytest.raises(DatasetError, match="more than one split"):
        mod.assign_splits(clips + [clip("a/train9", "t1_elsewhere", person="t1")], test_repos={"b/test"})
    with pytest.raises(DatasetError, match="unknown domain"):
        clip("a/x", "q", "tv")
    # a calibration repository goes to val whole, and adding one moves nobody else's split
    added = [clip("e/cal", "c1", "phone"), clip("e/cal", "c2", "film")]
    kept3, _ = mod.assign_splits(clips + added, test_repos={"b/test", "c/test"}, exclude_repos={"d/shared"},
                                 exclude_people={"gen_person"}, always_train={"p3"}, calibration_repos={"e/cal"})
    assert {(c.source.path, s) for c, s in kept3 if c.source.repo == "e/cal"} == {("c1.mp4", "val"), ("c2.mp4", "val")}
    assert {(c.source.path, c.source.repo, s) for c, s in kept3 if c.source.repo != "e/cal"} == \
        {(c.source.path, c.source.repo, s) for c, s in kept}
    with pytest.raises(DatasetError, match="more than one split"):  # its person may not be trained on elsewhere
        mod.assign_splits(clips + added + [clip("a/train0", "c1_again", person="c1")], test_repos={"b/test"},
                          calibration_repos={"e/cal"}, val_fraction=0.0)


def test_domain_corpus_refuses_the_same_bytes_in_two_splits():
    """corpus_domains.duplicate_of: a second copy in the same split is dropped, one in another split is an error."""
    mod = _load("corpus_domains")
    from avanomaly.errors import DatasetError

    seen = {}
    assert mod.duplicate_of(seen, "aa", "train", "r/x:a.mp4") is None
    assert mod.duplicate_of(seen, "bb", "test", "r/y:b.mp4") is None
    assert mod.duplicate_of(seen, "aa", "train", "r/z:a_copy.mp4") == "r/x:a.mp4"
    with pytest.raises(DatasetError, match="byte-identical"):
        mod.duplicate_of(seen, "bb", "val", "r/w:b_copy.mp4")


def test_domain_corpus_clip_list_keeps_test_sources_and_benchmark_people_out_of_train():
    """The recorded clip list itself (no mirrors needed): every source pinned to a commit with a licence, test
    repositories whole in test, shared real-av repositories and generator-benchmark people never in train/val."""
    mod = _load("corpus_domains")
    clips = mod.new_clips()
    assert len(clips) >= 60
    for c in clips:
        assert c.source.repo in mod.REPOS and len(c.source.rev) == 40 and mod.REPOS[c.source.repo][1]
    gen_people = mod.generator_test_people() | mod.SHARED_PEOPLE
    kept, dropped = mod.assign_splits(clips, exclude_people=gen_people)
    assert not dropped  # nothing in the new list needs dropping: benchmark people are only in test repositories
    for c, split in kept:
        assert (split == "test") == (c.source.repo in mod.TEST_REPOS)
        if split != "test":
            assert c.source.repo not in mod.SHARED_REPOS and c.person not in gen_people
    test_people = {c.person for c, s in kept if s == "test"}
    assert len(test_people) >= 20 and len({c.domain for c, s in kept if s == "test"}) >= 4


def test_domain_corpus_added_sources_are_pinned_to_test_or_calibration():
    """Session 32's sources (added after the starter was trained): every repository pinned whole to test or val,
    never both, and adding them leaves every earlier clip's split as it was."""
    mod = _load("corpus_domains")
    added = mod.added_clips()
    assert len(added) >= 80 and len({c.person for c in added}) >= 60
    assert not mod.ADDED_TEST_REPOS & mod.CALIBRATION_REPOS
    assert {c.source.repo for c in added} == mod.ADDED_TEST_REPOS | mod.CALIBRATION_REPOS == set(mod.ADDED_REPOS)
    for c in added:
        assert len(c.source.rev) == 40 and mod.REPOS[c.source.repo][1]
    gen_people = mod.generator_test_people() | mod.SHARED_PEOPLE
    before, _ = mod.assign_splits(mod.new_clips(), exclude_people=gen_people)
    after, dropped = mod.assign_splits(mod.new_clips() + added, exclude_people=gen_people)
    assert not dropped
    split_of = {(c.source.repo, c.source.path): s for c, s in after}
    assert all(split_of[(c.source.repo, c.source.path)] == s for c, s in before)
    for c in added:
        assert split_of[(c.source.repo, c.source.path)] == ("val" if c.source.repo in mod.CALIBRATION_REPOS else "test")


def test_domain_false_alarms_clopper_pearson_and_table(tmp_path):
    mod = _load("domain_false_alarms", "benchmarks")
    lo, hi = mod.clopper_pearson(0, 10)
    assert lo == 0.0 and hi == pytest.approx(1 - 0.025 ** 0.1, abs=1e-9)
    lo, hi = mod.clopper_pearson(10, 10)
    assert hi == 1.0 and lo == pytest.approx(0.025 ** 0.1, abs=1e-9)
    lo, hi = mod.clopper_pearson(3, 20)
    assert lo < 3 / 20 < hi and mod.clopper_pearson(17, 20) == pytest.approx((1 - hi, 1 - lo))
    assert mod.clopper_pearson(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError):
        mod.clopper_pearson(5, 3)
    # manifest + scores CSV -> per split x domain rows; unknown and failed files are not counted as alarms
    import pandas as pd

    man = pd.DataFrame({"path": [f"clips/c{i}.mp4" for i in range(6)], "identity": list("aabcdd"),
                        "split": ["test"] * 4 + ["val", "train"],
                        "domain": ["web", "web", "news", "news", "lab", "lab"]})
    man.to_csv(tmp_path / "manifest.csv", index=False)
    sc = pd.DataFrame({"path": [str(tmp_path / f"clips/c{i}.mp4") for i in range(5)],
                       "status": ["ok", "ok", "ok", "failed", "ok"],
                       "verdict": ["fake", "real", "unknown", None, "real"],
                       "reason": [None, None, None, "no-face", None], "score": [2.0, 0.1, 0.5, None, -1.0],
                       "warnings": ["audio out of sync with the lips: 240 ms late (+6 frames) by ...", None, None, None,
                                    "short clip"]})
    sc.to_csv(tmp_path / "scores.csv", index=False)
    t = mod.table(mod.join(tmp_path / "manifest.csv", tmp_path / "scores.csv")).set_index(["split", "domain"])
    assert t.loc[("test", "all"), ["clips", "judged", "fake", "unknown", "failed"]].tolist() == [4, 2, 1, 1, 1]
    assert t.loc[("test", "web"), "rate"] == 0.5 and t.loc[("test", "news"), "judged"] == 0
    assert t.loc[("val", "all"), "fake"] == 0 and ("train", "all") not in t.index
    assert t.loc[("test", "all"), "people_alarmed"] == 1
    assert "| test | **all** | 4 | 3 | 2 | 1 | 50.0% [" in mod.markdown(t.reset_index())
    # the alarm is a clip both offset measures find out of sync: counted apart, the rest has no alarm
    assert t.loc[("test", "all"), ["out_of_sync", "fake_out_of_sync", "rest", "rest_fake"]].tolist() == [1, 1, 1, 0]
    assert "| 1 (1) | 0/1 = 0.0% [" in mod.markdown(t.reset_index())


def test_domain_false_alarms_starter_people_are_its_train_and_calibration_speakers():
    mod = _load("domain_false_alarms", "benchmarks")
    seen = mod.starter_people()
    assert {"grid_s1", "obama", "aoc", "theresa_may", "styletalk_feifeili", "mead_m030"} <= seen
    assert not {"vexpress_tys", "styletalk_reagan"} & seen  # corpus.py's test speakers


def test_calibration_pool_out_of_speaker_rates_have_the_known_answer(tmp_path):
    """Held out, a clip is an alarm when it scores above the others' largest pool score (small pools, 5 %):
    capping speaker a to 2 clips (its first and last: 0 and 3) drops its 25, so d's clips become alarms."""
    import json

    import pandas as pd

    mod = _load("calibration_pool", "benchmarks")
    nll = {"a": [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 25, 3], "b": [1, 2], "c": [1.5, 2.5], "d": [20, 21]}
    rows, results = [], []
    for spk, xs in nll.items():
        for j, x in enumerate(xs):
            p = f"clips/{spk}{j}.mp4"
            rows.append({"path": p, "label": "real", "identity": spk, "split": "val", "domain": "web"})
            results.append({"path": str(tmp_path / p), "status": "ok",
                            "score_terms": {"nll": float(x), "sync": -0.1, "offset": 0.0}})
    rows.append({"path": "clips/t.mp4", "label": "real", "identity": "e", "split": "test", "domain": "web"})
    results.append({"path": str(tmp_path / "clips/failed.mp4"), "status": "failed"})
    pd.DataFrame(rows).to_csv(tmp_path / "m.csv", index=False)
    (tmp_path / "s.json").write_text(json.dumps({"results": results}))
    df = mod.load(tmp_path / "m.csv", tmp_path / "s.json", "val")
    assert len(df) == 18 and set(df.identity) == set("abcd")  # the test row is another split
    full, capped = mod.evaluate(df, 0), mod.evaluate(df, 2)
    assert (full["far_all"]["k"], full["far_pool"]["k"], full["n_pool"]) == (1, 1, 18)  # a's 25 above d's 21
    assert full["far_per_person"] == pytest.approx((1 / 12) / 4) and full["people_alarmed"] == 1
    assert (capped["n_pool"], capped["far_pool"]["k"], capped["far_pool"]["n"]) == (8, 2, 8)  # d's two clips
    assert capped["far_all"]["k"] == 3 and capped["far_per_person"] == pytest.approx((1 / 12 + 1) / 4)

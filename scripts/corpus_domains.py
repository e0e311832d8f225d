"""The domain corpus of issue 22: the starter corpus (experiments/corpus.py) plus real talking-face clips from more
recording domains, each clip with a domain and language label, split by person into train / val / test.

Every clip is REAL footage of a person talking with their own audio, taken byte-for-byte from a public GitHub
repository at a fixed commit (``git show COMMIT:PATH``, via corpus.py's helpers); research and test use only (the
people shown and the datasets behind some clips have their own terms); nothing here is committed to avanomaly.

Rebuild (needs the repositories as git directories, e.g. from the session ``fetch`` tool or ``git clone``)::

    python experiments/corpus_domains.py --mirrors /work/.mirror --out /work/corpus22 \\
        [--shared ../shared/data/real-av]

Writes ``OUT/clips/...`` and ``OUT/manifest.csv`` (path,label,category,method,identity,split,domain,language,width,
height,fps,duration,source,licence,note), every clip read with ``avanomaly.io.probe``; a clip without an audio
stream or under 2 s is dropped (printed), and so is a clip byte-identical to a file under ``--shared``.

Splits (``assign_splits``), by PERSON (``Clip.person``: one id per human across repositories):

- ``test``: every clip of the repositories in ``TEST_REPOS`` (whole sources, never trained or calibrated on);
- dropped: clips of the shared real-av sources (``SHARED_REPOS``, /work/shared/data/real-av/SOURCES.md) and of the
  people the generator benchmark tests on (identities of experiments/generator_corpus.py), outside ``test``;
- ``val`` (calibration): about a third of the remaining people (``ALWAYS_TRAIN`` aside), chosen by the sha1 of the
  person id (independent of the order of the source list);
- ``train``: everyone else.

``check_splits`` refuses (``DatasetError``) a person in two splits or a test repository that also feeds train/val.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import corpus  # noqa: E402  (the starter corpus: Source, sources(), materialize(), REPOS)
from corpus import Source  # noqa: E402

from avanomaly.errors import DatasetError  # noqa: E402

#: recording domains (a clip carries its main one)
DOMAINS = ("studio", "news", "interview", "webcam", "phone", "lowres", "web", "noisy", "film", "lab")

#: (owner/name, commit, licence as stated in the repository's LICENSE) of the sources added for issue 22
NEW_REPOS = {
    "facebookresearch/VisualVoice": ("e57e126c7aadc78edc7e7436a7a9dd4af8b95d0f", "CC BY-NC 4.0"),
    "KwaiVGI/LivePortrait": ("46e8bbcf9bcbd01958c99b9710c8cbd7f7aaad82", "MIT"),
    "Rudrabha/Wav2Lip": ("eaaf87cdda923c4e14d352b0d1be324916af7d90", "none stated (README: research / non-commercial only)"),
    "sibozhang/Text2Video": ("f9dddb72a26c280750aec1f5f4a116caf684013c", "none stated (VidTIMIT: its own terms)"),
    "amrkh97/Lipify-LipReading": ("0996ba9b5f24da5740afd83088446abaee9e4ef6", "MIT"),
}
REPOS = {**corpus.REPOS, **NEW_REPOS}

#: repositories of /work/shared/data/real-av (SOURCES.md): never in train or val
SHARED_REPOS = {
    "QinSy77/syncnet_python", "joonson/syncnet_python", "smeetrs/deep_avsr", "Hangz-nju-cuhk/Talking-Face_PC-AVS",
    "OpenTalker/SadTalker", "OpenTalker/video-retalking", "ajay-sainy/Wav2Lip-GFPGAN",
    "aniketpatro04/Listed_Wav2Lip_Lipsync", "ahaliassos/usr",
}
#: people of the shared real-av clips who could turn up in other repositories
SHARED_PEOPLE = {"hdtf_bobmenendez", "kim"}

#: whole repositories held out as the test set
TEST_REPOS = {"facebookresearch/VisualVoice", "KwaiVGI/LivePortrait", "Rudrabha/Wav2Lip", "sibozhang/Text2Video"}

#: corpus.py speaker id -> person id used elsewhere (generator_corpus.py identities), where they are the same human
ALIASES = {"styletalk_obama": "obama", "vexpress_aoc": "aoc", "real3dportrait_may": "theresa_may"}

#: corpus.py speakers: (domain, language)
BASE_LABELS = {
    "grid_s1": ("lab", "en"), "styletalk_kristinoem": ("news", "en"), "styletalk_obama": ("news", "en"),
    "styletalk_andrew": ("web", "en"), "styletalk_feifeili": ("interview", "en"), "styletalk_reagan": ("news", "en"),
    "real3dportrait_may": ("news", "en"), "vexpress_10": ("web", "en"), "vexpress_aoc": ("news", "en"),
    "vexpress_tys": ("web", "en"), "dfrf_cnn_anchor": ("news", "en"), "dfrf_french": ("web", "fr"),
    "mimictalk_german": ("web", "de"), "mimictalk_trump": ("news", "en"), "mead_m030": ("lab", "en"),
}
VAL_FRACTION = 1 / 3
#: people kept in train whatever their sha1: GRID s1 is 250 clips of one face, which would swamp a calibration pool
ALWAYS_TRAIN = {"grid_s1"}
MIN_SECONDS = 2.0


@dataclass
class Clip:
    source: Source
    domain: str
    language: str = ""  # ISO 639-1 where known
    person: str = ""  # the human shown; defaults to the source's speaker id

    def __post_init__(self):
        if self.domain not in DOMAINS:
            raise DatasetError(f"unknown domain {self.domain!r} for {self.source.repo}:{self.source.path}")
        self.person = self.person or ALIASES.get(self.source.speaker, self.source.speaker)


def _new(repo: str, path: str, speaker: str, domain: str, language: str = "en", note: str = "") -> Clip:
    return Clip(Source(repo, path, speaker, note=note, commit=NEW_REPOS[repo][0]), domain, language)


def new_clips() -> list[Clip]:
    """The clips added for issue 22 (each checked: a person talking, an audio track with speech, not a re-dub)."""
    lp = "KwaiVGI/LivePortrait"
    return [
        _new("facebookresearch/VisualVoice", "test_videos/interview.mp4", "visualvoice_interview", "interview",
             note="TV interview, two people on a split screen, 720p"),
        _new("facebookresearch/VisualVoice", "av-enhancement/test_videos/noisy_restaurant.mp4",
             "visualvoice_restaurant", "noisy", note="man talking in a restaurant, background chatter"),
        _new(lp, "assets/examples/driving/d10.mp4", "liveportrait_d10", "phone",
             note="selfie-style driving video with speech; d3/d5/d7/d8/d9/d18/d19 have silent tracks (not used)"),
        _new(lp, "assets/examples/driving/d20.mp4", "liveportrait_d20", "web", note="driving video with speech"),
        _new("Rudrabha/Wav2Lip", "test.mov", "wav2lip_testmov", "web",
             note="test input of the Wav2Lip repo (origin not stated), man talking to camera, 720p"),
        _new("sibozhang/Text2Video", "*phoneme_data/VidTIMIT/fadg0/fadgo_sa1.mp4", "vidtimit_fadg0", "lab",
             note="VidTIMIT speaker fadg0, sentence sa1 (sa1.mp4 beside it has no audio)"),
    ] + [_new("amrkh97/Lipify-LipReading", f"Prototype-Test-Videos/Colors_{i}.mp4", "lipify_phone", "phone",
              note="portrait phone selfie, a man saying colour words, 2.2-2.5 s") for i in (6, 7)]


def base_clips(mirrors: Path) -> list[Clip]:
    """corpus.py's clips with their domain and language."""
    out = []
    for src in corpus.sources(mirrors):
        domain, language = BASE_LABELS[src.speaker]
        out.append(Clip(src, domain, language))
    return out


def generator_test_people() -> set[str]:
    """Identities of experiments/generator_corpus.py (real and fake): the generator benchmark tests on them."""
    import generator_corpus

    return {s.identity for s in generator_corpus.SOURCES}


def _val_order(person: str) -> str:
    return hashlib.sha1(person.encode()).hexdigest()


def assign_splits(clips: list[Clip], test_repos=frozenset(TEST_REPOS), exclude_repos=frozenset(SHARED_REPOS),
                  exclude_people=frozenset(), val_fraction: float = VAL_FRACTION,
                  always_train=frozenset(ALWAYS_TRAIN)) -> tuple[list[tuple[Clip, str]], list[tuple[Clip, str]]]:
    """``([(clip, split)], [(dropped clip, reason)])``; splits as in the module docstring, checked by
    ``check_splits``."""
    kept, dropped, rest = [], [], []
    for c in clips:
        if c.source.repo in test_repos:
            kept.append((c, "test"))
        elif c.source.repo in exclude_repos:
            dropped.append((c, "shared real-av source"))
        elif c.person in exclude_people:
            dropped.append((c, "generator-benchmark or shared real-av person"))
        else:
            rest.append(c)
    people = sorted({c.person for c in rest} - set(always_train), key=_val_order)
    val = set(people[:round(len(people) * val_fraction)])
    kept += [(c, "val" if c.person in val else "train") for c in rest]
    check_splits(kept, test_repos)
    return kept, dropped


def check_splits(assigned: list[tuple[Clip, str]], test_repos) -> None:
    """A person sits in one split only; a test repository feeds nothing but test."""
    splits = defaultdict(set)
    for c, split in assigned:
        splits[c.person].add(split)
        if c.source.repo in test_repos and split != "test":
            raise DatasetError(f"{c.source.repo} is a test source but {c.source.path} is in {split}")
    mixed = {p: sorted(s) for p, s in splits.items() if len(s) > 1}
    if mixed:
        raise DatasetError(f"people in more than one split: {mixed}")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build(mirrors: Path, out: Path, shared: Path | None = None) -> tuple[Path, list[str]]:
    from generator_corpus import probe

    shared_hashes = {_sha256(p) for p in shared.rglob("*") if p.is_file()} if shared and shared.is_dir() else set()
    assigned, dropped = assign_splits(base_clips(mirrors) + new_clips(),
                                      exclude_people=generator_test_people() | SHARED_PEOPLE)
    notes = [f"{c.source.repo}:{c.source.path} ({why})" for c, why in dropped]
    rows = []
    for c, split in assigned:
        src = c.source
        dst = corpus.materialize(mirrors, src, out / "clips")
        if _sha256(dst) in shared_hashes:
            notes.append(f"{src.repo}:{src.path} (byte-identical to a shared real-av file)")
            continue
        info = probe(dst)
        if not info["audio"] or info["duration"] < MIN_SECONDS:
            notes.append(f"{src.repo}:{src.path} ({'no audio' if not info['audio'] else 'shorter than 2 s'})")
            continue
        rows.append({"path": str(dst.relative_to(out)), "label": "real", "category": "RealVideo-RealAudio",
                     "method": "original", "identity": c.person, "split": split, "domain": c.domain,
                     "language": c.language, "width": info["width"], "height": info["height"], "fps": info["fps"],
                     "duration": info["duration"],
                     "source": f"{src.repo}@{src.rev}:{src.path}" + (f" + {src.wav}" if src.wav else ""),
                     "licence": REPOS[src.repo][1], "note": src.note})
    manifest = out / "manifest.csv"
    corpus.write_rows(rows, manifest)
    return manifest, notes


def summary(manifest: Path) -> str:
    """Minutes, clips and people per split, per domain and per split x domain."""
    import pandas as pd

    df = pd.read_csv(manifest)
    lines = [f"{manifest}: {len(df)} clips, {df.duration.sum() / 60:.1f} min, {df.identity.nunique()} people"]
    for key in ("split", "domain", "language"):
        g = df.groupby(key).agg(clips=("path", "size"), minutes=("duration", lambda d: round(d.sum() / 60, 1)),
                                people=("identity", "nunique"), repos=("source", lambda s: s.str.split("@").str[0]
                                                                       .nunique()))
        lines += ["", g.to_string()]
    t = df.pivot_table(index="domain", columns="split", values="duration", aggfunc="sum", fill_value=0) / 60
    lines += ["", "minutes by domain x split", t.round(1).to_string()]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mirrors", type=Path, required=True, help="folder of <owner>+<name>[/repo] git directories")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--shared", type=Path, default=None, help="the shared real-av folder (drop byte-identical clips)")
    args = ap.parse_args(argv)
    manifest, notes = build(args.mirrors, args.out, args.shared)
    for n in notes:
        print("dropped:", n)
    print(summary(manifest))
    return 0


if __name__ == "__main__":
    sys.exit(main())

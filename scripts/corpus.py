"""The public real-only training corpus of the starter model: where every clip comes from, and how to rebuild it.

Every clip is REAL footage of a person talking with their own audio, taken byte-for-byte from a public GitHub
repository at a fixed commit (``git show COMMIT:PATH``); a video whose repository keeps the audio in a separate
``.wav`` is re-muxed with it (video stream copied, audio as PCM). The people shown and the underlying datasets
(GRID, HDTF, ...) have their own terms: research and test use only; nothing here is committed to avanomaly.

Rebuild (needs the repositories as git directories, e.g. from the session ``fetch`` tool or ``git clone``)::

    python scripts/corpus.py --mirrors /work/.mirror --out /work/corpus

``--mirrors`` holds ``<owner>+<name>/repo`` (bare or normal git dirs). Writes ``OUT/clips/...`` and
``OUT/manifest.csv`` (path,label,category,method,identity,split,source). Splits are by speaker: ``train``
(stage 1 and 2), ``val`` (calibration: speakers never trained on), ``test`` (held-out speakers for the
real-face benchmark, together with ../shared/data/real-av, which is never trained on).
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

#: (owner/name, commit, licence as stated in the repository's LICENSE)
REPOS = {
    "TVR28/LipNet": ("7cdd534e95aa989d9ce61c8739c64563bc496d01", "none stated (GRID corpus: CC BY 4.0, Cooke et al. 2006)"),
    "FuxiVirtualHuman/styletalk": ("17b046cbf72823991650896b661908118956b2d2", "MIT"),
    "yerfor/Real3DPortrait": ("a9d70c7ee81bc9349f0f5e558f406f75194bd776", "MIT"),
    "tencent-ailab/V-Express": ("6814f7db362dc9e26644162034b4d28c5277651a", "none stated"),
    "sstzal/DFRF": ("2c7bd69ce2453a08c4f7b4ebcf96faa0a82a6af0", "MIT"),
    "yerfor/MimicTalk": ("4ba3d737d2d4b17b21304c9a9fe15ad315a7951e", "MIT"),
    "jixinya/EAMM": ("e176a79865f792a1f8925934226de0b595c02c6d", "MIT (MEAD clip: MEAD's own terms)"),
}
#: GRID speaker s1 clips used: every GRID_STRIDE-th of the 1000 (sorted by name), so that one speaker does not
#: outweigh all the others (250 clips = 12.5 min)
GRID_STRIDE = 4
#: speakers whose clips are held out of training
VAL_SPEAKERS = {"styletalk_feifeili", "styletalk_andrew", "mead_m030", "mimictalk_trump"}
TEST_SPEAKERS = {"vexpress_tys", "styletalk_reagan"}


@dataclass
class Source:
    repo: str
    path: str
    speaker: str
    wav: str | None = None  # audio kept beside the video in the repo
    note: str = ""
    commit: str | None = None  # when not the repository's commit in REPOS

    @property
    def rev(self) -> str:
        return self.commit or REPOS[self.repo][0]

    @property
    def split(self) -> str:
        if self.speaker in VAL_SPEAKERS:
            return "val"
        if self.speaker in TEST_SPEAKERS:
            return "test"
        return "train"


def sources(mirrors: Path) -> list[Source]:
    out: list[Source] = []
    grid = sorted(p for p in _ls(mirrors, "TVR28/LipNet", "data/s1/") if p.endswith(".mpg"))
    out += [Source("TVR28/LipNet", p, "grid_s1", note="GRID s1, 3 s") for p in grid[::GRID_STRIDE]]
    for stem in ("KristiNoem", "Obama_clip1", "Obama_clip2", "Obama_clip3", "andrew_clip_1", "andrew_clip_2",
                 "feifeili_clip1", "feifeili_clip2_short", "feifeili_clip3", "reagan_clip1"):
        speaker = "styletalk_" + stem.split("_")[0].lower()
        out.append(Source("FuxiVirtualHuman/styletalk", f"samples/source_video/video/{stem}.mp4", speaker,
                          wav=f"samples/source_video/wav/{stem}.wav", note="video without audio + its wav"))
    out.append(Source("yerfor/Real3DPortrait", "data/raw/examples/May_5s.mp4", "real3dportrait_may"))
    for case in ("10", "AOC", "tys"):
        out.append(Source("tencent-ailab/V-Express", f"test_samples/short_case/{case}/gt.mp4", f"vexpress_{case.lower()}",
                          note="ground-truth (real) clip; vasa-1/ and emo/ are generator fakes, not used"))
    out.append(Source("sstzal/DFRF", "dataset/vids/cnn2_25fps.mp4", "dfrf_cnn_anchor", note="news anchor, 71 s"))
    out.append(Source("sstzal/DFRF", "dataset/vids/french.mp4", "dfrf_french", note="French speech, 50 s"))
    out.append(Source("yerfor/MimicTalk", "data/raw/examples/German_20s.mp4", "mimictalk_german"))
    out.append(Source("yerfor/MimicTalk", "data/raw/examples/Trump_10s.mp4", "mimictalk_trump",
                      commit="b7451f4b9b6f0121cf31360d13c177640dead2cd"))
    out.append(Source("jixinya/EAMM", "test/crop/M030_sad_3_001.mp4", "mead_m030", note="MEAD M030, 3.7 s"))
    return out


def _git_dir(mirrors: Path, repo: str) -> Path:
    d = mirrors / repo.replace("/", "+")
    return d / "repo" if (d / "repo").exists() else d


def _ls(mirrors: Path, repo: str, prefix: str) -> list[str]:
    commit = REPOS[repo][0]
    res = subprocess.run(["git", "-C", str(_git_dir(mirrors, repo)), "ls-tree", "-r", "--name-only", commit, prefix],
                         check=True, capture_output=True, text=True)
    return res.stdout.split()


def _show(mirrors: Path, repo: str, path: str, commit: str) -> bytes:
    return subprocess.run(["git", "-C", str(_git_dir(mirrors, repo)), "show", f"{commit}:{path}"], check=True,
                          capture_output=True).stdout


def mux(video: Path, wav: Path, out: Path) -> None:
    """Copy ``video``'s video stream and add ``wav`` as 16-bit PCM into a Matroska file ``out``."""
    import av
    with av.open(str(video)) as vin, av.open(str(wav)) as ain, av.open(str(out), "w", format="matroska") as dst:
        vs = vin.streams.video[0]
        ovs = dst.add_stream_from_template(vs)
        a_in = ain.streams.audio[0]
        oas = dst.add_stream("pcm_s16le", rate=a_in.rate)
        oas.layout = "mono"
        for pkt in vin.demux(vs):
            if pkt.dts is None:
                continue
            pkt.stream = ovs
            dst.mux(pkt)
        resampler = av.AudioResampler(format="s16", layout="mono", rate=a_in.rate)
        for frame in ain.decode(a_in):
            for f in resampler.resample(frame):
                f.pts = None
                for p in oas.encode(f):
                    dst.mux(p)
        for f in resampler.resample(None):
            for p in oas.encode(f):
                dst.mux(p)
        for p in oas.encode(None):
            dst.mux(p)


def materialize(mirrors: Path, src: Source, clips: Path) -> Path:
    """Write ``src``'s clip under ``clips`` (once; an existing file is kept): the blob as it is, or video + wav
    re-muxed (``mux``) when the repository keeps the audio beside the video. Returns the clip's path."""
    stem = src.repo.replace("/", "__") + "__" + src.path.replace("/", "__")
    dst = clips / (Path(stem).with_suffix(".mkv").name if src.wav else stem)
    if not dst.exists():
        dst.parent.mkdir(parents=True, exist_ok=True)
        tmp = dst.with_name(".tmp-" + dst.name)
        if src.wav:
            v, w = dst.with_name(".v-" + Path(src.path).name), dst.with_name(".a-" + Path(src.wav).name)
            v.write_bytes(_show(mirrors, src.repo, src.path, src.rev))
            w.write_bytes(_show(mirrors, src.repo, src.wav, src.rev))
            mux(v, w, tmp)
            v.unlink()
            w.unlink()
        else:
            tmp.write_bytes(_show(mirrors, src.repo, src.path, src.rev))
        tmp.replace(dst)
    return dst


def write_rows(rows: list[dict], path: Path) -> None:
    """Write ``rows`` (dicts with the same keys) as a CSV with a header."""
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def build(mirrors: Path, out: Path) -> Path:
    rows = []
    clips = out / "clips"
    for src in sources(mirrors):
        dst = materialize(mirrors, src, clips)
        commit, licence = src.rev, REPOS[src.repo][1]
        rows.append({"path": str(dst.relative_to(out)), "label": "real", "category": "RealVideo-RealAudio",
                     "method": "original", "identity": src.speaker, "split": src.split,
                     "source": f"{src.repo}@{commit}:{src.path}" + (f" + {src.wav}" if src.wav else ""),
                     "licence": licence, "note": src.note})
    manifest = out / "manifest.csv"
    write_rows(rows, manifest)
    return manifest


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mirrors", type=Path, required=True, help="folder of <owner>+<name>[/repo] git directories")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    manifest = build(args.mirrors, args.out)
    import pandas as pd

    df = pd.read_csv(manifest)
    print(f"{manifest}: {len(df)} clips, {df.identity.nunique()} speakers")
    print(df.groupby("split").identity.agg(["count", "nunique"]).to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main())

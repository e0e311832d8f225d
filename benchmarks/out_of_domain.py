"""The out-of-domain rule (avanomaly/postprocess/domain.py) with the shipped starter model on the shared REAL clips and
on degraded copies of some of them: the recording facts, the verdict and the out-of-domain warnings per clip.

    python benchmarks/out_of_domain.py [--real-av ../shared/data/real-av] [--work /tmp/ood]

The shared clips are test data: this checks the rule stays quiet on them; the rule's limits come from the
calibration pool (docs/scoring.md "Out of domain"). Copies keep the source's aspect ratio (a squeezed copy
changes the lip shapes, another corruption). Needs MediaPipe (the starter's front end).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

#: (clip, (width, height) or None = source size, x264 CRF, seconds kept)
COPIES = [("kim_7s_raw.mp4", (160, 90), 23, 8), ("kim_7s_raw.mp4", (256, 144), 23, 8),
          ("kim_7s_raw.mp4", None, 45, 3), ("vox2_00098.mp4", None, 51, 3)]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--real-av", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data" / "real-av")
    ap.add_argument("--work", type=Path, default=Path("/tmp/avanomaly-ood"))
    args = ap.parse_args(argv)
    import av
    import torch

    from avanomaly.io.testing import downscale_video
    from avanomaly.scoring import Detector

    torch.set_num_threads(1)
    args.work.mkdir(parents=True, exist_ok=True)
    paths = sorted((args.real_av / "real").glob("*"))
    for name, size, crf, secs in COPIES:
        src = args.real_av / "real" / name
        if size is None:
            with av.open(str(src)) as c:
                size = (c.streams.video[0].codec_context.width, c.streams.video[0].codec_context.height)
        dst = args.work / f"{Path(name).stem}.{size[0]}x{size[1]}.crf{crf}.mkv"
        paths.append(dst if dst.exists() else downscale_video(src, dst, size, crf=crf, max_seconds=secs))
    det = Detector(prefetch=False)
    print(f"pool: {det.calibration.basis.get('pool')}")
    print(f"{'clip':44s} {'face px':>8s} {'height':>6s} {'bits/px':>8s} {'score':>7s} {'verdict':8s} ood warnings")
    for p in paths:
        r = det.score_one_safe(str(p))
        if not r.ok:
            print(f"{p.name:44s} FAILED {r.reason}")
            continue
        f = r.input
        ood = [w.split(" than")[0].replace("out of domain: ", "") for w in r.warnings if w.startswith("out of domain")]
        print(f"{p.name[:44]:44s} {f['face_px']:8.1f} {f['frame_height']:6.0f} {f['bits_per_pixel']:8.3f} "
              f"{r.score:7.2f} {r.verdict:8s} {'; '.join(ood + r.abstain) or '-'}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Issue 17 research, second cue: is the MOUTH region of a generated talking head rendered differently from the
rest of the same face? (within-clip, so frame size, face size and compression cancel to first order)

    python -m research.dynamics_extract [--manifest EXTRA.csv]    # once: meshes -> WORK/dyncache/mesh
    python -m research.appearance_probe extract [--manifest EXTRA.csv]   # per-clip region statistics
    python -m research.appearance_probe report [--manifest EXTRA.csv]    # AUCs (fakes only measure)

Lip-sync generators re-render the lower face (Wav2Lip at 96 px, MuseTalk / LatentSync at 256 px, then pasted into
the real frame); one-shot animators (SadTalker, ...) warp one photo; diffusion heads (VASA-1, EMO, Hallo) render
the whole frame. Per frame, the face is warped by the similarity that puts the eye centres at fixed points
(inter-ocular distance ``IOD`` px), and three regions are read: the mouth (box of the outer lip ring, grown by
``MOUTH_GROW``), the eyes band and the nose/cheek band. Per region: high-frequency energy (mean |Laplacian|),
temporal change (mean |aligned frame difference|) and the high frequencies of that change (flicker).
Clip features = medians over frames of log ratios mouth/eyes and mouth/nose of each statistic, plus the absolute
values (only to check confounds). Nothing here is fitted on a fake.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from research.dynamics_extract import HELD_OUT_REAL, clip_table, landmark_config, probe_parser, select_groups

#: canonical face: inter-ocular distance (px) and the eye centres' positions in the warped image
IOD = 48.0
CANVAS = (144, 128)  # (H, W)
EYE_L_AT = (40.0, 52.0)  # (x, y)
EYE_R_AT = (88.0, 52.0)
#: the mouth box is the outer lip ring's bounding box grown by this fraction on every side
MOUTH_GROW = 0.25
#: (y0, y1, x0, x1) of the eyes band and the nose band in the canonical image
EYES_BOX = (36, 66, 24, 104)
NOSE_BOX = (66, 86, 48, 80)
EPS = 1e-3
STATS = ("hf", "td", "tdhf")


def _eye_centres(pts):
    from avanomaly.preprocess.landmarks import EYE_LEFT, EYE_RIGHT

    return pts[list(EYE_LEFT), :2].mean(0), pts[list(EYE_RIGHT), :2].mean(0)


def _similarity(el, er, k=1.0):
    """2x3 matrix mapping image points so that the eye centres land on EYE_L_AT / EYE_R_AT (times ``k``)."""
    src = er - el
    dst = np.subtract(EYE_R_AT, EYE_L_AT) * k
    s = np.hypot(*dst) / max(np.hypot(*src), EPS)
    ang = np.arctan2(dst[1], dst[0]) - np.arctan2(src[1], src[0])
    c, si = s * np.cos(ang), s * np.sin(ang)
    rot = np.array([[c, -si], [si, c]])
    t = np.asarray(EYE_L_AT) * k - rot @ el
    return np.hstack([rot, t[:, None]])


def region_stats(frames_gray, meshes, iod_target=IOD):
    """(T, H, W) float32 grey frames, (T, 478, 3) meshes (NaN = no face) -> (T, 3 regions, 3 stats) NaN-filled,
    and (T,) inter-ocular distance in the original pixels."""
    import cv2

    from avanomaly.preprocess.landmarks import LIPS_OUTER

    k = iod_target / IOD
    canvas = (int(round(CANVAS[0] * k)), int(round(CANVAS[1] * k)))
    boxes = [tuple(int(round(v * k)) for v in b) for b in (EYES_BOX, NOSE_BOX)]
    T = len(frames_gray)
    out = np.full((T, 3, len(STATS)), np.nan, np.float32)
    iod = np.full(T, np.nan, np.float32)
    prev = None
    for t in range(T):
        pts = meshes[t]
        if not np.isfinite(pts).all():
            prev = None
            continue
        el, er = _eye_centres(pts)
        iod[t] = float(np.hypot(*(er - el)))
        m = _similarity(el, er, k)
        lips = pts[list(LIPS_OUTER), :2] @ m[:, :2].T + m[:, 2]
        img = frames_gray[t]
        if iod[t] > 2 * iod_target:  # shrink first: warpAffine samples, it does not average
            f = 2 * iod_target / iod[t]
            img = cv2.resize(img, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
            m = m.copy()
            m[:, :2] /= f
        warped = cv2.warpAffine(img, m, (canvas[1], canvas[0]), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_REFLECT)
        (x0, y0), (x1, y1) = lips.min(0), lips.max(0)
        gx, gy = (x1 - x0) * MOUTH_GROW, (y1 - y0) * MOUTH_GROW
        mb = (int(max(0, y0 - gy)), int(min(canvas[0], y1 + gy + 1)), int(max(0, x0 - gx)),
              int(min(canvas[1], x1 + gx + 1)))
        lap = np.abs(cv2.Laplacian(warped, cv2.CV_32F))
        diff = None if prev is None else np.abs(warped - prev)
        dlap = None if prev is None else np.abs(cv2.Laplacian(warped - prev, cv2.CV_32F))
        for r, (a, b, c0, c1) in enumerate((mb, *boxes)):
            if b - a < 2 or c1 - c0 < 2:
                continue
            out[t, r, 0] = lap[a:b, c0:c1].mean()
            if diff is not None:
                out[t, r, 1] = diff[a:b, c0:c1].mean()
                out[t, r, 2] = dlap[a:b, c0:c1].mean()
        prev = warped
    return out, iod


def clip_features(stats: np.ndarray, iod: np.ndarray) -> dict:
    feats = {"iod_px": float(np.nanmedian(iod)) if np.isfinite(iod).any() else np.nan,
             "face_frac": float(np.isfinite(iod).mean())}
    for k, name in enumerate(STATS):
        mouth, eyes, nose = (stats[:, r, k] for r in range(3))
        feats[f"{name}_mouth"] = float(np.nanmedian(mouth))
        feats[f"{name}_eyes"] = float(np.nanmedian(eyes))
        feats[f"{name}_m_over_e"] = float(np.nanmedian(np.log((mouth + EPS) / (eyes + EPS))))
        feats[f"{name}_m_over_n"] = float(np.nanmedian(np.log((mouth + EPS) / (nose + EPS))))
    return feats


def extract(table: pd.DataFrame, cache: Path, iod_target: float = IOD) -> pd.DataFrame:
    from avanomaly.io import iter_clip_chunks
    from avanomaly.preprocess import FeatureCache
    from avanomaly.preprocess.pipeline import CHUNK_FRAMES

    cfg = landmark_config()
    fc = FeatureCache(cache / "lm")
    out_dir = cache / f"appearance_iod{iod_target:g}"
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for i, r in enumerate(table.itertuples()):
        key = fc.key(r.path, cfg)
        f_out = out_dir / f"{key}.json"
        mesh = cache / "mesh" / f"{key}.npz"
        if f_out.exists():
            rows.append({**r._asdict(), **json.loads(f_out.read_text())})
            continue
        if not mesh.exists():
            print(f"[{i + 1}/{len(table)}] {Path(r.path).name}: no mesh (run dynamics_extract first)", flush=True)
            continue
        points = np.load(mesh)["points"]
        grey = []
        for chunk in iter_clip_chunks(r.path, CHUNK_FRAMES, cfg.fps, cfg.sample_rate, cfg.max_side):
            for fr in chunk.frames:
                grey.append(fr.astype(np.float32).mean(-1))
        n = min(len(grey), len(points))
        stats, iod = region_stats(grey[:n], points[:n], iod_target)
        feats = clip_features(stats, iod)
        feats["frame_side"] = float(min(grey[0].shape))
        f_out.write_text(json.dumps(feats))
        rows.append({**r._asdict(), **feats})
        print(f"[{i + 1}/{len(table)}] {r.group} {Path(r.path).name}: hf m/e {feats['hf_m_over_e']:.2f}", flush=True)
    return pd.DataFrame(rows).drop(columns=["Index"], errors="ignore")


RATIOS = tuple(f"{st}_{r}" for st in STATS for r in ("m_over_e", "m_over_n"))


def _gauss_fit(x: np.ndarray, w: np.ndarray):
    from sklearn.covariance import LedoitWolf

    mu = np.average(x, axis=0, weights=w)
    cov = LedoitWolf().fit((x - mu) * np.sqrt(w[:, None] / w.mean())).covariance_
    return mu, np.linalg.inv(cov)


def train_weights(train: pd.DataFrame) -> np.ndarray:
    """Per-clip weights that make every training speaker count equally."""
    return 1.0 / train.groupby("identity").identity.transform("count").to_numpy()


def mahalanobis_from_train(df: pd.DataFrame) -> np.ndarray:
    """Distance of every row's RATIOS from a speaker-balanced Gaussian of the corpus TRAIN rows (real only)."""
    train = df[df.group == "corpus_train"]
    mu, prec = _gauss_fit(train[list(RATIOS)].to_numpy(), train_weights(train))
    d = df[list(RATIOS)].to_numpy() - mu
    return np.sqrt(np.einsum("ij,jk,ik->i", d, prec, d))


def report(df: pd.DataFrame, out: Path) -> dict:
    """AUCs of single features and of two real-only scores, for every fake group against the held-out reals."""
    from real_faces import auc, auc_ci

    df = df.dropna(subset=list(RATIOS)).copy()
    train = df[df.group == "corpus_train"]
    w = train_weights(train)
    df["mahalanobis"] = mahalanobis_from_train(df)
    # one-sided hypothesis fixed before looking: a re-rendered mouth has fewer fine details than the eyes
    z = (df.hf_m_over_e - np.average(train.hf_m_over_e, weights=w)) / np.sqrt(np.cov(train.hf_m_over_e, aweights=w))
    df["blur_z"] = -z
    reals = df[df.group.isin(HELD_OUT_REAL)]
    cols = ["mahalanobis", "blur_z", *RATIOS, "iod_px", "frame_side"]
    fake_groups = [(g, f) for g, f in df[df.label == "fake"].groupby("group")]
    fake_groups.append(("ALL FAKES", df[df.label == "fake"]))
    res = {}
    print(f"held-out reals: {len(reals)} clips; train reals: {len(train)}")
    print("AUC (fake scores higher) " + " ".join(f"{c[:12]:>12}" for c in cols))
    for g, f in fake_groups:
        res[g] = {c: auc(reals[c], f[c]) for c in cols}
        print(f"{g[:30]:>30} n={len(f):3d} " + " ".join(f"{res[g][c]:12.3f}" for c in cols))
    allf = df[df.label == "fake"]
    for c in ("mahalanobis", "blur_z"):
        lo, hi = auc_ci(reals[c].to_numpy(), allf[c].to_numpy())
        print(f"{c}: all fakes AUC {auc(reals[c], allf[c]):.3f} [{lo:.2f}, {hi:.2f}]")
    df.to_csv(out.with_suffix(".scored.csv"), index=False)
    return res


def main(argv=None) -> int:
    ap = probe_parser(__doc__, steps=True)
    ap.add_argument("--iod", type=float, default=IOD, help="inter-ocular distance (px) every face is warped to")
    args = ap.parse_args(argv)
    import cv2

    cv2.setNumThreads(1)
    table = clip_table(extra=args.manifest)
    table = select_groups(table, args.groups)
    df = extract(table, args.cache, args.iod)
    df.to_csv(args.cache / f"appearance_iod{args.iod:g}.csv", index=False)
    if args.step == "report":
        report(df, args.cache / f"appearance_iod{args.iod:g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

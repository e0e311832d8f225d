"""Issue 17 research probe: can a real-only model of face MOTION flag generated talking heads?

    python -m research.dynamics_extract            # once: face meshes + landmark caches -> WORK/dyncache
    python -m research.dynamics_probe [--out WORK/dyncache/probe] [--epochs N]

Features per frame (research/dynamics.py): the 98 lip features' frame-to-frame change (PCA to
``N_LIP_PCS`` components fitted on train) and the face's motion (head rotation, translation and zoom in
inter-ocular units, eye openness, brow height, jaw drop changes, upper-face non-rigidity). Feature sets:
``lips``, ``face``, ``all``.

Models, all fitted on the corpus TRAIN split only (real clips; no fake is ever used to fit or select):

- ``ar1`` / ``ar2``: a Gaussian AR model, p(x_t | x_{t-1..t-k}) from the full covariance of stacked frames
  (Ledoit-Wolf shrinkage); clips weighted so every training speaker counts equally;
- ``gru``: a causal GRU predicting x_t from x_<t with a diagonal Gaussian output; ``gru_mel`` also reads the
  current frame's mel.

Clip scores: ``mean`` = mean per-frame NLL; ``typ`` = |mean NLL - its mean over the real val clips| / its std
there (a two-sided typicality test: motion that is *too* predictable -- over-smooth, frozen -- has a low NLL and
only the two-sided score can flag it).

Selection (REAL-ONLY): (1) val-split mean NLL per feature set (which model predicts real motion best), and (2) a
pseudo-fake check made from the real val clips only (temporally smoothed, frozen upper face, added jitter,
1-s loop); the variant with the best mean pseudo-fake AUC is "selected". Fakes only measure, afterwards.

Measured: generator fakes (V-Express vasa-1 / emo samples) vs held-out reals (shared reals + corpus test), per
generator group; shared fakes vs shared reals; audio shifts / swaps fused with the starter model (does the
dynamics term cost AUC there?); confounds (frame size, face size, clip length alone; training speakers'
NLL vs new speakers'; the V-Express ground-truth real clips vs the V-Express generator fakes).
Writes OUT/dynamics_probe.json and OUT/dynamics_probe.md and prints the tables.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from research.dynamics_extract import CACHE, clip_table, landmark_config
from benchmarks.real_faces import MEL_PER_FRAME, SHIFTS, auc, auc_ci, shifted, swapped

#: principal components kept of the lip-feature changes
N_LIP_PCS = 16
#: GRU width / training settings
GRU_HIDDEN = 64
GRU_WINDOW = 64
GRU_BATCH = 32
GRU_LR = 3e-3
GRU_EPOCHS = 10
GRU_STEPS_PER_EPOCH = 40
#: smallest predicted log-variance of the GRU (standardised units)
MIN_LOGVAR = -6.0
#: pseudo-fakes (from real val clips): smoothing sigma (frames), jitter (x the feature's std of changes),
#: loop length (frames)
SMOOTH_SIGMA = 2.0
JITTER_GAIN = 0.5
LOOP_FRAMES = 25
#: frames at the start of a clip not scored (the AR context fills up)
SKIP_FRAMES = 2
FEATURE_SETS = ("lips", "face", "all")
MODELS = ("ar1", "ar2", "gru", "gru_mel")
SEED = 0


# ------------------------------------------------------------------------------------------- data

def lips_from_mesh(points: np.ndarray) -> np.ndarray:
    """(T, 478, 3) meshes (NaN frames without a face) -> (T, 98) lip features, missing frames filled."""
    from research.dynamics import fill_missing
    from avanomaly.preprocess.landmarks import N_LIP_FEATURES, lip_features

    rows = []
    for p in points:
        f = lip_features(p) if np.isfinite(p).all() else None
        rows.append(np.full(N_LIP_FEATURES, np.nan, np.float32) if f is None else f)
    return fill_missing(np.array(rows))


def load_clips(cache_root: Path = CACHE, mesh_dir: str = "mesh", extra=()) -> list[dict]:
    """Every clip of clip_table() found in the cache: lips (T, 98), mel (T, 80) (mean of the 4 mel frames), pose
    (T, 12) rows with missing frames filled, plus group / identity / frame size / face size."""
    from avanomaly.preprocess import FeatureCache
    from research.dynamics import dynamics_from_points, fill_missing

    cfg = landmark_config()
    cache = FeatureCache(cache_root / "lm")
    out = []
    for r in clip_table(extra=extra).itertuples():
        key = cache.key(r.path, cfg)
        mesh = cache_root / mesh_dir / f"{key}.npz"
        if not (cache.has(key) and mesh.exists()):
            print(f"  not cached: {r.path}", file=sys.stderr)
            continue
        c = cache.get(key)
        z = np.load(mesh)
        pose = fill_missing(dynamics_from_points(z["points"]))
        if not np.isfinite(pose).all():
            print(f"  no face: {r.path}", file=sys.stderr)
            continue
        mel = np.asarray(c.mel, np.float32)
        lips = np.asarray(c.mouths, np.float32) if mesh_dir == "mesh" else lips_from_mesh(z["points"])
        out.append({"path": r.path, "name": Path(r.path).stem, "group": r.group, "identity": r.identity,
                    "lips": lips, "lips_lm": np.asarray(c.mouths, np.float32), "mel_full": mel,
                    "mel": mel.reshape(-1, MEL_PER_FRAME, mel.shape[1]).mean(1), "pose": pose,
                    "frame_side": int(min(z["frame_hw"])), "iod_px": float(np.median(pose[:, 5]))})
    return out


def wrap(a):
    return (a + np.pi) % (2 * np.pi) - np.pi


def raw_motion(lips: np.ndarray, pose: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """-> (lip changes (T-1, 98), face motion (T-1, 12)) of frames 1..T-1."""
    from research.dynamics import POSE_COLUMNS

    col = {c: i for i, c in enumerate(POSE_COLUMNS)}
    d = np.diff(pose.astype(np.float64), axis=0)
    s = pose[1:, col["scale"]].astype(np.float64)
    face = np.stack([wrap(d[:, col["yaw"]]), wrap(d[:, col["pitch"]]), wrap(d[:, col["roll"]]),
                     d[:, col["x"]] / s, d[:, col["y"]] / s, np.diff(np.log(pose[:, col["scale"]].astype(np.float64))),
                     d[:, col["eye_l"]], d[:, col["eye_r"]], d[:, col["brow_l"]], d[:, col["brow_r"]],
                     d[:, col["jaw"]], pose[1:, col["upper_residual"]]], axis=1)
    return np.diff(lips.astype(np.float64), axis=0), face


class Featurizer:
    """Fitted on training clips: PCA of lip changes + per-dimension standardisation of the chosen feature set."""

    def __init__(self, feature_set: str):
        self.feature_set = feature_set

    def fit(self, clips):
        lips = np.concatenate([raw_motion(c["lips"], c["pose"])[0] for c in clips])
        self.lip_mean = lips.mean(0)
        _, _, vt = np.linalg.svd(lips - self.lip_mean, full_matrices=False)
        self.lip_pcs = vt[:N_LIP_PCS].T  # (98, K)
        x = np.concatenate([self._raw(c["lips"], c["pose"]) for c in clips])
        self.mean, self.std = x.mean(0), x.std(0) + 1e-8
        return self

    def _raw(self, lips, pose):
        dl, face = raw_motion(lips, pose)
        pcs = (dl - self.lip_mean) @ self.lip_pcs
        return {"lips": pcs, "face": face, "all": np.concatenate([pcs, face], 1)}[self.feature_set]

    def __call__(self, lips, pose) -> np.ndarray:
        return ((self._raw(lips, pose) - self.mean) / self.std).astype(np.float32)


# ------------------------------------------------------------------------------------------ models

def _speaker_weights(ids) -> np.ndarray:
    ids = np.asarray(ids)
    counts = pd.Series(ids).value_counts()
    w = np.array([1.0 / counts[i] for i in ids])
    return w / w.sum()


class GaussAR:
    """p(x_t | x_{t-1..t-k}) from the joint Gaussian of (k+1) stacked frames (weighted mean / shrunk covariance)."""

    def __init__(self, order: int):
        self.k = order

    def _stack(self, x):
        t = len(x)
        return np.concatenate([x[self.k - j: t - j] for j in range(self.k + 1)], axis=1)  # [x_t, x_{t-1}, ...]

    def fit(self, seqs, ids):
        from sklearn.covariance import ledoit_wolf

        stacks = [self._stack(x) for x in seqs]
        w = np.concatenate([np.full(len(s), wi) for s, wi in zip(stacks, _speaker_weights(ids))])
        z = np.concatenate(stacks)
        w = w / w.sum()
        self.mu = (w[:, None] * z).sum(0)
        zc = (z - self.mu) * np.sqrt(w[:, None] * len(z))
        cov, _ = ledoit_wolf(zc, assume_centered=True)
        d = seqs[0].shape[1]
        a, b = slice(0, d), slice(d, None)
        saa, sab, sbb = cov[a, a], cov[a, b], cov[b, b]
        self.d = d
        self.gain = sab @ np.linalg.inv(sbb)  # (d, kd)
        self.cond_cov = saa - self.gain @ sab.T
        self.prec = np.linalg.inv(self.cond_cov)
        self.logdet = np.linalg.slogdet(self.cond_cov)[1]
        return self

    def nll(self, x, mel=None) -> np.ndarray:
        """(T, d) -> (T,) NLL per frame; the first k frames are NaN (no past)."""
        z = self._stack(x)
        mu = self.mu[: self.d] + (z[:, self.d:] - self.mu[self.d:]) @ self.gain.T
        r = z[:, : self.d] - mu
        out = 0.5 * (np.einsum("ti,ij,tj->t", r, self.prec, r) + self.logdet + self.d * np.log(2 * np.pi))
        return np.concatenate([np.full(self.k, np.nan), out])


class GRUModel:
    """Causal GRU: x_<t (and mel_t) -> mean, log-variance of x_t (diagonal Gaussian)."""

    def __init__(self, use_mel: bool, epochs: int):
        self.use_mel, self.epochs = use_mel, epochs

    def _net(self, d, dm):
        import torch
        import torch.nn as nn

        class Net(nn.Module):
            def __init__(s):
                super().__init__()
                s.gru = nn.GRU(d + dm, GRU_HIDDEN, batch_first=True)
                s.head = nn.Linear(GRU_HIDDEN, 2 * d)
                s.start = nn.Parameter(torch.zeros(d))

            def forward(s, x, m=None):
                prev = torch.cat([s.start.expand(x.shape[0], 1, -1), x[:, :-1]], 1)  # x_{t-1} (learned start)
                inp = prev if m is None else torch.cat([prev, m], -1)
                h, _ = s.gru(inp)
                mu, lv = s.head(h).chunk(2, -1)
                return mu, lv.clamp(min=MIN_LOGVAR)

        return Net()

    def fit(self, seqs, ids, mels=None):
        import torch

        rng = np.random.default_rng(SEED)
        torch.manual_seed(SEED)
        d = seqs[0].shape[1]
        dm = mels[0].shape[1] if self.use_mel else 0
        if self.use_mel:
            allm = np.concatenate(mels)
            self.mel_mean, self.mel_std = allm.mean(0), allm.std(0) + 1e-6
        self.net = self._net(d, dm)
        opt = torch.optim.Adam(self.net.parameters(), lr=GRU_LR)
        w = _speaker_weights(ids)
        ok = [i for i, s in enumerate(seqs) if len(s) > GRU_WINDOW]
        p = w[ok] / w[ok].sum()
        for _ in range(self.epochs * GRU_STEPS_PER_EPOCH):
            xs, ms = [], []
            for i in rng.choice(ok, GRU_BATCH, p=p):
                s = rng.integers(0, len(seqs[i]) - GRU_WINDOW + 1)
                xs.append(seqs[i][s: s + GRU_WINDOW])
                if self.use_mel:
                    ms.append((mels[i][s: s + GRU_WINDOW] - self.mel_mean) / self.mel_std)
            x = torch.from_numpy(np.stack(xs))
            m = torch.from_numpy(np.stack(ms).astype(np.float32)) if self.use_mel else None
            mu, lv = self.net(x, m)
            loss = (0.5 * (lv + (x - mu) ** 2 / lv.exp())).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        return self

    def nll(self, x, mel=None) -> np.ndarray:
        import torch

        with torch.no_grad():
            m = None
            if self.use_mel:
                m = torch.from_numpy(((mel - self.mel_mean) / self.mel_std).astype(np.float32))[None]
            xt = torch.from_numpy(x)[None]
            mu, lv = self.net(xt, m)
            out = 0.5 * (lv + (xt - mu) ** 2 / lv.exp() + np.log(2 * np.pi)).sum(-1)
        return out[0].numpy().astype(np.float64)


def make_model(name: str, epochs: int):
    return {"ar1": lambda: GaussAR(1), "ar2": lambda: GaussAR(2), "gru": lambda: GRUModel(False, epochs),
            "gru_mel": lambda: GRUModel(True, epochs)}[name]()


def clip_nll(model, feat, lips, pose, mel) -> np.ndarray:
    x = feat(lips, pose)
    return model.nll(x, mel[1:])


def mean_nll(curve) -> float:
    c = np.asarray(curve)[SKIP_FRAMES:]
    return float(np.nanmean(c))


# ------------------------------------------------------------------------------------- pseudo-fakes

def pseudo_fakes(c, rng) -> dict:
    """Real-only perturbations of a clip's (lips, pose): name -> (lips, pose)."""
    from scipy.ndimage import gaussian_filter1d

    lips, pose = c["lips"], c["pose"]
    out = {"smooth": (gaussian_filter1d(lips, SMOOTH_SIGMA, axis=0), gaussian_filter1d(pose, SMOOTH_SIGMA, axis=0))}
    frozen = pose.copy()
    frozen[:, :3] = np.median(pose[:, :3], 0)  # head pose frozen
    frozen[:, 6:10] = np.median(pose[:, 6:10], 0)  # eyes and brows frozen
    frozen[:, 3:5] = np.median(pose[:, 3:5], 0)
    frozen[:, 5] = np.median(pose[:, 5])
    out["frozen"] = (lips, frozen)
    dl = np.diff(lips, axis=0).std(0)
    dp = np.diff(pose, axis=0).std(0)
    out["jitter"] = (lips + JITTER_GAIN * dl * rng.standard_normal(lips.shape).astype(np.float32),
                     pose + JITTER_GAIN * dp * rng.standard_normal(pose.shape).astype(np.float32))
    n = min(LOOP_FRAMES, len(lips) // 2)
    reps = int(np.ceil(len(lips) / n))
    out["loop"] = (np.tile(lips[:n], (reps, 1))[: len(lips)], np.tile(pose[:n], (reps, 1))[: len(lips)])
    return out


# ------------------------------------------------------------------------------------------- main

def ci_str(neg, pos) -> str:
    neg, pos = [v for v in neg if np.isfinite(v)], [v for v in pos if np.isfinite(v)]
    if not neg or not pos:
        return "n/a"
    lo, hi = auc_ci(neg, pos)
    return f"{auc(neg, pos):.3f} [{lo:.2f}, {hi:.2f}]"


def md_table(header, rows):
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + \
        ["| " + " | ".join(str(v) for v in r) + " |" for r in rows]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cache", type=Path, default=CACHE)
    ap.add_argument("--out", type=Path, default=CACHE / "probe")
    ap.add_argument("--mesh", default="mesh", help="mesh folder under --cache: 'mesh' (full size) or "
                    "'mesh_iod36' (faces shrunk to 36 px between the eyes, dynamics_extract.py --target-iod 36)")
    ap.add_argument("--epochs", type=int, default=GRU_EPOCHS)
    ap.add_argument("--models", nargs="*", default=list(MODELS))
    ap.add_argument("--feature-sets", nargs="*", default=list(FEATURE_SETS))
    ap.add_argument("--manifest", type=Path, action="append", default=[],
                    help="extra reals and generator fakes (scripts/generator_corpus.py's manifest); repeatable")
    ap.add_argument("--no-sync", action="store_true", help="skip the starter model (fusion / shift / swap checks)")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    t0 = time.time()
    args.out.mkdir(parents=True, exist_ok=True)
    clips = load_clips(args.cache, args.mesh, args.manifest)
    by = {g: [c for c in clips if c["group"] == g] for g in sorted({c["group"] for c in clips})}
    print("clips per group:", {g: len(v) for g, v in by.items()})
    train, val = by["corpus_train"], by["corpus_val"]
    held_real = by.get("shared_real", []) + by.get("corpus_test", [])
    rng = np.random.default_rng(SEED)
    pseudo = [(c, pseudo_fakes(c, rng)) for c in val]
    kinds = list(pseudo[0][1])

    res = {}  # variant -> {"scores": {clip name: mean nll}, "val_nll", "pseudo": {...}}
    for fs in args.feature_sets:
        feat = Featurizer(fs).fit(train)
        seqs = [feat(c["lips"], c["pose"]) for c in train]
        mels = [c["mel"][1:] for c in train]
        ids = [c["identity"] for c in train]
        for mname in args.models:
            t1 = time.time()
            model = make_model(mname, args.epochs)
            model.fit(seqs, ids, mels) if mname.startswith("gru") else model.fit(seqs, ids)
            dim = seqs[0].shape[1]
            sc = {c["name"] + "|" + c["group"]: mean_nll(clip_nll(model, feat, c["lips"], c["pose"], c["mel"])) / dim
                  for c in clips}
            val_m = np.array([sc[c["name"] + "|corpus_val"] for c in val])
            mu, sd = val_m.mean(), val_m.std(ddof=1)
            pseudo_auc = {}
            for k in kinds:
                pos = [mean_nll(clip_nll(model, feat, p[k][0], p[k][1], c["mel"])) / dim for c, p in pseudo]
                pseudo_auc[k] = {"mean": auc(val_m, pos),
                                 "typ": auc(np.abs(val_m - mu) / sd, np.abs(np.array(pos) - mu) / sd)}
            res[f"{fs}/{mname}"] = {"scores": sc, "val_nll": float(val_m.mean()), "val_mu": mu, "val_sd": sd,
                                    "pseudo": pseudo_auc, "model": model, "feat": feat, "dim": dim}
            print(f"  {fs}/{mname}: val NLL/dim {val_m.mean():.3f}, pseudo AUC (typ) "
                  f"{ {k: round(v['typ'], 2) for k, v in pseudo_auc.items()} } ({time.time() - t1:.0f}s)", flush=True)

    def scores(v, group_clips, kind):
        r = res[v]
        m = np.array([r["scores"][c["name"] + "|" + c["group"]] for c in group_clips])
        return m if kind == "mean" else np.abs(m - r["val_mu"]) / r["val_sd"]

    gen = by.get("generator_fake", [])
    emo = [c for c in gen if c["name"].startswith("emo")]
    vasa = [c for c in gen if c["name"].startswith("vasa")]
    sh_real, sh_fake = by.get("shared_real", []), [c for c in by.get("shared_fake", []) if "avshift" not in c["name"]]
    vex_real = [c for c in clips if c["identity"].startswith("vexpress")]
    extra_real = by.get("extra_real", [])
    extra_fake = [c for g, v in by.items() if g.startswith("extra_fake") for c in v]
    all_real = held_real + extra_real

    # selection: real-only (pseudo-fake AUC, two-sided score, averaged over kinds)
    sel_rows, measure_rows = [], []
    for v, r in res.items():
        for kind in ("mean", "typ"):
            pa = np.mean([r["pseudo"][k][kind] for k in kinds])
            sel_rows.append([v, kind, f"{r['val_nll']:.3f}", *[f"{r['pseudo'][k][kind]:.2f}" for k in kinds],
                             f"{pa:.3f}"])
            hr = scores(v, held_real, kind)
            measure_rows.append([v, kind, ci_str(hr, scores(v, gen, kind)), ci_str(hr, scores(v, vasa, kind)),
                                 ci_str(hr, scores(v, emo, kind)),
                                 ci_str(scores(v, sh_real, kind), scores(v, sh_fake, kind)),
                                 ci_str(scores(v, vex_real, kind), scores(v, gen, kind)),
                                 ci_str(scores(v, all_real, kind), scores(v, extra_fake, kind)) if extra_fake else "-",
                                 ci_str(scores(v, all_real, kind), scores(v, extra_fake + gen + sh_fake, kind))
                                 if extra_fake else "-"])
    best = max(sel_rows, key=lambda row: float(row[-1]))
    selected = (best[0], best[1])
    lines = ["## Real-only selection (val NLL per dim, pseudo-fake AUC on the corpus val clips)", "",
             *md_table(["variant", "score", "val NLL/dim", *kinds, "mean pseudo AUC"], sel_rows), "",
             f"Selected (best mean pseudo-fake AUC, real-only): **{selected[0]} / {selected[1]}**", "",
             "## Measured on fakes (AUC, 95 % bootstrap CI) -- NOT used for selection", "",
             f"held-out reals: {len(held_real)} (shared {len(sh_real)} + corpus test "
             f"{len(by.get('corpus_test', []))}); generator fakes {len(gen)} (vasa-1 {len(vasa)}, emo {len(emo)}); "
             f"shared fakes {len(sh_fake)} (avshift copy excluded: same video as a real); V-Express ground-truth "
             f"reals {len(vex_real)} (2 of them in TRAIN)", "",
             *md_table(["variant", "score", "gen vs held-out reals", "vasa-1 vs reals", "emo vs reals",
                        "shared fake vs shared real", "gen vs V-Express GT reals",
                        f"extra fakes ({len(extra_fake)}) vs all held-out reals ({len(all_real)})",
                        "all fakes vs all held-out reals"], measure_rows), ""]

    # confounds: trivial clip properties alone, and speaker novelty
    conf = []
    for name, fn in (("frame side (px)", lambda c: c["frame_side"]), ("inter-ocular (px)", lambda c: c["iod_px"]),
                     ("face size / frame", lambda c: c["iod_px"] / c["frame_side"]),
                     ("clip length (frames)", lambda c: len(c["lips"]))):
        neg, pos = [fn(c) for c in held_real], [fn(c) for c in gen]
        a = auc(neg, pos)
        conf.append([name, f"{max(a, 1 - a):.3f} (raw {a:.3f})", f"{np.median(neg):.3g}", f"{np.median(pos):.3g}"])
    lines += ["## Confounds: does a trivial clip property alone separate generator fakes from held-out reals?", "",
              *md_table(["property", "AUC (best direction)", "median real", "median generator"], conf), ""]
    v_sel = selected[0]
    r = res[v_sel]
    per_id = {}
    for c in clips:
        if c["group"].endswith("fake"):
            continue
        per_id.setdefault((c["group"], c["identity"]), []).append(r["scores"][c["name"] + "|" + c["group"]])
    id_rows = [[g, i, len(v), f"{np.mean(v):.3f}"] for (g, i), v in sorted(per_id.items())]
    gen_rows = [["generator_fake", c["name"], 1, f"{r['scores'][c['name'] + '|generator_fake']:.3f}"] for c in gen]
    lines += [f"## Mean NLL per dim of the selected variant ({v_sel}) by group / identity "
              "(new person = anomalous?)", "", *md_table(["group", "identity", "clips", "mean NLL/dim"],
                                                          id_rows + gen_rows), ""]
    out = {"selected": selected, "selection": sel_rows, "measured": measure_rows, "confounds": conf,
           "per_identity": id_rows + gen_rows}
    # every clip's score under every variant (mean NLL per dim), for research/generator_benchmark.py
    pd.DataFrame([{"path": c["path"], "group": c["group"], "identity": c["identity"],
                   **{v: rr["scores"][c["name"] + "|" + c["group"]] for v, rr in res.items()}} for c in clips]
                 ).to_csv(args.out / "dynamics_scores.csv", index=False)
    out["val_stats"] = {v: [float(rr["val_mu"]), float(rr["val_sd"])] for v, rr in res.items()}

    if not args.no_sync:
        lines += fusion_checks(args, res, selected, held_real, gen, vasa, emo, sh_real, sh_fake, val, out)
    lines.append(f"({time.time() - t0:.0f} s)")
    (args.out / "dynamics_probe.md").write_text("\n".join(lines) + "\n")
    (args.out / "dynamics_probe.json").write_text(json.dumps(out, indent=2, default=str))
    print("\n".join(lines))
    return 0


def fusion_checks(args, res, selected, held_real, gen, vasa, emo, sh_real, sh_fake, val, out) -> list[str]:
    """Starter model terms (nll, sync) + the dynamics term, each z-scored on the real corpus val clips; fused = mean.
    Audio shifts / swaps of the held-out reals: fused vs the starter model's own score."""
    from avanomaly.scoring import Detector

    det = Detector.from_pretrained("starter", device="cpu")
    v, kind = selected
    r = res[v]

    def dyn(lips, pose, mel):
        m = mean_nll(clip_nll(r["model"], r["feat"], lips, pose, mel)) / r["dim"]
        return m if kind == "mean" else abs(m - r["val_mu"]) / r["val_sd"]

    def terms(c, vis_idx=None, mel_full=None):
        lips, pose, lm = c["lips"], c["pose"], c["lips_lm"]  # dynamics features; the sync model's lip features
        mel = c["mel_full"] if mel_full is None else mel_full
        if vis_idx is not None:
            lips, pose, lm = lips[vis_idx], pose[vis_idx], lm[vis_idx]
        n = min(len(lips), len(mel) // MEL_PER_FRAME)
        lips, pose, lm, mel = lips[:n], pose[:n], lm[:n], mel[: MEL_PER_FRAME * n]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            s = det.score_features(np.ascontiguousarray(lm), np.asarray(mel, np.float32))
        melf = mel.reshape(-1, MEL_PER_FRAME, mel.shape[1]).mean(1)
        return {"score": s.score, "nll": s.score_terms["nll"], "sync": s.score_terms["sync"],
                "dyn": dyn(lips, pose, melf)}

    ref = [terms(c) for c in val]
    zs = {t: (np.mean([x[t] for x in ref]), max(np.std([x[t] for x in ref], ddof=1), 1e-2))
          for t in ("nll", "sync", "dyn")}

    def fused(x):
        return float(np.mean([(x[t] - zs[t][0]) / zs[t][1] for t in ("nll", "sync", "dyn")]))

    def fused2(x):
        return float(np.mean([(x[t] - zs[t][0]) / zs[t][1] for t in ("nll", "sync")]))

    rows = {}
    for g, cl in (("held_real", held_real), ("gen", gen), ("vasa", vasa), ("emo", emo), ("sh_real", sh_real),
                  ("sh_fake", sh_fake)):
        rows[g] = [terms(c) for c in cl]
    derived = []
    for i, c in enumerate(held_real):
        t = len(c["lips"])
        for s in SHIFTS:
            idx = np.arange(t)[s:] if s >= 0 else np.arange(t)[: t + s]
            _, m = shifted(c["lips"], c["mel_full"], s)
            derived.append(("shift", terms(c, idx, m)))
        other = held_real[(i + 1) % len(held_real)]
        _, m = swapped(c["lips"], other["mel_full"])
        derived.append(("swap", terms(c, np.arange(min(t, len(m) // MEL_PER_FRAME)), m)))

    def col(rs, f):
        return [f(x) for x in rs]

    fns = {"starter score": lambda x: x["score"], "starter nll+sync (refit z)": fused2,
           "dynamics alone": lambda x: x["dyn"], "fused nll+sync+dyn": fused}
    tab = []
    for fname, f in fns.items():
        neg = col(rows["held_real"], f)
        tab.append([fname, ci_str(neg, col(rows["gen"], f)), ci_str(neg, col(rows["vasa"], f)),
                    ci_str(neg, col(rows["emo"], f)), ci_str(col(rows["sh_real"], f), col(rows["sh_fake"], f)),
                    ci_str(neg, [f(x) for k, x in derived]), ci_str(neg, [f(x) for k, x in derived if k == "shift"]),
                    ci_str(neg, [f(x) for k, x in derived if k == "swap"])])
    out["fusion"] = tab
    out["fusion_z"] = {k: [float(a), float(b)] for k, (a, b) in zs.items()}
    return [f"## Fusion with the starter model (selected dynamics variant {v} / {kind}; z-scores on the "
            f"{len(val)} real corpus val clips)", "",
            *md_table(["score", "gen vs held-out reals", "vasa-1", "emo", "shared fake vs real", "shift+swap",
                       "shift", "swap"], tab), ""]


if __name__ == "__main__":
    sys.exit(main())

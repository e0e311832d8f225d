"""Generate the synthetic FakeAVCeleb-shaped benchmark (see docs/synthetic.md).

Layout written under ``out``::

    FakeAVCeleb_v1.2/<category>/<ethnicity>/<men|women>/<idNNNNN>/<file>.mp4
    FakeAVCeleb_v1.2/meta_data.csv        # FakeAVCeleb's quirky format (9 header names + trailing comma, 10 fields)
    FakeAVCeleb_v1.2/synth_methods.csv    # finer synthetic method and its parameters, one row per clip
    FakeAVCeleb_v1.2/synth_truth.npz      # ground-truth per-frame mouth openness / audio envelope per clip
    FakeAVCeleb_v1.2/synth_settings.json  # seed, size, options; written last (marks a finished set)
    contact_sheet.png

Everything is decided by ``seed``: the plan (identities, clips, methods, per-clip seeds; plan.py) is drawn in
the parent process, each clip is rendered from its own seeds (render.py), so the output does not depend on
``workers``. This module writes the outputs above and runs the clips (in worker processes or not).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import shutil
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from avanomaly.data import fakeavceleb
from avanomaly.data.synth import speech
from avanomaly.data.synth.plan import (AUDIO_RATE_44K, ETHNICITIES, FAKE_TYPES, GENDERS, REAL_TYPE,  # noqa: F401
                                       SIZES, SYNTH_METHODS, ClipJob, Identity, SynthSize, plan_jobs)
from avanomaly.data.synth.render import recording, render_job, write_mp4
from avanomaly.errors import ConfigError
from avanomaly.utils import atomic_write_bytes, atomic_write_json, atomic_write_text, dying_pool_initializer

log = logging.getLogger(__name__)

ROOT_NAME = "FakeAVCeleb_v1.2"
SETTINGS_FILE = "synth_settings.json"
#: bump when a change to the generator changes its output for the same seed
GENERATOR_VERSION = 1
# the dataset's vocabulary and meta_data.csv layout come from the FakeAVCeleb index (data/fakeavceleb.py)
META_HEADER = ",".join(fakeavceleb.META_COLUMNS) + ","  # nine names + the trailing comma of the real file
META_DIR_PREFIX = "FakeAVCeleb"  # the 10th field of the real meta_data.csv starts with this (not the root name)
LETTER_OF = {cat: letter for letter, cat in fakeavceleb.CATEGORY_LETTERS.items()}  # type -> category letter
CONTACT_FRAMES = 4
CONTACT_ZOOM = 2


@dataclass
class SynthResult:
    root: Path
    n_clips: int
    counts: dict


def _rel_dir(job: ClipJob, person: Identity) -> str:
    return f"{job.type}/{person.ethnicity}/{person.gender}/{person.id}"


def _run_job(args) -> dict:
    job, identities, size, root = args
    person = identities[job.identity]
    frames, audio, truth = render_job(job, identities, size)
    rec = recording(job.source_seed, job.n_frames)
    rate = AUDIO_RATE_44K if rec.rate_44k else speech.SAMPLE_RATE
    rel = f"{_rel_dir(job, person)}/{job.filename}"
    write_mp4(Path(root) / rel, frames, audio, rate)
    return {"index": job.index, "rel": rel, "rate": rate, "params": job.params, "truth": truth}


# ------------------------------------------------------------------------------------------------ outputs
def _meta_rows(jobs, identities) -> list[str]:
    lines = [META_HEADER]
    for job in jobs:
        p = identities[job.identity]
        donor = job.donor_face if job.donor_face is not None else job.donor_voice
        target1 = identities[donor].id if donor is not None else "-"
        fields = [p.id, target1, "-", job.method, LETTER_OF[job.type], job.type, p.ethnicity, p.gender, job.filename, f"{META_DIR_PREFIX}/{_rel_dir(job, p)}"]
        lines.append(",".join(fields))
    return lines


def _contact_sheet(root: Path, results: dict, jobs: list[ClipJob]) -> np.ndarray:
    import av

    rows = []
    for ftype in LETTER_OF:
        chosen = [j for j in jobs if j.type == ftype]
        # one clip per method for the fake types (first of each), one real clip
        seen, picks = set(), []
        for j in chosen:
            if j.method not in seen:
                seen.add(j.method)
                picks.append(j)
        for j in picks:
            with av.open(str(root / results[j.index]["rel"])) as c:
                frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
            idx = np.linspace(0, len(frames) - 1, CONTACT_FRAMES + 2)[1:-1].astype(int)
            tiles = [cv2.resize(frames[i], None, fx=CONTACT_ZOOM, fy=CONTACT_ZOOM, interpolation=cv2.INTER_NEAREST) for i in idx]
            label = np.full((tiles[0].shape[0], 200, 3), 255, np.uint8)
            for k, text in enumerate([ftype, j.method, j.synth_method]):
                cv2.putText(label, text[:24], (4, 30 + 22 * k), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
            rows.append(np.hstack([label] + tiles))
    return np.vstack(rows)


def generate(out, seed: int = 0, size: str | SynthSize = "demo", workers: int = 1, leading_silence: bool = True,
             progress: bool = False, overwrite: bool = False) -> SynthResult:
    """Write the benchmark under ``out`` and return where it is. Same seed and size -> same files.

    ``size`` is a name from ``SIZES`` or a ``SynthSize`` (e.g. a tiny one for tests). If ``out`` already
    holds a complete set made with the same settings, nothing is redone; a different or unfinished set
    there is a ``ConfigError`` unless ``overwrite`` (which deletes ``out/FakeAVCeleb_v1.2`` first)."""
    if isinstance(size, SynthSize):
        spec = size
    elif size in SIZES:
        spec = SIZES[size]
    else:
        raise ConfigError(f"unknown synthetic size '{size}'; choose one of {sorted(SIZES)}")
    if workers < 1:
        raise ConfigError(f"workers must be >= 1, got {workers}")
    if spec.frame_size % 2 or spec.identities < 2 or spec.reals_per_identity < 1:
        raise ConfigError(f"invalid synthetic size {spec}: need an even frame size, >= 2 identities, >= 1 real clip each")
    out = Path(out)
    root = out / ROOT_NAME
    settings = {"seed": seed, "size": asdict(spec), "leading_silence": leading_silence, "generator": GENERATOR_VERSION}
    existing = _existing(root, settings)
    if existing is not None and not overwrite:
        log.info("%s already holds this synthetic set (same settings); nothing to do", root)
        return existing
    if root.exists() and any(root.iterdir()):
        if not overwrite:
            raise ConfigError(f"{root} already exists and holds other files (another seed/size or an unfinished run); "
                              "choose an empty --out or pass --overwrite to replace it")
        shutil.rmtree(root)
    root.mkdir(parents=True, exist_ok=True)
    identities, jobs = plan_jobs(seed, spec, leading_silence)
    tasks = [(job, identities, spec, str(root)) for job in jobs]
    results: dict[int, dict] = {}
    iterator = None
    if workers == 1:
        iterator = map(_run_job, tasks)
    else:
        init, initargs = dying_pool_initializer()  # workers die with this process
        pool = ProcessPoolExecutor(max_workers=workers, initializer=init, initargs=initargs)
        iterator = pool.map(_run_job, tasks, chunksize=max(1, len(tasks) // (4 * workers)))
    if progress:
        from tqdm import tqdm

        iterator = tqdm(iterator, total=len(tasks), desc="synth", unit="clip")
    try:
        for r in iterator:
            results[r["index"]] = r
    finally:
        if workers > 1:
            pool.shutdown()
    for job in jobs:  # params were filled in the worker
        job.params = results[job.index]["params"]
    atomic_write_text(root / "meta_data.csv", "\n".join(_meta_rows(jobs, identities)) + "\n")
    sm = io.StringIO()
    w = csv.writer(sm, lineterminator="\n")
    keys = ["audio_shift_frames", "lipsync_lag_frames", "lipsync_style", "lipsync_tau", "lipsync_jitter", "lipsync_blur", "lipsync_gain", "leading_silence_s"]
    w.writerow(["path", "type", "method", "synth_method", "source", "donor_face", "donor_voice", "n_frames", "audio_rate", *keys])
    for job in jobs:
        p = identities[job.identity]
        w.writerow([
            results[job.index]["rel"], job.type, job.method, job.synth_method, p.id,
            identities[job.donor_face].id if job.donor_face is not None else "",
            identities[job.donor_voice].id if job.donor_voice is not None else "",
            job.n_frames, results[job.index]["rate"], *[job.params.get(k, "") for k in keys],
        ])
    atomic_write_text(root / "synth_methods.csv", sm.getvalue())
    truth = {}
    for job in jobs:
        r = results[job.index]
        for k, v in r["truth"].items():
            truth[f"{r['rel']}::{k}"] = v
    buf = io.BytesIO()
    np.savez_compressed(buf, **truth)
    atomic_write_bytes(root / "synth_truth.npz", buf.getvalue())
    ok, png = cv2.imencode(".png", _contact_sheet(root, results, jobs)[..., ::-1])
    atomic_write_bytes(out / "contact_sheet.png", png.tobytes())
    counts = {t: sum(j.type == t for j in jobs) for t in LETTER_OF}
    atomic_write_json(root / SETTINGS_FILE, {**settings, "counts": counts, "n_clips": len(jobs)})  # written last: marks completion
    return SynthResult(root=root, n_clips=len(jobs), counts=counts)


def _existing(root: Path, settings: dict) -> SynthResult | None:
    """The finished set in ``root`` when it was generated with exactly ``settings`` and is complete."""
    try:
        done = json.loads((root / SETTINGS_FILE).read_text())
        with open(root / "synth_methods.csv", newline="") as fh:
            paths = [r["path"] for r in csv.DictReader(fh)]
    except (OSError, ValueError, KeyError):
        return None
    if {k: done.get(k) for k in settings} != json.loads(json.dumps(settings)) or not all((root / p).is_file() for p in paths):
        return None
    return SynthResult(root=root, n_clips=done["n_clips"], counts=done["counts"])


def generate_synthetic(out, seed: int = 0, size: str | SynthSize = "demo", workers: int = 1, leading_silence: bool = True) -> Path:
    """Contract entry point (docs/architecture.md): write the tree, return the FakeAVCeleb_v1.2 root."""
    return generate(out, seed=seed, size=size, workers=workers, leading_silence=leading_silence).root

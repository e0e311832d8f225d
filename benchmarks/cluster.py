"""Preprocessing throughput vs workers, local process pool vs the Dask engine, and the engine's overhead per task.

    PYTHONPATH=. python benchmarks/cluster.py [--clips 8] [--duration 2.0] [--workers 1 2] [--out DIR]

Generates ``--clips`` synthetic clips (avanomaly.data.synth, 25 fps, 128 px frames), then for each worker count
preprocesses them into a fresh cache with the local pool and with a Dask local cluster (its start included), and
prints clips/s, seconds per clip and seconds per second of video. ``dask-warm`` rows use an already started cluster
(given by address, as ``--address``) whose workers preprocessed two clips first (imports and detector loaded):
the steady-state cost, without start-up. The engine's overhead per task is measured on a started cluster with a
task that does nothing. Numbers depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path


def _noop(x):
    return x


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clips", type=int, default=8)
    ap.add_argument("--duration", type=float, default=2.0, help="seconds per clip")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--noop-tasks", type=int, default=400)
    ap.add_argument("--out", default=None, help="working folder (default: a temporary one, removed)")
    args = ap.parse_args(argv)

    from avanomaly.data.synth import SynthSize, generate
    from avanomaly.distributed import engine_spec, map_unordered
    from avanomaly.distributed.engine import dask_client
    from avanomaly.preprocess import PreprocessConfig, preprocess_many

    work = Path(args.out or tempfile.mkdtemp(prefix="avanomaly-cluster-bench-"))
    try:
        ids = max(1, args.clips // 2)
        generate(work / "synth", seed=5, size=SynthSize(identities=ids, reals_per_identity=1, fakes_per_identity=1,
                                                        duration=(args.duration, args.duration), frame_size=128))
        paths = sorted(str(p) for p in (work / "synth").rglob("*.mp4"))[: args.clips]
        video_s = len(paths) * args.duration
        print(f"{len(paths)} clips x {args.duration:.1f} s ({video_s:.0f} s of video), default PreprocessConfig")
        print(f"{'engine':<8} {'workers':>7} {'wall s':>8} {'clips/s':>8} {'s/clip':>7} {'s per video s':>13}")
        for engine in ("local", "dask"):
            for w in args.workers:
                cache = work / f"cache-{engine}-{w}"
                t0 = time.perf_counter()
                rep = preprocess_many(paths, cache, PreprocessConfig(), workers=w, progress=False,
                                      engine=engine_spec(engine))
                dt = time.perf_counter() - t0
                assert rep.ok, rep.failed
                print(f"{engine:<8} {w:>7} {dt:>8.1f} {len(paths) / dt:>8.2f} {dt / len(paths):>7.2f} "
                      f"{dt / video_s:>13.2f}")
                shutil.rmtree(cache, ignore_errors=True)
        from distributed import LocalCluster

        for w in args.workers:
            with LocalCluster(n_workers=w, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
                spec = engine_spec("dask", cluster.scheduler_address)
                preprocess_many(paths[:2], work / "warm-up", PreprocessConfig(), progress=False, engine=spec)
                cache = work / f"cache-warm-{w}"
                t0 = time.perf_counter()
                rep = preprocess_many(paths, cache, PreprocessConfig(), progress=False, engine=spec)
                dt = time.perf_counter() - t0
                assert rep.ok, rep.failed
                print(f"{'dask-warm':<9} {w:>6} {dt:>8.1f} {len(paths) / dt:>8.2f} {dt / len(paths):>7.2f} "
                      f"{dt / video_s:>13.2f}")
                shutil.rmtree(cache, ignore_errors=True)
                shutil.rmtree(work / "warm-up", ignore_errors=True)
        for w in args.workers:
            spec = engine_spec("dask", workers=w)
            t0 = time.perf_counter()
            with dask_client(spec) as client:
                client.wait_for_workers(w)
                start = time.perf_counter() - t0
                t1 = time.perf_counter()
                n = sum(1 for o in map_unordered(spec, _noop, range(args.noop_tasks), client=client) if o.ok)
                per = (time.perf_counter() - t1) / n
            print(f"dask local cluster, {w} worker(s): start {start:.2f} s; overhead {per * 1e3:.2f} ms per task "
                  f"({n} no-op tasks)")
    finally:
        if args.out is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

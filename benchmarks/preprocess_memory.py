"""Peak memory of preprocessing one file into the cache, by video length (prints numbers; not a test).

    .venv/bin/python benchmarks/preprocess_memory.py [--minutes 0.1667 1 20 60] [--work DIR] [--size 320x240]

For each length a synthetic talking-pattern video (mpeg4 + AAC, ``--size``) is written once into ``--work``
(reused on later runs), then preprocessed into a fresh cache by ``avanomaly preprocess`` in a child process
(the CLI a user runs; pixel front end with the ``center`` detector, so the numbers measure the pipeline's own
memory, not a face model). Reported: the child's peak RSS (``ru_maxrss``), wall time, and the ratio to the
shortest file. Issue 16's target: every ratio <= 1.2.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: default lengths in minutes: 10 s, 1 min, 20 min, 60 min
DEFAULT_MINUTES = (10 / 60, 1.0, 20.0, 60.0)
#: peak-RSS ratio to the shortest file that issue 16 accepts
TARGET_RATIO = 1.2
FPS = 25


def write_video(path: Path, minutes: float, size: tuple[int, int]) -> None:
    if path.is_file():
        return
    from avanomaly.io.testing import INDEX_MAX_FRAMES, moving_mouth_frame_fn, sine, write_test_video

    def frame_fn(i, s):  # the frame-index code wraps around on long videos (only the motion matters here)
        return moving_mouth_frame_fn(i % INDEX_MAX_FRAMES, s)

    tmp = path.with_suffix(".part.mp4")
    write_test_video(tmp, fps=FPS, n_frames=int(round(minutes * 60 * FPS)), size=size, video_codec="mpeg4",
                     frame_fn=frame_fn, audio_fn=sine(220.0, 0.3))
    tmp.rename(path)


#: run in the child: the CLI, then its own peak RSS (KiB on Linux) written to the file named by argv[1]
CHILD = ("import resource, runpy, sys\n"
         "out = sys.argv.pop(1)\n"
         "sys.argv[0] = 'avanomaly'\n"
         "try:\n"
         "    runpy.run_module('avanomaly', run_name='__main__')\n"
         "finally:\n"
         "    open(out, 'w').write(str(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))\n")


def peak_rss_of(args: list[str], report: Path) -> tuple[float, float]:
    """Run ``avanomaly ARGS`` in a child process -> (its own peak RSS in MiB, wall seconds)."""
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", CHILD, str(report), *args], check=True, stdout=subprocess.DEVNULL)
    return int(report.read_text()) / 1024.0, time.perf_counter() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, nargs="+", default=list(DEFAULT_MINUTES))
    ap.add_argument("--work", default=str(REPO / "benchmark_work" / "memory"))
    ap.add_argument("--size", default="320x240", help="frame size WxH of the synthetic videos")
    args = ap.parse_args(argv)
    size = tuple(int(v) for v in args.size.lower().split("x"))
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    for minutes in sorted(args.minutes):
        video = work / f"talking_{minutes:g}min_{size[0]}x{size[1]}.mp4"
        t0 = time.perf_counter()
        write_video(video, minutes, size)
        print(f"{video.name}: {video.stat().st_size / 2**20:.1f} MiB (ready in {time.perf_counter() - t0:.0f} s)",
              flush=True)
        cache = work / f"cache_{minutes:g}"
        shutil.rmtree(cache, ignore_errors=True)
        args_ = ["preprocess", str(video), "--out", str(cache), "--detector", "center", "--threads", "1",
                 "--no-progress"]
        rss, wall = peak_rss_of(args_, work / "peak_rss.txt")
        rows.append((minutes, rss, wall))
        shutil.rmtree(cache, ignore_errors=True)
        print(f"  peak RSS {rss:.0f} MiB, {wall:.0f} s ({minutes * 60 / wall:.1f}x real time)", flush=True)
    base = rows[0][1]
    print("\nminutes  peak RSS MiB  ratio  wall s")
    for minutes, rss, wall in rows:
        print(f"{minutes:7.2f}  {rss:12.0f}  {rss / base:5.2f}  {wall:6.0f}")
    worst = max(r[1] for r in rows) / base
    print(f"worst ratio {worst:.2f} (target <= {TARGET_RATIO})")
    return 0 if worst <= TARGET_RATIO else 1


if __name__ == "__main__":
    raise SystemExit(main())

"""SIGTERM during a training run: a :class:`~avanomaly.errors.TrainingInterrupted` that names the run folder and
how to resume, instead of a silent exit."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

from avanomaly.errors import TrainingInterrupted
from avanomaly.training.rundir import CONFIG_FILE, DONE_FILE, LAST_CKPT, STAGES

#: signal that stops a training run gracefully (a cluster's / container's stop request); Ctrl-C is Lightning's
STOP_SIGNAL = signal.SIGTERM


class StopOnSignal:
    """SIGTERM during a training run -> :class:`TrainingInterrupted` naming the run folder and the resume command.

    Without it a SIGTERM inside ``trainer.fit`` ended the process with status 0 and no message: Lightning's
    handler stops the fit at the end of the current batch by raising ``SIGTERMException``, a ``SystemExit``
    whose code is None. Here, outside ``fit`` (reading the manifest, preprocessing, export, calibration; their
    writes are atomic) the handler raises at once; inside ``fit`` Lightning's handler runs first and calls this
    one, which only records the signal (so checkpoints are never cut half-way), and ``run_stage`` raises once
    Lightning has stopped. The unfinished stage resumes from its ``last.ckpt`` (the last finished epoch).
    """

    def __init__(self, run_dir: Path):
        self.run_dir = Path(run_dir)
        self.stage = "preparation"
        self.in_fit = False
        self.received: str | None = None
        self._previous = None
        self._installed = False

    def __call__(self, signum, frame) -> None:
        self.received = signal.Signals(signum).name
        if not self.in_fit:
            raise self.interrupted()

    def interrupted(self) -> TrainingInterrupted:
        ckpt = self.run_dir / self.stage / LAST_CKPT
        done = [s for s in STAGES if (self.run_dir / s / DONE_FILE).exists()]
        detail = []
        if done:
            detail.append(f"Finished stage(s) kept: {', '.join(done)}.")
        if self.stage in STAGES:
            detail.append(f"{self.stage} continues from {ckpt} (its last finished epoch)." if ckpt.exists() else
                          f"{self.stage} had no finished epoch and starts again.")
        resume = None if (self.run_dir / CONFIG_FILE).exists() else "the same command again (nothing was saved yet)"
        return TrainingInterrupted(self.run_dir, self.stage, self.received or STOP_SIGNAL.name, " ".join(detail),
                                   resume_command=resume)

    def __enter__(self) -> "StopOnSignal":
        if threading.current_thread() is threading.main_thread():  # signal handlers live in the main thread only
            self._previous = signal.signal(STOP_SIGNAL, self)
            self._installed = True
        return self

    def __exit__(self, *exc) -> None:
        if self._installed:
            signal.signal(STOP_SIGNAL, self._previous)
            self._installed = False

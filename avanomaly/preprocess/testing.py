"""Test helpers for killed preprocessing workers (any engine): a face detector that kills its worker, once.

``preprocess --detector avanomaly.preprocess.testing:KillOnceDetector`` with ``$AVANOMALY_KILL_FLAG`` naming a file
that exists: the first process to reach its :data:`KILL_AT_CALL`-th ``detect`` call removes the file and SIGKILLs
itself (mid-clip: the entry's temporary folder is open, nothing is published). Otherwise it is the ``center``
detector. Used by the killed-worker tests (tests/unit/test_cluster.py); never in production.
"""

from __future__ import annotations

import os
import signal

from avanomaly.preprocess.detectors import CenterDetector

KILL_FLAG_ENV = "AVANOMALY_KILL_FLAG"
#: detect calls before the kill (a clip is cut into decode runs: later calls are mid-entry)
KILL_AT_CALL = 8


class KillOnceDetector(CenterDetector):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.calls = 0

    def detect(self, frame_rgb):
        self.calls += 1
        flag = os.environ.get(KILL_FLAG_ENV)
        if flag and self.calls >= KILL_AT_CALL:
            try:
                os.unlink(flag)  # only the process that removes the flag dies
            except FileNotFoundError:
                pass
            else:
                os.kill(os.getpid(), signal.SIGKILL)
        return super().detect(frame_rgb)

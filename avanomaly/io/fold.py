"""Folding the decoder's warnings: one line per kind of warning for a result, whatever the file's length.

Warnings that come once per event (an audio gap every few seconds of a long file) are folded into one line per
kind for a result: fold_warnings() is applied where warnings are collected (load_clip's Clip, ScoreResult, the
cache entry's meta.json), so CSV cells, JSON and the table all get one line per kind, whatever the length.
"""

from __future__ import annotations

import re


def _gap_warning(ms: float, at: float) -> str:
    return f"audio gap of {ms:.0f} ms at {at:.2f} s filled with zeros"


def _overlap_warning(ms: float, at: float) -> str:
    return f"audio timestamps overlap by {ms:.0f} ms at {at:.2f} s"


_NUM = r"(-?\d+(?:\.\d+)?)"
#: per-event decoder warnings: kind -> (one event's pattern, the folded line's pattern, how the folded line reads)
_FOLDED_KINDS = {
    "gap": (re.compile(rf"^audio gap of {_NUM} ms at {_NUM} s filled with zeros$"),
            re.compile(rf"^audio gaps filled with zeros: {_NUM} times \(first at {_NUM} s, largest {_NUM} ms, "
                       rf"{_NUM} ms in all\)$"),
            "audio gaps filled with zeros: {n} times (first at {first:.2f} s, largest {largest:.0f} ms, "
            "{total:.0f} ms in all)"),
    "overlap": (re.compile(rf"^audio timestamps overlap by {_NUM} ms at {_NUM} s$"),
                re.compile(rf"^audio timestamps overlap: {_NUM} times \(first at {_NUM} s, largest {_NUM} ms, "
                           rf"{_NUM} ms in all\)$"),
                "audio timestamps overlap: {n} times (first at {first:.2f} s, largest {largest:.0f} ms, "
                "{total:.0f} ms in all)"),
}
_SAME_BUT_NUMBERS = re.compile(r"-?\d+(?:\.\d+)?")


def fold_warnings(messages) -> list[str]:
    """One line per kind of warning, in the order of each kind's first message: the decoder's per-event warnings
    (audio gaps, audio timestamp overlaps) become ``audio gaps filled with zeros: 246 times (first at 3.20 s,
    largest 120 ms, 9840 ms in all)``; other messages repeated with only their numbers changed become the first
    one + ``(and N more like it)``. A single message is kept as it is; folding folded lines again merges them."""
    out: list = []  # str, or [kind, n, first, largest, total] for a per-event kind
    events: dict[str, list] = {}
    alike: dict[str, list] = {}  # message with its numbers blanked -> [index in out, first message, count]
    for msg in messages:
        msg = str(msg)
        for kind, (one, folded, _) in _FOLDED_KINDS.items():
            if m := one.match(msg):
                ms, at = float(m[1]), float(m[2])
                part = [1, at, ms, ms]
            elif m := folded.match(msg):
                part = [int(float(m[1])), float(m[2]), float(m[3]), float(m[4])]
            else:
                continue
            if kind not in events:
                events[kind] = [kind, 0, part[1], 0.0, 0.0]
                out.append(events[kind])
            acc = events[kind]
            acc[1] += part[0]
            acc[2] = min(acc[2], part[1])
            acc[3] = max(acc[3], part[2])
            acc[4] += part[3]
            break
        else:
            key = _SAME_BUT_NUMBERS.sub("#", re.sub(r" \(and \d+ more like it\)$", "", msg))
            more = int(m[1]) if (m := re.search(r" \(and (\d+) more like it\)$", msg)) else 0
            if key in alike:
                alike[key][2] += 1 + more
            else:
                alike[key] = [len(out), re.sub(r" \(and \d+ more like it\)$", "", msg), 1 + more]
                out.append(None)
    for index, first, count in alike.values():
        out[index] = first if count == 1 else f"{first} (and {count - 1} more like it)"
    lines = []
    for item in out:
        if isinstance(item, list):
            kind, n, first, largest, total = item
            if n == 1:
                one = _gap_warning if kind == "gap" else _overlap_warning
                lines.append(one(largest, first))
            else:
                lines.append(_FOLDED_KINDS[kind][2].format(n=n, first=first, largest=largest, total=total))
        else:
            lines.append(item)
    return lines

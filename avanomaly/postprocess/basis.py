"""What a calibration rests on (``Calibration.basis``, stored in the model file and calibration.json):

    {"n_clips": 7,                       # real clips behind the threshold
     "n_speakers": 4 | None,             # distinct identities (None: the manifest had none)
     "domains": {"studio": 5, ...} | None,   # clips per recording domain (None: no domain labels)
     "far": {"method": "leave-speaker-out" | "leave-one-clip-out", "confidence": 0.95,
             "ci_method": "clopper-pearson",
             "overall": {"k", "n", "rate", "ci_low", "ci_high"},
             "per_domain": {"studio": {...}, ...}} | None,   # None: fewer than 2 speakers / clips
     "pool": {"face_px": {"n", "min", "p05", "p50"}, "frame_height": {...}, "bits_per_pixel": {...}},
     "note": "..."}

``far`` is the false-alarm rate at the threshold estimated **out of speaker** (``leave_speaker_out``): for each
speaker, the score fusion and the threshold are fit on the other speakers' clips, and the held-out speaker's clips
are scored against them; ``k`` of the ``n`` clips score above their held-out threshold. The interval is the exact
binomial (Clopper-Pearson) one; it treats clips as independent, which clips of one speaker are not, so it is
optimistic when a few speakers hold most clips. Without identities each clip is its own speaker
(``leave-one-clip-out``: an out-of-clip, not an out-of-speaker, estimate). ``pool``: the calibration clips'
recording facts (:mod:`avanomaly.postprocess.domain`), against which inputs are checked at scoring time.

An empty basis (``{}``) means "not recorded" (model files calibrated before it existed); ``check_basis`` checks
a stored one strictly (unknown keys refused, every number finite and in range).
"""

from __future__ import annotations

import math

from avanomaly.errors import ConfigError

#: confidence of the stored false-alarm intervals
FAR_CONFIDENCE = 0.95
FAR_METHODS = ("leave-speaker-out", "leave-one-clip-out")
BASIS_KEYS = ("n_clips", "n_speakers", "domains", "far", "pool", "note")
RATE_KEYS = ("k", "n", "rate", "ci_low", "ci_high")
FAR_KEYS = ("method", "confidence", "ci_method", "overall", "per_domain")
POOL_FACTS = ("face_px", "frame_height", "bits_per_pixel")
RANGE_KEYS = ("n", "min", "p05", "p50")


def clopper_pearson(k: int, n: int, confidence: float = FAR_CONFIDENCE) -> tuple[float, float]:
    """Exact binomial interval for ``k`` events in ``n`` trials (``scipy.stats.binomtest``)."""
    from scipy.stats import binomtest

    ci = binomtest(int(k), int(n)).proportion_ci(confidence_level=confidence, method="exact")
    return float(ci.low), float(ci.high)


def rate(k: int, n: int, confidence: float = FAR_CONFIDENCE) -> dict:
    """``{"k", "n", "rate", "ci_low", "ci_high"}`` of ``k`` false alarms among ``n`` clips."""
    lo, hi = clopper_pearson(k, n, confidence)
    return {"k": int(k), "n": int(n), "rate": k / n, "ci_low": lo, "ci_high": hi}


def describe(basis: dict) -> str:
    """One line: what the threshold rests on, and the out-of-speaker false-alarm rate with its interval."""
    if not basis:
        return "calibration basis not recorded (calibrated before avanomaly stored it)"
    spk = basis.get("n_speakers")
    doms = basis.get("domains")
    text = (f"threshold rests on {basis['n_clips']} real clip(s) of "
            f"{'unknown' if spk is None else spk} speaker(s), domains "
            + ("unknown" if doms is None else ", ".join(f"{d} {n}" for d, n in sorted(doms.items()))))
    far = basis.get("far")
    if far:
        o = far["overall"]
        text += (f"; false alarms {far['method']}: {100 * o['rate']:.1f}% ({o['k']}/{o['n']}, "
                 f"{100 * far['confidence']:.0f}% CI {100 * o['ci_low']:.1f}-{100 * o['ci_high']:.1f}%)")
    return text


def summary(basis: dict) -> dict | None:
    """The part of a basis a score result carries (``calibration_basis`` in the JSON); None when not recorded."""
    if not basis:
        return None
    far = basis.get("far")
    return {"n_clips": basis["n_clips"], "n_speakers": basis.get("n_speakers"), "domains": basis.get("domains"),
            "far": None if not far else {"method": far["method"], "confidence": far["confidence"],
                                         **{k: far["overall"][k] for k in ("rate", "ci_low", "ci_high")}}}


# ------------------------------------------------------------------------------------------------ checking
def _number(x, where: str, lo: float | None = None, hi: float | None = None) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
        raise ConfigError(f"{where} must be a finite number, got {x!r}")
    if (lo is not None and x < lo) or (hi is not None and x > hi):
        raise ConfigError(f"{where} must be in [{lo}, {hi}], got {x!r}")
    return float(x)


def _count(x, where: str, least: int = 0) -> int:
    if isinstance(x, bool) or not isinstance(x, int) or x < least:
        raise ConfigError(f"{where} must be an integer >= {least}, got {x!r}")
    return x


def _mapping(x, where: str, keys, required=()) -> dict:
    if not isinstance(x, dict):
        raise ConfigError(f"{where} must be a mapping, got {type(x).__name__}")
    unknown = sorted(set(x) - set(keys))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown} (known: {list(keys)})")
    missing = sorted(set(required) - set(x))
    if missing:
        raise ConfigError(f"{where}: missing key(s) {missing}")
    return x


def _check_rate(r, where: str) -> None:
    _mapping(r, where, RATE_KEYS, RATE_KEYS)
    n = _count(r["n"], f"{where}.n", 1)
    k = _count(r["k"], f"{where}.k")
    if k > n:
        raise ConfigError(f"{where}.k ({k}) must be <= n ({n})")
    lo, hi = _number(r["ci_low"], f"{where}.ci_low", 0, 1), _number(r["ci_high"], f"{where}.ci_high", 0, 1)
    value = _number(r["rate"], f"{where}.rate", 0, 1)
    if not lo <= value <= hi or abs(value - k / n) > 1e-9:
        raise ConfigError(f"{where}: rate must be k/n inside [ci_low, ci_high], got {value} in [{lo}, {hi}]")


def check_basis(basis, n_clips: int) -> dict:
    """ConfigError "basis.FIELD: problem" unless ``basis`` is ``{}`` or a well-formed basis of ``n_clips`` clips."""
    if basis == {}:
        return basis
    _mapping(basis, "basis", BASIS_KEYS, ("n_clips",))
    if _count(basis["n_clips"], "basis.n_clips", 1) != n_clips:
        raise ConfigError(f"basis.n_clips ({basis['n_clips']}) must be the calibration's n ({n_clips})")
    spk = basis.get("n_speakers")
    if spk is not None and not 1 <= _count(spk, "basis.n_speakers", 1) <= n_clips:
        raise ConfigError(f"basis.n_speakers must be in 1..{n_clips}, got {spk}")
    doms = basis.get("domains")
    if doms is not None:
        if not isinstance(doms, dict) or not doms:
            raise ConfigError("basis.domains must be a non-empty mapping of domain -> clips, or null")
        for d, c in doms.items():
            if not isinstance(d, str) or not d:
                raise ConfigError(f"basis.domains: domain names must be non-empty strings, got {d!r}")
            _count(c, f"basis.domains.{d}", 1)
        if sum(doms.values()) != n_clips:
            raise ConfigError(f"basis.domains must count the {n_clips} clips, got {sum(doms.values())}")
    far = basis.get("far")
    if far is not None:
        _mapping(far, "basis.far", FAR_KEYS, FAR_KEYS)
        if far["method"] not in FAR_METHODS:
            raise ConfigError(f"basis.far.method must be one of {FAR_METHODS}, got {far['method']!r}")
        if far["ci_method"] != "clopper-pearson":
            raise ConfigError(f"basis.far.ci_method must be 'clopper-pearson', got {far['ci_method']!r}")
        _number(far["confidence"], "basis.far.confidence", 0.5, 0.999)
        _check_rate(far["overall"], "basis.far.overall")
        per = far["per_domain"]
        if not isinstance(per, dict):
            raise ConfigError("basis.far.per_domain must be a mapping of domain -> rate")
        for d, r in per.items():
            if doms is None or d not in doms:
                raise ConfigError(f"basis.far.per_domain: {d!r} is not one of basis.domains")
            _check_rate(r, f"basis.far.per_domain.{d}")
    pool = basis.get("pool")
    if pool is not None:
        _mapping(pool, "basis.pool", POOL_FACTS)
        for fact, rng in pool.items():
            _mapping(rng, f"basis.pool.{fact}", RANGE_KEYS, RANGE_KEYS)
            _count(rng["n"], f"basis.pool.{fact}.n", 1)
            lo, p05, p50 = (_number(rng[k], f"basis.pool.{fact}.{k}", 0) for k in ("min", "p05", "p50"))
            if not lo <= p05 <= p50:
                raise ConfigError(f"basis.pool.{fact}: need min <= p05 <= p50, got {lo}, {p05}, {p50}")
    if not isinstance(basis.get("note", ""), str):
        raise ConfigError("basis.note must be a string")
    return basis

"""Metrics on hand-made score lists whose answers are worked out by hand (higher = more fake)."""

import math

import numpy as np
import pytest

from avanomaly.evaluation import metrics as M

# reals 0.1..0.4, fakes 0.35..0.7: one fake (0.35) is below one real (0.4)
REAL = [0.1, 0.2, 0.3, 0.4]
FAKE = [0.35, 0.5, 0.6, 0.7]
Y = [0] * 4 + [1] * 4
S = REAL + FAKE


def test_auc_ap_by_hand():
    # fake 0.35 beats 3 of 4 reals, the others all 4 -> 15/16
    assert M.roc_auc(Y, S) == pytest.approx(15 / 16)
    # ranked: 0.7 F, 0.6 F, 0.5 F, 0.4 R, 0.35 F -> AP = (1+1+1+0.8)/4
    assert M.average_precision(Y, S) == pytest.approx((1 + 1 + 1 + 4 / 5) / 4)


def test_eer_and_threshold_by_hand():
    value, thr = M.eer(Y, S)
    # at t = 0.4: one real of four called fake, one fake of four missed
    assert value == pytest.approx(0.25)
    assert thr == pytest.approx(0.4)


def test_eer_interpolates_between_vertices():
    # reals 1,2,3; fakes 2.5,4: FPR stays 1/3 while FNR falls from 1/2 to 0 -> crossing at 1/3
    value, _ = M.eer([0, 0, 0, 1, 1], [1, 2, 3, 2.5, 4])
    assert value == pytest.approx(1 / 3)


def test_tpr_at_fpr_by_hand():
    tpr, thr = M.tpr_at_fpr(Y, S, 0.01)
    assert tpr == pytest.approx(0.75) and thr == pytest.approx(0.5)
    tpr, thr = M.tpr_at_fpr(Y, S, 0.25)
    assert tpr == pytest.approx(1.0) and thr == pytest.approx(0.35)


def test_perfect_inverted_and_ties():
    y = [0, 0, 0, 1, 1]
    perfect = [0.0, 1.0, 2.0, 3.0, 4.0]
    assert M.roc_auc(y, perfect) == 1.0
    assert M.average_precision(y, perfect) == 1.0
    assert M.eer(y, perfect)[0] == 0.0
    assert M.tpr_at_fpr(y, perfect, 0.01)[0] == 1.0

    inverted = [4.0, 3.0, 2.0, 1.0, 0.0]
    assert M.roc_auc(y, inverted) == 0.0
    assert M.eer(y, inverted)[0] == pytest.approx(1.0)
    assert M.tpr_at_fpr(y, inverted, 0.1)[0] == 0.0

    ties = [0.5] * 5
    assert M.roc_auc(y, ties) == 0.5
    assert M.eer(y, ties)[0] == pytest.approx(0.5)


def test_single_class_gives_none_not_a_number():
    assert M.roc_auc([0, 0], [0.1, 0.2]) is None
    assert M.eer([1, 1], [0.1, 0.2]) == (None, None)
    rep = M.binary_report([0, 0], [0.1, 0.2], threshold=0.15, bootstrap=10)
    assert rep.auc is None and rep.auc_ci is None
    assert rep.at_threshold["fpr"] == 0.5 and rep.at_threshold["tpr"] is None


def test_nan_scores_and_bad_labels_are_errors():
    with pytest.raises(M.MetricsError, match="NaN"):
        M.roc_auc([0, 1], [0.1, float("nan")])
    with pytest.raises(M.MetricsError, match="labels"):
        M.roc_auc([0, 2], [0.1, 0.2])
    with pytest.raises(M.MetricsError, match="equal length"):
        M.roc_auc([0, 1, 1], [0.1, 0.2])


def test_at_threshold_confusion_matrix_by_hand():
    m = M.at_threshold(Y, S, 0.4)  # called fake: 0.4 (real), 0.5, 0.6, 0.7
    assert (m.tn, m.fp, m.fn, m.tp) == (3, 1, 1, 3)
    assert m.accuracy == pytest.approx(0.75)
    assert m.precision == pytest.approx(0.75) and m.recall == pytest.approx(0.75)
    assert m.f1 == pytest.approx(0.75)
    assert m.fpr == pytest.approx(0.25) and m.tpr == pytest.approx(0.75)
    none = M.at_threshold(Y, S, 10.0)  # nothing called fake
    assert none.precision is None and none.f1 == 0.0 and none.accuracy == 0.5


def test_best_f1_threshold_by_hand():
    thr, f1 = M.best_f1_threshold(Y, S)
    # t=0.35: tp 4, fp 1 -> P 0.8, R 1, F1 8/9 (beats t=0.5: P 1, R .75 -> 6/7)
    assert thr == pytest.approx(0.35)
    assert f1 == pytest.approx(8 / 9)


def test_bootstrap_is_seeded_and_brackets_the_estimate():
    rng = np.random.default_rng(1)
    y = np.r_[np.zeros(60), np.ones(60)].astype(int)
    s = np.r_[rng.normal(0, 1, 60), rng.normal(1, 1, 60)]
    auc = M.roc_auc(y, s)
    lo, hi = M.bootstrap_ci(y, s, M._auc_fast, n=200, seed=3)
    assert lo < auc < hi and 0.5 < lo and hi < 1.0
    assert (lo, hi) == M.bootstrap_ci(y, s, M._auc_fast, n=200, seed=3)
    assert (lo, hi) != M.bootstrap_ci(y, s, M._auc_fast, n=200, seed=4)
    # perfectly separated -> every replicate has AUC 1
    assert M.bootstrap_ci([0, 0, 1, 1], [0, 1, 2, 3], M._auc_fast, n=50) == (1.0, 1.0)


def test_rates_at_matches_sklearn_roc():
    from sklearn.metrics import roc_curve

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    s = np.round(rng.normal(y, 1.0), 1)  # rounding makes ties
    fpr, tpr, thr = roc_curve(y, s, drop_intermediate=False)
    f2, t2 = M.rates_at(y, s, thr[1:])
    np.testing.assert_allclose(f2, fpr[1:])
    np.testing.assert_allclose(t2, tpr[1:])


def test_sweep_thresholds_caps_points():
    s = np.arange(5000, dtype=float)
    t = M.sweep_thresholds(s, max_points=100)
    assert len(t) <= 100 and t[0] == 4999 and t[-1] == 0 and np.all(np.diff(t) < 0)
    assert list(M.sweep_thresholds([3, 1, 3, 2])) == [3, 2, 1]


def test_operating_points_report_cost():
    pts = {p.name: p for p in M.operating_points(Y, S, calibrated=0.45)}
    assert pts["calibrated"].fpr == 0.0 and pts["calibrated"].tpr == pytest.approx(0.75)
    assert pts["eer"].threshold == pytest.approx(0.4) and pts["eer"].fpr == pytest.approx(0.25)
    assert pts["best_f1"].f1 == pytest.approx(8 / 9)
    none = {p.name: p for p in M.operating_points(Y, S, calibrated=None)}
    assert none["calibrated"].threshold is None and "not available" in none["calibrated"].note


def test_binary_report_serialises():
    import json

    rep = M.binary_report(Y, S, threshold=0.4, bootstrap=20, seed=0)
    d = json.loads(json.dumps(rep.to_dict()))
    assert d["n_real"] == 4 and d["n_fake"] == 4
    assert d["tpr_at_fpr"]["0.01"]["tpr"] == pytest.approx(0.75)
    assert len(d["auc_ci"]) == 2 and d["auc_ci"][0] <= d["auc"] + 1e-12
    assert not math.isnan(d["ap"])

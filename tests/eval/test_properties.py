"""Property tests: the metrics' invariants on random inputs (hypothesis)."""

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from rewardkit.eval.bon import best_of_n_curve
from rewardkit.eval.calibration import expected_calibration_error
from rewardkit.eval.pairwise import row_credit
from rewardkit.eval.processbench import processbench_scores

scores = st.floats(min_value=-5, max_value=5, allow_nan=False).map(lambda x: round(x, 1))


@settings(max_examples=200, deadline=None)
@given(scores, st.lists(scores, min_size=1, max_size=5))
def test_row_credit_bounds_and_monotone_invariance(chosen, rejected):
    v1, v2 = row_credit(chosen, rejected)
    assert 0.0 <= v1 <= v2 <= 1.0
    # a strictly increasing transform of every score changes nothing; neither does the order
    f = math.atan
    assert row_credit(f(chosen), [f(r) for r in rejected]) == (v1, v2)
    assert row_credit(chosen, list(reversed(rejected))) == (v1, v2)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(-1, 4), st.one_of(st.none(), st.integers(-1, 4))), max_size=30))
def test_processbench_f1_between_its_parts(pairs):
    m = processbench_scores([y for y, _ in pairs], [p for _, p in pairs])
    if m["f1"] is not None:
        lo, hi = sorted([m["error_acc"], m["correct_acc"]])
        assert lo - 1e-12 <= m["f1"] <= hi + 1e-12  # a harmonic mean lies between its terms


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 1), st.booleans()), min_size=1, max_size=40), st.integers(1, 12))
def test_ece_in_unit_interval(rows, bins):
    e = expected_calibration_error([p for p, _ in rows], [y for _, y in rows], bins)
    assert 0.0 <= e <= 1.0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.one_of(st.none(), scores), st.booleans()), min_size=1, max_size=6))
def test_bon_bounded_by_oracle_and_n1_is_mean(cands):
    sc = [[s for s, _ in cands]]
    lab = [[c for _, c in cands]]
    curve = best_of_n_curve({"r": sc}, lab)["curve"]
    for row in curve:
        assert row["reward/r"] <= row["oracle"] + 1e-12
    assert abs(curve[0]["oracle"] - sum(lab[0]) / len(lab[0])) < 1e-12
    assert [r["oracle"] for r in curve] == sorted(r["oracle"] for r in curve)

"""ECE / Brier / AUROC / reliability bins, hand-computed."""

import json

import numpy as np
import pytest

from rewardkit.eval.calibration import calibration_metrics, expected_calibration_error, reliability_bins

P = [0.1, 0.4, 0.6, 0.9, 1.0]
Y = [False, True, True, True, False]


def test_worked_example():
    bins = reliability_bins(P, Y, n_bins=2)
    assert [b["count"] for b in bins] == [2, 3]
    assert bins[0]["mean_prob"] == pytest.approx(0.25) and bins[0]["frac_pos"] == 0.5
    assert bins[1]["mean_prob"] == pytest.approx(2.5 / 3) and bins[1]["frac_pos"] == pytest.approx(2 / 3)
    # ECE = 2/5 * |0.5 - 0.25| + 3/5 * |2/3 - 5/6| = 0.1 + 0.1
    assert expected_calibration_error(P, Y, n_bins=2) == pytest.approx(0.2)
    m = calibration_metrics(P, Y, n_bins=2)
    assert m["brier"] == pytest.approx((0.01 + 0.36 + 0.16 + 0.01 + 1.0) / 5)
    assert m["auroc"] == pytest.approx(3 / 6)  # 0.4, 0.6, 0.9 each beat 0.1 and lose to 1.0
    assert m["base_rate"] == 0.6


def test_edges_and_empty_bins():
    bins = reliability_bins([0.5, 1.0, 0.0], [True, True, False], n_bins=2)
    assert [b["count"] for b in bins] == [2, 1]  # an inner edge goes to the lower bin, 1.0 to the last
    bins = reliability_bins([0.05], [True], n_bins=4)
    assert bins[1]["count"] == 0 and bins[1]["mean_prob"] is None  # empty, not 0
    assert expected_calibration_error([], []) is None


def test_perfect_calibration_and_single_class():
    assert expected_calibration_error([1.0, 0.0], [True, False]) == 0.0
    m = calibration_metrics([0.7, 0.9], [True, True])
    assert m["auroc"] is None and m["auroc_undefined"] == "a single class in the labels"
    assert m["brier"] == pytest.approx((0.09 + 0.01) / 2)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        calibration_metrics([1.5], [True])


def test_float32_and_float64_agree():
    rng = np.random.default_rng(0)
    p = rng.random(200)
    y = rng.random(200) < p
    a = calibration_metrics(p.astype(np.float32), y)
    b = calibration_metrics(p.astype(np.float64), y)
    assert a["ece"] == pytest.approx(b["ece"], abs=1e-6) and a["auroc"] == pytest.approx(b["auroc"])


def test_run_calibration_excludes_and_counts_non_ok(tmp_path):
    from rewardkit.cli import main

    rows = [{"completion": f"score={p}", "label": y} for p, y in zip(P, Y, strict=True)]
    rows.append({"completion": "status=timeout", "label": True})
    data = tmp_path / "c.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = tmp_path / "c.yaml"
    cfg.write_text("rewards:\n  - type: tests.eval._sources:Scripted\n")
    out = tmp_path / "o"
    assert main(["eval", "calibration", "-c", str(cfg), "-i", str(data), "-o", str(out), "--bins", "2",
                 "--no-progress"]) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["ece"] == pytest.approx(0.2) and m["n"] == 5 and m["n_excluded"] == 1
    assert m["statuses"] == {"ok": 5, "timeout": 1}
    # logits need --prob sigmoid; without it, a clear error
    data.write_text(json.dumps({"completion": "score=3.0", "label": True}) + "\n")
    assert main(["eval", "calibration", "-c", str(cfg), "-i", str(data), "-o", str(out)]) == 2
    assert main(["eval", "calibration", "-c", str(cfg), "-i", str(data), "-o", str(out), "--prob", "sigmoid",
                 "--no-progress"]) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["mean_prob"] == pytest.approx(1 / (1 + np.exp(-3.0)))

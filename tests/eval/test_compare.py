"""Two pipelines on one file, one pipeline on two files."""

import json

import pytest

from rewardkit.eval.compare import compare_rewards, compare_samples

SCRIPTED = {"rewards": [{"type": "tests.eval._sources:Scripted"}]}


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_compare_rewards_negation_and_non_ok(tmp_path):
    rows = [{"prompt": p, "completion": f"score={s} len {'x' * int(s * 10)}"} for p, s in
            [("a", 0.1), ("a", 0.5), ("b", 0.9), ("b", 0.3)]]
    rows.append({"prompt": "b", "completion": "status=error"})
    data = _write(tmp_path / "d.jsonl", rows)
    m = compare_rewards(SCRIPTED, SCRIPTED, data)  # the same reward twice
    assert m["starc"] == pytest.approx(0.0, abs=1e-12) and m["spearman"] == pytest.approx(1.0)
    assert m["n_samples"] == 5 and m["n_both_ok"] == 4 and m["statuses_a"] == {"error": 1, "ok": 4}
    # a 0/1 format reward that agrees with the ranking within each prompt
    fmt = {"rewards": [{"type": "regex", "pattern": "xxxx"}]}  # 1 when the score is >= 0.4
    m = compare_rewards(SCRIPTED, fmt, data)
    # per prompt, canonical: [-.2, .2 | .3, -.3] vs [-.5, .5 | .5, -.5]; unit vectors 0.197 apart
    assert m["n_both_ok"] == 4 and m["starc"] == pytest.approx(0.0985, abs=1e-3)


def test_compare_samples_drift(tmp_path):
    before = _write(tmp_path / "a.jsonl", [{"prompt": "q", "completion": f"score={s}"} for s in (0.1, 0.2, 0.3)])
    after = _write(tmp_path / "b.jsonl", [{"prompt": "q", "completion": f"score={s} {'!' * k}"}
                                          for s, k in ((0.6, 1), (0.7, 2), (0.9, 3))]
                   + [{"prompt": "q", "completion": "status=timeout"}])
    m = compare_samples(SCRIPTED, before, after)
    assert m["drift"]["mean_shift"] == pytest.approx(2.2 / 3 - 0.2) and m["drift"]["ks_statistic"] == 1.0
    assert m["after"]["n"] == 4 and m["after"]["n_ok"] == 3 and m["after"]["statuses"] == {"ok": 3, "timeout": 1}
    assert m["after"]["feature_correlations"]["exclamations"]["spearman"] == pytest.approx(1.0)

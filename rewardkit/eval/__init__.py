"""Evaluation of rewards the way the field's benchmarks measure them, on local data, with reports.

Every metric is a pure function over plain lists (hand-checkable, documented with its source);
the ``rewardkit eval`` commands (`rewardkit.eval.runs`) score local data with any pipeline config
-- verifiers, ORMs, PRMs, judges, remote servers alike -- and write ``metrics.json`` and a
self-contained ``report.html``.

- `rewardkit.eval.processbench`: first-wrong-step accuracy and F1 (ProcessBench, arXiv 2412.06559)
- `rewardkit.eval.pairwise`: preference accuracy, RewardBench v1 (arXiv 2403.13787) and v2 scoring
- `rewardkit.eval.bon`: best-of-N vs majority vote vs oracle, over N
- `rewardkit.eval.audit`: a verifier's confusion matrix against labelled pairs
- `rewardkit.eval.calibration`: ECE, Brier score, AUROC, reliability bins
- `rewardkit.eval.stepf1`: PRMBench-style step F1 (arXiv 2501.03124)
- `rewardkit.eval.diagnostics`: reward-hacking checks (surface-feature correlation, drift)
- `rewardkit.eval.distance`: rank correlation and a STARC-style distance between two rewards
- `rewardkit.eval.compare`: the last two straight from files (two pipelines on one dataset, one
  pipeline on two datasets)

Importing this package loads nothing heavy; numpy, scikit-learn, scipy and matplotlib load on use.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "first_wrong_step": "rewardkit.eval.processbench",
    "processbench_scores": "rewardkit.eval.processbench",
    "processbench_breakdown": "rewardkit.eval.processbench",
    "threshold_sweep": "rewardkit.eval.processbench",
    "row_credit": "rewardkit.eval.pairwise",
    "subset_accuracy": "rewardkit.eval.pairwise",
    "rewardbench_v1": "rewardkit.eval.pairwise",
    "rewardbench_v2": "rewardkit.eval.pairwise",
    "best_of_n_curve": "rewardkit.eval.bon",
    "aggregate_steps": "rewardkit.eval.bon",
    "confusion": "rewardkit.eval.audit",
    "audit_metrics": "rewardkit.eval.audit",
    "calibration_metrics": "rewardkit.eval.calibration",
    "expected_calibration_error": "rewardkit.eval.calibration",
    "reliability_bins": "rewardkit.eval.calibration",
    "step_f1": "rewardkit.eval.stepf1",
    "feature_correlations": "rewardkit.eval.diagnostics",
    "surface_features": "rewardkit.eval.diagnostics",
    "reward_drift": "rewardkit.eval.diagnostics",
    "reward_distance": "rewardkit.eval.distance",
    "starc_distance": "rewardkit.eval.distance",
    "canonicalize": "rewardkit.eval.distance",
    "compare_rewards": "rewardkit.eval.compare",
    "compare_samples": "rewardkit.eval.compare",
    "run_processbench": "rewardkit.eval.runs",
    "run_pairwise": "rewardkit.eval.runs",
    "run_bon": "rewardkit.eval.runs",
    "run_audit": "rewardkit.eval.runs",
    "run_calibration": "rewardkit.eval.runs",
    "EvalRun": "rewardkit.eval.runs",
    "Report": "rewardkit.eval.report",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module 'rewardkit.eval' has no attribute {name!r}")
    value = getattr(importlib.import_module(mod), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

"""The five ``rewardkit eval`` runs: rows -> samples -> a pipeline's results -> metrics -> report.

Each ``run_*`` reads an input file, scores it with any pipeline config (verifiers, ORMs, PRMs,
judges, remote servers alike: they all return `RewardResult`s), and returns an `EvalRun`;
`EvalRun.write` puts ``metrics.json``, ``samples.jsonl`` (one line per scored row) and a
self-contained ``report.html`` in the output folder.

Non-ok rewards are never dropped silently: every run counts them by status in
``metrics["statuses"]`` and says in ``metrics["non_ok_policy"]`` what its metrics did with them.
"""

from __future__ import annotations

from rewardkit.eval.runs._common import EvalRun
from rewardkit.eval.runs.audit import run_audit
from rewardkit.eval.runs.bon import run_bon
from rewardkit.eval.runs.calibration import run_calibration
from rewardkit.eval.runs.pairwise import run_pairwise
from rewardkit.eval.runs.processbench import run_processbench

__all__ = ["EvalRun", "run_processbench", "run_pairwise", "run_bon", "run_audit", "run_calibration"]

"""Two rewards on one dataset, or one reward on two datasets, straight from files.

- `compare_rewards`: score the same samples with two pipelines and measure how far apart they are
  (`rewardkit.eval.distance.reward_distance`: rank correlations and the STARC-style distance, with
  prompts as the groups for the per-prompt canonicalisation);
- `compare_samples`: score two sets of samples (say, rollouts of two checkpoints) with one pipeline
  and measure the drift of the reward (`rewardkit.eval.diagnostics.reward_drift`) and how its
  correlation with surface features moved (a policy learning to game length or format shows here).

Inputs are read like ``rewardkit score`` reads them (``prompt, completion, reference, ...``).
Only samples with an ok reward enter the numbers; how many were left out, by status, is reported.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rewardkit.eval._io import score_samples, status_counts
from rewardkit.io.records import ColumnMap, RecordError, iter_records, record_to_sample
from rewardkit.types import RewardResult, Sample, completion_text

__all__ = ["compare_rewards", "compare_samples", "read_samples"]


def read_samples(path: str | Path, columns: ColumnMap | None = None, limit: int | None = None) -> list[Sample]:
    """Samples of an input file; the first bad record raises `RecordError` naming it."""
    cols = columns or ColumnMap()
    out = []
    for i, (where, rec) in enumerate(iter_records(path)):
        if isinstance(rec, RecordError):
            raise rec
        out.append(record_to_sample(rec, where, cols, default_id=i))
        if limit is not None and len(out) >= limit:
            break
    return out


def _score(config: Any, samples: list[Sample], batch_size: int) -> list[RewardResult]:
    from rewardkit.pipeline import Pipeline

    pipe = Pipeline(config)
    try:
        return score_samples(pipe, samples, batch_size, progress=False)
    finally:
        pipe.close()


def compare_rewards(config_a: Any, config_b: Any, input_path: str | Path, *, limit: int | None = None,
                    batch_size: int = 256) -> dict[str, Any]:
    """How far apart two rewards are on the samples of ``input_path`` (groups: the prompt, or
    ``group_id`` when given)."""
    from rewardkit.eval.distance import reward_distance

    samples = read_samples(input_path, limit=limit)
    ra, rb = _score(config_a, samples, batch_size), _score(config_b, samples, batch_size)
    both = [i for i in range(len(samples)) if ra[i].is_ok and rb[i].is_ok]
    groups = [samples[i].group_id if samples[i].group_id is not None else samples[i].prompt_text for i in both]
    dist = reward_distance([ra[i].score for i in both], [rb[i].score for i in both], groups)  # type: ignore[misc]
    return {**dist, "n_samples": len(samples), "n_both_ok": len(both),
            "statuses_a": status_counts(ra), "statuses_b": status_counts(rb)}


def compare_samples(config: Any, before_path: str | Path, after_path: str | Path, *, limit: int | None = None,
                    batch_size: int = 256) -> dict[str, Any]:
    """Reward drift from the samples of ``before_path`` to those of ``after_path``, and the reward's
    correlation with surface features in each set."""
    from rewardkit.eval.diagnostics import feature_correlations, reward_drift

    sides = {}
    scores = {}
    for name, path in (("before", before_path), ("after", after_path)):
        samples = read_samples(path, limit=limit)
        res = _score(config, samples, batch_size)
        ok = [i for i, r in enumerate(res) if r.is_ok]
        scores[name] = [res[i].score for i in ok]
        sides[name] = {"n": len(samples), "n_ok": len(ok), "statuses": status_counts(res),
                       "feature_correlations": feature_correlations(
                           scores[name], [completion_text(samples[i].completion) for i in ok]) if len(ok) >= 3 else {}}
    return {"drift": reward_drift(scores["before"], scores["after"]), **sides}  # type: ignore[arg-type]

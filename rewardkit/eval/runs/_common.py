"""What the five runs share: the `EvalRun` they return, scoring, and report helpers."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from rewardkit.eval._io import fill_counts, score_samples, status_counts, write_json, write_jsonl
from rewardkit.eval.report import Report
from rewardkit.types import RewardResult, Sample, completion_text

NonOk = Literal["miss", "exclude"]
SHOW = 8  # examples per "worst" list
CLIP = 1200  # characters of a completion shown in a report


@dataclass
class EvalRun:
    """A finished evaluation: its metrics, per-sample rows, headline and report."""

    kind: str
    metrics: dict[str, Any]
    headline: list[tuple[str, Any]]
    report: Report
    samples: list[dict[str, Any]] = field(default_factory=list)

    def write(self, out_dir: str | Path) -> Path:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        write_json(out / "metrics.json", self.metrics)
        write_jsonl(out / "samples.jsonl", self.samples)
        self.report.write(out / "report.html")
        return out


def score_all(config: Any, samples: list[Sample], batch_size: int, progress: bool | None, desc: str) -> list[RewardResult]:
    """Build the pipeline, score every sample, release the pipeline's resources."""
    from rewardkit.pipeline import Pipeline

    pipe = Pipeline(config)
    try:
        return score_samples(pipe, samples, batch_size, progress, desc=desc)
    finally:
        pipe.close()


def config_name(config: Any) -> str:
    return str(config) if isinstance(config, (str, Path)) else "(in-memory config)"


def clip(text: Any, n: int = CLIP) -> str:
    s = text if isinstance(text, str) else completion_text(text)
    return s if len(s) <= n else s[: n // 2] + f"\n[... {len(s) - n} characters ...]\n" + s[-n // 2 :]


def why_not_ok(r: RewardResult) -> str:
    """The reason a result is not ok, from its info (first error text found)."""
    def find(d: Any) -> str | None:
        if isinstance(d, dict):
            if "error" in d:
                return str(d["error"])
            for v in d.values():
                got = find(v)
                if got:
                    return got
        return None
    return find(r.info) or ""


def status_section(rep: Report, results: list[RewardResult], policy: str) -> None:
    """Status counts (and, when the config's ``fill`` turned failures into scores, the statuses
    before the fill: a filled "unparseable" is still reported), then how the metrics treat them."""
    rep.heading("Reward statuses")
    counts = status_counts(results)
    before = fill_counts(results)
    if before is None:
        rep.table(["status", "count"], sorted(counts.items()))
    else:
        keys = sorted(set(counts) | set(before))
        rep.table(["status", "count", "before fill"], [[k, counts.get(k, 0), before.get(k, 0)] for k in keys])
        rep.note("The config's fill values turned some failures into scores; the metrics use the filled "
                 "scores, the last column shows what was filled.")
    rep.note(policy)

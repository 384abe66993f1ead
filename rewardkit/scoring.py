"""Offline scoring of a dataset: the main job (``rewardkit score``).

records (JSONL / Parquet / CSV / HF folder, or the embedded synthetic data)
  -> `Sample`s (bad records: skipped with their reason, or the run stops, ``on_error``)
  -> a `Pipeline` scoring batches (in process, or in a process pool for CPU-heavy rewards)
  -> output rows = input record + ``score, status, components, steps, info``
  -> resumable partial file -> atomic final file + ``<output>.summary.json``.

Output order follows input order. Resume skips every id already in the partial file, so no row
is scored twice or lost.
"""

from __future__ import annotations

import math
import sys
import time
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import orjson

from rewardkit.config import PipelineConfig, load_config
from rewardkit.io.output import ResumableWriter, atomic_write_bytes
from rewardkit.io.records import ColumnMap, RecordError, iter_records, record_to_sample
from rewardkit.pipeline import Pipeline
from rewardkit.status_policy import status_before_fill
from rewardkit.types import Sample

__all__ = ["score_dataset", "ScoreSummary", "RunningStats", "summary_path"]


@dataclass
class RunningStats:
    """Welford mean/std over the non-null values of one column."""

    n: int = 0
    mean: float = 0.0
    m2: float = 0.0
    nulls: int = 0

    def add(self, x: float | None) -> None:
        if x is None:
            self.nulls += 1
            return
        self.n += 1
        d = x - self.mean
        self.mean += d / self.n
        self.m2 += d * (x - self.mean)

    @property
    def std(self) -> float:
        return math.sqrt(self.m2 / self.n) if self.n > 0 else float("nan")

    def to_dict(self) -> dict[str, Any]:
        return {"count": self.n, "null": self.nulls,
                "mean": self.mean if self.n else None, "std": self.std if self.n else None}


@dataclass
class ScoreSummary:
    output: str | None
    rows: int = 0
    scored_this_run: int = 0
    resumed_rows: int = 0
    seconds: float = 0.0
    throughput: float = 0.0  # rows scored per second in this run
    statuses: dict[str, int] = field(default_factory=dict)
    score: dict[str, Any] = field(default_factory=dict)
    components: dict[str, dict[str, Any]] = field(default_factory=dict)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    workers: int = 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def table(self) -> str:
        """Human-readable summary (what the CLI prints)."""
        lines = []
        w = max([len("score")] + [len(k) for k in self.components]) + 2
        lines.append(f"{'component':<{w}}{'mean':>10}{'std':>10}{'count':>9}{'null':>8}")
        lines.append("-" * (w + 37))

        def row(name: str, st: dict[str, Any]) -> str:
            mean = "-" if st.get("mean") is None else f"{st['mean']:.4f}"
            std = "-" if st.get("std") is None else f"{st['std']:.4f}"
            return f"{name:<{w}}{mean:>10}{std:>10}{st.get('count', 0):>9}{st.get('null', 0):>8}"

        lines.append(row("score", self.score))
        for k, st in self.components.items():
            lines.append(row(k, st))
        lines.append("")
        lines.append("status: " + ", ".join(f"{k}={v}" for k, v in sorted(self.statuses.items())))
        lines.append(
            f"rows: {self.rows} ({self.scored_this_run} scored now, {self.resumed_rows} resumed), "
            f"skipped: {len(self.skipped)}, {self.seconds:.2f} s, {self.throughput:,.0f} rows/s, "
            f"workers: {self.workers}"
        )
        for s in self.skipped[:10]:
            lines.append(f"  skipped {s.get('where')}: {s.get('reason')}")
        if len(self.skipped) > 10:
            lines.append(f"  ... {len(self.skipped) - 10} more in the summary JSON")
        return "\n".join(lines)


def summary_path(output: Path) -> Path:
    name = output.name
    for suf in (".jsonl", ".parquet", ".json", ".pq", ".ndjson"):
        if name.endswith(suf):
            name = name[: -len(suf)]
            break
    return output.with_name(name + ".summary.json")


# -- worker process side -------------------------------------------------------------------------
_WORKER_PIPELINE: Pipeline | None = None


def _init_worker(config: dict[str, Any]) -> None:
    global _WORKER_PIPELINE
    _WORKER_PIPELINE = Pipeline(config)


def _worker_score(samples: list[Sample]) -> list[dict[str, Any]]:
    assert _WORKER_PIPELINE is not None
    return [r.to_dict() for r in _WORKER_PIPELINE.score(samples)]


# -- main process --------------------------------------------------------------------------------
def _batches(records: Iterable[tuple[str, Any]], size: int,
             group_key: str | None = None) -> Iterator[list[tuple[str, Any]]]:
    """Batches of ``size`` records; with ``group_key``, a batch is only cut where the group value
    changes, so batch-level shaping (group normalisation) sees whole groups. Groups are expected
    to be contiguous in the input, as trainers' rollout dumps are."""
    buf: list[tuple[str, Any]] = []
    last: Any = object()
    for item in records:
        if group_key is not None and len(buf) >= size:
            rec = item[1]
            g = rec.get(group_key) if isinstance(rec, dict) else None
            if g is None or g != last:
                yield buf
                buf = []
        elif group_key is None and len(buf) >= size:
            yield buf
            buf = []
        buf.append(item)
        if group_key is not None and isinstance(item[1], dict):
            last = item[1].get(group_key)
    if buf:
        yield buf


def _count_lines(path: Path) -> int | None:
    try:
        n = 0
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                n += chunk.count(b"\n")
        return n
    except OSError:
        return None


def _default_records(n_problems: int = 100, group_size: int = 4) -> Iterator[tuple[str, Any]]:
    from rewardkit.data.synthetic import generate_records

    for i, rec in enumerate(generate_records(n_problems=n_problems, group_size=group_size)):
        yield f"synthetic:record {i}", rec


# fields every output row gets; input fields with these names are kept as "<name>_input"
_OUTPUT_KEYS = frozenset({"score", "status", "components", "steps", "info", "token_scores", "token_spans"})

DEFAULT_CONFIG_PATH = Path(__file__).parent / "configs" / "default.yaml"


def score_dataset(
    config: str | Path | dict[str, Any] | PipelineConfig | None = None,
    input: str | Path | Iterable[dict[str, Any]] | None = None,  # noqa: A002 - mirrors --input
    output: str | Path | None = None,
    *,
    columns: ColumnMap | None = None,
    input_format: str | None = None,
    workers: int = 1,
    batch_size: int = 256,
    resume: bool = False,
    overwrite: bool = False,
    on_error: Literal["skip", "fail"] = "fail",
    progress: bool | None = None,
    limit: int | None = None,
) -> ScoreSummary:
    """Score every record of ``input`` with the pipeline ``config`` and write ``output``.

    input: a file/folder path, an iterable of dicts, or None for the embedded synthetic data.
    output: ``.jsonl`` or ``.parquet``; None scores without writing (summary only).
    workers: processes scoring in parallel (>1 pays off for CPU-heavy rewards).
    on_error: ``skip`` lists a bad record in the summary and goes on; ``fail`` stops at it.
    Returns the summary, also written as JSON next to the output.
    """
    if on_error not in ("skip", "fail"):
        raise ValueError("on_error must be 'skip' or 'fail'")
    cfg = load_config(config if config is not None else DEFAULT_CONFIG_PATH)
    cols = columns or ColumnMap()
    cfg_json = cfg.model_dump(mode="json")
    pipeline = Pipeline(cfg)

    total: int | None = None
    if input is None:
        records: Iterable[tuple[str, Any]] = _default_records()
        input_desc: str = "synthetic"
        total = 400
    elif isinstance(input, (str, Path)):
        records = iter_records(input, input_format, json_columns=(cols.reference, cols.steps))
        input_desc = str(Path(input).resolve())
        if Path(input).is_file() and (input_format or Path(input).suffix.lower()) in ("jsonl", ".jsonl"):
            total = _count_lines(Path(input))
    else:
        records = ((f"record {i}", r) for i, r in enumerate(input))
        input_desc = "<iterable>"

    writer: ResumableWriter | None = None
    done_ids: set[Any] = set()
    summary = ScoreSummary(output=str(output) if output is not None else None, workers=workers)
    status_counts: Counter[str] = Counter()
    score_stats = RunningStats()
    comp_stats: dict[str, RunningStats] = {c: RunningStats() for c in pipeline.component_names}

    def account(row: dict[str, Any]) -> None:
        status_counts[status_before_fill(row)] += 1  # before any fill: a fill changes the reward, not what happened
        score_stats.add(row["score"])
        for k, v in (row.get("components") or {}).items():
            comp_stats.setdefault(k, RunningStats()).add(v)

    if output is not None:
        writer = ResumableWriter(output, resume=resume, overwrite=overwrite,
                                 meta={"config": cfg_json, "input": input_desc, "columns": asdict(cols)})
        done_rows, prev_skipped = writer.open()
        for row in done_rows:
            done_ids.add(row.get(cols.id))
            account(row)
        summary.resumed_rows = len(done_rows)
        summary.skipped.extend(prev_skipped)
        done_ids.update(s.get("id") for s in prev_skipped if s.get("id") is not None)

    if progress is None:
        progress = sys.stderr.isatty()
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=total, unit="rows", desc="scoring", dynamic_ncols=True, initial=summary.resumed_rows)

    pool: ProcessPoolExecutor | None = None
    if workers > 1:
        import multiprocessing as mp

        pool = ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"),
                                   initializer=_init_worker, initargs=(cfg_json,))

    seen_ids: set[Any] = set()
    pending: deque[tuple[list[dict[str, Any]], Future[list[dict[str, Any]]] | list[dict[str, Any]]]] = deque()
    t0 = time.perf_counter()
    n_index = 0
    scored = 0
    dumps = orjson.dumps
    id_key = cols.id

    def flush_one() -> None:
        nonlocal scored
        recs, fut = pending.popleft()
        res_dicts = fut.result() if isinstance(fut, Future) else fut
        lines = []
        for rec, rd in zip(recs, res_dicts, strict=True):
            if _OUTPUT_KEYS.isdisjoint(rec):
                row = {**rec, **rd}
            else:  # keep an input field that shares an output field's name, as "<name>_input"
                row = {(f"{k}_input" if k in _OUTPUT_KEYS else k): v for k, v in rec.items()}
                row.update(rd)
            account(row)
            lines.append(dumps(row, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS) + b"\n")
        if writer is not None:
            writer.write_lines(lines)
        scored += len(recs)
        if bar is not None:
            bar.update(len(recs))

    try:
        group_key = cols.group if pipeline.transforms else None
        for batch in _batches(records, batch_size, group_key):
            samples: list[Sample] = []
            recs: list[dict[str, Any]] = []
            skipped_now: list[dict[str, Any]] = []
            for where, rec in batch:
                idx = n_index
                n_index += 1
                if limit is not None and idx >= limit:
                    break
                try:
                    if isinstance(rec, RecordError):
                        raise rec
                    s = record_to_sample(rec, where, cols, default_id=idx)
                    if s.id in seen_ids:
                        raise RecordError(where, f"duplicate id {s.id!r}", field=cols.id)
                    seen_ids.add(s.id)
                except RecordError as e:
                    if on_error == "fail":
                        raise
                    item = e.to_dict()
                    rid = rec.get(cols.id) if isinstance(rec, dict) else None
                    item["id"] = rid if rid is not None else idx
                    if item["id"] in done_ids:
                        continue
                    skipped_now.append(item)
                    continue
                if s.id in done_ids:
                    continue
                if id_key not in rec:
                    rec = {id_key: s.id, **rec}
                samples.append(s)
                recs.append(rec)
            if writer is not None:
                writer.write_skipped(skipped_now)
            summary.skipped.extend(skipped_now)
            if samples:
                if pool is not None:
                    pending.append((recs, pool.submit(_worker_score, samples)))
                    while len(pending) > 2 * workers:
                        flush_one()
                else:
                    pending.append((recs, [r.to_dict() for r in pipeline.score(samples)]))
                    flush_one()
            if limit is not None and n_index > limit:
                break
        while pending:
            flush_one()
    except BaseException:  # Ctrl-C, a kill, a bad record with on_error=fail: keep what is written
        if writer is not None:
            writer.close()
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        if bar is not None:
            bar.close()
        raise
    if pool is not None:
        pool.shutdown()
    if bar is not None:
        bar.close()
    pipeline.close()

    summary.seconds = time.perf_counter() - t0
    summary.scored_this_run = scored
    summary.rows = scored + summary.resumed_rows
    summary.throughput = scored / summary.seconds if summary.seconds > 0 else 0.0
    summary.statuses = dict(status_counts)
    summary.score = score_stats.to_dict()
    summary.components = {k: v.to_dict() for k, v in comp_stats.items()}
    if writer is not None:
        out = writer.finalize()
        atomic_write_bytes(summary_path(out), orjson.dumps(summary.to_dict(), option=orjson.OPT_INDENT_2))
    return summary

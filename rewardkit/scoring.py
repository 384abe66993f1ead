"""Offline scoring of a dataset: the main job (``rewardkit score``).

records (JSONL / Parquet / CSV / HF folder, or the embedded synthetic data)
  -> `Sample`s (bad records: skipped with their reason, or the run stops, ``on_error``)
  -> a `Pipeline` scoring batches (in process, or in a process pool for CPU-heavy rewards)
  -> output rows = input record + ``score, status, components, steps, info``
  -> resumable partial file -> atomic final file + ``<output>.summary.json``.

Results do not depend on row order, ``batch_size``, ``workers`` or a resume:

- Shaping transforms that need more than one sample (group normalisation, leave-one-out, GDPO)
  run in the parent process on *whole groups* (key: ``group_id``, else the prompt), collected
  whatever the input order: a first pass counts each group's rows, so a group is shaped as soon
  as its last row is scored. Per-sample transforms run with the rewards. Transforms that use the
  statistics of a training batch (``batch_normalize``, ``group_by: batch``, ``scale: batch``,
  GDPO's ``batch_norm``) have no offline meaning and are refused.
- Stateful transforms (``running_normalize``, ``rm_shaping``'s running statistics) keep one state
  in the parent, updated one group at a time in the order groups complete in the input (the
  position of each group's last row), and saved with every commit of the partial file, so a
  resumed run continues from exactly the state the killed one had written.
  Their scores do depend on the input order: that is what "running" means.
- Output rows are in input order. Memory holds the ids seen (12 bytes each, `IdSet`), one
  counter a group when shaping by group, and the rows of groups not yet complete (a few when a
  group's rows are adjacent, as in rollout dumps; up to all of them for a shuffled file).

Resume keeps every committed row and skips its id, so no row is scored twice or lost.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import signal
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from rewardkit._procs import die_with_parent
from rewardkit.config import ConfigError, PipelineConfig, load_config
from rewardkit.io import jsonio
from rewardkit.io.idset import IdSet
from rewardkit.io.output import ResumableWriter, output_format, require_pyarrow
from rewardkit.io.records import ColumnMap, RecordError, detect_format, iter_records, record_to_sample
from rewardkit.pipeline import Pipeline
from rewardkit.status_policy import status_before_fill
from rewardkit.types import RewardResult, Sample

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
    #: per component, the sums of what its calls cost (an LLM judge's ``judge_usage``: tokens,
    #: calls, retries, cost), so a run says what it spent
    usage: dict[str, dict[str, float]] = field(default_factory=dict)

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
        for comp, u in self.usage.items():
            lines.append(f"usage of {comp}: " + ", ".join(f"{k}={v:g}" for k, v in u.items()))
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


def summary_path(output: str | Path) -> Path:
    """``<output>.summary.json``: one per output (``scored.jsonl`` and ``scored.parquet`` differ)."""
    output = Path(output)
    return output.with_name(output.name + ".summary.json")




# -- worker process side -------------------------------------------------------------------------
_WORKER_PIPELINE: Pipeline | None = None


def _init_worker(config: dict[str, Any], parent_pid: int) -> None:
    global _WORKER_PIPELINE
    # Ctrl-C reaches the whole process group: the parent handles it (and stops the workers),
    # so a worker must not print its own traceback
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent(parent_pid)
    _WORKER_PIPELINE = Pipeline(config)


def _worker_score(samples: list[Sample]) -> list[dict[str, Any]]:
    assert _WORKER_PIPELINE is not None
    return [r.to_dict() for r in _WORKER_PIPELINE.score(samples)]


def _stop_pool(pool: Any) -> None:
    """Stop now: cancel queued batches and end the running ones (their rows are not committed)."""
    procs = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in procs:
        if proc.is_alive():
            proc.terminate()
    for proc in procs:
        proc.join(timeout=5)


class _Terminated(KeyboardInterrupt):
    """SIGTERM (a process manager stopping the run): handled like Ctrl-C."""


def _raise_terminated(signum: int, frame: Any) -> None:
    raise _Terminated()


# -- shaping offline -----------------------------------------------------------------------------
Scope = Literal["sample", "group", "batch", "state"]
_PER_SAMPLE = frozenset({"process_shaping", "par", "gate", "dapo_overlong", "laser_bonus"})


def _scope(t: Any) -> Scope:
    """What a transform needs to see: one sample, a whole group, a training batch, or a running state."""
    name, p = t.name, t.params
    if name == "rm_shaping":
        return "sample" if p.method in ("lsc", "centered") else "state"
    if t.state_dict():
        return "state"
    if getattr(p, "group_by", None) == "batch" or name == "batch_normalize":
        return "batch"
    if name == "group_normalize" and p.scale == "batch":
        return "batch"
    if name == "multi_reward":
        if p.method == "weighted_sum":
            return "sample"
        return "batch" if p.method == "gdpo" and p.batch_norm else "group"
    if name == "ensemble":
        return "batch" if p.standardize else "sample"
    if name in _PER_SAMPLE:
        return "sample"
    return "group"  # group_normalize, leave_one_out, and transforms rewardkit does not know


def _offline_plan(pipeline: Pipeline) -> tuple[bool, bool]:
    """(shape whole groups in the parent, some transform has a running state); refuses batch scope."""
    scopes = [_scope(t) for t in pipeline.transforms]
    for i, (t, sc) in enumerate(zip(pipeline.transforms, scopes, strict=True)):
        if sc == "batch":
            raise ConfigError(
                f"shaping[{i}] ({t.name}) uses the statistics of a whole training batch; offline "
                "scoring has no training batch, so its scores would depend on --batch-size and row "
                "order. Leave it out of the offline config (normalise in the trainer) or use group "
                "statistics (group_normalize with scale: group; multi_reward with batch_norm: false; "
                "group_by: group_id)")
    grouped = any(sc in ("group", "state") for sc in scopes)
    return grouped, any(sc == "state" for sc in scopes)


def _group_key(s: Sample, by_prompt: bool) -> Any:
    """``group_id``, else the prompt (as a digest: memory stays small with long prompts)."""
    if s.group_id is not None and not by_prompt:
        return ("id", s.group_id)
    return ("prompt", hashlib.blake2b(s.prompt_text.encode("utf-8", "surrogatepass"), digest_size=16).digest())


def _member_order(s: Sample) -> tuple[bool, Any]:
    """Order inside a group that does not depend on the input order (so float sums agree exactly)."""
    return (isinstance(s.id, str), s.id)


@dataclass
class _Row:
    index: int  # position in the input
    where: str
    record: dict[str, Any]
    sample: Sample
    result: RewardResult | dict[str, Any] | None = None


# -- reading -------------------------------------------------------------------------------------
def _is_uri(path: str) -> bool:
    from rewardkit.distributed.ray_data import is_uri

    return is_uri(path)


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


def _hashable_id(v: Any) -> Any:
    return v if isinstance(v, (str, int)) else None


class _Reader:
    """Turns input records into rows to score, or skipped-record entries.

    The same checks run in the counting pass and the scoring pass, so both agree on which rows
    exist (bad records, duplicate ids, rows a resumed run already has)."""

    def __init__(self, cols: ColumnMap, limit: int | None, done_ids: IdSet) -> None:
        self.cols = cols
        self.limit = limit
        self.done_ids = done_ids

    def rows(self, records: Iterable[tuple[str, Any]]) -> Iterator[_Row | tuple[RecordError, int, Any]]:
        seen = IdSet()  # 12 bytes an id: memory stays flat with the dataset's size
        done = self.done_ids
        id_key = self.cols.id
        for idx, (where, rec) in enumerate(records):
            if self.limit is not None and idx >= self.limit:
                return
            try:
                if isinstance(rec, RecordError):
                    raise rec
                s = record_to_sample(rec, where, self.cols, default_id=idx)
                if not seen.add(s.id):
                    raise RecordError(where, f"duplicate id {s.id!r}", field=id_key)
            except RecordError as e:
                yield e, idx, _hashable_id(rec.get(id_key)) if isinstance(rec, dict) else None
                continue
            if len(done) and s.id in done:
                continue
            if rec.get(id_key) is None:  # a missing or null id is the row number, written out
                rec = {id_key: s.id, **{k: v for k, v in rec.items() if k != id_key}}
            yield _Row(idx, where, rec, s)


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
    backend: Literal["local", "ray"] = "local",
    ray: dict[str, Any] | None = None,
) -> ScoreSummary:
    """Score every record of ``input`` with the pipeline ``config`` and write ``output``.

    input: a file/folder path, a URI that Ray Data reads (``s3://bucket/data.jsonl``; needs the
    ``ray`` extra), an iterable of dicts, or None for the embedded synthetic data.
    output: ``.jsonl`` or ``.parquet``; None scores without writing (summary only).
    workers: processes scoring in parallel (>1 pays off for CPU-heavy rewards).
    backend: ``local`` (this process, or ``workers`` processes) or ``ray``: batches go to a pool of
    Ray scorer actors (`rewardkit.distributed.ray_backend`; ``ray`` holds its `RayOptions`:
    address, actors, num_cpus, num_gpus ...). Everything else -- reading, groups, shaping, the
    resumable output, the summary -- stays here, so both backends write the same rows.
    on_error: ``skip`` lists a bad record in the summary and goes on; ``fail`` stops at it.
    Returns the summary, also written as JSON next to the output (``<output>.summary.json``).
    SIGTERM stops the run like Ctrl-C (KeyboardInterrupt): committed rows stay in the partial file.
    """
    if on_error not in ("skip", "fail"):
        raise ValueError("on_error must be 'skip' or 'fail'")
    if batch_size < 1 or workers < 1:
        raise ValueError("batch_size and workers must be >= 1")
    if backend not in ("local", "ray"):
        raise ValueError("backend must be 'local' or 'ray'")
    cfg = load_config(config if config is not None else DEFAULT_CONFIG_PATH)
    cols = columns or ColumnMap()
    cfg_json = cfg.model_dump(mode="json")
    pipeline = Pipeline(cfg)
    grouped, stateful = _offline_plan(pipeline)
    by_prompt = grouped and all(getattr(t.params, "group_by", "prompt") == "prompt" for t in pipeline.transforms)
    # grouped: the workers score without shaping; the parent shapes whole groups
    score_cfg = {**cfg_json, "shaping": []} if grouped else cfg_json
    scorer = Pipeline(score_cfg) if grouped else pipeline

    total: int | None = None
    if input is None:
        def open_records() -> Iterable[tuple[str, Any]]:
            return _default_records()
        input_desc: str = "synthetic"
        total = 400
    elif isinstance(input, str) and _is_uri(input):  # s3://, gs://, hdfs://, file:// ...: Ray Data
        from rewardkit.distributed.ray_backend import RayOptions, connect
        from rewardkit.distributed.ray_data import iter_uri_records

        if backend == "ray":
            connect(RayOptions.model_validate(ray or {}))  # join the cluster before Ray Data starts one

        def open_records() -> Iterable[tuple[str, Any]]:
            return iter_uri_records(input, input_format)
        input_desc = input
    elif isinstance(input, (str, Path)):
        in_path = Path(input)
        if in_path.exists() and (input_format or detect_format(in_path)) == "parquet":
            require_pyarrow(f"reading {in_path.name} (Parquet input)")

        def open_records() -> Iterable[tuple[str, Any]]:
            return iter_records(input, input_format, json_columns=(cols.reference, cols.steps))
        input_desc = str(in_path.resolve())
        if in_path.is_file() and (input_format or in_path.suffix.lower()) in ("jsonl", ".jsonl"):
            total = _count_lines(in_path)
    else:
        materialised = [(f"record {i}", r) for i, r in enumerate(input)] if grouped else None
        once = iter(input)

        def open_records() -> Iterable[tuple[str, Any]]:
            if materialised is not None:
                return materialised
            return ((f"record {i}", r) for i, r in enumerate(once))
        input_desc = "<iterable>"
    if output is not None:
        output_format(Path(output))  # a bad suffix (or Parquet without pyarrow) fails before any work

    summary = ScoreSummary(output=str(output) if output is not None else None, workers=workers)
    status_counts: Counter[str] = Counter()
    score_stats = RunningStats()
    comp_stats: dict[str, RunningStats] = {c: RunningStats() for c in pipeline.component_names}

    usage: dict[str, dict[str, float]] = {}

    def account(row: dict[str, Any]) -> None:
        status_counts[status_before_fill(row)] += 1  # before any fill: a fill changes the reward, not what happened
        score_stats.add(row["score"])
        for k, v in (row.get("components") or {}).items():
            comp_stats.setdefault(k, RunningStats()).add(v)
        info = row.get("info")
        if isinstance(info, dict):
            for comp, ci in info.items():
                used = ci.get("judge_usage") if isinstance(ci, dict) else None
                if isinstance(used, dict):
                    acc = usage.setdefault(comp, {})
                    for key, val in used.items():
                        if isinstance(val, (int, float)):
                            acc[key] = acc.get(key, 0) + val

    writer: ResumableWriter | None = None
    done_ids = IdSet()
    listed_rows: set[Any] = set()  # input positions of bad records already listed (resume)
    if output is not None:
        writer = ResumableWriter(output, resume=resume, overwrite=overwrite,
                                 meta={"config": cfg_json, "input": input_desc, "columns": asdict(cols)})
        resumed = writer.open()
        for row in writer.iter_done():  # streamed: only the ids stay in memory
            if isinstance(rid := row.get(cols.id), (str, int)):
                done_ids.add(rid)
            account(row)
        summary.resumed_rows = resumed.rows
        summary.skipped.extend(resumed.skipped)
        listed_rows = {s.get("row", s.get("where")) for s in resumed.skipped}
        if stateful and resumed.rows:
            if resumed.state is None:
                writer.close()
                raise ValueError(f"cannot resume {writer.partial}: it has no saved state for the "
                                 "stateful transforms (written by an older rewardkit); use --overwrite")
            for t, st in zip(pipeline.transforms, json.loads(resumed.state), strict=True):
                t.load_state_dict(st)

    def transform_state() -> str | None:
        # json (not orjson): running minima start at +inf, which JSON only has as a literal
        return json.dumps([t.state_dict() for t in pipeline.transforms]) if stateful else None

    reader = _Reader(cols, limit, done_ids)
    expected: Counter[Any] = Counter()

    if progress is None:
        progress = sys.stderr.isatty()
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=total, unit="rows", desc="scoring", dynamic_ncols=True, initial=summary.resumed_rows)

    t0 = time.perf_counter()
    scored = 0
    open_groups: dict[Any, list[_Row]] = {}

    def fail_or_skip(e: RecordError, index: int, rid: Any) -> dict[str, Any] | None:
        if on_error == "fail":
            if writer is not None and writer.rows:
                hint = (f"rows scored before it are kept in {writer.partial}: fix the record and rerun "
                        "with --resume, or rerun with --resume --on-error skip to list bad records and go on")
            else:
                hint = "fix the record, or rerun with --on-error skip to list bad records and go on"
            raise RecordError(e.where, f"{e.message} ({hint})", field=e.field)
        if index in listed_rows or e.where in listed_rows:
            return None
        item = e.to_dict()
        item["id"] = rid if rid is not None else index
        item["row"] = index
        return item

    def finished_rows(rows: list[_Row]) -> list[_Row]:
        """Rows whose final result is known: all of them, or the groups they complete."""
        if not grouped:
            return rows
        out: list[_Row] = []
        for r in rows:
            key = _group_key(r.sample, by_prompt)
            members = open_groups.setdefault(key, [])
            members.append(r)
            if len(members) < expected[key]:
                continue
            del open_groups[key]
            members.sort(key=lambda m: _member_order(m.sample))
            samples = [m.sample for m in members]
            results = [RewardResult.from_dict(m.result) if isinstance(m.result, dict) else m.result
                       for m in members]
            results = pipeline.shape(samples, results)
            for m, res in zip(members, results, strict=True):
                m.result = res
            out.extend(members)
        return out

    def emit(rows: list[_Row]) -> None:
        nonlocal scored
        lines: list[bytes] = []
        indices: list[int] = []
        skipped_now: list[dict[str, Any]] = []
        for r in finished_rows(rows):
            rd = r.result.to_dict() if isinstance(r.result, RewardResult) else r.result
            rec = r.record
            if _OUTPUT_KEYS.isdisjoint(rec):
                row = {**rec, **rd}
            else:  # keep an input field that shares an output field's name, as "<name>_input"
                row = {(f"{k}_input" if k in _OUTPUT_KEYS else k): v for k, v in rec.items()}
                row.update(rd)
            try:
                line = jsonio.dumps_line(row)
            except jsonio.UnwritableValue as e:
                item = fail_or_skip(RecordError(r.where, str(e), field=e.field), r.index, r.sample.id)
                if item is not None:
                    skipped_now.append(item)
                continue
            account(row)
            lines.append(line)
            indices.append(r.index)
        if writer is not None:
            writer.write_skipped(skipped_now)
            writer.write(lines, indices, transform_state())
        summary.skipped.extend(skipped_now)
        scored += len(lines)
        if bar is not None:
            bar.update(len(rows))

    pool: Any = None  # an executor: a process pool, Ray actors, or None (score in this process)
    max_pending = 2 * workers
    if backend == "ray":
        from rewardkit.distributed.ray_backend import RayExecutor, RayOptions

        pool = RayExecutor(score_cfg, RayOptions.model_validate(ray or {}))
        max_pending = 2 * pool.size
        summary.workers = pool.size
    elif workers > 1:
        import multiprocessing as mp

        pool = ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"),
                                   initializer=_init_worker, initargs=(score_cfg, os.getpid()))
    pending: deque[tuple[list[_Row], Future[list[dict[str, Any]]]]] = deque()

    def flush_one() -> None:
        rows, fut = pending.popleft()
        for r, rd in zip(rows, fut.result(), strict=True):
            r.result = rd
        emit(rows)

    def score_batch(rows: list[_Row]) -> None:
        samples = [r.sample for r in rows]
        if pool is not None:
            pending.append((rows, pool.submit(_worker_score, samples)))
            while len(pending) > max_pending:
                flush_one()
        else:
            for r, res in zip(rows, scorer.score(samples), strict=True):
                r.result = res
            emit(rows)

    restore_sigterm: Callable[[], None] = lambda: None  # noqa: E731
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _raise_terminated)

        def restore_sigterm() -> None:
            signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)
    try:
        if grouped:  # first pass: how many rows each group has, so a group is shaped once complete
            for item in reader.rows(open_records()):
                if isinstance(item, _Row):
                    expected[_group_key(item.sample, by_prompt)] += 1
        batch: list[_Row] = []
        skipped_batch: list[dict[str, Any]] = []
        for item in reader.rows(open_records()):
            if isinstance(item, _Row):
                batch.append(item)
            else:
                listed = fail_or_skip(*item)
                if listed is not None:
                    skipped_batch.append(listed)
            if len(batch) >= batch_size or len(skipped_batch) >= batch_size:
                if writer is not None:
                    writer.write_skipped(skipped_batch)
                summary.skipped.extend(skipped_batch)
                skipped_batch = []
                if batch:
                    score_batch(batch)
                    batch = []
        if writer is not None:
            writer.write_skipped(skipped_batch)
        summary.skipped.extend(skipped_batch)
        if batch:
            score_batch(batch)
        while pending:
            flush_one()
        if open_groups:  # cannot happen: both passes read the same rows
            raise RuntimeError(f"{len(open_groups)} groups were never complete")
    except BaseException as exc:  # Ctrl-C, SIGTERM, a bad record with on_error=fail: keep what is committed
        if pool is not None:
            _stop_pool(pool)
        if writer is not None:
            try:
                writer.close()
            except OSError:
                pass  # a full disk: the committed rows are on it already
            if writer.rows == 0 and not isinstance(exc, KeyboardInterrupt):
                writer.discard()  # nothing committed: nothing to resume, no stale partial file
        if bar is not None:
            bar.close()
        restore_sigterm()
        raise
    if pool is not None:
        pool.shutdown()
    if bar is not None:
        bar.close()
    pipeline.close()
    if scorer is not pipeline:
        scorer.close()

    summary.seconds = time.perf_counter() - t0
    summary.scored_this_run = scored
    summary.rows = scored + summary.resumed_rows
    summary.throughput = scored / summary.seconds if summary.seconds > 0 else 0.0
    summary.statuses = dict(status_counts)
    summary.score = score_stats.to_dict()
    summary.components = {k: v.to_dict() for k, v in comp_stats.items()}
    summary.usage = usage
    try:
        if writer is not None:
            out = writer.finalize(summary=(summary_path(writer.path),
                                           jsonio.dumps_pretty(summary.to_dict())))
            summary.output = str(out)
    finally:
        restore_sigterm()
    return summary

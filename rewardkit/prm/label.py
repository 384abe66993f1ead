"""Monte-Carlo step labels from outcome checks only (Math-Shepherd; PAV progress).

For each solution with steps ``s_1..s_K`` and each prefix ``s_1..s_k`` (k = 0..K), a completer
policy samples ``N`` continuations, a rewardkit verifier checks each final answer, and the prefix
gets ``Q_k`` = fraction correct (Wang et al., arXiv 2312.08935, §3):

- hard label of step k: ``1 if any continuation of s_1..s_k is correct else 0``;
- soft label of step k: ``Q_k`` (the fraction);
- progress (PAV, Setlur et al., arXiv 2410.08146): ``A_k = Q_k − Q_{k−1}``, with ``Q_0`` the value
  of the bare question (`rewardkit.train.advantages.progress_from_q`).

The full solution (k = K) is not rolled out: its value is its own checked outcome.

The unit of work is ONE prefix: ``prefixes.jsonl`` gets one line per finished prefix (appended
and fsync'ed per batch), so a killed job resumes where it stopped and prefixes can be spread over
machines. `assemble` turns the prefix lines into stepwise PRM training records.

Verifier statuses go through `rewardkit.status_policy` (``status_policy:`` in the config): by
default ``ok`` counts its score (>= 0.5 is correct); ``unparseable`` and sample-caused ``timeout``
count as wrong -- the completer's fault; ``error`` (infrastructure) and ``not_applicable`` are not
outcomes and are left out of N (counted in ``n_invalid``). A prefix whose every check was invalid
has no value (``q: null``), and its solution is left out of the training data, never given a 0.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from rewardkit.prm.rollouts import RolloutOptions
from rewardkit.status_policy import StatusPolicy
from rewardkit.types import RewardResult, Sample

__all__ = ["LabelConfig", "PrefixTask", "read_solutions", "prefix_tasks", "outcome_counts", "run_labelling", "assemble",
           "hard_soft_labels"]


class LabelConfig(BaseModel):
    """``rewardkit prm label`` config (YAML)."""

    model_config = ConfigDict(extra="forbid")

    input: str
    output_dir: str
    rollout: RolloutOptions
    #: a reward source (``{type: numeric}``) or a pipeline (``{rewards: [...]}``) checking each rollout
    verifier: dict[str, Any] = {"type": "numeric"}
    n: int = 8
    prompt_key: str = "prompt"
    steps_key: str = "steps"
    completion_key: str = "completion"
    reference_key: str = "reference"
    id_key: str = "id"
    prompt_separator: str = "\n\n"
    step_separator: str = "\n\n"
    #: optional text put before every rollout prompt (e.g. few-shot examples)
    rollout_preamble: str = ""
    limit: int | None = None
    seed: int = 0
    label: Literal["hard", "soft"] = "soft"
    #: how verifier statuses count (rewardkit.status_policy.StatusPolicy fields)
    status_policy: dict[str, Any] = {}
    progress: bool = True
    #: where rollouts run: this process, or Ray generator actors plus verifier tasks
    backend: Literal["local", "ray"] = "local"
    #: `rewardkit.distributed.ray_backend.RayOptions` fields (address, actors, num_gpus per generator ...)
    ray: dict[str, Any] = {}


class PrefixTask(BaseModel):
    """One unit of work: the first ``k`` steps of solution ``id``."""

    id: str
    k: int
    prompt: str
    prefix: str
    reference: Any = None
    is_full: bool = False

    @property
    def key(self) -> str:
        return f"{self.id}\t{self.k}"


def read_solutions(cfg: LabelConfig) -> list[dict[str, Any]]:
    """The input solutions as ``{id, prompt, steps, reference}``; a bad record raises naming it."""
    from rewardkit.models.training import read_rows
    from rewardkit.steps import split_by_separator

    out = []
    for i, r in enumerate(read_rows(cfg.input, cfg.limit)):
        steps = r.get(cfg.steps_key)
        if steps is None:
            if cfg.completion_key not in r:
                raise ValueError(f"{cfg.input}: record {i} has neither {cfg.steps_key!r} nor {cfg.completion_key!r}")
            text = str(r[cfg.completion_key])
            steps = [sp.text(text) for sp in split_by_separator(text, cfg.step_separator)]
        if not isinstance(steps, list) or not steps or any(not str(s).strip() for s in steps):
            raise ValueError(f"{cfg.input}: record {i}: {cfg.steps_key!r} must be a non-empty list of non-empty steps")
        if cfg.prompt_key not in r:
            raise ValueError(f"{cfg.input}: record {i} has no field {cfg.prompt_key!r}")
        out.append({"id": str(r.get(cfg.id_key, i)), "prompt": str(r[cfg.prompt_key]),
                    "steps": [str(s).strip() for s in steps], "reference": r.get(cfg.reference_key)})
    ids = [r["id"] for r in out]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{cfg.input}: ids in {cfg.id_key!r} are not unique (resume needs them)")
    return out


def prefix_tasks(records: Sequence[dict[str, Any]], step_separator: str = "\n\n") -> Iterator[PrefixTask]:
    for r in records:
        steps = r["steps"]
        for k in range(len(steps) + 1):
            yield PrefixTask(id=r["id"], k=k, prompt=r["prompt"], prefix=step_separator.join(steps[:k]),
                             reference=r["reference"], is_full=k == len(steps))


def outcome_counts(results: Sequence[RewardResult], policy: StatusPolicy | None = None) -> tuple[int, int, int]:
    """(n valid, n correct, n invalid) of a prefix's rollouts under the status policy.

    `rewardkit.status_policy` decides: the sample's own failures (no answer, a sample-caused
    timeout) count as wrong; infrastructure failures and not_applicable are masked (left out of N).
    """
    policy = policy or StatusPolicy()
    n = correct = invalid = 0
    for r in results:
        score, valid = policy.resolve(r)
        if not valid:
            invalid += 1
            continue
        n += 1
        correct += score >= 0.5
    return n, correct, invalid


def hard_soft_labels(correct: int, n: int) -> tuple[float, float] | None:
    """Math-Shepherd hard and soft estimates from ``correct`` of ``n`` valid rollouts."""
    if n == 0:
        return None
    return float(correct > 0), correct / n


def _verifier(spec: dict[str, Any]) -> Any:
    from rewardkit.pipeline import build_pipeline
    from rewardkit.registry import build_source

    if "rewards" in spec:
        return build_pipeline(spec)
    spec = dict(spec)
    return build_source(spec.pop("type"), **spec)


def _seed(base: int, key: str) -> int:
    return base + int(hashlib.sha256(key.encode()).hexdigest()[:8], 16)


def _done_keys(path: Path) -> set[str]:
    """Keys of finished prefixes; a torn last line (killed mid-write) is cut off."""
    if not path.exists():
        return set()
    data = path.read_bytes()
    good = data[:data.rfind(b"\n") + 1]
    if len(good) != len(data):
        with open(path, "r+b") as f:
            f.truncate(len(good))
    return {f"{d['id']}\t{d['k']}" for d in (json.loads(x) for x in good.splitlines() if x.strip())}


def run_labelling(cfg: LabelConfig, *, generator: Any = None) -> Path:
    """Label every prefix not yet in ``output_dir/prefixes.jsonl``; return the assembled data file."""
    from tqdm.auto import tqdm

    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(cfg.model_dump_json(indent=2))
    records = read_solutions(cfg)
    path = out / "prefixes.jsonl"
    done = _done_keys(path)
    todo = [t for t in prefix_tasks(records, cfg.step_separator) if t.key not in done]
    verifier = _verifier(cfg.verifier)
    policy = StatusPolicy.model_validate(cfg.status_policy)
    full = [t for t in todo if t.is_full]
    partial = [t for t in todo if not t.is_full]
    bar = tqdm(total=len(todo), disable=not cfg.progress, desc="prefixes", unit="prefix")
    with open(path, "ab") as f:
        if full:  # the whole solution's value is its own outcome: no sampling
            res = verifier.score([Sample(t.prompt, t.prefix, reference=t.reference, id=t.id) for t in full])
            _write(f, [_line(t, [r], policy) for t, r in zip(full, res, strict=True)])
            bar.update(len(full))
        if partial and cfg.backend == "ray" and generator is None:
            from rewardkit.distributed.ray_labelling import label_batches

            done_batches = label_batches(cfg, rollout_batches(cfg, partial))
        else:
            if partial and generator is None:
                from rewardkit.prm.rollouts import make_generator

                generator = make_generator(cfg.rollout)
            done_batches = ((b, verifier.score(rollout_samples(cfg, b, generator.generate(prompts, cfg.n, seed))))
                            for b, prompts, seed in rollout_batches(cfg, partial))
        for batch, res in done_batches:  # in completion order: each line is keyed by its prefix
            _write(f, [_line(t, res[j * cfg.n:(j + 1) * cfg.n], policy) for j, t in enumerate(batch)])
            bar.update(len(batch))
    bar.close()
    return assemble(path, records, out / "stepwise.jsonl", label=cfg.label)


def rollout_batches(cfg: LabelConfig, partial: Sequence[PrefixTask]
                    ) -> Iterator[tuple[list[PrefixTask], list[str], int]]:
    """(prefix batch, rollout prompts, seed) per ``generate`` call; the seed depends only on the
    batch, so every backend samples the same continuations."""
    step = max(cfg.rollout.prefixes_per_batch, 1)
    for i in range(0, len(partial), step):
        batch = list(partial[i:i + step])
        yield batch, [_rollout_prompt(cfg, t) for t in batch], _seed(cfg.seed, batch[0].key)


def rollout_samples(cfg: LabelConfig, batch: Sequence[PrefixTask], texts: Sequence[Sequence[str]]) -> list[Sample]:
    """The samples a verifier checks: each prefix followed by each of its ``n`` continuations."""
    return [Sample(t.prompt, _join(t.prefix, x, cfg.step_separator), reference=t.reference, id=t.id)
            for t, xs in zip(batch, texts, strict=True) for x in xs]


def _rollout_prompt(cfg: LabelConfig, t: PrefixTask) -> str:
    head = cfg.rollout_preamble + t.prompt + cfg.prompt_separator
    return head + (t.prefix + cfg.step_separator if t.prefix else "")


def _join(prefix: str, continuation: str, sep: str) -> str:
    return prefix + sep + continuation if prefix else continuation


def _line(t: PrefixTask, results: Sequence[RewardResult], policy: StatusPolicy) -> dict[str, Any]:
    n, correct, invalid = outcome_counts(results, policy)
    return {"id": t.id, "k": t.k, "n": n, "correct": correct, "n_invalid": invalid,
            "q": correct / n if n else None}


def _write(f: Any, lines: list[dict[str, Any]]) -> None:
    f.write(b"".join(json.dumps(x).encode() + b"\n" for x in lines))
    f.flush()
    os.fsync(f.fileno())


def assemble(prefix_file: Path, records: Sequence[dict[str, Any]], out: Path, *,
             label: Literal["hard", "soft"] = "soft") -> Path:
    """Stepwise PRM data: ``labels`` (hard or soft), plus ``q`` (K+1 values) and ``progress`` (K)."""
    import torch

    from rewardkit.io.output import atomic_write_bytes
    from rewardkit.train.advantages import progress_from_q

    by_key: dict[tuple[str, int], dict[str, Any]] = {}
    for line in prefix_file.read_text().splitlines():
        if line.strip():
            d = json.loads(line)
            by_key[(d["id"], d["k"])] = d
    rows, skipped = [], 0
    for r in records:
        lines = [by_key.get((r["id"], k)) for k in range(len(r["steps"]) + 1)]
        if any(x is None or x["q"] is None for x in lines):
            skipped += 1
            continue
        q = [x["q"] for x in lines]  # type: ignore[index]
        hs = [hard_soft_labels(x["correct"], x["n"]) for x in lines[1:]]  # type: ignore[index]
        labels = [h[0] if label == "hard" else h[1] for h in hs]  # type: ignore[index]
        progress = progress_from_q(torch.tensor(q, dtype=torch.float64)).tolist()
        rows.append({"id": r["id"], "prompt": r["prompt"], "completions": r["steps"], "labels": labels,
                     "q": q, "progress": progress})
    atomic_write_bytes(out, b"".join(json.dumps(x).encode() + b"\n" for x in rows))
    (out.parent / "assemble_summary.json").write_text(json.dumps(
        {"solutions": len(rows), "skipped_incomplete_or_invalid": skipped, "label": label}, indent=2))
    return out

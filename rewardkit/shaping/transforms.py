"""Config-registered batch transforms over `RewardResult` lists (the pipeline's ``shaping:`` section).

Each transform is ``t(samples, results) -> results`` around one pure function of this package:

```yaml
shaping:
  - {type: process_shaping, method: clip_delta, eta: 0.7, alpha: 1.0}
  - {type: group_normalize, ddof: 1, eps: 1.0e-6}
```

Status rules (the same for every transform):
- only ok results enter group / batch / running statistics;
- non-ok results are returned unchanged (still non-ok, ``score=None``) -- never a fake 0;
- an ok result that a transform cannot shape (PAR without reference rewards, a missing ensemble
  member) becomes ``error`` with the reason in ``info["error"]``.
Shaped results keep components, steps and info; ``info["raw_score"]`` keeps the score before the
first transform and ``info["shaping"]`` lists the transforms applied. Inputs are not mutated.

Groups are ``Sample.group_id`` (``group_by="group_id"``, falling back to the prompt text when it is
None), the prompt text (``"prompt"``) or the whole batch (``"batch"``).
Transforms with running state (`RunningNormalize`, `RMShaping`) have ``state_dict()`` /
``load_state_dict()`` for checkpoints.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, model_validator

from rewardkit.registry import register_transform
from rewardkit.shaping import ensemble as _ens
from rewardkit.shaping import gates as _gates
from rewardkit.shaping import multi as _multi
from rewardkit.shaping import normalize as _norm
from rewardkit.shaping import par as _par
from rewardkit.shaping import process as _proc
from rewardkit.types import RewardResult, Sample, Status, StepScore

__all__ = [
    "TransformParams",
    "BaseTransform",
    "GroupNormalize",
    "BatchNormalize",
    "LeaveOneOut",
    "RunningNormalize",
    "ProcessShaping",
    "PAR",
    "RMShaping",
    "MultiReward",
    "Ensemble",
    "Gate",
    "DapoOverlong",
    "LaserBonus",
    "Laser",
    "CosineLength",
]

GroupBy = Literal["group_id", "prompt", "batch"]


class TransformParams(BaseModel):
    """Base of every transform's parameters: unknown keys are errors that name the key."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class BaseTransform:
    """``(samples, results) -> results``; constructor keyword arguments are validated by ``Params``."""

    Params: ClassVar[type[TransformParams]] = TransformParams

    def __init__(self, **params: Any) -> None:
        self.params = self.Params(**params)

    def __call__(self, samples: Sequence[Sample], results: Sequence[RewardResult]) -> list[RewardResult]:
        if len(samples) != len(results):
            raise ValueError(f"got {len(results)} results for {len(samples)} samples")
        return self.apply(samples, list(results))

    def apply(self, samples: Sequence[Sample], results: list[RewardResult]) -> list[RewardResult]:
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass

    @property
    def name(self) -> str:
        return getattr(type(self), "registry_name", type(self).__name__)

    def __repr__(self) -> str:
        kw = ", ".join(f"{k}={v!r}" for k, v in self.params.model_dump().items())
        return f"{type(self).__name__}({kw})"

    # helpers -----------------------------------------------------------------------------------
    def _shaped(self, res: RewardResult, score: float, **extra: Any) -> RewardResult:
        info = dict(res.info)
        info.setdefault("raw_score", res.score)
        info["shaping"] = [*info.get("shaping", []), self.name]
        info.update(extra)
        score = float(score)
        if not math.isfinite(score):
            return self._error(res, f"{self.name}: shaped score is not finite ({score})")
        # the constructor, not dataclasses.replace: 4x cheaper on the per-sample hot path
        return RewardResult(score, res.status, res.components, res.steps, res.token_scores, res.token_spans, info)

    def _error(self, res: RewardResult, reason: str) -> RewardResult:
        info = dict(res.info)
        info.setdefault("raw_score", res.score)
        info["error"] = reason
        return replace(res, score=None, status=Status.ERROR, info=info)


def _scores(results: Sequence[RewardResult]) -> np.ndarray:
    return np.array([r.score if r.is_ok else np.nan for r in results], dtype=np.float64)


def group_keys(samples: Sequence[Sample], group_by: GroupBy) -> list[Any] | None:
    """Group id of every sample: its ``group_id`` (or prompt text), its prompt text, or None (batch)."""
    if group_by == "batch":
        return None
    if group_by == "prompt":
        return [("prompt", s.prompt_text) for s in samples]
    return [("id", s.group_id) if s.group_id is not None else ("prompt", s.prompt_text) for s in samples]


def _apply_scores(t: BaseTransform, results: list[RewardResult], new: np.ndarray, **extra: Any) -> list[RewardResult]:
    return [t._shaped(r, float(x), **extra) if r.is_ok else r for r, x in zip(results, new, strict=True)]


# --------------------------------------------------------------------------------------------
# normalisation
# --------------------------------------------------------------------------------------------
class GroupNormParams(TransformParams):
    scale: Literal["group", "batch", "none"] = "group"
    ddof: int = 1
    eps: float = 1e-6
    group_by: GroupBy = "group_id"


@register_transform("group_normalize")
class GroupNormalize(BaseTransform):
    """GRPO group normalisation ``(r − mean_g)/(std_g + eps)`` (``scale="none"``: Dr. GRPO centring)."""

    Params = GroupNormParams

    def apply(self, samples, results):
        p: GroupNormParams = self.params  # type: ignore[assignment]
        new = _norm.group_normalize(_scores(results), group_keys(samples, p.group_by), scale=p.scale,
                                    ddof=p.ddof, eps=p.eps)
        return _apply_scores(self, results, new)


class BatchNormParams(TransformParams):
    ddof: int = 0
    eps: float = 1e-8


@register_transform("batch_normalize")
class BatchNormalize(BaseTransform):
    """``(r − mean)/(std + eps)`` over the ok results of the batch."""

    Params = BatchNormParams

    def apply(self, samples, results):
        p: BatchNormParams = self.params  # type: ignore[assignment]
        return _apply_scores(self, results, _norm.batch_normalize(_scores(results), ddof=p.ddof, eps=p.eps))


class LOOParams(TransformParams):
    group_by: GroupBy = "group_id"


@register_transform("leave_one_out")
class LeaveOneOut(BaseTransform):
    """RLOO baseline: ``r_i − mean of the other ok results of the group``."""

    Params = LOOParams

    def apply(self, samples, results):
        p: LOOParams = self.params  # type: ignore[assignment]
        return _apply_scores(self, results, _norm.leave_one_out(_scores(results), group_keys(samples, p.group_by)))


class RunningNormParams(TransformParams):
    eps: float = 1e-8
    center: bool = True


@register_transform("running_normalize")
class RunningNormalize(BaseTransform):
    """``(r − μ)/(σ + eps)`` with statistics over every ok reward seen so far (updated with the batch
    first; population σ). The state persists across batches: save it with ``state_dict()``."""

    Params = RunningNormParams

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.stats = _norm.RunningStats()

    def apply(self, samples, results):
        p: RunningNormParams = self.params  # type: ignore[assignment]
        x = _scores(results)
        self.stats.update(x)
        new = self.stats.normalize(x, eps=p.eps) if p.center else \
            _norm._safe_div(x, np.full_like(x, self.stats.std + p.eps))
        return _apply_scores(self, results, new)

    def state_dict(self):
        return {"stats": self.stats.state_dict()}

    def load_state_dict(self, state):
        self.stats.load_state_dict(state["stats"])


# --------------------------------------------------------------------------------------------
# process rewards
# --------------------------------------------------------------------------------------------
class ProcessParams(TransformParams):
    method: Literal["clip", "delta", "clip_delta"] = "clip_delta"
    eta: float | None = None  # Clip threshold: per PRM, not recoverable from the paper -> required
    alpha: float  # weight of the process terms: not reported by the paper -> required
    last: Literal["keep", "zero"] = "keep"  # Delta's last step (ambiguous in the paper)

    @model_validator(mode="after")
    def _eta_for_clip(self) -> ProcessParams:
        if self.method in ("clip", "clip_delta") and self.eta is None:
            raise ValueError(f"method {self.method!r} needs 'eta' (the PRM score threshold)")
        return self


@register_transform("process_shaping")
class ProcessShaping(BaseTransform):
    """Clip / Delta / Clip-Delta on the step scores (Gao et al.); the sequence score (the outcome
    reward, placed on the last token) is unchanged. Steps without a score are left out of the
    Delta chain and stay None. ``info["process_shaping"]`` records method and last-step rule."""

    Params = ProcessParams

    def apply(self, samples, results):
        p: ProcessParams = self.params  # type: ignore[assignment]
        out = []
        for r in results:
            if not r.is_ok or not r.steps:
                out.append(r)
                continue
            idx = [i for i, s in enumerate(r.steps) if s.score is not None]
            vals = _proc.shape_process_rewards([r.steps[i].score for i in idx], p.method, eta=p.eta,
                                               last=p.last, alpha=p.alpha)
            steps = list(r.steps)
            for i, v in zip(idx, vals, strict=True):
                steps[i] = StepScore(steps[i].start, steps[i].end, float(v))
            info = dict(r.info)
            info["process_shaping"] = {"method": p.method, "last": p.last, "eta": p.eta, "alpha": p.alpha}
            info["shaping"] = [*info.get("shaping", []), self.name]
            out.append(replace(r, steps=steps, info=info))
        return out


# --------------------------------------------------------------------------------------------
# PAR and RM-shaping baselines
# --------------------------------------------------------------------------------------------
class RefParams(TransformParams):
    refs_file: str | None = None  # JSON {prompt text: [reference rewards]}
    metadata_key: str = "ref_rewards"  # Sample.metadata[key] wins over the file/cache
    max_refs: int | None = None  # use at most this many references per prompt (dropped ones: info)
    # PAR repo's hidden default (reward_penalize_length=True): r -= coef·(len − threshold) for
    # responses longer than threshold tokens, applied before the shaping. Off unless asked for.
    penalize_length: bool = False
    length_coef: float = 0.01
    length_threshold: int = 300
    length_key: str = "num_tokens"


class _RefTransform(BaseTransform):
    def _penalized(self, samples: Sequence[Sample], x: np.ndarray) -> np.ndarray:
        """Scores after the optional length penalty; NaN where the length is needed but missing."""
        p: RefParams = self.params  # type: ignore[assignment]
        if not p.penalize_length:
            return x
        L = np.array([float(s.metadata[p.length_key]) if s.metadata.get(p.length_key) is not None else np.nan
                      for s in samples])
        return x - p.length_coef * np.maximum(L - p.length_threshold, 0.0)

    def __init__(self, references: _par.ReferenceRewards | None = None, **params: Any) -> None:
        super().__init__(**params)
        p: RefParams = self.params  # type: ignore[assignment]
        if references is None and p.refs_file is not None:
            references = _par.ReferenceRewards(cache=json.loads(Path(p.refs_file).read_text(encoding="utf-8")))
        self.references = references

    def _refs(self, sample: Sample) -> list[float] | None:
        p: RefParams = self.params  # type: ignore[assignment]
        if p.metadata_key in sample.metadata:
            return list(sample.metadata[p.metadata_key])
        if self.references is not None:
            try:
                return self.references.get(sample)
            except KeyError:
                return None
        return None

    def _each(self, samples, results, fn) -> list[RewardResult]:
        p: RefParams = self.params  # type: ignore[assignment]
        if self.references is not None and self.references.source is not None:
            try:
                self.references.prefetch([s for s, r in zip(samples, results, strict=True) if r.is_ok])
            except KeyError:
                pass  # reported per sample below
        out = []
        scores = self._penalized(samples, _scores(results))
        for s, r, x in zip(samples, results, scores, strict=True):
            if not r.is_ok:
                out.append(r)
                continue
            if not np.isfinite(x):
                out.append(self._error(r, f"{self.name}: penalize_length needs metadata[{p.length_key!r}]"))
                continue
            refs = self._refs(s)
            if not refs:
                out.append(self._error(r, f"{self.name}: no reference rewards for this prompt"))
                continue
            extra: dict[str, Any] = {}
            if p.max_refs is not None and len(refs) > p.max_refs:  # a cap the config asked for: reported
                extra["refs_dropped"] = len(refs) - p.max_refs
                refs = refs[: p.max_refs]
            out.append(self._shaped(r, float(fn(x, np.asarray(refs, dtype=np.float64))), n_refs=len(refs), **extra))
        return out


class PARParams(RefParams):
    k: float = 1.0


@register_transform("par")
class PAR(_RefTransform):
    """Preference As Reward: ``mean_m σ(k·(r − r_ref^m))`` with the prompt's reference rewards from
    ``Sample.metadata["ref_rewards"]``, a `ReferenceRewards` cache (``PAR(references=...)``) or
    ``refs_file``. Missing references -> ``error`` (not a guess)."""

    Params = PARParams

    def apply(self, samples, results):
        p: PARParams = self.params  # type: ignore[assignment]
        return self._each(samples, results, lambda r, ref: _par.par_reward(r, ref, k=p.k, max_refs=None))


class RMShapingParams(RefParams):
    method: Literal["meanstd", "clip", "minmax", "lsc", "centered"]
    eps: float = 1e-8  # meanstd: added to the std
    range_eps: float = 1e-8  # minmax: added to the range (max − min)


@register_transform("rm_shaping")
class RMShaping(_RefTransform):
    """PAR's baselines: running ``meanstd`` / ``clip`` / ``minmax`` (state persists; stats updated
    with the batch before shaping) and reference-based ``lsc`` / ``centered``."""

    Params = RMShapingParams

    def __init__(self, references: _par.ReferenceRewards | None = None, **params: Any) -> None:
        super().__init__(references, **params)
        self.stats = _norm.RunningStats()

    def apply(self, samples, results):
        p: RMShapingParams = self.params  # type: ignore[assignment]
        if p.method == "lsc":
            return self._each(samples, results, lambda r, ref: _par.lsc_reward(r, ref, max_refs=None))
        if p.method == "centered":
            return self._each(samples, results, lambda r, ref: _par.centered_reward(r, ref, max_refs=None))
        x = self._penalized(samples, _scores(results))
        ok = np.isfinite(x)
        new = np.full_like(x, np.nan)
        if p.method == "meanstd":
            new[ok] = _par.meanstd_reward(x[ok], self.stats, eps=p.eps)
        elif p.method == "clip":
            new[ok] = _par.running_clip_reward(x[ok], self.stats)
        else:
            new[ok] = _par.minmax_reward(x[ok], self.stats, range_eps=p.range_eps)
        return _apply_scores(self, results, new)

    def state_dict(self):
        return {"stats": self.stats.state_dict()}

    def load_state_dict(self, state):
        self.stats.load_state_dict(state["stats"])


# --------------------------------------------------------------------------------------------
# several rewards
# --------------------------------------------------------------------------------------------
def _components(results: Sequence[RewardResult], names: Sequence[str]) -> np.ndarray:
    return np.array([[np.nan if r.components.get(n) is None else r.components[n] for n in names]
                     for r in results], dtype=np.float64).reshape(len(results), len(names))


class MultiParams(TransformParams):
    method: Literal["weighted_sum", "sum_then_normalize", "gdpo"] = "gdpo"
    weights: dict[str, float]
    ddof: int = 1
    eps: float | None = None  # default: 1e-6 (sum_then_normalize), 1e-4 (gdpo, as TRL)
    batch_norm: bool = True
    group_by: GroupBy = "group_id"


@register_transform("multi_reward")
class MultiReward(BaseTransform):
    """Combine named components (``RewardResult.components``) into the score: weighted sum,
    GRPO on the sum, or GDPO decoupled normalisation (then the score *is* an advantage: give it to
    the trainer without re-normalising). Missing components are skipped (TRL ``nansum``); a result
    with none of them becomes ``error``."""

    Params = MultiParams

    def apply(self, samples, results):
        p: MultiParams = self.params  # type: ignore[assignment]
        names = list(p.weights)
        w = np.array([p.weights[n] for n in names])
        ok = np.array([r.is_ok for r in results], dtype=bool)
        comp = _components(results, names)
        comp[~ok] = np.nan
        keys = group_keys(samples, p.group_by)
        if p.method == "weighted_sum":
            new = _multi.weighted_sum(comp, w)
        elif p.method == "sum_then_normalize":
            s = _multi.weighted_sum(comp, w)
            new = _norm.group_normalize(s, keys, ddof=p.ddof, eps=1e-6 if p.eps is None else p.eps)
        else:
            new = _multi.gdpo(comp, w, keys, ddof=p.ddof, eps=1e-4 if p.eps is None else p.eps,
                              batch_norm=p.batch_norm)
        return _apply_scores(self, results, new)


class EnsembleParams(TransformParams):
    components: list[str]
    method: Literal["mean", "min", "uwo"] = "mean"
    lam: float = 0.5
    ddof: int = 0
    standardize: bool = False


@register_transform("ensemble")
class Ensemble(BaseTransform):
    """Score = mean / min (WCO) / mean − λ·var (UWO) of the named reward-model components.
    A result missing any member becomes ``error``."""

    Params = EnsembleParams

    def apply(self, samples, results):
        p: EnsembleParams = self.params  # type: ignore[assignment]
        comp = _components(results, p.components)
        ok = np.array([r.is_ok for r in results], dtype=bool) & np.isfinite(comp).all(1)
        new = np.full(len(results), np.nan)
        if ok.any():
            new[ok] = _ens.ensemble(comp[ok], p.method, lam=p.lam, ddof=p.ddof, standardize=p.standardize)
        out = []
        for r, x, good in zip(results, new, ok, strict=True):
            if not r.is_ok:
                out.append(r)
            elif not good:
                miss = [n for n in p.components if r.components.get(n) is None]
                out.append(self._error(r, f"ensemble: missing member(s) {miss}"))
            else:
                out.append(self._shaped(r, float(x)))
        return out


class GateParams(TransformParams):
    component: str
    min: float = 1.0
    fail_score: float = 0.0
    on_missing: Literal["error", "fail"] = "error"


@register_transform("gate")
class Gate(BaseTransform):
    """Score = ``fail_score`` unless component ``component`` scored ``≥ min`` (e.g. the format
    must pass). If the gate component has no score: ``error`` (default) or a failed gate."""

    Params = GateParams

    def apply(self, samples, results):
        p: GateParams = self.params  # type: ignore[assignment]
        g = _components(results, [p.component])[:, 0]
        new = _gates.gate(_scores(results), g, p.min, p.fail_score,
                          on_missing="nan" if p.on_missing == "error" else "fail")
        out = []
        for r, x, gv in zip(results, new, g, strict=True):
            if not r.is_ok:
                out.append(r)
            elif not np.isfinite(x):
                out.append(self._error(r, f"gate: component {p.component!r} has no score"))
            else:
                out.append(self._shaped(r, float(x), gate_passed=bool(gv >= p.min)))
        return out


# --------------------------------------------------------------------------------------------
# length
# --------------------------------------------------------------------------------------------
class LengthParams(TransformParams):
    """How a response's length is counted (`rewardkit.shaping.length.measure_lengths`)."""

    unit: Literal["tokens", "chars"] = "tokens"
    tokenizer: str | None = None   # local tokenizer path for token counts; None = metadata[length_key]
    length_key: str = "num_tokens"  # Sample.metadata[key]: response length in policy tokens


def _lengths(samples: Sequence[Sample], p: LengthParams) -> np.ndarray:
    from rewardkit.shaping.length import measure_lengths

    return measure_lengths(samples, p.unit, p.tokenizer, p.length_key)


def _no_length(p: LengthParams) -> str:
    return f"sample has no metadata[{p.length_key!r}] (or set unit: chars / a tokenizer)"


class OverlongParams(LengthParams):
    max_len: int = 20480
    cache_len: int = 4096


@register_transform("dapo_overlong")
class DapoOverlong(BaseTransform):
    """Adds DAPO's soft overlong penalty (0 → −1 over the last ``cache_len`` tokens before
    ``max_len``). The length is read from ``Sample.metadata[length_key]``; without it -> ``error``."""

    Params = OverlongParams

    def apply(self, samples, results):
        from rewardkit.shaping.length import dapo_overlong_penalty

        p: OverlongParams = self.params  # type: ignore[assignment]
        L = _lengths(samples, p)
        out = []
        for r, n in zip(results, L, strict=True):
            if not r.is_ok:
                out.append(r)
            elif not np.isfinite(n):
                out.append(self._error(r, f"dapo_overlong: {_no_length(p)}"))
            else:
                pen = float(dapo_overlong_penalty(n, p.max_len, p.cache_len))
                out.append(self._shaped(r, r.score + pen, overlong_penalty=pen))
        return out


class LaserParams(LengthParams):
    gate: str  # component that must reach ``gate_min`` (correctness)
    gate_min: float = 1.0
    target: int
    alpha: float = 0.5


@register_transform("laser_bonus")
class LaserBonus(BaseTransform):
    """LASER's length term: ``+α`` when the gate component (correctness) passes and the response has
    at most ``target`` tokens. (LASER-D: choose ``target`` per difficulty bucket upstream.)"""

    Params = LaserParams

    def apply(self, samples, results):
        p: LaserParams = self.params  # type: ignore[assignment]
        L = _lengths(samples, p)
        g = _components(results, [p.gate])[:, 0]
        out = []
        for r, n, gv in zip(results, L, g, strict=True):
            if not r.is_ok:
                out.append(r)
            elif not np.isfinite(n):
                out.append(self._error(r, f"laser_bonus: {_no_length(p)}"))
            else:  # a gate component without a score (a failed format gate upstream) earns no bonus
                bonus = p.alpha if (np.isfinite(gv) and gv >= p.gate_min and n <= p.target) else 0.0
                out.append(self._shaped(r, r.score + bonus, length_bonus=bonus))
        return out


class LaserFullParams(LengthParams):
    correct: str                    # component that says the answer is right (>= correct_min)
    correct_min: float = 1.0
    format: str | None = None       # component that says the format holds (>= format_min); None = always
    format_min: float = 1.0
    target: int | None = None       # LASER: one target length
    targets: dict[Literal["easy", "medium", "hard"], int] | None = None  # LASER-D: one per bucket
    alpha: float = 0.5
    mode: Literal["reward", "penalty", "hybrid"] = "reward"
    correct_score: float = 1.0
    wrong_score: float = -0.5
    format_fail_score: float = -1.0
    replace: bool = True            # score = C(y) + S(L); False: score + S(L) (length term only)
    group_by: GroupBy = "group_id"  # LASER-D: the rollouts of one prompt
    explore: bool = False           # LASER-DE: +alpha for long wrong answers that are not degenerate
    explore_max_repetition: float = 0.5  # "degenerate" = repeated word-trigram rate above this

    @model_validator(mode="after")
    def _one_target(self) -> LaserFullParams:
        if (self.target is None) == (self.targets is None):
            raise ValueError("give either 'target' (LASER) or 'targets' per difficulty bucket (LASER-D)")
        if self.targets is not None and set(self.targets) != {"easy", "medium", "hard"}:
            raise ValueError("targets needs 'easy', 'medium' and 'hard'")
        return self


@register_transform("laser")
class Laser(BaseTransform):
    """LASER / LASER-D / LASER-DE (`rewardkit.shaping.length.laser_reward`): ``C(y) + 1[correct]·S(L)``.

    A missing correctness component counts as not correct and a missing format component as a
    format failure (never a bonus); LASER-D's bucket is the accuracy of the prompt's rollouts in
    this batch (results that are not ok count as not correct). ``info`` gets ``length``,
    ``length_target`` and, for LASER-D, ``difficulty``.
    """

    Params = LaserFullParams

    def apply(self, samples, results):
        from rewardkit.shaping.length import laser_difficulty, laser_reward

        p: LaserFullParams = self.params  # type: ignore[assignment]
        L = _lengths(samples, p)
        comp = _components(results, [p.correct] + ([p.format] if p.format else []))
        correct = np.nan_to_num(comp[:, 0], nan=-np.inf) >= p.correct_min
        formatted = (np.nan_to_num(comp[:, 1], nan=-np.inf) >= p.format_min) if p.format else np.ones(len(results), bool)
        buckets: list[str | None] = [None] * len(results)
        if p.targets is not None:
            keys = group_keys(samples, p.group_by)
            keys = keys if keys is not None else [None] * len(results)
            tally: dict[Any, list[int]] = {}
            for k, c in zip(keys, correct, strict=True):
                t = tally.setdefault(k, [0, 0])
                t[0] += int(c)
                t[1] += 1
            bucket_of = {k: laser_difficulty(*t) for k, t in tally.items()}
            buckets = [bucket_of[k] for k in keys]
        target = np.array([p.target if b is None else p.targets[b] for b in buckets],  # type: ignore[index]
                          dtype=np.float64)
        kw: dict[str, Any] = dict(mode=p.mode, correct_score=p.correct_score, wrong_score=p.wrong_score,
                                  format_fail_score=p.format_fail_score)
        if p.explore:
            from rewardkit.verifiers.repetition import repetition_rate

            kw["explore"] = [repetition_rate(s.completion, 3) <= p.explore_max_repetition for s in samples]
        safe_L = np.nan_to_num(L, nan=0.0)
        full = np.atleast_1d(laser_reward(correct, safe_L, target, formatted=formatted, alpha=p.alpha, **kw))
        base = np.atleast_1d(laser_reward(correct, safe_L, target, formatted=formatted, alpha=0.0, **kw))
        fulls, bases, Ls, targets = full.tolist(), base.tolist(), L.tolist(), target.tolist()
        out = []
        for i, r in enumerate(results):
            if not r.is_ok:
                out.append(r)
            elif not math.isfinite(Ls[i]):
                out.append(self._error(r, f"laser: {_no_length(p)}"))
            else:
                term = fulls[i] - bases[i]
                extra = {"length": Ls[i], "length_target": int(targets[i]), "length_term": term}
                if buckets[i] is not None:
                    extra["difficulty"] = buckets[i]
                out.append(self._shaped(r, fulls[i] if p.replace else r.score + term, **extra))
        return out


class CosineParams(LengthParams):
    correct: str                  # component that says the answer is right (>= correct_min)
    correct_min: float = 1.0
    max_len: int
    correct_short: float = 1.0
    correct_long: float = 0.5
    wrong_short: float = -1.0
    wrong_long: float = -0.5
    exceed: float | None = None   # score beyond max_len; None = the value at max_len
    replace: bool = True          # score = the cosine reward; False: added to the score


@register_transform("cosine_length")
class CosineLength(BaseTransform):
    """Cosine length scaling (`rewardkit.shaping.length.cosine_length_reward`): short correct
    answers earn most, short wrong answers lose most. A missing correctness component = wrong."""

    Params = CosineParams

    def apply(self, samples, results):
        from rewardkit.shaping.length import cosine_length_reward

        p: CosineParams = self.params  # type: ignore[assignment]
        L = _lengths(samples, p)
        correct = np.nan_to_num(_components(results, [p.correct])[:, 0], nan=-np.inf) >= p.correct_min
        v = np.atleast_1d(cosine_length_reward(correct, np.nan_to_num(L, nan=0.0), p.max_len,
                                               correct_short=p.correct_short, correct_long=p.correct_long,
                                               wrong_short=p.wrong_short, wrong_long=p.wrong_long,
                                               exceed=p.exceed))
        out = []
        for r, n, x in zip(results, L, v, strict=True):
            if not r.is_ok:
                out.append(r)
            elif not np.isfinite(n):
                out.append(self._error(r, f"cosine_length: {_no_length(p)}"))
            else:
                out.append(self._shaped(r, float(x) if p.replace else r.score + float(x), length=float(n),
                                        length_reward=float(x)))
        return out

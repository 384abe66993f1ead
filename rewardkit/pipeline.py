"""Composition: named reward components with weights, gates and batch shaping.

A `Pipeline` is itself a reward source, so a server, a trainer adapter or another pipeline uses it
like any single verifier. How component statuses combine (documented once, here):

- ``weight == 0``: the component is a logged metric; its status never affects the total (its
  step/token rewards still count when ``process_weight != 0``: a pure process reward);
- a component with a non-ok status and a ``fill`` value for that status contributes the fill value;
- a ``not_applicable`` component without fill is left out of the sum (mixed datasets: the code
  reward has nothing to say about a math sample);
- any other non-ok component without fill makes the total non-ok (the worst status wins:
  error > timeout > unparseable) with ``score = None`` -- never a silent 0;
- if every weighted component is not applicable, the total is ``not_applicable``;
- a fill hides a status from the total, not from the logs: ``info["status_before_fill"]`` is the
  status the total would have had without fills (summaries and server metrics count that one),
  ``info["filled"]`` maps each filled component to its status;
- a non-ok total says whose fault it is in ``info["fault"]`` (infrastructure if any failed
  component's is, see `rewardkit.status_policy`), for the trainer adapters' status policy;
- with ``shaping:`` transforms, a total the status policy scores (a sample-caused failure: the
  failing score) enters the transforms as that score, with ``info["resolved_before_shaping"]``
  (so a group normalisation counts "no answer" like a wrong answer); masked ones stay non-ok;
- ``gated_by``: the component counts only when the gating component scored ``>= gate_min``;
- ``gate``: the whole score is ``fail_score`` unless the gate component scored ``>= min``.

Step and token rewards (the dense part) of components with ``process_weight != 0`` are scaled by
it and summed by span; `rewardkit.alignment` places them on tokens.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from rewardkit.config import ConfigError, PipelineConfig, RewardSpec, format_validation_error, load_config
from rewardkit.registry import UnknownNameError, get_source_class, get_transform_class
from rewardkit.sources import BaseRewardSource, error_result
from rewardkit.status_policy import combine_faults, fault_of
from rewardkit.types import RewardResult, Sample, Status, StepScore

__all__ = ["Pipeline", "build_pipeline"]


def _build_component(i: int, spec: RewardSpec) -> Any:
    try:
        cls = get_source_class(spec.type)
    except UnknownNameError as e:
        raise ConfigError(f"rewards[{i}].type: {e}") from None
    except (ImportError, AttributeError, ValueError) as e:
        raise ConfigError(f"rewards[{i}].type: cannot load {spec.type!r}: {e}") from None
    params_model = getattr(cls, "Params", None)
    try:
        return cls(name=spec.component, **spec.params)
    except ValidationError as e:
        # a near miss of an entry key (`wieght`) lands among the source's parameters: suggest both
        known = [*RewardSpec.model_fields, *params_model.model_fields] if params_model is not None else None
        raise ConfigError(
            f"rewards[{i}] (type {spec.type!r}): invalid parameters:\n"
            + format_validation_error(e, prefix=f"rewards[{i}]", known=known)
        ) from None
    except TypeError as e:
        raise ConfigError(f"rewards[{i}] (type {spec.type!r}): {e}") from None


class Pipeline(BaseRewardSource):
    """Weighted sum of named reward sources, with gates and shaping transforms."""

    def __init__(self, config: PipelineConfig | dict[str, Any] | str | Path, name: str = "pipeline") -> None:
        self.config = load_config(config)
        self.name = name
        self._is_setup = False
        self.specs = list(self.config.rewards)
        try:
            self._build()
        except ConfigError as e:
            if self.config.source_file is not None:  # name the file, as load_config does
                raise ConfigError(f"{self.config.source_file}: {e}") from None
            raise
        self.steps_from = self.config.steps_from
        self._by_name = {s.component: k for k, s in enumerate(self.specs)}
        only = self.specs[0]
        self._passthrough = (len(self.specs) == 1 and only.weight == 1.0 and not only.fill
                             and only.gated_by is None and self.config.gate is None)

    def _build(self) -> None:
        self.sources = [_build_component(i, s) for i, s in enumerate(self.specs)]
        self.transforms = []
        for i, t in enumerate(self.config.shaping):
            try:
                tcls = get_transform_class(t.type)
                self.transforms.append(tcls(**t.params))
            except UnknownNameError as e:
                raise ConfigError(f"shaping[{i}].type: {e}") from None
            except ValidationError as e:
                raise ConfigError(f"shaping[{i}] (type {t.type!r}): invalid parameters:\n"
                                  + format_validation_error(e, prefix=f"shaping[{i}]")) from None

    # pickling: rebuild from the (validated, plain-data) config in worker processes
    def __getstate__(self) -> dict[str, Any]:
        return {"config": self.config.model_dump(mode="json"), "name": self.name}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["config"], name=state["name"])  # type: ignore[misc]

    def __repr__(self) -> str:
        return f"Pipeline({', '.join(f'{s.component}:{s.type}*{s.weight:g}' for s in self.specs)})"

    @property
    def cpu_heavy(self) -> bool:  # type: ignore[override]
        return any(getattr(s, "cpu_heavy", False) for s in self.sources)

    @property
    def component_names(self) -> list[str]:
        return [s.component for s in self.specs]

    def setup(self) -> None:
        for s in self.sources:
            if hasattr(s, "_ensure_setup"):
                s._ensure_setup()

    def close(self) -> None:
        for s in self.sources:
            if hasattr(s, "close"):
                s.close()

    # scoring ----------------------------------------------------------------------------------
    def _run_component(self, k: int, samples: Sequence[Sample]) -> list[RewardResult]:
        src = self.sources[k]
        try:
            res = src.score(samples)
        except Exception as exc:  # noqa: BLE001 - a crashing source fails its component only
            err = error_result(exc, where=self.specs[k].component)
            res = [RewardResult.fail(Status.ERROR, info=dict(err.info)) for _ in samples]
        if len(res) != len(samples):
            raise RuntimeError(f"component {self.specs[k].component!r} returned {len(res)} results "
                               f"for {len(samples)} samples")
        return res

    def score_batch(self, samples: Sequence[Sample]) -> list[RewardResult]:
        per_comp = [self._run_component(k, samples) for k in range(len(self.sources))]
        return self._finish(samples, per_comp)

    async def ascore(self, samples: Sequence[Sample]) -> list[RewardResult]:
        if not samples:
            return []
        self._ensure_setup()

        async def run(k: int) -> list[RewardResult]:
            src = self.sources[k]
            try:
                return await src.ascore(samples)
            except Exception as exc:  # noqa: BLE001
                err = error_result(exc, where=self.specs[k].component)
                return [RewardResult.fail(Status.ERROR, info=dict(err.info)) for _ in samples]

        per_comp = await asyncio.gather(*(run(k) for k in range(len(self.sources))))
        return self._finish(samples, list(per_comp))

    def _finish(self, samples: Sequence[Sample], per_comp: list[list[RewardResult]]) -> list[RewardResult]:
        return self.shape(samples, [self.combine([c[i] for c in per_comp]) for i in range(len(samples))])

    def shape(self, samples: Sequence[Sample], results: Sequence[RewardResult]) -> list[RewardResult]:
        """Apply the ``shaping:`` transforms to combined results (offline scoring combines in worker
        processes and shapes whole groups later, in the parent)."""
        out = list(results)
        if self.transforms:
            out = [self._resolve_for_shaping(r) for r in out]
        for t in self.transforms:
            out = t(samples, out)
        return out

    def _resolve_for_shaping(self, r: RewardResult) -> RewardResult:
        """A result as the shaping transforms must see it: a failure the status policy scores (the
        sample's own: no answer, over budget) becomes that score, so that group statistics count it
        like the wrong answer it is -- otherwise a group ``[correct, wrong, no answer]`` would give
        the no-answer sample advantage 0, above the wrong one. Masked failures stay non-ok (left out
        of every statistic)."""
        if r.status is Status.OK:
            return r
        score, valid = self.config.status_policy.resolve(r)
        if not valid:
            return r
        info = dict(r.info)
        info.setdefault("status_before_fill", r.status.value)
        info["resolved_before_shaping"] = r.status.value
        return replace(r, score=score, status=Status.OK, info=info)

    def combine(self, parts: Sequence[RewardResult]) -> RewardResult:
        """Combine one sample's component results (one per spec, in order) into the total."""
        if self._passthrough:  # one plain component: the same rules, without the bookkeeping
            r = parts[0]
            name = self.specs[0].component
            info = {name: r.info} if r.info else {}
            if r.status is Status.OK:
                tok_scores, tok_spans = self._tokens(parts)
                return RewardResult(r.score, Status.OK, {name: r.score}, self._steps(parts),
                                    tok_scores, tok_spans, info)
            if r.status is not Status.NOT_APPLICABLE:
                info["failed_components"] = [name]
                info["fault"] = fault_of(r).value  # type: ignore[union-attr]
            return RewardResult(None, r.status, {name: None}, self._steps(parts) if r.status is not
                                Status.NOT_APPLICABLE else None, info=info)
        specs = self.specs
        values: dict[str, float | None] = {}
        for spec, r in zip(specs, parts, strict=True):
            values[spec.component] = r.score if r.status is Status.OK else spec.fill.get(r.status)

        total = 0.0
        applicable = False
        worst: Status | None = None
        info: dict[str, Any] = {}
        for spec, r in zip(specs, parts, strict=True):
            if r.info:
                info[spec.component] = r.info
            if spec.weight == 0.0:
                # a pure process reward (dense part only) still makes the sample scorable
                if r.status is Status.OK and spec.process_weight != 0.0 and (r.steps or r.token_scores):
                    applicable = True
                continue
            v = values[spec.component]
            if v is None:
                if r.status is Status.NOT_APPLICABLE:
                    continue
                if worst is None or r.status.severity > worst.severity:
                    worst = r.status
                continue
            if spec.gated_by is not None:
                g = values[spec.gated_by]
                if g is None or g < spec.gate_min:
                    applicable = True
                    continue
            total += spec.weight * v
            applicable = True

        filled = {s.component: r.status.value for s, r in zip(specs, parts, strict=True)
                  if s.weight != 0.0 and r.status is not Status.OK and values[s.component] is not None}
        if filled:
            info["filled"] = filled
            info["status_before_fill"] = _status_without_fill(specs, parts).value
        gate = self.config.gate
        if gate is not None:
            g = values[gate.component]
            if g is None or g < gate.min:
                info["gate"] = f"failed: {gate.component}={g} < {gate.min}"
                return RewardResult(score=gate.fail_score, status=Status.OK, components=values,
                                    steps=self._steps(parts), info=info)
        if worst is not None:
            bad = [s.component for s, r in zip(specs, parts, strict=True) if s.weight != 0 and values[s.component] is None
                   and r.status is not Status.NOT_APPLICABLE]
            info["failed_components"] = bad
            info["fault"] = combine_faults([r for s, r in zip(specs, parts, strict=True)
                                            if s.component in bad]).value  # type: ignore[union-attr]
            return RewardResult(score=None, status=worst, components=values, steps=self._steps(parts), info=info)
        if not applicable:
            return RewardResult(score=None, status=Status.NOT_APPLICABLE, components=values, info=info)
        steps = self._steps(parts)
        tok_scores, tok_spans = self._tokens(parts)
        return RewardResult(score=total, status=Status.OK, components=values, steps=steps,
                            token_scores=tok_scores, token_spans=tok_spans, info=info)

    def _steps(self, parts: Sequence[RewardResult]) -> list[StepScore] | None:
        if self.steps_from is not None:
            k = self._by_name[self.steps_from]
            return self._scaled_steps([(self.specs[k], parts[k])])
        return self._scaled_steps(list(zip(self.specs, parts, strict=True)))

    @staticmethod
    def _scaled_steps(pairs: list[tuple[RewardSpec, RewardResult]]) -> list[StepScore] | None:
        with_steps = [(s, r) for s, r in pairs if r.steps is not None and s.process_weight != 0.0]
        if not with_steps:
            return None
        if len(with_steps) == 1:
            s, r = with_steps[0]
            if s.process_weight == 1.0:
                return r.steps
            return [StepScore(x.start, x.end, None if x.score is None else s.process_weight * x.score)
                    for x in r.steps]  # type: ignore[union-attr]
        acc: dict[tuple[int, int], float | None] = {}
        for s, r in with_steps:
            for x in r.steps:  # type: ignore[union-attr]
                key = (x.start, x.end)
                prev = acc.get(key, 0.0)
                acc[key] = None if (x.score is None or prev is None) else prev + s.process_weight * x.score
        return [StepScore(a, b, v) for (a, b), v in sorted(acc.items())]

    def _tokens(self, parts: Sequence[RewardResult]) -> tuple[list[float] | None, list[tuple[int, int]] | None]:
        with_tok = [(s, r) for s, r in zip(self.specs, parts, strict=True)
                    if r.token_scores is not None and s.process_weight != 0.0]
        if not with_tok:
            return None, None
        if len(with_tok) > 1:
            # different tokenisations cannot be summed index-wise; merge by character span
            acc: dict[tuple[int, int], float] = {}
            for s, r in with_tok:
                if r.token_spans is None:
                    raise ValueError("several components produce token rewards; each needs token_spans")
                for sp, v in zip(r.token_spans, r.token_scores, strict=True):  # type: ignore[arg-type]
                    acc[tuple(sp)] = acc.get(tuple(sp), 0.0) + s.process_weight * v
            keys = sorted(acc)
            return [acc[k] for k in keys], keys
        s, r = with_tok[0]
        scores = r.token_scores if s.process_weight == 1.0 else [s.process_weight * v for v in r.token_scores]
        return scores, r.token_spans


def _status_without_fill(specs: Sequence[RewardSpec], parts: Sequence[RewardResult]) -> Status:
    """The total's status had no component been filled (the same rules as `Pipeline.combine`)."""
    weighted = [r.status for s, r in zip(specs, parts, strict=True) if s.weight != 0.0]
    bad = [st for st in weighted if st is not Status.OK and st is not Status.NOT_APPLICABLE]
    if bad:
        return max(bad, key=lambda st: st.severity)
    if weighted and all(st is Status.NOT_APPLICABLE for st in weighted):
        return Status.NOT_APPLICABLE
    return Status.OK


def build_pipeline(config: PipelineConfig | dict[str, Any] | str | Path) -> Pipeline:
    """Build a pipeline from a config file path, a dict, or a `PipelineConfig`."""
    return Pipeline(config)

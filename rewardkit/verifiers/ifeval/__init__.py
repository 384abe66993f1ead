"""IFEval-compatible instruction following as a reward source (registered as ``ifeval``).

Each sample carries its instructions in ``reference`` under IFEval's own field names::

    {"instruction_id_list": ["punctuation:no_comma", "length_constraints:number_words"],
     "kwargs": [{}, {"num_words": 300, "relation": "at least"}]}

or the config fixes them for every sample (``instructions: [{id: ..., kwargs: {...}}]``; checked
when the pipeline is built). Metrics follow IFEval (Zhou et al., arXiv 2311.07911):

- *strict*: the response as given (an empty/whitespace response follows nothing);
- *loose*: an instruction counts as followed if any of 8 variants of the response follows it
  (first and/or last line removed, ``*`` markup removed);
- *prompt-level*: all instructions of the sample followed; *instruction-level*: the fraction.

Score: ``score_by`` (default ``prompt_strict``, IFEval's headline metric). Components:
``prompt_strict``, ``prompt_loose``, ``instruction_strict``, ``instruction_loose``.
``info["followed_strict"]`` / ``info["followed_loose"]`` keep the per-instruction verdicts, so
instruction-level accuracy over a data set (IFEval micro-averages) is recomputable.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from rewardkit.registry import register_source
from rewardkit.sources import SampleRewardSource, SourceParams
from rewardkit.types import RewardResult, Sample, Status
from rewardkit.verifiers.ifeval.checkers import (
    EXTRA_INSTRUCTION_IDS,
    INSTRUCTION_IDS,
    Check,
    build_check,
    loose_variants,
)

__all__ = ["IFEval", "IFEvalParams", "follows", "INSTRUCTION_IDS", "EXTRA_INSTRUCTION_IDS", "build_check"]

ScoreBy = Literal["prompt_strict", "prompt_loose", "instruction_strict", "instruction_loose"]


class InstructionSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    kwargs: dict[str, Any] = Field(default_factory=dict)


class IFEvalParams(SourceParams):
    #: fixed instructions for every sample; None = read them from each sample's reference
    instructions: list[InstructionSpec] | None = None
    score_by: ScoreBy = "prompt_strict"
    #: verdict of the language checks when no language is detectable (IFEval: followed)
    undetectable_language: Literal["follow", "fail"] = "follow"

    @field_validator("instructions")
    @classmethod
    def _valid(cls, v: list[InstructionSpec] | None) -> list[InstructionSpec] | None:
        if v is not None:
            if not v:
                raise ValueError("instructions: give at least one, or leave it out to read them from reference")
            for i, spec in enumerate(v):
                try:
                    build_check(spec.id, spec.kwargs)
                except ValueError as e:
                    raise ValueError(f"instructions[{i}]: {e}") from None
        return v


def _followed(check: Check, variants: list[str]) -> bool:
    for v in variants:
        try:
            if check(v):
                return True
        except ValueError:  # a checker that rejects the response's form (rephrase): not followed
            continue
    return False


def follows(checks: list[Check], response: str, *, loose: bool) -> list[bool]:
    """Per-instruction verdicts for one response (IFEval's strict or loose rule)."""
    variants = [v for v in (loose_variants(response) if loose else [response]) if v.strip()]
    return [_followed(c, variants) for c in checks]


def _from_reference(ref: Any) -> list[tuple[str, dict[str, Any]]]:
    if not isinstance(ref, dict):
        raise ValueError(f"reference must be an object with 'instruction_id_list' and 'kwargs', got {type(ref).__name__}")
    if "instruction_id_list" not in ref:
        raise ValueError(f"reference has no 'instruction_id_list' (keys: {sorted(ref)})")
    ids = ref["instruction_id_list"]
    kws = ref.get("kwargs")
    if kws is None:
        kws = [{} for _ in ids]
    if not isinstance(ids, list) or not isinstance(kws, list) or len(ids) != len(kws):
        raise ValueError("reference 'instruction_id_list' and 'kwargs' must be lists of the same length")
    return [(i, k or {}) for i, k in zip(ids, kws, strict=True)]


@register_source("ifeval")
class IFEval(SampleRewardSource):
    """IFEval instruction following: strict/loose, prompt-/instruction-level (see module doc)."""

    Params = IFEvalParams
    cpu_heavy = True  # milliseconds per response (langdetect, Punkt): worth a process pool in the server

    def setup(self) -> None:
        p: IFEvalParams = self.params  # type: ignore[assignment]
        self._ok_undetectable = p.undetectable_language == "follow"
        self._fixed = None
        if p.instructions is not None:
            self._fixed = ([s.id for s in p.instructions],
                           [build_check(s.id, s.kwargs, undetectable_ok=self._ok_undetectable) for s in p.instructions])
        self._cache: dict[tuple[str, str], Check] = {}
        from rewardkit.verifiers.ifeval.text import warm_up

        warm_up()

    def _checks(self, ref: Any) -> tuple[list[str], list[Check]]:
        if self._fixed is not None:
            return self._fixed
        ids, checks = [], []
        for k, (iid, kw) in enumerate(_from_reference(ref)):
            key = (iid, repr(sorted(kw.items())))
            check = self._cache.get(key)
            if check is None:
                try:
                    check = build_check(iid, kw, undetectable_ok=self._ok_undetectable)
                except ValueError as e:
                    raise ValueError(f"reference.kwargs[{k}]: {e}") from None
                if len(self._cache) < 100_000:
                    self._cache[key] = check
            ids.append(iid)
            checks.append(check)
        return ids, checks

    def score_one(self, sample: Sample) -> RewardResult:
        try:
            ids, checks = self._checks(sample.reference)
        except ValueError as e:
            return RewardResult.fail(Status.ERROR, str(e))
        if not checks:
            return RewardResult.fail(Status.NOT_APPLICABLE, "no instructions for this sample")
        strict = follows(checks, sample.completion, loose=False)
        loose = strict
        if not all(strict):  # loose >= strict (the response is its own first variant): re-check failures only
            variants = [v for v in loose_variants(sample.completion)[1:] if v.strip()]
            loose = [s or _followed(c, variants) for s, c in zip(strict, checks, strict=True)]
        n = len(checks)
        comps = {
            "prompt_strict": float(all(strict)),
            "prompt_loose": float(all(loose)),
            "instruction_strict": sum(strict) / n,
            "instruction_loose": sum(loose) / n,
        }
        score_by: str = self.params.score_by  # type: ignore[attr-defined]
        # the metrics also go to info: a Pipeline keeps each component's info, not its components
        return RewardResult(comps[score_by], Status.OK, comps,
                            info={"components": dict(comps), "instruction_ids": ids, "followed_strict": strict,
                                  "followed_loose": loose})

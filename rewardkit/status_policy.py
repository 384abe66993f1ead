"""What a trainer receives for a result that has no score: one policy for every consumer.

A non-ok status says *whose fault* it is. The sample's own failures (no extractable answer, a
malformed tool call, an expression that blows the verifier's budget) must cost the policy that
produced them -- otherwise not answering, or looping forever, escapes the penalty a wrong answer
gets. Infrastructure failures (sandbox or remote unavailable, judge backend down, a bug) say
nothing about the sample, so they are masked wherever the trainer can mask.

A source states the fault of a result in ``info["fault"]`` (``"sample"`` or ``"infrastructure"``);
without it, the status decides (`DEFAULT_FAULTS`). Defaults:

| status            | fault (default)  | trainer receives (default)                     |
|-------------------|------------------|------------------------------------------------|
| ``ok``            | --               | the score                                      |
| ``unparseable``   | sample           | ``failing_score`` (0.0), valid                 |
| ``timeout``       | sample           | ``failing_score`` (0.0), valid                 |
| ``error``         | infrastructure   | masked (``masked_score`` 0.0 with valid=False) |
| ``not_applicable``| --               | masked: not a reward                           |

"masked" means: TRL gets ``None`` (the function is left out for that completion), the bundled
trainer ``valid=False``; verl and OpenRLHF need a number, so they get ``masked_score`` with a
``valid`` flag of 0. Every rule can be changed per status (``statuses: {timeout: mask}``) in the
pipeline YAML (``status_policy:``) and in every adapter's arguments.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from rewardkit.types import RewardResult, Status

__all__ = ["Fault", "Action", "StatusPolicy", "DEFAULT_FAULTS", "fault_of", "with_fault", "combine_faults",
           "status_before_fill"]


class Fault(str, Enum):
    """Who caused a non-ok result."""

    SAMPLE = "sample"
    INFRASTRUCTURE = "infrastructure"

    def __str__(self) -> str:
        return self.value


#: Fault assumed when a result does not say (``info["fault"]``). A timeout counts as the sample's
#: by default: a policy could otherwise escape its penalty with pathological output.
DEFAULT_FAULTS: dict[Status, Fault] = {
    Status.UNPARSEABLE: Fault.SAMPLE,
    Status.TIMEOUT: Fault.SAMPLE,
    Status.ERROR: Fault.INFRASTRUCTURE,
}

#: ``"fail"``: the failing score, valid; ``"mask"``: leave it out (or ``masked_score`` with
#: valid=False where the consumer needs a number); a number: that score, valid.
Action = Literal["fail", "mask"] | float


def fault_of(result: RewardResult) -> Fault | None:
    """The fault of a non-ok result (``None`` for ok and not_applicable)."""
    if result.status is Status.OK or result.status is Status.NOT_APPLICABLE:
        return None
    said = result.info.get("fault") if result.info else None
    if said is not None:
        try:
            return Fault(said)
        except ValueError:
            pass  # an unknown value falls back to the status' default, never crashes a batch
    return DEFAULT_FAULTS[result.status]


def status_before_fill(result: RewardResult | Mapping[str, Any]) -> str:
    """The status a result had before a pipeline ``fill`` made it ok (what summaries and metrics
    count: a fill changes the reward, not what happened). Takes a result or its ``to_dict()``."""
    if isinstance(result, RewardResult):
        info, status = result.info, result.status.value
    else:
        info, status = result.get("info") or {}, str(result.get("status", "ok"))
    before = info.get("status_before_fill") if isinstance(info, Mapping) else None
    return str(before) if before else status


def with_fault(result: RewardResult, fault: Fault | str) -> RewardResult:
    """``result`` with ``info["fault"]`` set (for sources that know better than the default)."""
    result.info["fault"] = Fault(fault).value
    return result


def combine_faults(results: Sequence[RewardResult]) -> Fault | None:
    """Fault of a total built from failed parts: infrastructure if any part's is, else sample."""
    faults = [f for f in (fault_of(r) for r in results) if f is not None]
    if not faults:
        return None
    return Fault.INFRASTRUCTURE if Fault.INFRASTRUCTURE in faults else Fault.SAMPLE


class StatusPolicy(BaseModel):
    """Turns any result into ``(score, valid)``; see the module docstring for the defaults.

    Built from keyword arguments or a YAML mapping (``StatusPolicy.model_validate(d)``); per-status
    rules in ``statuses`` win over the fault-based ones.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    failing_score: float = 0.0  # what a sample-caused failure scores (the source's worst score)
    masked_score: float = 0.0  # the number sent for a masked result where a number is required
    sample: Action = "fail"  # results that are the sample's fault
    infrastructure: Action = "mask"  # results that are the infrastructure's fault
    not_applicable: Action = "mask"  # the source has nothing to say: not a reward
    statuses: dict[Status, Action] = Field(default_factory=dict)  # per-status override

    @field_validator("statuses")
    @classmethod
    def _no_ok(cls, v: dict[Status, Action]) -> dict[Status, Action]:
        if Status.OK in v:
            raise ValueError("'statuses' sets rules for non-ok statuses; 'ok' always gives its score")
        return v

    @classmethod
    def coerce(cls, policy: StatusPolicy | Mapping[str, Any] | None) -> StatusPolicy:
        """A policy from a policy, a mapping (YAML) or ``None`` (the defaults)."""
        if policy is None:
            return cls()
        if isinstance(policy, cls):
            return policy
        return cls.model_validate(dict(policy))

    def with_fills(self, fill: Mapping[str | Status, float] | None) -> StatusPolicy:
        """This policy with ``{status: score}`` rules added (the adapters' ``fill`` argument)."""
        if not fill:
            return self
        extra = {Status(k): float(v) for k, v in fill.items()}
        if Status.OK in extra:
            raise ValueError("fill maps non-ok statuses to scores; 'ok' cannot be filled")
        return self.model_copy(update={"statuses": {**self.statuses, **extra}})

    def action(self, result: RewardResult) -> Action:
        """The rule that applies to ``result`` (``ok`` results never reach it)."""
        st = result.status
        if st in self.statuses:
            return self.statuses[st]
        if st is Status.NOT_APPLICABLE:
            return self.not_applicable
        return self.sample if fault_of(result) is Fault.SAMPLE else self.infrastructure

    def resolve(self, result: RewardResult) -> tuple[float, bool]:
        """``(score, valid)``: ``valid=False`` means "mask it" (the score is then ``masked_score``)."""
        if result.status is Status.OK:
            return result.score, True  # type: ignore[return-value]
        act = self.action(result)
        if act == "fail":
            return self.failing_score, True
        if act == "mask":
            return self.masked_score, False
        return float(act), True

    def resolve_batch(self, results: Sequence[RewardResult]) -> tuple[list[float], list[bool]]:
        """`resolve` over a batch: ``(scores, valid)`` lists in order."""
        scores: list[float] = []
        valid: list[bool] = []
        for r in results:
            s, v = self.resolve(r)
            scores.append(s)
            valid.append(v)
        return scores, valid

    def resolve_or_none(self, results: Sequence[RewardResult]) -> list[float | None]:
        """For consumers that mask with ``None`` (TRL): the score, or ``None`` where masked."""
        scores, valid = self.resolve_batch(results)
        return [s if v else None for s, v in zip(scores, valid, strict=True)]

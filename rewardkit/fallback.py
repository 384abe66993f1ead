"""`Fallback` (registered as ``fallback``): ask a second source when the first cannot decide.

```yaml
- type: fallback
  primary: {type: math}
  secondary: {type: judge, mode: reference, rubric: correctness,
              base_url: "http://127.0.0.1:8000/v1", model: my-judge}
  on: [unparseable]          # statuses of the primary that hand the sample to the secondary
```

The typical use is a reference-guided LLM judge behind a rule verifier: the verifier decides
every answer it can parse (fast, exact), and only answers it cannot read ("the answer is four",
an unusual notation) go to the judge. ``info["fallback"]`` records the primary's status and, when
the secondary answered, its source. A status not listed in ``on`` (for example ``error`` from a
crashed primary) is returned as it is, so the status policy still sees whose fault it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import field_validator

from rewardkit.registry import build_source, register_source
from rewardkit.sources import BaseRewardSource, SourceParams
from rewardkit.types import RewardResult, Sample, Status

__all__ = ["Fallback", "FallbackParams"]


class FallbackParams(SourceParams):
    primary: dict[str, Any]
    secondary: dict[str, Any]
    on: list[Status] = [Status.UNPARSEABLE]

    @field_validator("primary", "secondary")
    @classmethod
    def _has_type(cls, v: dict[str, Any]) -> dict[str, Any]:
        if "type" not in v:
            raise ValueError("a source spec needs 'type' (e.g. {type: math})")
        return v


def _build(spec: dict[str, Any], role: str) -> Any:
    spec = dict(spec)
    return build_source(spec.pop("type"), name=spec.pop("name", role), **spec)


@register_source("fallback")
class Fallback(BaseRewardSource):
    """The primary source's result, or the secondary's where the primary's status is in ``on``."""

    Params = FallbackParams

    def __init__(self, name: str | None = None, **params: Any) -> None:
        super().__init__(name=name, **params)
        p: FallbackParams = self.params  # type: ignore[assignment]
        self.primary = _build(p.primary, "primary")  # built (validated) now; their setup stays lazy
        self.secondary = _build(p.secondary, "secondary")
        self.prefers_async = bool(getattr(self.secondary, "prefers_async", False) or
                                  getattr(self.primary, "prefers_async", False))

    def _merge(self, first: list[RewardResult], idx: list[int], second: list[RewardResult]) -> list[RewardResult]:
        out = list(first)
        for i, r in zip(idx, second, strict=True):
            r.info["fallback"] = {"primary_status": first[i].status.value, "used": self.secondary.name}
            out[i] = r
        handed = set(idx)
        for i, r in enumerate(out):
            if i not in handed:
                r.info.setdefault("fallback", {"primary_status": r.status.value, "used": None})
        return out

    def score_batch(self, samples: Sequence[Sample]) -> list[RewardResult]:
        first = self.primary.score(samples)
        on = set(self.params.on)  # type: ignore[attr-defined]
        idx = [i for i, r in enumerate(first) if r.status in on]
        second = self.secondary.score([samples[i] for i in idx]) if idx else []
        return self._merge(first, idx, second)

    async def ascore(self, samples: Sequence[Sample]) -> list[RewardResult]:
        if not samples:
            return []
        first = await self.primary.ascore(samples)
        on = set(self.params.on)  # type: ignore[attr-defined]
        idx = [i for i, r in enumerate(first) if r.status in on]
        second = await self.secondary.ascore([samples[i] for i in idx]) if idx else []
        return self._merge(first, idx, second)

    def close(self) -> None:
        for s in (self.primary, self.secondary):
            if hasattr(s, "close"):
                s.close()
        self._is_setup = False

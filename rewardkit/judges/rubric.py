"""Rubrics as data: what a judge is asked to grade, and how its per-criterion answers combine.

A rubric is YAML validated by pydantic (an unknown or misspelt key is an error naming the key):

```yaml
name: helpfulness
version: 1
description: How well the response helps the user with their request.
criteria:
  - name: relevance
    weight: 1
    description: Does the response address what was asked?
    choices: [off-topic, partly relevant, fully relevant]     # worst -> best
  - name: accuracy
    weight: 2
    description: Are the claims correct?
    scale: {min: 1, max: 10, anchors: {1: mostly wrong, 10: fully correct}}
constraints:                                                   # hard constraints veto the score
  - name: no_harm
    description: The response gives no instructions for causing serious harm.
aggregation: weighted_mean        # or: min, all_must_pass
score_scale: {min: 1, max: 10}    # the overall ``score`` a judge may give instead of criteria
```

Every criterion is normalised to [0, 1] (choice ``i`` of ``n``: ``i/(n-1)``; a scale value ``v``:
``(v-min)/(max-min)``), so rubrics with different scales compose. The rubric's ``version`` and a
hash of its content are part of the judge cache key: editing a rubric never returns stale scores.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

__all__ = ["Scale", "Criterion", "Constraint", "Rubric", "load_rubric", "builtin_rubrics", "RubricError"]


class RubricError(ValueError):
    """A rubric that does not validate; the message names the file and the key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Scale(_Strict):
    """A numeric scale ``[min, max]`` with optional anchor descriptions for some values."""

    min: float = 1
    max: float = 10
    anchors: dict[float, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> Scale:
        if not self.max > self.min:
            raise ValueError(f"scale max ({self.max}) must be greater than min ({self.min})")
        for a in self.anchors:
            if not self.min <= a <= self.max:
                raise ValueError(f"anchor {a} is outside the scale [{self.min}, {self.max}]")
        return self

    def normalise(self, value: float) -> float | None:
        """Value mapped to [0, 1]; None when the judge answered outside the scale."""
        if not self.min <= value <= self.max:
            return None
        return (value - self.min) / (self.max - self.min)

    def describe(self) -> str:
        txt = f"a number from {self.min:g} to {self.max:g}"
        if self.anchors:
            txt += " (" + "; ".join(f"{k:g} = {v}" for k, v in sorted(self.anchors.items())) + ")"
        return txt


class Criterion(_Strict):
    """One graded aspect: ordered ``choices`` (worst to best) or a numeric ``scale``."""

    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    description: str
    weight: float = Field(default=1.0, ge=0)
    choices: list[str] | None = None
    scale: Scale | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Criterion:
        if (self.choices is None) == (self.scale is None):
            raise ValueError(f"criterion {self.name!r} needs exactly one of 'choices' or 'scale'")
        if self.choices is not None and (len(self.choices) < 2 or len(set(self.choices)) != len(self.choices)):
            raise ValueError(f"criterion {self.name!r}: 'choices' needs at least two distinct entries")
        return self

    def normalise(self, answer: object) -> float | None:
        """A judge's answer for this criterion (a choice label, its index, or a number) in [0, 1]."""
        if self.choices is not None:
            n = len(self.choices)
            if isinstance(answer, str):
                key = answer.strip().lower()
                for i, c in enumerate(self.choices):
                    if c.lower() == key:
                        return i / (n - 1)
                return None
            if isinstance(answer, (int, float)) and not isinstance(answer, bool) and float(answer).is_integer():
                i = int(answer)
                return i / (n - 1) if 0 <= i < n else None
            return None
        assert self.scale is not None
        if isinstance(answer, bool) or not isinstance(answer, (int, float)):
            return None
        return self.scale.normalise(float(answer))

    def describe(self) -> str:
        if self.choices is not None:
            opts = ", ".join(json.dumps(c) for c in self.choices)
            return f"{self.name}: {self.description} Answer with one of (worst to best): {opts}."
        assert self.scale is not None
        return f"{self.name}: {self.description} Answer with {self.scale.describe()}."


class Constraint(_Strict):
    """A hard requirement: when the judge says it is violated the score becomes ``fail_score``."""

    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    description: str
    fail_score: float = Field(default=0.0, ge=0, le=1)


class Rubric(_Strict):
    """A grading rubric: criteria, hard constraints and how they aggregate to a score in [0, 1]."""

    name: str
    version: int | str = 1
    description: str = ""
    criteria: list[Criterion] = Field(default_factory=list)
    constraints: list[Constraint] = Field(default_factory=list)
    aggregation: Literal["weighted_mean", "min", "all_must_pass"] = "weighted_mean"
    pass_threshold: float = Field(default=0.5, ge=0, le=1)  # all_must_pass: each criterion >= this
    score_scale: Scale = Field(default_factory=Scale)
    uses_reference: bool = False

    @model_validator(mode="after")
    def _check(self) -> Rubric:
        names = [c.name for c in self.criteria] + [c.name for c in self.constraints]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"duplicate criterion/constraint names: {sorted(dup)}")
        if self.aggregation == "weighted_mean" and self.criteria and sum(c.weight for c in self.criteria) <= 0:
            raise ValueError("weighted_mean needs at least one criterion with a positive weight")
        return self

    @property
    def fingerprint(self) -> str:
        """Content hash: part of the cache key, so any edit to the rubric invalidates cached grades."""
        blob = json.dumps(self.model_dump(mode="json"), sort_keys=True).encode()
        return f"{self.name}@{self.version}:{hashlib.sha256(blob).hexdigest()[:16]}"

    def aggregate(self, per_criterion: Mapping[str, float]) -> float:
        """Combine normalised criterion scores (every criterion present) into one score in [0, 1]."""
        vals = [(c, per_criterion[c.name]) for c in self.criteria]
        if self.aggregation == "min":
            return min(v for _, v in vals)
        if self.aggregation == "all_must_pass":
            return 1.0 if all(v >= self.pass_threshold for _, v in vals) else 0.0
        total = sum(c.weight for c, _ in vals)
        return sum(c.weight * v for c, v in vals) / total


def _package_rubrics() -> dict[str, str]:
    folder = resources.files("rewardkit.judges") / "rubrics"
    return {p.name.rsplit(".", 1)[0]: p.read_text(encoding="utf-8")
            for p in folder.iterdir() if p.name.endswith(".yaml")}


def builtin_rubrics() -> list[str]:
    """Names of the rubrics shipped with rewardkit."""
    return sorted(_package_rubrics())


def _parse(text: str, origin: str) -> Rubric:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise RubricError(f"{origin}: not valid YAML: {e}") from None
    if not isinstance(data, dict):
        raise RubricError(f"{origin}: a rubric is a mapping with 'name' and 'criteria'")
    try:
        return Rubric.model_validate(data)
    except ValidationError as e:
        lines = []
        for err in e.errors():
            key = ".".join(str(p) for p in err["loc"]) or "(top level)"
            lines.append(f"{origin}: {key}: {err['msg']}")
        raise RubricError("\n".join(lines)) from None


def load_rubric(spec: str | Path | Mapping | Rubric) -> Rubric:
    """A rubric from a built-in name, a YAML path, a mapping, or a `Rubric`."""
    if isinstance(spec, Rubric):
        return spec
    if isinstance(spec, Mapping):
        return _parse(yaml.safe_dump(dict(spec)), "rubric")
    builtin = _package_rubrics()
    if isinstance(spec, str) and spec in builtin:
        return _parse(builtin[spec], f"built-in rubric {spec!r}")
    path = Path(spec)
    if path.is_file():
        return _parse(path.read_text(encoding="utf-8"), str(path))
    raise RubricError(f"rubric {str(spec)!r} is neither a built-in rubric ({', '.join(sorted(builtin))}) "
                      "nor an existing YAML file")

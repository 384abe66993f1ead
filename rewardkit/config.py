"""Pipeline configuration: a YAML/TOML file validated with pydantic.

```yaml
rewards:
  - type: numeric          # a registered reward source (``rewardkit list``) or "pkg.mod:Class"
    name: correct          # component name (default: the type)
    weight: 1.0            # weight of the sequence score in the sum; 0 = logged metric only
    fill: {unparseable: 0.0}   # explicit score for these statuses (default: none -> status kept)
    tolerance: 1.0e-6      # ...any other key is a parameter of the source, validated by it
  - type: step_arithmetic
    weight: 0.0
    process_weight: 1.0    # scale of the source's step/token rewards (dense part)
gate: {component: format, min: 1.0, fail_score: 0.0}
shaping: []                # batch transforms, see ``rewardkit list``
status_policy:             # what trainers get for results without a score (rewardkit.status_policy)
  statuses: {timeout: mask}
```

Every error names the offending key (``rewards[1].weight``) and, for unknown keys, lists the
known ones.
"""

from __future__ import annotations

import difflib
import sys
from pathlib import Path
from typing import Any

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from rewardkit.status_policy import StatusPolicy
from rewardkit.types import Status

__all__ = ["RewardSpec", "GateSpec", "PipelineConfig", "ConfigError", "load_config", "format_validation_error",
           "reward_entry_keys", "top_level_keys", "suggest_key"]


class ConfigError(ValueError):
    """A pipeline config is invalid. The message names the key and what was expected."""


class RewardSpec(BaseModel):
    """One component of a pipeline. Keys other than the ones below are the source's parameters."""

    model_config = ConfigDict(extra="allow", frozen=True)

    type: str = Field(description="registered source (rewardkit list) or 'my_pkg.module:MySource'")
    name: str | None = Field(None, description="component name (default: the type)")
    weight: float = Field(1.0, description="weight of its sequence score in the sum; 0 = logged metric only")
    process_weight: float = Field(1.0, description="scale of its step/token rewards (the dense part)")
    fill: dict[Status, float] = Field(default_factory=dict,
                                      description="score for a non-ok status, e.g. {unparseable: 0.0}; "
                                                  "without it the status is kept")
    gated_by: str | None = Field(None, description="component that must score >= gate_min for this one to count")
    gate_min: float = Field(1.0, description="threshold for gated_by")

    @field_validator("fill")
    @classmethod
    def _no_ok_fill(cls, v: dict[Status, float]) -> dict[Status, float]:
        if Status.OK in v:
            raise ValueError("'fill' maps non-ok statuses to scores; 'ok' cannot be filled")
        return v

    @property
    def component(self) -> str:
        return self.name or self.type

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class GateSpec(BaseModel):
    """The whole reward is ``fail_score`` unless component ``component`` scores at least ``min``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    component: str = Field(description="component that must pass")
    min: float = Field(1.0, description="its score must be at least this")
    fail_score: float = Field(0.0, description="the whole reward when it does not")


class TransformSpec(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    type: str

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class PipelineConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rewards: list[RewardSpec] = Field(min_length=1, description="the reward components (required)")
    gate: GateSpec | None = Field(None, description="{component, min, fail_score}: the whole reward is "
                                                    "fail_score unless component scores >= min")
    shaping: list[TransformSpec] = Field(default_factory=list,
                                         description="batch transforms, each {type: NAME, ...params}")
    steps_from: str | None = Field(None, description="component whose step scores fill the output's "
                                                     "`steps` (default: every process reward)")
    status_policy: StatusPolicy = Field(default_factory=StatusPolicy,
                                        description="what trainers get for results without a score "
                                                    "(rewardkit.status_policy)")
    _source: str | None = PrivateAttr(None)  # the file it was read from, for error messages

    @property
    def source_file(self) -> str | None:
        """The file this config was read from (None for a dict)."""
        return self._source

    def __eq__(self, other: object) -> bool:  # the same keys are the same config, wherever read from
        if not isinstance(other, PipelineConfig):
            return NotImplemented
        return self.__dict__ == other.__dict__

    @model_validator(mode="after")
    def _check_names(self) -> PipelineConfig:
        names = [r.component for r in self.rewards]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"component names must be unique; repeated: {dup}. Give each a 'name'.")
        for i, r in enumerate(self.rewards):
            if r.gated_by is not None and r.gated_by not in names:
                raise ValueError(f"rewards[{i}].gated_by: no component named {r.gated_by!r}; have {names}")
            if r.gated_by == r.component:
                raise ValueError(f"rewards[{i}].gated_by: a component cannot gate itself")
        if self.gate is not None and self.gate.component not in names:
            raise ValueError(f"gate.component: no component named {self.gate.component!r}; have {names}")
        if self.steps_from is not None and self.steps_from not in names:
            raise ValueError(f"steps_from: no component named {self.steps_from!r}; have {names}")
        return self


def reward_entry_keys() -> dict[str, str]:
    """The keys every ``rewards:`` entry takes (besides its source's own parameters) -> meaning."""
    return {k: f.description or "" for k, f in RewardSpec.model_fields.items()}


def top_level_keys() -> dict[str, str]:
    """The top-level keys of a pipeline config -> meaning."""
    return {k: f.description or "" for k, f in PipelineConfig.model_fields.items()}


def _known_keys_at(loc: tuple[Any, ...]) -> list[str] | None:
    """The keys allowed where an unknown key ``loc[-1]`` was found in a pipeline config."""
    if len(loc) == 1:
        return list(PipelineConfig.model_fields)
    if len(loc) == 2 and loc[0] == "gate":
        return list(GateSpec.model_fields)
    return None


def suggest_key(bad: str, known: list[str]) -> str:
    """`` (did you mean 'weight'?)`` for a near miss such as ``wieght``, else ``""``."""
    close = difflib.get_close_matches(bad, known, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def format_validation_error(err: ValidationError, prefix: str = "", known: list[str] | None = None) -> str:
    """One line per problem: ``key.path: message``; for unknown keys, suggest the known ones.

    ``known``: the keys allowed where the error is (default: found from the location for a
    pipeline config's own keys)."""
    lines = []
    for e in err.errors():
        loc = prefix + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in e["loc"])
        loc = loc.lstrip(".") or "<root>"
        msg = e["msg"]
        allowed = known if known is not None else _known_keys_at(tuple(e["loc"]))
        if e["type"] == "extra_forbidden" and allowed is not None:
            bad = str(e["loc"][-1])
            msg = f"unknown key {bad!r}{suggest_key(bad, allowed)}; known keys: {', '.join(allowed) or '(none)'}"
        lines.append(f"{loc}: {msg}")
    return "\n".join(lines)


def _read_file(path: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".toml":
        if sys.version_info >= (3, 11):
            import tomllib
        else:  # pragma: no cover
            import tomli as tomllib
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{path}: invalid TOML: {e}") from e
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: invalid YAML: {e}") from e


def load_config(source: str | Path | dict[str, Any] | PipelineConfig) -> PipelineConfig:
    """Read and validate a pipeline config from a YAML/TOML file, a dict, or a config object."""
    if isinstance(source, PipelineConfig):
        return source
    where = ""
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.exists():
            raise ConfigError(f"config file not found: {path}")
        where = f"{path}: "
        data = _read_file(path)
    else:
        data = source
    if not isinstance(data, dict):
        raise ConfigError(f"{where}a pipeline config must be a mapping with a 'rewards:' list, got {type(data).__name__}")
    try:
        cfg = PipelineConfig.model_validate(data)
    except ValidationError as e:
        raise ConfigError(where + "invalid pipeline config:\n" + format_validation_error(e)) from None
    if isinstance(source, (str, Path)):
        cfg._source = str(source)
    return cfg

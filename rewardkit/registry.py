"""Explicit registries of reward sources and shaping transforms, by name.

Built-ins are listed here as ``"module:Class"`` strings and imported only when used, so that
``import rewardkit`` stays light (no sympy, no torch). Third-party packages add sources through the
``rewardkit.sources`` / ``rewardkit.transforms`` entry-point groups, and a config may name any class
directly as ``"package.module:ClassName"``.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any, TypeVar

__all__ = [
    "register_source",
    "register_transform",
    "get_source_class",
    "get_transform_class",
    "list_sources",
    "list_transforms",
    "build_source",
    "build_transform",
    "UnknownNameError",
]

T = TypeVar("T")

# name -> "module:attr" (lazy) or the class itself (registered at run time)
_BUILTIN_SOURCES: dict[str, str] = {
    "exact_match": "rewardkit.verifiers.numeric:ExactMatch",
    "numeric": "rewardkit.verifiers.numeric:NumericAnswer",
    "step_arithmetic": "rewardkit.verifiers.arithmetic:StepArithmetic",
    "regex": "rewardkit.verifiers.format:RegexMatch",
    "tags": "rewardkit.verifiers.structure:TagStructure",
    "single_answer": "rewardkit.verifiers.structure:SingleAnswer",
    "json_schema": "rewardkit.verifiers.structure:JSONSchemaMatch",
    "code_block": "rewardkit.verifiers.structure:CodeBlock",
    "multiple_choice": "rewardkit.verifiers.choice:MultipleChoice",
    "tool_call": "rewardkit.verifiers.toolcall:ToolCallReward",
    "ifeval": "rewardkit.verifiers.ifeval:IFEval",
    "repetition": "rewardkit.verifiers.repetition:Repetition",
    "language_consistency": "rewardkit.verifiers.language:LanguageConsistency",
    "math": "rewardkit.verifiers.math:MathVerifier",
    "code": "rewardkit.verifiers.code:CodeReward",
    "sql": "rewardkit.verifiers.sql:SQLReward",
    "remote": "rewardkit.serving.client:RemoteReward",
    "judge": "rewardkit.judges.source:JudgeReward",
    "fallback": "rewardkit.fallback:Fallback",
    "prm": "rewardkit.prm.source:PRMSource",
    "orm": "rewardkit.orm.source:ORMSource",
}
_BUILTIN_TRANSFORMS: dict[str, str] = {
    "group_normalize": "rewardkit.shaping.transforms:GroupNormalize",
    "batch_normalize": "rewardkit.shaping.transforms:BatchNormalize",
    "leave_one_out": "rewardkit.shaping.transforms:LeaveOneOut",
    "running_normalize": "rewardkit.shaping.transforms:RunningNormalize",
    "process_shaping": "rewardkit.shaping.transforms:ProcessShaping",
    "par": "rewardkit.shaping.transforms:PAR",
    "rm_shaping": "rewardkit.shaping.transforms:RMShaping",
    "multi_reward": "rewardkit.shaping.transforms:MultiReward",
    "ensemble": "rewardkit.shaping.transforms:Ensemble",
    "gate": "rewardkit.shaping.transforms:Gate",
    "dapo_overlong": "rewardkit.shaping.transforms:DapoOverlong",
    "laser_bonus": "rewardkit.shaping.transforms:LaserBonus",
    "laser": "rewardkit.shaping.transforms:Laser",
    "cosine_length": "rewardkit.shaping.transforms:CosineLength",
}

_SOURCES: dict[str, Any] = dict(_BUILTIN_SOURCES)
_TRANSFORMS: dict[str, Any] = dict(_BUILTIN_TRANSFORMS)
_ENTRY_POINTS_LOADED = {"sources": False, "transforms": False}


class UnknownNameError(KeyError):
    """A config named a source/transform that is not registered; the message lists what is."""

    def __str__(self) -> str:  # KeyError quotes its message; we want it readable
        return str(self.args[0])


def _register(table: dict[str, Any], kind: str, name: str) -> Callable[[T], T]:
    def deco(obj: T) -> T:
        existing = table.get(name)
        if existing is not None and existing is not obj and not isinstance(existing, str):
            raise ValueError(f"{kind} {name!r} is already registered to {existing!r}")
        table[name] = obj
        try:
            obj.registry_name = name  # type: ignore[attr-defined]
        except (AttributeError, TypeError):
            pass
        return obj

    return deco


def register_source(name: str) -> Callable[[T], T]:
    """Class decorator: make a reward source available to configs as ``type: <name>``."""
    return _register(_SOURCES, "reward source", name)


def register_transform(name: str) -> Callable[[T], T]:
    """Class decorator: make a shaping transform available to configs' ``shaping:`` section."""
    return _register(_TRANSFORMS, "transform", name)


def _load_entry_points(group: str, table: dict[str, Any], key: str) -> None:
    if _ENTRY_POINTS_LOADED[key]:
        return
    _ENTRY_POINTS_LOADED[key] = True
    for ep in entry_points(group=group):
        table.setdefault(ep.name, ep.value)


def _import_ref(ref: str) -> Any:
    module, _, attr = ref.partition(":")
    if not attr:
        raise ValueError(f"expected 'package.module:ClassName', got {ref!r}")
    obj: Any = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def _resolve(table: dict[str, Any], kind: str, name: str) -> Any:
    if ":" in name:  # direct reference to user code
        return _import_ref(name)
    if name not in table:
        close = difflib.get_close_matches(name, table, n=3)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        raise UnknownNameError(
            f"unknown {kind} {name!r}.{hint} Available: {', '.join(sorted(table))} "
            f"(or give 'package.module:ClassName')."
        )
    obj = table[name]
    if isinstance(obj, str):
        obj = _import_ref(obj)
        table[name] = obj
        try:
            obj.registry_name = name
        except (AttributeError, TypeError):
            pass
    return obj


def get_source_class(name: str) -> Any:
    _load_entry_points("rewardkit.sources", _SOURCES, "sources")
    return _resolve(_SOURCES, "reward source", name)


def get_transform_class(name: str) -> Any:
    _load_entry_points("rewardkit.transforms", _TRANSFORMS, "transforms")
    return _resolve(_TRANSFORMS, "transform", name)


def list_sources() -> list[str]:
    _load_entry_points("rewardkit.sources", _SOURCES, "sources")
    return sorted(_SOURCES)


def list_transforms() -> list[str]:
    _load_entry_points("rewardkit.transforms", _TRANSFORMS, "transforms")
    return sorted(_TRANSFORMS)


def build_source(type_: str, name: str | None = None, **params: Any) -> Any:
    """Instantiate a registered source; parameter errors name the source and the bad key."""
    cls = get_source_class(type_)
    return cls(name=name or type_, **params)


def build_transform(type_: str, **params: Any) -> Any:
    cls = get_transform_class(type_)
    return cls(**params)

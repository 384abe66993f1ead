"""Tool calls: parse them from a completion, score them against gold calls (ToolRL).

Formats read (a completion may use either):
- Hermes / Qwen: ``<tool_call>{"name": ..., "arguments": {...}}</tool_call>`` blocks; a block
  may hold one JSON object, a JSON list, or one object per line (ToolRL's layout);
- OpenAI: a JSON object with ``tool_calls: [{"type": "function", "function": {"name": ...,
  "arguments": "<JSON string>"}}]``, or a bare JSON list of calls.
``arguments`` may be an object or a JSON string of one. A tool-call block that does not parse
(bad JSON, no name, arguments not an object, an unclosed tag) makes the sample ``unparseable``
-- never a 0 that looks like a wrong call.

Gold calls come from ``reference`` (a list of calls, or ``{"tool_calls": [...]}``, in the same
forms); an empty list means "no tool call is expected".

Score (ToolRL, Qian et al., arXiv 2504.13958): with ``match(A, B)`` the multiset Jaccard index
``|A∩B| / (|A|+|B|-|A∩B|)`` (1 when both are empty),

    S     = match(gold names, predicted names)
          + Σ_gold g  max over unused predictions p with p.name == g.name of
                      [ match(keys(g), keys(p)) + #{k in g : p[k] == g[k]} ]     (greedy, each p once)
    S_max = 1 + Σ_g (1 + |params(g)|)

``scale: unit`` (default) scores ``S / S_max`` in [0, 1]; ``scale: toolrl`` scores ToolRL's
``R_format + R_correct`` with ``R_correct = 6·S/S_max − 3`` (``[-3, 3]``; 0 when no call is
expected). Components: ``format`` (calls present exactly when expected; a ``think_tag`` block if
one is required; a ``response_tag`` block when no call is expected and one is required -- ToolRL's
``<think>`` / ``<tool_call>`` / ``<response>`` layout), ``name`` (the name match), ``param_name`` (mean key match over gold calls),
``param_value`` (fraction of gold parameters with the right value), ``correct`` (R_correct).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any, Literal

from rewardkit.registry import register_source
from rewardkit.sources import SampleRewardSource, SourceParams
from rewardkit.types import RewardResult, Sample, Status

__all__ = ["ToolCallReward", "ToolCall", "parse_tool_calls", "toolrl_score", "UnparseableToolCall"]

ToolCall = tuple[str, dict[str, Any]]


class UnparseableToolCall(ValueError):
    """A tool call is there but cannot be read."""


def _normalise(obj: Any, where: str) -> ToolCall:
    if not isinstance(obj, dict):
        raise UnparseableToolCall(f"{where}: a tool call is an object, got {type(obj).__name__}")
    if isinstance(obj.get("function"), dict):  # OpenAI: {"type": "function", "function": {...}}
        obj = obj["function"]
    name = obj.get("name")
    if not isinstance(name, str) or not name:
        raise UnparseableToolCall(f"{where}: tool call without a name")
    args = obj.get("arguments", obj.get("parameters", {}))
    if isinstance(args, str):
        try:
            args = json.loads(args) if args.strip() else {}
        except (ValueError, RecursionError) as e:
            raise UnparseableToolCall(f"{where}: arguments of {name!r} are not JSON: {e}") from None
    if args is None:
        args = {}
    if not isinstance(args, dict):
        raise UnparseableToolCall(f"{where}: arguments of {name!r} must be an object")
    return name, args


def _calls_from_value(value: Any, where: str) -> list[ToolCall]:
    if isinstance(value, dict) and "tool_calls" in value:
        value = value["tool_calls"] or []
    if isinstance(value, dict):
        return [_normalise(value, where)]
    if isinstance(value, list):
        return [_normalise(v, f"{where}[{i}]") for i, v in enumerate(value)]
    raise UnparseableToolCall(f"{where}: expected a call or a list of calls")


def _block_calls(body: str, k: int) -> list[ToolCall]:
    body = body.strip()
    try:
        value = json.loads(body)
    except RecursionError:
        raise UnparseableToolCall(f"<tool_call> #{k + 1}: JSON nested too deeply") from None
    except ValueError:
        value = None
    if value is not None:
        return _calls_from_value(value, f"<tool_call> #{k + 1}")
    calls = []
    for j, line in enumerate(x for x in body.splitlines() if x.strip()):
        try:
            value = json.loads(line)
        except (ValueError, RecursionError) as e:
            raise UnparseableToolCall(f"<tool_call> #{k + 1} line {j + 1} is not JSON: {e}") from None
        calls += _calls_from_value(value, f"<tool_call> #{k + 1} line {j + 1}")
    return calls


def parse_tool_calls(text: str) -> list[ToolCall] | None:
    """The calls in a completion; ``None`` when it makes no call attempt at all.

    Raises `UnparseableToolCall` when a call is there but cannot be read.
    """
    if "<tool_call>" in text or "</tool_call>" in text:
        from rewardkit.verifiers.structure import tag_contents

        blocks, well_formed = tag_contents(text, "tool_call")
        if not well_formed:
            raise UnparseableToolCall("unbalanced or nested <tool_call> tags")
        return [c for k, b in enumerate(blocks) for c in _block_calls(b, k)]
    stripped = text.strip()
    if stripped.startswith("```"):
        stripped = re.sub(r"^```\w*\s*|\s*```$", "", stripped)
    if stripped.startswith("[") and '"name"' in stripped:
        try:
            value = json.loads(stripped)
        except (ValueError, RecursionError) as e:
            raise UnparseableToolCall(f"tool-call list does not parse: {e}") from None
        return _calls_from_value(value, "tool_calls")
    if '"tool_calls"' in stripped:
        return _calls_from_value(_tool_calls_object(stripped), "tool_calls")
    return None


def _tool_calls_object(text: str) -> dict[str, Any]:
    """The JSON object holding ``"tool_calls"``, also inside other text (a chat turn's content
    followed by its calls): decoded from the nearest ``{`` before the key that parses."""
    dec = json.JSONDecoder()
    key = text.find('"tool_calls"')
    i, err = key, "no object around it"
    for _ in range(64):  # bounded: a few candidate braces, never a scan of every position
        i = text.rfind("{", 0, i)
        if i < 0:
            break
        try:
            value, _end = dec.raw_decode(text, i)
        except (ValueError, RecursionError) as e:
            err = str(e)
            continue
        if isinstance(value, dict) and "tool_calls" in value:
            return value
    raise UnparseableToolCall(f"tool_calls JSON does not parse: {err}")


def _match(a: Sequence[Any], b: Sequence[Any]) -> float:
    """Multiset Jaccard index; 1.0 when both are empty."""
    ca, cb = Counter(a), Counter(b)
    inter = sum((ca & cb).values())
    union = len(a) + len(b) - inter
    return 1.0 if union == 0 else inter / union


def toolrl_score(gold: Sequence[ToolCall], pred: Sequence[ToolCall]) -> dict[str, float]:
    """ToolRL's decomposition for one sample (see the module docstring)."""
    name = _match([g[0] for g in gold], [p[0] for p in pred])
    used = [False] * len(pred)
    key_sum = val_sum = 0.0
    for gname, gargs in gold:
        best, best_k, best_v, best_j = -1.0, 0.0, 0.0, -1
        for j, (pname, pargs) in enumerate(pred):
            if used[j] or pname != gname:
                continue
            k = _match(list(gargs), list(pargs))
            v = float(sum(1 for key, val in gargs.items() if key in pargs and pargs[key] == val))
            if k + v > best:
                best, best_k, best_v, best_j = k + v, k, v, j
        if best_j >= 0:
            used[best_j] = True
            key_sum += best_k
            val_sum += best_v
    n_params = sum(len(a) for _, a in gold)
    s = name + key_sum + val_sum
    s_max = 1.0 + sum(1 + len(a) for _, a in gold)
    return {
        "name": name,
        "param_name": key_sum / len(gold) if gold else float(not pred),
        "param_value": val_sum / n_params if n_params else float(name == 1.0),
        "unit": s / s_max,
        "correct": (6.0 * s / s_max - 3.0) if gold else 0.0,
    }


def _one_block(text: str, tag: str) -> bool:
    """Exactly one non-empty, well-formed ``<tag>...</tag>`` block."""
    from rewardkit.verifiers.structure import tag_contents

    blocks, ok = tag_contents(text, tag)
    return ok and len(blocks) == 1 and bool(blocks[0].strip())


class ToolCallParams(SourceParams):
    scale: Literal["unit", "toolrl"] = "unit"
    think_tag: str | None = None     # e.g. "think": the format component also needs <think>...</think>
    response_tag: str | None = None  # e.g. "response": with no call expected, format needs <response>...</response>


@register_source("tool_call")
class ToolCallReward(SampleRewardSource):
    """Tool calls against gold calls, ToolRL decomposition (see the module docstring)."""

    Params = ToolCallParams

    def score_one(self, sample: Sample) -> RewardResult:
        p: ToolCallParams = self.params  # type: ignore[assignment]
        try:
            ref = sample.reference
            gold = _calls_from_value(ref if ref is not None else [], "reference")
        except UnparseableToolCall as e:
            return RewardResult.fail(Status.ERROR, f"reference: {e}")
        try:
            pred = parse_tool_calls(sample.completion)
        except UnparseableToolCall as e:
            return RewardResult.fail(Status.UNPARSEABLE, str(e))
        calls = pred or []
        parts = toolrl_score(gold, calls)
        fmt = (pred is not None and len(calls) > 0) == bool(gold)
        if p.think_tag:
            fmt = fmt and _one_block(sample.completion, p.think_tag)
        if p.response_tag and not gold:
            fmt = fmt and _one_block(sample.completion, p.response_tag)
        if not gold:
            unit = float(not calls)
        else:
            unit = parts["unit"]
        comps = {"format": float(fmt), "name": parts["name"], "param_name": parts["param_name"],
                 "param_value": parts["param_value"], "correct": parts["correct"]}
        score = unit if p.scale == "unit" else comps["format"] + comps["correct"]
        # the decomposition also goes to info: a Pipeline keeps each component's info, not its components
        return RewardResult(score, Status.OK, comps,
                            info={"components": dict(comps), "calls": [{"name": n, "arguments": a} for n, a in calls][:20]})

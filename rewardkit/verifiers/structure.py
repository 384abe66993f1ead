"""Format and structure rewards: required tags in order, one final answer, JSON against a
schema, fenced code blocks. (The plain ``regex`` source lives in `rewardkit.verifiers.format`.)

A format source's verdict *is* the check: a completion without the required shape scores 0.0
(status ok), and the reason is in ``info["reason"]``. Config errors (a bad tag name, an invalid
JSON Schema) are raised when the source is built, naming the key.

Each source has a ``strict`` mode (nothing but the required structure) and, where it makes
sense, partial credit (``partial_credit``) so that a policy is paid for getting closer.
"""

from __future__ import annotations

import json
import re
import warnings
from typing import Any, Literal

from pydantic import field_validator, model_validator

from rewardkit.registry import register_source
from rewardkit.sources import SampleRewardSource, SourceParams
from rewardkit.types import RewardResult, Sample, Status
from rewardkit.verifiers._extract import find_boxed

__all__ = ["TagStructure", "SingleAnswer", "JSONSchemaMatch", "CodeBlock", "extract_json", "final_answers",
           "code_blocks", "tag_contents"]

_TAG_NAME = re.compile(r"^[A-Za-z_][\w.:-]*$")


def _fail(reason: str, **comps: float) -> RewardResult:
    return RewardResult(0.0, Status.OK, dict(comps), info={"reason": reason})


# --------------------------------------------------------------------------------------------
# tags
# --------------------------------------------------------------------------------------------
class TagParams(SourceParams):
    tags: list[str] = ["think", "answer"]
    ordered: bool = True          # tag i closes before tag i+1 opens
    nonempty: bool = True         # each block has non-whitespace content
    strict: bool = False          # nothing but the blocks (and whitespace) in the completion
    partial_credit: bool = False  # score = fraction of the checks passed instead of all-or-nothing
    prefix: str = ""              # text the chat template already put before the completion ("<think>\n")

    @field_validator("tags")
    @classmethod
    def _names(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("tags: give at least one tag name")
        for t in v:
            if not _TAG_NAME.match(t):
                raise ValueError(f"tags: {t!r} is not a tag name (write 'think', not '<think>')")
        if len(set(v)) != len(v):
            raise ValueError("tags: a tag is listed twice")
        return v


@register_source("tags")
class TagStructure(SampleRewardSource):
    """Each tag appears exactly once as ``<t>...</t>``, in the given order (``<think>`` then
    ``<answer>`` by default). Checks: one per tag (present once, closed after it opens, non-empty)
    plus one for the order; ``partial_credit`` scores the fraction passed."""

    Params = TagParams

    def setup(self) -> None:
        p: TagParams = self.params  # type: ignore[assignment]
        body = r"\s*".join(rf"<{re.escape(t)}>(.*?)</{re.escape(t)}>" for t in p.tags)
        self._strict_rx = re.compile(rf"\s*{body}\s*", re.S)

    def score_one(self, sample: Sample) -> RewardResult:
        p: TagParams = self.params  # type: ignore[assignment]
        text = p.prefix + sample.completion if p.prefix else sample.completion
        spans: list[tuple[int, int] | None] = []
        problems: list[str] = []
        for t in p.tags:
            o, c = f"<{t}>", f"</{t}>"
            no, nc = text.count(o), text.count(c)
            if no != 1 or nc != 1:
                problems.append(f"<{t}> appears {no}x, </{t}> {nc}x (need exactly once)")
                spans.append(None)
                continue
            i, j = text.find(o), text.find(c)
            if j < i:
                problems.append(f"</{t}> before <{t}>")
                spans.append(None)
            elif p.nonempty and not text[i + len(o):j].strip():
                problems.append(f"<{t}> is empty")
                spans.append(None)
            else:
                spans.append((i, j + len(c)))
        in_order = all(s is not None for s in spans) and all(
            a[1] <= b[0] for a, b in zip(spans, spans[1:], strict=False))  # type: ignore[index]
        checks = [s is not None for s in spans]
        if p.ordered:
            checks.append(in_order)
            if not in_order and not problems:
                problems.append(f"tags out of order (want {' then '.join(p.tags)})")
        if p.strict and not problems and not self._strict_rx.fullmatch(text):
            problems.append("text outside the tags (strict)")
            checks.append(False)
        elif p.strict:
            checks.append(not problems)
        passed = sum(checks) / len(checks)
        if not problems:
            return RewardResult(1.0, Status.OK)
        score = passed if p.partial_credit else 0.0
        return RewardResult(score, Status.OK, info={"reason": "; ".join(problems)})


# --------------------------------------------------------------------------------------------
# exactly one final answer
# --------------------------------------------------------------------------------------------
_ANSWER_IS = re.compile(r"answer\s+is\s*:?\s*([^\n]+?)(?=\.(?:\s|$)|\n|$)", re.I)  # to the sentence's end
_GSM8K = re.compile(r"####\s*([^\n]+)")
_BOXED = re.compile(r"\\(?:boxed|fbox)\b")
_MARKERS = ("boxed", "answer_tag", "answer_is", "gsm8k")


_BRACE = re.compile(r"[{}]")


def _brace_matches(text: str, start: int = 0) -> dict[int, int]:
    """Position of each ``{`` from ``start`` on -> its matching ``}``, in one pass (unmatched
    braces are absent)."""
    match: dict[int, int] = {}
    stack: list[int] = []
    for m in _BRACE.finditer(text, start):
        i = m.start()
        if text[i] == "{":
            stack.append(i)
        elif stack:
            match[stack.pop()] = i
    return match


def _boxed_all(text: str) -> list[str]:
    """Contents of every ``\\boxed{...}`` / ``\\fbox{...}`` (nested braces), linear in the text."""
    marks = list(_BOXED.finditer(text))
    if not marks:
        return []
    match = _brace_matches(text, marks[0].start())
    out = []
    for m in marks:
        i = m.end()
        while i < len(text) and text[i] == " ":
            i += 1
        if i < len(text) and text[i] == "{" and i in match:
            out.append(text[i + 1:match[i]])
    return out


def tag_contents(text: str, tag: str, *, ignore_case: bool = False) -> tuple[list[str], bool]:
    """``(contents of every <tag>...</tag>, well_formed)`` in one pass over the tags.

    Pairs each opening tag with the next closing one (as the lazy regex ``<t>(.*?)</t>`` does, but
    linear even for thousands of unclosed tags); ``well_formed`` is False when tags nest, a closing
    tag has no opening one, or a tag is never closed.
    """
    rx = _TAG_RX.get((tag, ignore_case))
    if rx is None:
        rx = re.compile(rf"<(/?){re.escape(tag)}>", re.I if ignore_case else 0)
        _TAG_RX[(tag, ignore_case)] = rx
    out: list[str] = []
    ok = True
    start = -1
    for m in rx.finditer(text):
        if not m.group(1):  # opening
            if start >= 0:
                ok = False  # nested: its text stays part of the open block
            else:
                start = m.end()
        elif start >= 0:
            out.append(text[start:m.start()])
            start = -1
        else:
            ok = False  # a closing tag without an opening one
    return out, ok and start < 0


_TAG_RX: dict[tuple[str, bool], re.Pattern[str]] = {}


def _norm_answer(a: str) -> str:
    a = a.strip().rstrip(".").strip().strip("$").strip()
    if "\\boxed" in a or "\\fbox" in a:
        inner = find_boxed(a)
        a = inner if inner is not None else a
    return " ".join(a.split())


def final_answers(text: str, markers: tuple[str, ...] = _MARKERS) -> list[tuple[str, str]]:
    """Every final answer the text states, as ``(marker, normalised answer)`` in marker order."""
    out: list[tuple[str, str]] = []
    for kind in markers:
        if kind == "boxed":
            found = _boxed_all(text) if "box" in text else []
        elif kind == "answer_tag":
            found = tag_contents(text, "answer", ignore_case=True)[0] if "<" in text else []
        elif kind == "answer_is":
            found = _ANSWER_IS.findall(text)
        else:
            found = _GSM8K.findall(text) if "####" in text else []
        out += [(kind, _norm_answer(a)) for a in found if a.strip()]
    return out


class SingleAnswerParams(SourceParams):
    markers: list[Literal["boxed", "answer_tag", "answer_is", "gsm8k"]] = list(_MARKERS)
    strict: bool = False  # each marker at most once (not just one distinct answer)


@register_source("single_answer")
class SingleAnswer(SampleRewardSource):
    """1.0 when the completion states exactly one final answer; 0.0 for none or for several
    *different* ones (hedging: ``\\boxed{3} or \\boxed{4}``). The same answer restated in
    another marker ("the answer is $\\boxed{5}$") counts once; ``strict`` also rejects repeats."""

    Params = SingleAnswerParams

    def score_one(self, sample: Sample) -> RewardResult:
        p: SingleAnswerParams = self.params  # type: ignore[assignment]
        found = final_answers(sample.completion, tuple(p.markers))
        if not found:
            return _fail("no final answer")
        distinct = sorted({a for _, a in found})
        if len(distinct) > 1:
            return RewardResult(0.0, Status.OK, info={"reason": "several different final answers",
                                                      "answers": [a[:100] for a in distinct[:5]]})
        if p.strict:
            kinds = [k for k, _ in found]
            if len(kinds) != len(set(kinds)):
                return _fail("the final answer is stated more than once (strict)")
        return RewardResult(1.0, Status.OK, info={"answer": distinct[0][:200]})


# --------------------------------------------------------------------------------------------
# JSON (against a JSON Schema)
# --------------------------------------------------------------------------------------------


def extract_json(text: str, *, strict: bool = False) -> tuple[Any, str | None]:
    """``(value, where)`` of the JSON in the text, or ``(None, None)``.

    strict: the whole completion (stripped) must be one JSON value. Otherwise, first hit wins:
    the whole text, the last fenced ```json block, the last ``<answer>`` block, the outermost
    ``{...}`` / ``[...]`` span.
    """
    cands: list[tuple[str, str]] = [(text.strip(), "whole")]
    if not strict:
        fences = [body for lang, body in code_blocks(text)[0] if lang in ("json", "")] if "```" in text else []
        if fences:
            cands.append((fences[-1].strip(), "fenced"))
        tags = tag_contents(text, "answer", ignore_case=True)[0] if "<" in text else []
        if tags:
            cands.append((tags[-1].strip(), "answer_tag"))
        for o, c in ("{}", "[]"):
            i, j = text.find(o), text.rfind(c)
            if 0 <= i < j:
                cands.append((text[i:j + 1], "span"))
    for cand, where in cands:
        if not cand:
            continue
        try:
            return json.loads(cand), where
        except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
            continue
    return None, None


def _check_schema(schema: Any) -> Any:
    """The validator instance for a schema, or ValueError saying what is wrong with it."""
    import jsonschema
    from jsonschema.exceptions import SchemaError

    if not isinstance(schema, (dict, bool)):
        raise ValueError(f"a JSON Schema is an object, got {type(schema).__name__}")
    cls = jsonschema.validators.validator_for(schema)
    try:
        cls.check_schema(schema)
    except SchemaError as e:
        path = "/".join(str(x) for x in e.path) or "(root)"
        raise ValueError(f"invalid JSON Schema at {path}: {e.message}") from None
    return cls(schema)


with warnings.catch_warnings():  # the field is called "schema", as in the config; pydantic's
    warnings.simplefilter("ignore")  # deprecated BaseModel.schema() is what it shadows

    class JSONParams(SourceParams):
        schema: dict[str, Any] | bool | None = None  # None = each sample's reference["schema"]
        strict: bool = False          # the whole completion must be the JSON value
        partial_credit: float = 0.0   # score of valid JSON that fails the schema

        @field_validator("schema")
        @classmethod
        def _valid_schema(cls, v: Any) -> Any:
            if v is not None:
                _check_schema(v)
            return v

        @field_validator("partial_credit")
        @classmethod
        def _unit(cls, v: float) -> float:
            if not 0.0 <= v <= 1.0:
                raise ValueError("partial_credit must be in [0, 1]")
            return v


@register_source("json_schema")
class JSONSchemaMatch(SampleRewardSource):
    """1.0 when the completion holds JSON valid against the schema (the config's ``schema`` or the
    sample's ``reference["schema"]``); without any schema, valid JSON is enough. Components:
    ``json_valid`` and ``schema_valid``; the first validation error is in ``info``."""

    Params = JSONParams

    def setup(self) -> None:
        p: JSONParams = self.params  # type: ignore[assignment]
        self._validator = _check_schema(p.schema) if p.schema is not None else None

    def _validator_for(self, ref: Any) -> Any:
        if self._validator is not None:
            return self._validator
        if isinstance(ref, dict) and "schema" in ref:
            return _check_schema(ref["schema"])
        return None

    def score_one(self, sample: Sample) -> RewardResult:
        p: JSONParams = self.params  # type: ignore[assignment]
        try:
            validator = self._validator_for(sample.reference)
        except ValueError as e:
            return RewardResult.fail(Status.ERROR, f"reference.schema: {e}")
        value, where = extract_json(sample.completion, strict=p.strict)
        if where is None:
            return _fail("no JSON found" + (" (strict: the whole completion must be JSON)" if p.strict else ""),
                         json_valid=0.0, schema_valid=0.0)
        if validator is None:
            return RewardResult(1.0, Status.OK, {"json_valid": 1.0}, info={"json_from": where})
        err = next(iter(validator.iter_errors(value)), None)
        if err is None:
            return RewardResult(1.0, Status.OK, {"json_valid": 1.0, "schema_valid": 1.0}, info={"json_from": where})
        path = "/".join(str(x) for x in err.absolute_path) or "(root)"
        return RewardResult(p.partial_credit, Status.OK, {"json_valid": 1.0, "schema_valid": 0.0},
                            info={"json_from": where, "reason": f"schema: {path}: {err.message[:200]}"})


# --------------------------------------------------------------------------------------------
# fenced code blocks
# --------------------------------------------------------------------------------------------
def code_blocks(text: str) -> tuple[list[tuple[str, str]], bool]:
    """``([(language, body), ...], text_outside)`` of the closed fenced blocks, in one pass over
    the lines (a regex with a lazy body is quadratic on many unclosed fences)."""
    blocks: list[tuple[str, str]] = []
    outside = False
    lang: str | None = None
    body: list[str] = []
    for line in text.split("\n"):
        s = line.strip()
        if lang is None:
            if line.lstrip(" \t").startswith("```"):
                info = s[3:].strip().split()
                lang, body = (info[0].lower() if info else ""), []
            elif s:
                outside = True
        elif s == "```":
            blocks.append((lang, "\n".join(body)))
            lang = None
        else:
            body.append(line)
    if lang is not None:  # an unclosed fence: its text is not a block
        outside = True
    return blocks, outside


class CodeBlockParams(SourceParams):
    languages: list[str] | None = None  # fence info strings accepted (case-insensitive); None = any
    min_blocks: int = 1
    max_blocks: int | None = None
    strict: bool = False  # nothing but code blocks (and whitespace) in the completion

    @model_validator(mode="after")
    def _range(self) -> CodeBlockParams:
        if self.min_blocks < 1:
            raise ValueError("min_blocks must be >= 1")
        if self.max_blocks is not None and self.max_blocks < self.min_blocks:
            raise ValueError("max_blocks must be >= min_blocks")
        return self


@register_source("code_block")
class CodeBlock(SampleRewardSource):
    """1.0 when the completion has between ``min_blocks`` and ``max_blocks`` closed, non-empty
    fenced code blocks (of the given ``languages``)."""

    Params = CodeBlockParams

    def score_one(self, sample: Sample) -> RewardResult:
        p: CodeBlockParams = self.params  # type: ignore[assignment]
        found, outside = code_blocks(sample.completion)
        blocks = [(lang, body) for lang, body in found if body.strip()]
        if p.languages is not None:
            want = {x.lower() for x in p.languages}
            blocks = [(lang, body) for lang, body in blocks if lang in want]
        n = len(blocks)
        if n < p.min_blocks:
            return _fail(f"{n} matching code block(s), need at least {p.min_blocks}")
        if p.max_blocks is not None and n > p.max_blocks:
            return _fail(f"{n} code blocks, at most {p.max_blocks} allowed")
        if p.strict and outside:
            return _fail("text outside the code blocks (strict)")
        return RewardResult(1.0, Status.OK, info={"blocks": n})

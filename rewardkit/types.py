"""The reward data model every other module imports.

`Sample` is what is scored; `RewardResult` is what every reward source returns, one per sample.
Plain dataclasses with ``slots`` (not pydantic) because they sit on the hot path of scoring
100k+ samples per second; configs, which are validated once, use pydantic instead.

Invariant that the whole library relies on: a result whose status is not ``ok`` has
``score is None``. A failed check is never silently a 0 -- a caller who wants 0 must say so
(``fill`` in the pipeline config, or ``RewardResult.score_or``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

__all__ = [
    "Status",
    "Sample",
    "StepScore",
    "RewardResult",
    "Message",
    "completion_text",
]

Message = Mapping[str, Any]  # {"role": ..., "content": ...}


class Status(str, Enum):
    """Outcome of one reward check. Only ``OK`` carries a score."""

    OK = "ok"
    NOT_APPLICABLE = "not_applicable"  # this source has nothing to say about the sample
    UNPARSEABLE = "unparseable"  # no answer could be extracted / parsed from the completion
    TIMEOUT = "timeout"  # the check hit its hard time limit
    ERROR = "error"  # the check failed (bad reference, crash, remote failure ...)

    @property
    def severity(self) -> int:
        """Order used when several component statuses are combined (worst wins)."""
        return _SEVERITY[self]

    def __str__(self) -> str:  # so f-strings and JSON show "ok", not "Status.OK"
        return self.value


_SEVERITY = {
    Status.OK: 0,
    Status.NOT_APPLICABLE: 1,
    Status.UNPARSEABLE: 2,
    Status.TIMEOUT: 3,
    Status.ERROR: 4,
}


def completion_text(completion: str | Sequence[Message]) -> str:
    """Text of a completion given as a string or as chat messages (TRL's conversational format).

    For messages, the assistant turns are joined; this is the text character spans refer to. An
    assistant turn's ``tool_calls`` are appended as one JSON line ``{"tool_calls": [...]}``.
    """
    if isinstance(completion, str):
        return completion
    parts = []
    for m in completion:
        if m.get("role", "assistant") == "assistant":
            content = m.get("content") or ""  # OpenAI writes null content next to tool calls
            if isinstance(content, list):  # multimodal-style content blocks
                content = "".join(c.get("text", "") for c in content if isinstance(c, Mapping))
            content = str(content)
            if m.get("tool_calls"):  # OpenAI-style calls stay readable (as JSON) for tool-call rewards
                calls = json.dumps({"tool_calls": m["tool_calls"]}, ensure_ascii=False, default=str)
                content = f"{content}\n{calls}" if content else calls
            parts.append(content)
    return "\n".join(parts)


@dataclass(slots=True)
class Sample:
    """One prompt/completion pair to score.

    reference: whatever the reward source needs -- a gold answer string, ``{"answer": ...}``,
    unit tests, a rubric. Each source documents what it reads.
    steps: optional pre-split reasoning steps (substrings of ``completion`` in order); sources
    that score steps use them instead of segmenting the text themselves.
    """

    prompt: str | list[Message]
    completion: str
    reference: Any = None
    id: Any = None
    group_id: Any = None
    steps: list[str] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.completion, str):
            self.completion = completion_text(self.completion)

    @property
    def prompt_text(self) -> str:
        """The prompt as plain text (chat messages joined by role)."""
        if isinstance(self.prompt, str):
            return self.prompt
        return "\n".join(f"{m.get('role', 'user')}: {m.get('content', '')}" for m in self.prompt)


@dataclass(slots=True)
class StepScore:
    """Score of one step, located by character span ``[start, end)`` in the completion."""

    start: int
    end: int
    score: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "score": self.score}


@dataclass(slots=True)
class RewardResult:
    """What a reward source says about one sample.

    score: sequence-level reward; ``None`` unless ``status`` is ok.
    components: named sub-scores (``None`` for a component that did not produce a score).
    steps: step-level scores with character spans in the completion (process rewards).
    token_scores / token_spans: token-level rewards; ``token_spans`` are the character spans of
    the tokens in the completion as the *scoring* model tokenised it, so that the rewards can be
    re-aligned to a different policy tokenizer. Without spans, scores are taken to be in the
    policy's tokenisation already.
    info: free-form diagnostics (extracted answer, error text, latency ...), JSON-serialisable.
    """

    score: float | None
    status: Status = Status.OK
    components: dict[str, float | None] = field(default_factory=dict)
    steps: list[StepScore] | None = None
    token_scores: list[float] | None = None
    token_spans: list[tuple[int, int]] | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.status, Status):
            self.status = Status(self.status)
        if self.status is Status.OK:
            if self.score is None:
                raise ValueError("RewardResult with status ok needs a score")
            self.score = float(self.score)
            if math.isnan(self.score):
                raise ValueError("RewardResult score is NaN; report a non-ok status instead")
        elif self.score is not None:
            raise ValueError(
                f"RewardResult with status {self.status.value} must have score=None, got {self.score!r}"
            )
        if self.token_spans is not None and self.token_scores is not None:
            if len(self.token_spans) != len(self.token_scores):
                raise ValueError("token_spans and token_scores must have the same length")

    # -- constructors -------------------------------------------------------------------------
    @classmethod
    def ok(cls, score: float, **kw: Any) -> RewardResult:
        return cls(score=score, status=Status.OK, **kw)

    @classmethod
    def fail(cls, status: Status | str, reason: str | None = None, **kw: Any) -> RewardResult:
        """A non-ok result; ``reason`` goes to ``info['error']``."""
        info = dict(kw.pop("info", {}) or {})
        if reason is not None:
            info.setdefault("error", reason)
        return cls(score=None, status=Status(status), info=info, **kw)

    # -- accessors ----------------------------------------------------------------------------
    @property
    def is_ok(self) -> bool:
        return self.status is Status.OK

    def score_or(self, default: float) -> float:
        """The score, or an explicit default for non-ok results (the caller decides, not us)."""
        return self.score if self.score is not None else default

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (the output-record contract of ``rewardkit score``)."""
        d: dict[str, Any] = {
            "score": self.score,
            "status": self.status.value,
            "components": dict(self.components),
        }
        if self.steps is not None:
            d["steps"] = [s.to_dict() for s in self.steps]
        if self.token_scores is not None:
            d["token_scores"] = list(self.token_scores)
            if self.token_spans is not None:
                d["token_spans"] = [list(s) for s in self.token_spans]
        if self.info:
            d["info"] = self.info
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RewardResult:
        steps = d.get("steps")
        spans = d.get("token_spans")
        return cls(
            score=d.get("score"),
            status=Status(d.get("status", "ok")),
            components=dict(d.get("components") or {}),
            steps=[StepScore(s["start"], s["end"], s.get("score")) for s in steps] if steps is not None else None,
            token_scores=list(d["token_scores"]) if d.get("token_scores") is not None else None,
            token_spans=[tuple(s) for s in spans] if spans is not None else None,
            info=dict(d.get("info") or {}),
        )

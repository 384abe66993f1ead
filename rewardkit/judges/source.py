"""`JudgeReward` (registered as ``judge``): an LLM grades responses by a rubric.

```yaml
- type: judge
  base_url: http://127.0.0.1:8000/v1      # any OpenAI-compatible server
  model: Qwen/Qwen2.5-7B-Instruct
  api_key_env: OPENAI_API_KEY             # name of the variable holding the key (optional)
  rubric: helpfulness                     # built-in name or a YAML path
  mode: pointwise                         # pointwise | pairwise | reference | steps
  max_concurrency: 32
  cache: judge_cache.sqlite
```

Modes (every score is in [0, 1]):

- ``pointwise``: the rubric's aggregate of per-criterion grades; a violated hard constraint vetoes.
- ``pairwise``: the response against a baseline (``reference`` as text, or ``{"baseline": ...}``),
  asked in *both orders* to cancel position bias; score = mean over the two orders of 1 (win),
  0.5 (tie), 0 (loss). ``info["judge_position_consistent"]`` says whether both orders agreed.
- ``reference``: is the final answer equivalent to the reference answer? 1 or 0. Useful as a
  fallback where a rule verifier cannot parse an answer.
- ``steps``: a step-level critic. The completion is split into steps (``rewardkit.steps``, or the
  sample's own ``steps``); the judge labels each; the result carries ``steps`` with character spans
  (dense rewards on any tokenizer via `rewardkit.alignment.dense_rewards`) and an outcome score by
  ``step_aggregation``. A step the judge did not label gets no score (never 0).

``samples: k`` asks k times (use ``temperature > 0``) and averages: self-consistency, with the
standard deviation in ``info["judge_std"]``.

Statuses. The judge's own failures -- backend down, rate limits past the retries, a time-out, a
reply that cannot be parsed even after one re-ask -- are the *infrastructure's* fault: status
``error`` with ``info["fault"] = "infrastructure"``, so the status policy masks them instead of
penalising the policy. An empty solution in ``steps`` mode is the sample's fault
(``unparseable``). A reply is never turned into a made-up number.

Cost: ``info["judge_usage"]`` holds prompt/completion tokens, calls, retries and cost
(``price_prompt``/``price_completion`` per million tokens) for every sample; cached replies cost 0.
"""

from __future__ import annotations

import asyncio
import statistics
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from rewardkit.judges.backends import BackendError, Completion, OpenAIBackend, TransformersBackend, Usage
from rewardkit.judges.cache import JudgeCache, cache_key
from rewardkit.judges.parse import (
    JudgeParseError,
    extract_json_object,
    parse_pairwise,
    parse_pointwise,
    parse_reference,
    parse_steps,
)
from rewardkit.judges.prompts import (
    messages_key,
    pairwise_messages,
    pointwise_messages,
    reference_messages,
    steps_messages,
)
from rewardkit.judges.rubric import Rubric, load_rubric
from rewardkit.registry import register_source
from rewardkit.sources import BaseRewardSource, SourceParams
from rewardkit.steps import aggregate_step_scores, segment
from rewardkit.types import RewardResult, Sample, Status, StepScore, completion_text

__all__ = ["JudgeReward", "JudgeParams"]

_INFRA = "infrastructure"
_REASK = ("Your reply could not be read: {why}. Reply again with only the JSON object in the format "
          "asked for, and nothing else.")


class JudgeParams(SourceParams):
    backend: Literal["openai", "transformers"] = "openai"
    base_url: str | None = None            # OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1
    model: str                             # model name on the server, or a local folder (transformers)
    api_key_env: str | None = "OPENAI_API_KEY"
    rubric: str | dict[str, Any] = "helpfulness"
    mode: Literal["pointwise", "pairwise", "reference", "steps"] = "pointwise"
    max_concurrency: int = Field(default=16, ge=1)
    rpm: float | None = Field(default=None, gt=0)   # requests per minute
    tpm: float | None = Field(default=None, gt=0)   # tokens per minute
    timeout: float = Field(default=60.0, gt=0)
    retries: int = Field(default=4, ge=0)
    backoff: float = Field(default=0.5, ge=0)
    temperature: float = Field(default=0.0, ge=0)
    max_tokens: int = Field(default=512, ge=1)
    samples: int = Field(default=1, ge=1)           # self-consistency: k replies averaged
    reask: bool = True                               # one re-ask when a reply cannot be parsed
    structured: Literal["json_object", "json_schema", "none"] = "json_object"
    cache: str | None = None                         # SQLite file of raw replies
    price_prompt: float = Field(default=0.0, ge=0)   # per 1M prompt tokens
    price_completion: float = Field(default=0.0, ge=0)
    step_method: Literal["separator", "lines", "regex_split", "regex_match"] = "separator"
    step_separator: str = "\n\n"
    step_pattern: str | None = None
    step_aggregation: Literal["min", "mean", "last", "product"] = "min"
    device: str | None = None                        # transformers backend
    dtype: str | None = None
    batch_size: int = Field(default=8, ge=1)

    @model_validator(mode="after")
    def _check(self) -> JudgeParams:
        if self.backend == "openai" and not self.base_url:
            raise ValueError("backend 'openai' needs 'base_url' (e.g. http://127.0.0.1:8000/v1)")
        load_rubric(self.rubric)  # a bad rubric fails when the pipeline is built, naming the key
        if self.samples > 1 and self.temperature == 0:
            raise ValueError("samples > 1 (self-consistency) needs temperature > 0: greedy replies are identical")
        return self


@dataclass
class _Ask:
    """One question to the judge for one sample (pairwise asks two, self-consistency k)."""

    sample: int
    messages: list[dict[str, str]]
    parse: Callable[[dict[str, Any]], Any]
    tag: str = ""                  # "AB"/"BA" in pairwise mode
    k: int = 0                     # self-consistency index
    value: Any = None
    reply: str | None = None
    failure: str | None = None     # infrastructure failure text
    usage: Usage = field(default_factory=Usage)
    cached: bool = False
    spans: list[tuple[int, int]] | None = None  # steps mode: the character span of every step


def _prompt_text(prompt: Any) -> str:
    if isinstance(prompt, str):
        return prompt
    return "\n".join(f"{m.get('role', 'user')}: {m.get('content', '')}" for m in prompt)


def _reference_text(ref: Any, *keys: str) -> str | None:
    if isinstance(ref, str):
        return ref
    if isinstance(ref, (int, float)) and not isinstance(ref, bool):
        return str(ref)
    if isinstance(ref, dict):
        for k in keys:
            if ref.get(k) is not None:
                return str(ref[k])
    return None


@register_source("judge")
class JudgeReward(BaseRewardSource):
    """LLM-as-a-judge reward: rubric grades, pairwise preferences, reference checks, step critiques."""

    Params = JudgeParams
    prefers_async: ClassVar[bool] = True

    def __init__(self, name: str | None = None, **params: Any) -> None:
        super().__init__(name=name, **params)
        self.rubric: Rubric = load_rubric(self.params.rubric)  # type: ignore[attr-defined]
        self.backend: Any = None
        self._cache: JudgeCache | None = None
        self._setup_lock = threading.Lock()

    # -- lifecycle -------------------------------------------------------------------------------
    def setup(self) -> None:
        p: JudgeParams = self.params  # type: ignore[assignment]
        if p.backend == "openai":
            schema = _REPLY_SCHEMAS[p.mode] if p.structured == "json_schema" else None
            self.backend = OpenAIBackend(
                p.base_url or "", p.model, api_key_env=p.api_key_env, max_concurrency=p.max_concurrency,
                rpm=p.rpm, tpm=p.tpm, timeout=p.timeout, retries=p.retries, backoff=p.backoff,
                price_prompt=p.price_prompt, price_completion=p.price_completion, structured=p.structured,
                json_schema=schema)
        else:
            self.backend = TransformersBackend(p.model, device=p.device, dtype=p.dtype, batch_size=p.batch_size,
                                               max_concurrency=p.max_concurrency)
        self._cache = JudgeCache(p.cache) if p.cache else None

    def close(self) -> None:
        if self._cache is not None:
            self._cache.close()
            self._cache = None
        self.backend = None
        self._is_setup = False

    def _ready(self) -> None:
        with self._setup_lock:
            self._ensure_setup()

    # -- planning: which questions to ask for each sample ------------------------------------------
    def _plan(self, i: int, s: Sample) -> list[_Ask] | RewardResult:
        p: JudgeParams = self.params  # type: ignore[assignment]
        prompt, response = _prompt_text(s.prompt), completion_text(s.completion)
        rub = self.rubric
        asks: list[_Ask] = []
        if p.mode == "pointwise":
            ref = _reference_text(s.reference, "answer", "reference") if rub.uses_reference else None
            if rub.uses_reference and ref is None:
                return _input_error(f"rubric {rub.name!r} compares against a reference answer, "
                                    "but 'reference' is empty")
            msgs = pointwise_messages(rub, prompt, response, ref)
            asks = [_Ask(i, msgs, lambda o: parse_pointwise(o, rub))]
        elif p.mode == "reference":
            ref = _reference_text(s.reference, "answer", "reference")
            if ref is None:
                return _input_error("mode 'reference' needs the reference answer in 'reference' "
                                    "(text or {'answer': ...})")
            asks = [_Ask(i, reference_messages(rub, prompt, response, ref), lambda o: parse_reference(o, rub))]
        elif p.mode == "pairwise":
            base = _reference_text(s.reference, "baseline", "rejected", "other")
            if base is None:
                return _input_error("mode 'pairwise' needs the baseline response in 'reference' "
                                    "(text or {'baseline': ...})")
            asks = [_Ask(i, pairwise_messages(rub, prompt, response, base), parse_pairwise, tag="AB"),
                    _Ask(i, pairwise_messages(rub, prompt, base, response), parse_pairwise, tag="BA")]
        else:  # steps
            spans = segment(response, p.step_method, separator=p.step_separator, pattern=p.step_pattern,
                            steps=s.steps)
            if not spans:
                return RewardResult.fail(Status.UNPARSEABLE, "the completion has no steps to judge",
                                         info={"fault": "sample"})
            texts = [sp.text(response) for sp in spans]
            ref = _reference_text(s.reference, "answer", "reference")
            n = len(spans)
            asks = [_Ask(i, steps_messages(rub, prompt, texts, ref), lambda o: parse_steps(o, n),
                         spans=[(sp.start, sp.end) for sp in spans])]
        if p.samples > 1:
            asks = [_Ask(a.sample, a.messages, a.parse, a.tag, k, spans=a.spans) for a in asks
                    for k in range(p.samples)]
        return asks

    # -- asking ----------------------------------------------------------------------------------
    def _key(self, ask: _Ask) -> str:
        p: JudgeParams = self.params  # type: ignore[assignment]
        return cache_key(p.backend, p.model, self.rubric.fingerprint, p.mode,
                         messages_key(ask.messages, temperature=p.temperature, max_tokens=p.max_tokens, k=ask.k))

    def _interpret(self, ask: _Ask, text: str) -> str | None:
        """Parse a reply into ``ask.value``; returns the reason when it cannot be read."""
        try:
            ask.value = ask.parse(extract_json_object(text))
            ask.reply = text
            return None
        except JudgeParseError as e:
            ask.reply = text
            return str(e)

    async def _ask_http(self, ask: _Ask) -> None:
        p: JudgeParams = self.params  # type: ignore[assignment]
        key = self._key(ask)
        if self._cache is not None:
            hit = self._cache.get(key)
            if hit is not None and self._interpret(ask, hit[0]) is None:
                ask.cached = True
                return
        messages = ask.messages
        for attempt in range(2 if p.reask else 1):
            try:
                comp: Completion = await self.backend.complete(messages, temperature=p.temperature,
                                                               max_tokens=p.max_tokens,
                                                               json_mode=p.structured != "none")
            except BackendError as e:
                if e.usage is not None:
                    ask.usage.add(e.usage)
                ask.failure = str(e)
                return
            ask.usage.add(comp.usage)
            why = self._interpret(ask, comp.texts[0])
            if why is None:
                if self._cache is not None and attempt == 0:
                    self._cache.put(key, comp.texts[:1])
                return
            messages = [*ask.messages, {"role": "assistant", "content": comp.texts[0]},
                        {"role": "user", "content": _REASK.format(why=why)}]
        ask.failure = f"the judge's reply could not be parsed: {ask.reply[:200]!r}" if ask.reply else \
            "the judge gave no reply"

    def _ask_local_batch(self, asks: list[_Ask]) -> None:
        """Transformers backend: every uncached question of the batch in one `generate` call."""
        p: JudgeParams = self.params  # type: ignore[assignment]
        todo = []
        for a in asks:
            hit = self._cache.get(self._key(a)) if self._cache is not None else None
            if hit is not None and self._interpret(a, hit[0]) is None:
                a.cached = True
            else:
                todo.append(a)
        for attempt in range(2 if p.reask else 1):
            if not todo:
                return
            msgs = [a.messages if attempt == 0 else
                    [*a.messages, {"role": "assistant", "content": a.reply or ""},
                     {"role": "user", "content": _REASK.format(why="it is not the JSON object asked for")}]
                    for a in todo]
            try:
                comps = self.backend.generate(msgs, temperature=p.temperature, max_tokens=p.max_tokens)
            except Exception as e:  # noqa: BLE001 - the local model's failure is infrastructure's
                for a in todo:
                    a.failure = f"local judge model failed: {type(e).__name__}: {e}"
                return
            left = []
            for a, c in zip(todo, comps, strict=True):
                a.usage.add(c.usage)
                if self._interpret(a, c.texts[0]) is None:
                    if self._cache is not None and attempt == 0:
                        self._cache.put(self._key(a), c.texts[:1])
                else:
                    left.append(a)
            todo = left
        for a in todo:
            a.failure = f"the judge's reply could not be parsed: {(a.reply or '')[:200]!r}"

    # -- combining answers into results ----------------------------------------------------------
    def _result(self, asks: list[_Ask]) -> RewardResult:
        p: JudgeParams = self.params  # type: ignore[assignment]
        usage = Usage()
        for a in asks:
            usage.add(a.usage)
        info: dict[str, Any] = {"judge_usage": usage.to_dict(), "judge_cached": all(a.cached for a in asks)}
        failed = [a for a in asks if a.failure is not None]
        if failed:
            info["fault"] = _INFRA
            return RewardResult.fail(Status.ERROR, failed[0].failure, info=info)
        if p.mode == "pairwise":
            scores = []
            for k in range(p.samples):
                ab = next(a.value for a in asks if a.tag == "AB" and a.k == k)
                ba = next(a.value for a in asks if a.tag == "BA" and a.k == k)
                win_ab = {"A": 1.0, "tie": 0.5, "B": 0.0}[ab]  # the response is A in "AB"
                win_ba = {"B": 1.0, "tie": 0.5, "A": 0.0}[ba]
                scores.append((win_ab + win_ba) / 2)
                info.setdefault("judge_verdicts", []).append({"response_first": ab, "baseline_first": ba})
            info["judge_position_consistent"] = all(
                {v["response_first"], v["baseline_first"]} in ({"A", "B"}, {"tie"}) for v in info["judge_verdicts"])
        elif p.mode == "steps":
            per_k = [a.value for a in asks]
            n = len(per_k[0])
            step_vals: list[float | None] = []
            for j in range(n):
                vals = [v[j] for v in per_k if v[j] is not None]
                step_vals.append(sum(vals) / len(vals) if vals else None)
            spans = asks[0].spans or []
            steps = [StepScore(st, en, v) for (st, en), v in zip(spans, step_vals, strict=True)]
            labelled = [v for v in step_vals if v is not None]
            if len(labelled) < n:
                info["judge_unlabelled_steps"] = [j for j, v in enumerate(step_vals) if v is None]
            score = aggregate_step_scores(labelled, p.step_aggregation)
            self._add_consistency(info, [aggregate_step_scores([x for x in v if x is not None], p.step_aggregation)
                                         for v in per_k])
            return RewardResult.ok(score, steps=steps, info=info)
        else:
            scores = []
            for a in asks:
                if p.mode == "pointwise":
                    val, details = a.value
                    scores.append(val)
                    info.setdefault("judge_details", []).append(details)
                else:
                    scores.append(a.value)
        self._add_consistency(info, scores)
        return RewardResult.ok(sum(scores) / len(scores), info=info)

    @staticmethod
    def _add_consistency(info: dict[str, Any], scores: list[float]) -> None:
        if len(scores) > 1:
            info["judge_scores"] = scores
            info["judge_std"] = statistics.pstdev(scores)

    # -- the protocol ----------------------------------------------------------------------------
    async def ascore(self, samples: Sequence[Sample]) -> list[RewardResult]:
        if not samples:
            return []
        self._ready()
        plans = [self._plan(i, s) for i, s in enumerate(samples)]
        asks = [a for pl in plans if isinstance(pl, list) for a in pl]
        if isinstance(self.backend, TransformersBackend):
            await asyncio.to_thread(self._ask_local_batch, asks)
        else:
            await asyncio.gather(*(self._ask_http(a) for a in asks))
        out: list[RewardResult] = []
        for pl in plans:
            if isinstance(pl, RewardResult):
                out.append(pl)
            else:
                try:
                    out.append(self._result(pl))
                except Exception as e:  # noqa: BLE001 - a bug here is infrastructure's, never the sample's
                    out.append(RewardResult.fail(Status.ERROR, f"{type(e).__name__}: {e}", info={"fault": _INFRA}))
        return out

    def score_batch(self, samples: Sequence[Sample]) -> list[RewardResult]:
        """Sync form: runs `ascore` on a private event loop (in a helper thread if this thread has one)."""

        async def run() -> list[RewardResult]:
            try:
                return await self.ascore(samples)
            finally:
                if isinstance(self.backend, OpenAIBackend):
                    await self.backend.aclose()

        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(run())
        box: list[Any] = []
        t = threading.Thread(target=lambda: box.append(asyncio.run(run())))
        t.start()
        t.join()
        return box[0]


def _input_error(msg: str) -> RewardResult:
    """A row that lacks what the judge mode needs: the user's data, not the sample's fault."""
    return RewardResult.fail(Status.ERROR, msg, info={"fault": _INFRA, "field": "reference"})


_VERDICT = {"type": "object", "properties": {"reasoning": {"type": "string"}}}
_REPLY_SCHEMAS: dict[str, dict[str, Any]] = {
    "pointwise": {**_VERDICT, "properties": {**_VERDICT["properties"], "criteria": {"type": "object"},
                                             "constraints": {"type": "object"}, "score": {"type": "number"}},
                  "required": ["score"]},
    "pairwise": {**_VERDICT, "properties": {**_VERDICT["properties"], "winner": {"enum": ["A", "B", "tie"]}},
                 "required": ["winner"]},
    "reference": {**_VERDICT, "properties": {**_VERDICT["properties"], "correct": {"type": "boolean"}},
                  "required": ["correct"]},
    "steps": {**_VERDICT, "properties": {**_VERDICT["properties"], "steps": {"type": "array", "items": {
        "type": "object", "properties": {"step": {"type": "integer"}, "correct": {"type": "boolean"}}}}},
        "required": ["steps"]},
}

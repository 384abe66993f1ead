"""The ``math`` reward source: 1.0 when the completion's final answer equals the gold answer.

Reads the gold answer from ``sample.reference`` (a string or number, or an object with an
``answer`` field) and the final answer from ``sample.completion`` (`extract`). Statuses:
ok (score 1.0 / 0.0), unparseable (no final answer in the completion), timeout (the symbolic
check hit ``timeout_s``), error (missing or unparseable gold answer, worker crash).

Config example::

    rewards:
      - type: math
        weight: 1.0
        last_number: false     # any MathConfig option (see rewardkit.verifiers.math.config)
        timeout_s: 1.0
        cache_path: null       # a SQLite file to share verdicts across runs

Inside the scoring engine's process-pool workers (daemon processes, which may not have
``multiprocessing`` children) the symbolic stage still runs in killable worker interpreters: they
are started with `subprocess.Popen`, not `multiprocessing` (see `rewardkit.verifiers.math.worker`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, get_type_hints

from pydantic import create_model, model_validator

from rewardkit.registry import register_source
from rewardkit.sources import BaseRewardSource, SourceParams
from rewardkit.types import RewardResult, Sample, Status
from rewardkit.verifiers.math.api import Verdict, check_batch
from rewardkit.verifiers.math.cache import VerdictCache
from rewardkit.verifiers.math.config import MathConfig

__all__ = ["MathVerifier", "MathParams"]


# runtime knobs of the source that do not change a verdict
_RUNTIME: dict[str, Any] = {"workers": (int | None, None), "cache_size": (int, 100_000),
                            "cache_path": (str | None, None)}
_HINTS = get_type_hints(MathConfig)
# every `MathConfig` option is a source parameter: one definition, no copy to keep in sync
_MathOptions = create_model(
    "_MathOptions", __base__=SourceParams,
    **{f.name: (_HINTS[f.name], f.default) for f in dataclasses.fields(MathConfig)}, **_RUNTIME,
)


class MathParams(_MathOptions):  # type: ignore[misc,valid-type]
    """`MathConfig` options + ``workers`` / ``cache_size`` / ``cache_path``. Option values are
    checked by `MathConfig` itself, so a bad one is a config error naming the key."""

    @model_validator(mode="after")
    def _valid_options(self) -> MathParams:
        self.math_config()
        return self

    def math_config(self) -> MathConfig:
        return MathConfig(**self.model_dump(exclude=set(_RUNTIME)))


def _gold(reference: Any) -> Any:
    if isinstance(reference, dict):
        if "answer" not in reference:
            raise KeyError(f"reference has no 'answer' field (keys: {sorted(reference)})")
        return reference["answer"]
    return getattr(reference, "answer", reference)


@register_source("math")
class MathVerifier(BaseRewardSource):
    """Final-answer correctness for math (LaTeX, expressions, sets, intervals, matrices ...)."""

    Params = MathParams
    cpu_heavy = True

    def setup(self) -> None:
        p: MathParams = self.params  # type: ignore[assignment]
        self.config = p.math_config()  # validates the options once
        self._cache = VerdictCache(p.cache_size, p.cache_path) if p.cache_size > 0 else None

    def close(self) -> None:
        cache = getattr(self, "_cache", None)
        if cache is not None:
            cache.close()

    def score_batch(self, samples: Sequence[Sample]) -> list[RewardResult]:
        p: MathParams = self.params  # type: ignore[assignment]
        out: list[RewardResult | None] = [None] * len(samples)
        idx, golds, comps, problems = [], [], [], []
        for i, s in enumerate(samples):
            try:
                g = _gold(s.reference)
            except KeyError as e:
                out[i] = RewardResult.fail(Status.ERROR, f"reference: {e.args[0]}")
                continue
            if g is None:
                out[i] = RewardResult.fail(Status.ERROR, "reference answer is missing (null)")
                continue
            idx.append(i)
            golds.append(g)
            comps.append(s.completion)
            problems.append(s.prompt)  # an equation restated from the prompt is not an answer
        verdicts: list[Verdict] = check_batch(golds, comps, self.config, problems=problems, workers=p.workers,
                                              cache=self._cache)
        for i, v in zip(idx, verdicts, strict=False):
            out[i] = v.to_result()
        return out  # type: ignore[return-value]

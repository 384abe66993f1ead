"""Monte-Carlo PRM labelling (`rewardkit prm label` with ``backend: ray``) on a Ray cluster.

The unit of work stays one step prefix (`rewardkit.prm.label`); Ray only changes where the two
expensive parts run:

- **generation actors** (``ray.actors`` of them, each ``ray.num_gpus`` GPUs / ``ray.num_cpus``
  CPUs) hold the completer policy -- transformers, or vLLM when installed with a GPU -- and sample
  the ``n`` continuations of a batch of prefixes;
- **verifier tasks** (one CPU each) check those continuations with any rewardkit source or
  pipeline; a worker process builds a verifier once and reuses it for later tasks.

The driver keeps at most two batches per generation actor in flight, hands each finished
generation to a verifier task, and appends a batch's prefix lines to ``prefixes.jsonl`` as soon
as its checks return (fsync'ed), so a killed job resumes with ``--resume``-free re-runs exactly as
the local one does: finished prefixes are skipped. Seeds depend only on the batch, so the Ray and
local backends sample the same continuations. Dead actors are restarted and their batches
retried (``max_task_retries``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from rewardkit.distributed.ray_backend import RayOptions, _ray, connect, default_actors
from rewardkit.prm.label import LabelConfig, PrefixTask, rollout_samples
from rewardkit.types import RewardResult, Sample

__all__ = ["label_batches"]

_VERIFIERS: dict[str, Any] = {}  # per worker process: spec -> built verifier


def _verify(spec_json: str, samples: list[Sample]) -> list[dict[str, Any]]:
    from rewardkit.prm.label import _verifier

    v = _VERIFIERS.get(spec_json)
    if v is None:
        v = _VERIFIERS[spec_json] = _verifier(json.loads(spec_json))
    return [r.to_dict() for r in v.score(samples)]


class _Generator:
    """Holds one completer policy; ``generate`` as in `rewardkit.prm.rollouts`."""

    def __init__(self, rollout: dict[str, Any]) -> None:
        from rewardkit.prm.rollouts import RolloutOptions, make_generator

        self.gen = make_generator(RolloutOptions.model_validate(rollout))

    def generate(self, prompts: list[str], n: int, seed: int) -> list[list[str]]:
        return self.gen.generate(prompts, n, seed)


def label_batches(cfg: LabelConfig, batches: Iterable[tuple[list[PrefixTask], list[str], int]]
                  ) -> Iterator[tuple[list[PrefixTask], list[RewardResult]]]:
    """(batch, verifier results) for every batch, in the order they finish."""
    ray = _ray()
    opts = RayOptions.model_validate(cfg.ray)
    started = connect(opts)
    n_gen = opts.actors or default_actors(opts, reserve_cpus=1.0)  # leave a CPU for the verifiers
    gen_cls = ray.remote(_Generator).options(num_cpus=opts.num_cpus, num_gpus=opts.num_gpus, max_restarts=-1,
                                             max_task_retries=opts.max_task_retries)
    verify = ray.remote(_verify).options(num_cpus=1, max_retries=opts.max_task_retries)
    gens = [gen_cls.remote(cfg.rollout.model_dump()) for _ in range(n_gen)]
    spec = json.dumps(cfg.verifier, sort_keys=True)
    it = iter(batches)
    generating: dict[Any, tuple[list[PrefixTask], int]] = {}  # ref -> (batch, actor index)
    checking: dict[Any, list[PrefixTask]] = {}
    load = [0] * n_gen

    def submit_next() -> bool:
        item = next(it, None)
        if item is None:
            return False
        batch, prompts, seed = item
        k = min(range(n_gen), key=load.__getitem__)
        load[k] += 1
        generating[gens[k].generate.remote(prompts, cfg.n, seed)] = (batch, k)
        return True

    try:
        while len(generating) < 2 * n_gen and submit_next():
            pass
        while generating or checking:
            ready, _ = ray.wait([*generating, *checking], num_returns=1)
            ref = ready[0]
            if ref in generating:
                batch, k = generating.pop(ref)
                load[k] -= 1
                checking[verify.remote(spec, rollout_samples(cfg, batch, ray.get(ref)))] = batch
                submit_next()
            else:
                batch = checking.pop(ref)
                yield batch, [RewardResult.from_dict(d) for d in ray.get(ref)]
    finally:
        for g in gens:
            try:
                ray.kill(g, no_restart=True)
            except Exception:  # noqa: BLE001 - already gone
                pass
        if started:
            ray.shutdown()

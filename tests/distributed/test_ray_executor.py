"""The Ray executor on a local Ray instance (2 CPUs, no dashboard)."""

from __future__ import annotations

import os
import signal
import time

import pytest

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'rewardkit[ray]')")

from rewardkit.data.synthetic import generate  # noqa: E402
from rewardkit.distributed.ray_backend import RayExecutor, RayOptions  # noqa: E402
from rewardkit.io.records import ColumnMap, record_to_sample  # noqa: E402
from rewardkit.pipeline import Pipeline  # noqa: E402

CONFIG = {"rewards": [{"type": "numeric", "name": "correct"}, {"type": "step_arithmetic", "weight": 0.0}]}


@pytest.fixture(scope="module")
def local_ray():
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_actors_score_like_the_local_pipeline(local_ray):
    samples = [record_to_sample(r, f'r{i}', ColumnMap(), i)
               for i, r in enumerate(generate(n_problems=250, group_size=4))]  # 1,000 samples
    want = [r.to_dict() for r in Pipeline(CONFIG).score(samples)]
    ex = RayExecutor(CONFIG, RayOptions(actors=2))
    try:
        futs = [ex.submit_batch(samples[i:i + 64]) for i in range(0, len(samples), 64)]
        got = [row for f in futs for row in f.result(timeout=120)]
    finally:
        ex.shutdown()
    assert got == want


def test_a_killed_actor_is_restarted_and_its_batches_retried(local_ray):
    from rewardkit.types import Sample

    cfg = {"rewards": [{"type": "tests.distributed._slow:SlowLength"}]}
    samples = [Sample(f"q{i}", "x" * (i % 13)) for i in range(400)]
    ex = RayExecutor(cfg, RayOptions(actors=2, max_task_retries=5))
    try:
        pids = [ray.get(a.pid.remote()) for a in ex.actors]
        futs = [ex.submit_batch(samples[i:i + 20]) for i in range(0, len(samples), 20)]
        time.sleep(1.0)  # batches are in flight on both actors
        os.kill(pids[0], signal.SIGKILL)
        got = [row["score"] for f in futs for row in f.result(timeout=180)]
        new_pid = ray.get(ex.actors[0].pid.remote())
    finally:
        ex.shutdown()
    assert got == [float(i % 13) for i in range(400)]  # every row once, in order
    assert new_pid != pids[0]

"""`rewardkit prm label` with ``backend: ray``: the local backend's labels, from generator actors."""

from __future__ import annotations

import json
import os

import pytest

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'rewardkit[ray]')")
pytest.importorskip("torch")

from rewardkit.prm.label import LabelConfig, run_labelling  # noqa: E402
from rewardkit.prm.rollouts import RolloutOptions  # noqa: E402
from tests._tiny_models import save_tiny  # noqa: E402


def _lines(path):
    return sorted(json.loads(x).items().__repr__() for x in path.read_text().splitlines())


def test_ray_labelling_matches_local(tmp_path, monkeypatch):
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    model = save_tiny(tmp_path / "policy", "causal", seed=5)
    rows = [{"id": i, "prompt": f"Problem {i}: 12 + 7?", "steps": ["12 + 7 = 19.", "So 19.", "A: 19"],
             "reference": "19"} for i in range(6)]
    inp = tmp_path / "in.jsonl"
    inp.write_text("".join(json.dumps(r) + "\n" for r in rows))
    rollout = RolloutOptions(model=str(model), max_new_tokens=6, prefixes_per_batch=2, device="cpu", temperature=1.0)
    base = dict(input=str(inp), n=2, rollout=rollout, progress=False)
    local = run_labelling(LabelConfig(output_dir=str(tmp_path / "local"), **base))
    remote = run_labelling(LabelConfig(output_dir=str(tmp_path / "ray"), backend="ray",
                                       ray={"actors": 1, "local_num_cpus": 2}, **base))
    assert _lines(tmp_path / "ray" / "prefixes.jsonl") == _lines(tmp_path / "local" / "prefixes.jsonl")
    assert remote.read_text() == local.read_text()
    assert len(local.read_text().splitlines()) == 6
    assert not ray.is_initialized()  # the job shut down the Ray instance it started
    assert os.environ.get("RAY_ADDRESS") is None

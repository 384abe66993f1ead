"""Real multi-process training on CPU with gloo, two steps; both processes must end with identical
weights, different from the initial ones.

``accelerate launch --cpu --num_processes 2`` alone would use its simple launcher (one process, or
mpirun); two local CPU processes need the torchrun launcher: ``--multi_gpu`` with
``ACCELERATE_USE_CPU=true``, which gives ``DistributedType.MULTI_CPU`` on the gloo backend."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("accelerate")

from tests.train._tiny import make_tiny_model, tiny_config  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _digest(state: dict) -> str:
    h = hashlib.sha256()
    for name, p in sorted(state.items()):
        h.update(name.encode())
        h.update(p.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


@pytest.mark.slow
def test_two_process_gloo_training_keeps_replicas_identical(tmp_path):
    if shutil.which("accelerate") is None:
        pytest.skip("the accelerate launcher is not on PATH")
    from transformers import AutoModelForCausalLM

    model = make_tiny_model(tmp_path / "model")
    out = tmp_path / "out"
    cfg = tiny_config(model, out, steps=2, optim={"lr": 1e-2, "micro_batch_size": 4}, loss={"kl_coef": 0.05})
    cfg_path = tmp_path / "train.json"  # JSON is YAML
    cfg_path.write_text(json.dumps(cfg))
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
           "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false", "ACCELERATE_USE_CPU": "true"}
    r = subprocess.run(["accelerate", "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
                        "--main_process_port", str(_free_port()),
                        "--mixed_precision", "no", "--dynamo_backend", "no",
                        str(REPO / "tests" / "train" / "_ddp_worker.py"), str(cfg_path)],
                       capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    d0 = json.loads((out / "digest_rank0.json").read_text())
    d1 = json.loads((out / "digest_rank1.json").read_text())
    assert d0["world"] == d1["world"] == 2 and d0["backend"] == "gloo"
    assert d0["digest"] == d1["digest"]
    initial = _digest(AutoModelForCausalLM.from_pretrained(model).state_dict())
    assert d0["digest"] != initial  # the two steps changed the weights
    lines = (out / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 2  # only the main process logs

"""PPO recipe (value model + GAE) on a tiny random model."""

from __future__ import annotations

import shutil

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("accelerate")

from rewardkit.train.run import train  # noqa: E402
from tests.train._tiny import make_tiny_model, tiny_config  # noqa: E402

PIPE = {"rewards": [{"type": "regex", "name": "digit", "pattern": "[0-9]"}, {"type": "step_arithmetic", "weight": 0.0}]}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return make_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


def _ppo(tiny, out, critic="separate", **over):
    return tiny_config(tiny, out, algorithm={"recipe": "ppo", "estimator": "gae"},
                       model={"path": str(tiny), "critic": critic}, rewards={"pipeline": PIPE},
                       loss={"kl_coef": 0.05, "kl_placement": "reward", "kl_estimator": "k1"},
                       optim={"lr": 1e-3, "epochs": 2, "minibatches": 2}, **over)


@pytest.mark.parametrize("critic", ["separate", "head"])
def test_ppo_runs_with_either_critic(tiny, tmp_path, critic):
    hist = train(_ppo(tiny, tmp_path, critic)).history
    for key in ("loss/value", "value/explained_var", "value/clip_frac", "kl/k1", "loss/policy", "reward/digit"):
        assert key in hist[-1], key
    assert all(torch.isfinite(torch.tensor(h["loss/total"])) for h in hist)
    head = torch.load(tmp_path / "final" / "value_head.pt")
    assert head["weight"].shape[0] == 1
    # the critic learns: the value loss on the second step's batch is below the first's
    assert hist[1]["loss/value"] < hist[0]["loss/value"]


@pytest.mark.slow
def test_ppo_resume_is_exact(tiny, tmp_path):
    from safetensors.torch import load_file

    a, b = tmp_path / "a", tmp_path / "b"
    over = dict(steps=3, save_every=1, keep_checkpoints=5)
    train(_ppo(tiny, a, **over))
    shutil.copytree(a / "checkpoints" / "step_2", b / "checkpoints" / "step_2")
    train(_ppo(tiny, b, resume=True, **over))
    wa, wb = load_file(str(a / "final" / "model.safetensors")), load_file(str(b / "final" / "model.safetensors"))
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    ha, hb = torch.load(a / "final" / "value_head.pt"), torch.load(b / "final" / "value_head.pt")
    assert torch.equal(ha["weight"], hb["weight"])

"""GRPO recipe on a tiny random model: it learns on a fixed batch, runs end to end with every
estimator, resumes bit for bit, and stops loudly on bad numbers."""

from __future__ import annotations

import json
import shutil

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("accelerate")

from rewardkit.train.config import TrainConfig  # noqa: E402
from rewardkit.train.grpo import groups_with_variance, policy_update, train  # noqa: E402
from rewardkit.train.guards import NonFiniteError  # noqa: E402
from rewardkit.types import RewardResult  # noqa: E402
from tests.train._tiny import make_tiny_model, tiny_config  # noqa: E402


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return make_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


def _weights(path):
    from safetensors.torch import load_file

    return load_file(str(path / "model.safetensors"))


def test_loss_goes_down_on_a_fixed_batch(tiny, tmp_path):
    """Overfitting check: repeated updates on one rollout batch with fixed behaviour log-probs lower
    the surrogate loss and raise the log-prob of the positively rewarded responses."""
    from accelerate import Accelerator

    from rewardkit.train.common import build_optimizer, load_policy, load_tokenizer
    from rewardkit.train.grpo import behaviour_logprobs
    from rewardkit.train.rollout import PromptStream, TransformersEngine

    torch.manual_seed(0)
    cfg = TrainConfig.model_validate(tiny_config(tiny, tmp_path, optim={"lr": 3e-3}, loss={"clip_low": 10.0}))
    acc = Accelerator(cpu=True)
    tok, policy = load_tokenizer(cfg.model), load_policy(cfg.model)
    opt, sched = build_optimizer([{"params": list(policy.parameters())}], cfg.optim, 100)
    policy, opt = acc.prepare(policy, opt)
    roll = TransformersEngine(cfg.rollout, tok).generate(policy, PromptStream.from_config(cfg.data, tok, 0).take(2))
    mask = roll.response_mask
    A = torch.tensor([1.0, -1.0] * 4)[:, None].expand_as(mask) * mask
    old = behaviour_logprobs(policy, roll, 1.0, 8)
    losses = []
    for _ in range(15):
        st = policy_update(acc, policy, opt, sched, roll, A, old, None, cfg)
        losses.append(float(st[0]["loss/policy"]))
    assert losses[-1] < losses[0] - 0.5, losses
    assert all(b <= a + 1e-6 for a, b in zip(losses[:5], losses[1:6], strict=False)), losses
    new = behaviour_logprobs(policy, roll, 1.0, 8)
    gain = ((new - old) * mask).sum(-1)
    assert (gain[0::2] > 0).all() and (gain[1::2] < 0).all()


def test_end_to_end_writes_metrics_checkpoint_and_model(tiny, tmp_path):
    hist = train(tiny_config(tiny, tmp_path, loss={"kl_coef": 0.05, "entropy_coef": 0.01})).history
    assert len(hist) == 2
    lines = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [x["step"] for x in lines] == [1, 2]
    for key in ("reward/score", "reward/digit", "status/ok", "loss/policy", "loss/kl", "kl/k3", "policy/entropy",
                "policy/clip_frac", "rollout/response_len", "time/rollout_s"):
        assert key in lines[-1], key
    assert lines[0]["status/ok"] == 8  # 2 prompts x G=4 responses
    assert (tmp_path / "checkpoints" / "step_2" / "trainer_state.json").exists()
    assert (tmp_path / "final" / "config.json").exists()


@pytest.mark.parametrize("estimator,extra", [
    ("grpo_process", {}), ("dr_grpo", {"loss": {"aggregation": "seq_mean_token_sum_norm"}}), ("rloo", {}),
    ("reinforce_pp", {"loss": {"kl_coef": 0.05, "kl_placement": "reward", "kl_estimator": "k1"}}),
    ("reinforce_pp_baseline", {}), ("prime", {}),
])
def test_every_estimator_trains_a_step(tiny, tmp_path, estimator, extra):
    pipe = {"rewards": [{"type": "regex", "name": "digit", "pattern": "[0-9]"},
                        {"type": "step_arithmetic", "weight": 0.0}]}
    cfg = tiny_config(tiny, tmp_path, steps=1, algorithm={"estimator": estimator},
                      rewards={"pipeline": pipe}, **extra)
    hist = train(cfg).history
    assert torch.isfinite(torch.tensor(hist[0]["loss/total"]))
    if "kl_placement" in str(extra):
        assert "kl/k1" in hist[0]


def test_resume_reproduces_the_next_step_bit_for_bit(tiny, tmp_path):
    over = dict(steps=3, save_every=1, keep_checkpoints=5, loss={"kl_coef": 0.1},
                optim={"lr": 1e-3, "epochs": 2, "minibatches": 2, "scheduler": "linear", "warmup_steps": 1},
                rollout={"dynamic_sampling": True})
    a, b = tmp_path / "a", tmp_path / "b"
    hist_a = train(tiny_config(tiny, a, **over)).history
    shutil.copytree(a / "checkpoints" / "step_2", b / "checkpoints" / "step_2")
    hist_b = train(tiny_config(tiny, b, resume=True, **over)).history
    assert len(hist_b) == 1  # only step 3 was run
    wa, wb = _weights(a / "final"), _weights(b / "final")
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)
    skip = {"time/elapsed_s", "time/process_cpu_s", "time/rollout_s", "time/reward_s", "time/update_s"}
    assert {k: v for k, v in hist_a[-1].items() if k not in skip} == {k: v for k, v in hist_b[-1].items() if k not in skip}


@pytest.mark.slow
def test_without_resume_the_next_step_differs(tiny, tmp_path):
    """The resume test can fail: a run that starts over from step 2's data without the saved
    state does not reproduce step 3."""
    over = dict(steps=3, save_every=1, keep_checkpoints=5, optim={"lr": 1e-3})
    a, b = tmp_path / "a", tmp_path / "b"
    train(tiny_config(tiny, a, **over))
    train(tiny_config(tiny, b, **{**over, "steps": 1}))
    wa, wb = _weights(a / "final"), _weights(b / "final")
    assert not all(torch.equal(wa[k], wb[k]) for k in wa)


class _InfPipeline:
    def score(self, samples):
        return [RewardResult.ok(float("inf") if i == 3 else 1.0, components={"judge": float("inf") if i == 3 else 1.0})
                for i, _ in enumerate(samples)]


def test_non_finite_reward_stops_the_step_naming_the_source(tiny, tmp_path):
    with pytest.raises(NonFiniteError, match=r"step 1: non-finite reward for response 3.*component 'judge'"):
        train(tiny_config(tiny, tmp_path, steps=1), pipeline=_InfPipeline())


def test_groups_with_variance():
    s = torch.tensor([1.0, 1.0, 0.0, 1.0, 0.0, 0.0, 2.0, 5.0])
    v = torch.tensor([True] * 6 + [True, False])
    # G=2: [1,1] no; [0,1] yes; [0,0] no; [2, masked] has one valid member -> no
    assert groups_with_variance(s, v, 2).tolist() == [2, 3]
    assert groups_with_variance(s, v, 4).tolist() == [0, 1, 2, 3, 4, 5, 6, 7]


def test_config_rejects_inconsistent_algorithms(tiny, tmp_path):
    with pytest.raises(ValueError, match="recipe 'ppo' uses estimator 'gae'"):
        TrainConfig.model_validate(tiny_config(tiny, tmp_path, algorithm={"recipe": "ppo", "estimator": "grpo"}))
    with pytest.raises(ValueError, match="clip_high"):
        TrainConfig.model_validate(tiny_config(tiny, tmp_path, loss={"clip_low": 0.3, "clip_high": 0.2}))
    with pytest.raises(ValueError, match="group_size >= 2"):
        TrainConfig.model_validate(tiny_config(tiny, tmp_path, rollout={"group_size": 1}))


def test_prime_with_an_online_implicit_prm(tiny, tmp_path):
    """PRIME: the implicit PRM is trained on the outcome labels each step and its token rewards
    (β·log-ratio to its frozen reference) feed the prime estimator; it resumes exactly too."""
    over = dict(steps=2, algorithm={"estimator": "prime", "implicit_prm": {"beta": 0.5, "lr": 1e-2}}, save_every=1,
                keep_checkpoints=5)
    a, b = tmp_path / "a", tmp_path / "b"
    hist = train(tiny_config(tiny, a, **over)).history
    assert {"prm/loss", "prm/accuracy"} <= hist[0].keys()
    assert hist[1]["adv/abs_mean"] > 0
    shutil.copytree(a / "checkpoints" / "step_1", b / "checkpoints" / "step_1")
    hist_b = train(tiny_config(tiny, b, resume=True, **over)).history
    assert hist_b[-1]["prm/loss"] == hist[-1]["prm/loss"] and hist_b[-1]["loss/policy"] == hist[-1]["loss/policy"]
    with pytest.raises(ValueError, match="implicit_prm"):
        TrainConfig.model_validate(tiny_config(tiny, a, algorithm={"implicit_prm": {}}))

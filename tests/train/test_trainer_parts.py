"""Trainer parts: rollout masks and offsets, the status policy at the reward step, LoRA reference,
gradient accumulation, the CLI."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from rewardkit.train.config import RewardsConfig, RolloutConfig, TrainConfig  # noqa: E402
from rewardkit.train.rewards import RolloutScorer  # noqa: E402
from rewardkit.train.rollout import Prompt, PromptStream, Rollout, _finish, generated_offsets  # noqa: E402
from rewardkit.types import RewardResult, Status, StepScore  # noqa: E402
from tests._tokenizers import bpe_tokenizer  # noqa: E402
from tests.train._tiny import make_tiny_model, tiny_config  # noqa: E402


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return make_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


def test_generated_offsets_cover_the_text_exactly():
    tok = bpe_tokenizer()
    text = "Step 1: 12 + 7 = 19.\n\nnaïve café 🙂 The answer is 57."
    ids = tok(text, add_special_tokens=False)["input_ids"]
    decoded, offs = generated_offsets(tok, ids)
    assert decoded == text and len(offs) == len(ids)
    assert offs[0][0] == 0 and offs[-1][1] == len(text)
    assert all(a[1] == b[0] for a, b in zip(offs, offs[1:], strict=False))  # contiguous, monotone


def _rollout(tok, rows, stop=()):
    prompts = [Prompt(i, "Q", "Q", None) for i in range(len(rows))]
    ids = torch.full((len(rows), 1), tok.eos_token_id)
    width = max(len(r) for r in rows)
    resp = torch.tensor([r + [tok.pad_token_id] * (width - len(r)) for r in rows])
    return _finish(tok, ids, torch.ones_like(ids), resp, prompts, list(stop))


def test_response_mask_keeps_eos_and_drops_padding():
    tok = bpe_tokenizer()
    a = tok("The answer is 57.", add_special_tokens=False)["input_ids"]
    roll = _rollout(tok, [a + [tok.eos_token_id], a[:3], a])
    assert roll.response_mask.sum(-1).tolist() == [len(a) + 1, 3, len(a)]
    assert roll.texts == ["The answer is 57.", tok.decode(a[:3]), "The answer is 57."]
    assert [len(o) for o in roll.offsets] == [len(a) + 1, 3, len(a)]


def test_stop_string_with_pad_equal_eos_is_not_trained_as_eos():
    tok = bpe_tokenizer()
    eos = tok.eos_token_id
    a = tok("The answer is 57.", add_special_tokens=False)["input_ids"]
    tok_pe = type(tok)(tokenizer_object=tok.backend_tokenizer, pad_token="<eos>", eos_token="<eos>")
    rows = [a + [eos, eos], a + [eos, eos]]
    assert _rollout(tok_pe, rows, stop=["57."]).response_mask.sum(-1).tolist() == [len(a)] * 2
    assert _rollout(tok_pe, rows).response_mask.sum(-1).tolist() == [len(a) + 1] * 2


def test_prompt_stream_is_resumable_and_wraps():
    ps = [Prompt(i, str(i), str(i), None) for i in range(5)]
    s = PromptStream(ps, seed=3)
    first = [p.id for p in s.take(3)]
    state = s.state_dict()
    rest = [p.id for p in s.take(4)]
    s2 = PromptStream(ps, seed=3)
    s2.load_state_dict(state)
    assert [p.id for p in s2.take(4)] == rest
    assert sorted(first + rest[:2]) == [0, 1, 2, 3, 4]  # one epoch is a permutation


class _Fixed:
    def __init__(self, results):
        self.results = results

    def score(self, samples):
        return list(self.results)


def test_status_policy_at_the_reward_step():
    """Sample's fault (unparseable) costs the policy (0.0, valid, its steps still placed);
    infrastructure's fault (error) is masked; not_applicable is masked."""
    tok = bpe_tokenizer()
    text = "Step 1: 12 + 7 = 19.\n\nStep 2: 19 * 3 = 57."
    ids = tok(text, add_special_tokens=False)["input_ids"]
    roll = _rollout(tok, [ids] * 4)
    step_end = text.index("19.") + 3
    steps = [StepScore(0, step_end, 1.0), StepScore(step_end + 2, len(text), 0.0)]
    results = [RewardResult.ok(1.0, steps=steps), RewardResult.fail(Status.UNPARSEABLE, steps=steps),
               RewardResult.fail(Status.ERROR, "judge down"), RewardResult.fail(Status.NOT_APPLICABLE)]
    sc = RolloutScorer(RewardsConfig(), pipeline=_Fixed(results))(roll, step=1)
    assert sc.scores.tolist() == [1.0, 0.0, 0.0, 0.0]
    assert sc.valid.tolist() == [True, True, False, False]
    # the first step's reward sits on the token completing "19."; the row's step ends are stored
    from rewardkit.alignment import char_to_token

    k = char_to_token(roll.offsets[0], step_end)
    assert sc.token_rewards[0, k] == 1.0 and sc.token_rewards[0].sum() == 1.0
    assert sc.step_ends[1].tolist() == [k, len(ids) - 1] and sc.step_rewards[1].tolist() == [1.0, 0.0]
    assert sc.token_rewards[2:].abs().sum() == 0 and (sc.step_ends[2:] == -1).all()
    assert sc.metrics["status/unparseable"] == 1 and sc.metrics["reward/masked_frac"] == 0.5
    # a policy that masks timeouts/unparseable instead is one YAML key away
    sc2 = RolloutScorer(RewardsConfig(status_policy={"statuses": {"unparseable": "mask"}}),
                        pipeline=_Fixed(results))(roll, step=1)
    assert sc2.valid.tolist() == [True, False, False, False]


def test_lora_reference_is_the_base_model_and_only_adapters_train(tiny, tmp_path):
    from transformers import AutoModelForCausalLM

    from rewardkit.train.grpo import train

    cfg = tiny_config(tiny, tmp_path, steps=2, loss={"kl_coef": 0.1},
                      model={"path": str(tiny), "lora": {"r": 4, "alpha": 8}}, optim={"lr": 5e-2})
    res = train(cfg)
    model = res.model
    base = AutoModelForCausalLM.from_pretrained(tiny)
    merged_ref = {k.replace("base_model.model.", "").replace(".base_layer", ""): v
                  for k, v in model.state_dict().items() if "lora_" not in k}
    for k, v in base.state_dict().items():
        assert torch.equal(merged_ref[k], v), k  # base weights untouched
    lora_b = [v for k, v in model.state_dict().items() if "lora_B" in k]
    assert any(v.abs().sum() > 0 for v in lora_b)  # adapters moved (B starts at zero)
    assert res.history[-1]["kl/k3"] > 0  # the policy drifted from the adapter-free reference
    # reference log-probs = the base model's
    from rewardkit.train.common import ReferencePolicy, forward_logprobs, load_tokenizer
    from rewardkit.train.rollout import TransformersEngine

    c = TrainConfig.model_validate(cfg)
    tok = load_tokenizer(c.model)
    roll = TransformersEngine(c.rollout, tok).generate(model, PromptStream.from_config(c.data, tok, 0).take(1))
    ref = ReferencePolicy(model, c.model, torch.device("cpu")).logprobs(model, roll, 1.0, 8)
    with torch.no_grad():
        want = forward_logprobs(base, roll, 1.0)[0]
    m = roll.response_mask
    assert torch.allclose(ref[m], want[m], atol=1e-5)


def test_micro_batches_accumulate_to_the_full_batch_gradient(tiny, tmp_path):
    """micro_batch_size=2 (4 backward passes) gives the same update as one pass over 8 rows."""
    from accelerate import Accelerator

    from rewardkit.train.common import load_policy, load_tokenizer
    from rewardkit.train.grpo import policy_update
    from rewardkit.train.rollout import TransformersEngine

    outs = []  # SGD with lr 1: the parameter change is minus the accumulated gradient
    for micro in (None, 2):
        for agg in ("token_mean", "seq_mean_token_mean"):
            torch.manual_seed(0)
            cfg = TrainConfig.model_validate(tiny_config(tiny, tmp_path, optim={"micro_batch_size": micro, "max_grad_norm": None},
                                                         loss={"aggregation": agg}))
            acc = Accelerator(cpu=True)
            tok, policy = load_tokenizer(cfg.model), load_policy(cfg.model)
            before = torch.cat([p.detach().flatten() for p in policy.parameters()])
            opt = torch.optim.SGD(policy.parameters(), lr=1.0)
            sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda _: 1.0)
            policy, opt = acc.prepare(policy, opt)
            roll = TransformersEngine(cfg.rollout, tok).generate(policy, PromptStream.from_config(cfg.data, tok, 0).take(2))
            roll.response_mask[::3, 3:] = False  # rows of unequal length
            A = torch.linspace(-1, 1, 8)[:, None] * roll.response_mask
            policy_update(acc, policy, opt, sched, roll, A, None, None, cfg)
            outs.append(torch.cat([p.detach().flatten() for p in policy.parameters()]) - before)
    assert outs[0].abs().max() > 1e-4
    assert torch.allclose(outs[0], outs[2], atol=1e-6)
    assert torch.allclose(outs[1], outs[3], atol=1e-6)
    assert not torch.allclose(outs[0], outs[1])  # the two aggregations differ (rows of unequal length)


def test_config_from_yaml_errors_name_the_key(tmp_path):
    from rewardkit.train.config import load_train_config

    p = tmp_path / "t.yaml"
    p.write_text("model: {path: x}\nloss: {clip_lo: 0.1}\n")
    with pytest.raises(ValueError, match=r"loss\.clip_lo"):
        load_train_config(p)
    p.write_text('model: {path: x}\nrollout: {group_size: 8, stop: ["\\n\\n"]}\n')
    cfg = load_train_config(p)
    assert cfg.rollout.group_size == 8 and cfg.rollout.stop == ["\n\n"] and isinstance(cfg.rollout, RolloutConfig)


def test_cli_train(tiny, tmp_path):
    from rewardkit.cli import main

    cfg = tiny_config(tiny, tmp_path / "out", steps=1)
    p = tmp_path / "train.yaml"
    p.write_text(json.dumps(cfg))
    assert main(["train", "--config", str(p)]) == 0
    assert (tmp_path / "out" / "metrics.jsonl").exists()
    assert main(["train", "--config", str(tmp_path / "missing.yaml")]) == 2


def test_rollout_select_keeps_rows_aligned(tiny):
    tok = bpe_tokenizer()
    rows = [tok(t, add_special_tokens=False)["input_ids"] for t in ("a 1", "b 22", "c 333")]
    roll: Rollout = _rollout(tok, rows)
    sub = roll.select(torch.tensor([2, 0]))
    assert sub.texts == [roll.texts[2], roll.texts[0]] and sub.input_ids.shape[0] == 2


def test_guards_name_rows_source_and_knobs():
    from rewardkit.train.guards import NonFiniteError, check_finite, oom_hint

    x = torch.zeros(4, 3)
    x[2, 1] = float("nan")
    x[3, 2] = float("inf")
    m = torch.ones(4, 3, dtype=torch.bool)
    with pytest.raises(NonFiniteError, match=r"step 7: non-finite advantages in batch rows \[2, 3\].*estimator 'grpo'"):
        check_finite("advantages", x, m, step=7, source="estimator 'grpo'")
    m[2:, :] = False  # non-finite values in padding are ignored
    check_finite("advantages", x, m, step=7, source="x")
    with pytest.raises(torch.OutOfMemoryError, match="micro_batch_size.*gradient_checkpointing"):
        with oom_hint("update", 3):
            raise torch.OutOfMemoryError("CUDA out of memory")
    with pytest.raises(torch.OutOfMemoryError, match="generation_batch_size"):
        with oom_hint("generation", 3):
            raise torch.OutOfMemoryError("CUDA out of memory")


def test_generate_with_stop_strings(tiny):
    from rewardkit.train.common import load_policy, load_tokenizer

    cfg = TrainConfig.model_validate(tiny_config(tiny, tiny, rollout={"stop": ["e", "a"], "max_new_tokens": 24,
                                                                      "group_size": 4}))
    tok, model = load_tokenizer(cfg.model), load_policy(cfg.model)
    torch.manual_seed(0)
    from rewardkit.train.rollout import TransformersEngine

    roll = TransformersEngine(cfg.rollout, tok).generate(model, PromptStream.from_config(cfg.data, tok, 0).take(2))
    lengths = roll.response_mask.sum(-1).tolist()
    assert min(lengths) < 24  # a random model over a 300-token vocabulary emits an 'e' or 'a' soon
    for b, n in enumerate(lengths):
        ids = roll.response_ids[b]
        if n < 24 and ids[n - 1] != tok.eos_token_id:  # stopped by a stop string, padding after
            last = tok.decode(ids[n - 1:n])
            assert "e" in last or "a" in last, (roll.texts[b], last)
            assert (ids[n:] == tok.pad_token_id).all()
            before = tok.decode(ids[:n - 1])
            assert "e" not in before and "a" not in before  # it stopped at the first occurrence


@pytest.mark.parametrize("text", ["Step 1: 12 + 7 = 19.\n\nnaïve café 🙂 The answer is 57.", "東京 🙂🙂 résumé – x", ""])
def test_generated_offsets_windowed_equals_prefix_decoding(text):
    tok = bpe_tokenizer()
    ids = tok(text, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    fast = generated_offsets(tok, ids)
    slow = generated_offsets(tok, ids, window=len(ids) + 1)  # the window covers every prefix
    assert fast == slow and fast[0] == text
    # each span's characters are what its token decodes to (when it completes whole characters)
    for k, (a, b) in enumerate(fast[1]):
        piece = tok.decode(ids[k:k + 1], skip_special_tokens=True)
        if "\ufffd" not in piece:
            assert text[a:b] == piece


def test_demo_config_is_valid():
    from pathlib import Path

    from rewardkit.pipeline import build_pipeline
    from rewardkit.train.config import load_train_config

    cfg = load_train_config(Path(__file__).resolve().parents[2] / "configs" / "train_demo.yaml")
    assert cfg.algorithm.estimator == "grpo_process" and cfg.model.lora is not None
    pipe = build_pipeline(cfg.rewards.pipeline)
    assert pipe.component_names == ["correct", "steps_valid"]

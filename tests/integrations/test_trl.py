"""TRL adapter: the GRPOTrainer reward-function contract, and a real GRPOTrainer run of 2 steps."""

from __future__ import annotations

import asyncio
import inspect
import pickle

import pytest

from rewardkit.integrations.trl import AsyncRewardFunction, RewardFunction, reward_funcs, reward_weights
from rewardkit.pipeline import Pipeline
from rewardkit.types import RewardResult, Sample, Status

NUMERIC = {"rewards": [{"type": "numeric", "fill": {"unparseable": 0.0}}]}


class _Log:
    def __init__(self) -> None:
        self.metrics: dict[str, list[float]] = {}

    def __call__(self, name: str, value: float) -> None:
        self.metrics.setdefault(name, []).append(value)


def test_matches_the_signature_grpotrainer_calls():
    trl = pytest.importorskip("trl")
    from trl.trainer.utils import get_callable_name, is_async_callable

    (f,) = reward_funcs(NUMERIC)
    params = inspect.signature(f.__call__).parameters
    assert list(params)[:3] == ["prompts", "completions", "completion_ids"]
    assert any(p.kind is p.VAR_KEYWORD for p in params.values())
    assert get_callable_name(f) == "pipeline" and not is_async_callable(f)
    # how GRPOTrainer._calculate_rewards calls a sync reward function (TRL 1.x)
    src = inspect.getsource(trl.GRPOTrainer._calculate_rewards)
    assert "prompts=prompts, completions=completions, completion_ids=completion_ids_list, **reward_kwargs" in src


def test_standard_format_reference_column_and_status_policy():
    (f,) = reward_funcs({"rewards": [{"type": "numeric"}]})
    log = _Log()
    out = f(prompts=["2+2?", "2+2?", "2+2?", "x"], completions=["The answer is 4", "The answer is 5", "dunno", "#### 1"],
            completion_ids=[[1], [2], [3], [4]], answer=["4", "4", "4", "1"], trainer_state=None,
            log_metric=log, log_extra=lambda *a: None)
    # no final answer costs what a wrong one does (issue 9 §1: None let TRL mask it, advantage 0)
    assert out == [1.0, 0.0, 0.0, 1.0]
    assert log.metrics["reward/status/ok"] == [0.75]
    assert log.metrics["reward/status/unparseable"] == [0.25]
    assert log.metrics["reward/masked"] == [0.0]
    assert log.metrics["reward/numeric/mean"] == [pytest.approx(2 / 3)]
    (g,) = reward_funcs({"rewards": [{"type": "numeric"}]}, fill={"unparseable": -1.0})
    assert g(["q"], ["dunno"], [[1]], answer=["4"]) == [-1.0]
    (h,) = reward_funcs({"rewards": [{"type": "numeric"}]}, status_policy={"sample": "mask"})
    assert h(["q"], ["dunno"], [[1]], answer=["4"]) == [None]


def test_chat_format_prompts_and_completions():
    (f,) = reward_funcs(NUMERIC, reference_key="solution")
    prompts = [[{"role": "system", "content": "be brief"}, {"role": "user", "content": "3*3?"}]] * 2
    completions = [[{"role": "assistant", "content": "3*3 = 9. The answer is 9"}],
                   [{"role": "assistant", "content": [{"type": "text", "text": "The answer is 8"}]}]]
    assert f(prompts, completions, [[1], [2]], solution=["9", "9"]) == [1.0, 0.0]
    with pytest.raises(KeyError, match="solution"):
        f(prompts, completions, [[1], [2]], answer=["9", "9"])


def test_not_applicable_gives_none_and_extra_columns_reach_metadata():
    from rewardkit.sources import SampleRewardSource

    class OnlyMath(SampleRewardSource):
        def score_one(self, s: Sample) -> RewardResult:
            if s.metadata["task"] != "math":
                return RewardResult.fail(Status.NOT_APPLICABLE)
            return RewardResult.ok(1.0)

    (f,) = reward_funcs(OnlyMath())
    assert f(["a", "b"], ["x", "y"], [[1], [2]], task=["math", "code"]) == [1.0, None]


def test_async_form_for_io_bound_sources_and_on_request():
    from trl.trainer.utils import is_async_callable

    (f,) = reward_funcs(NUMERIC, asynchronous=True)
    assert isinstance(f, AsyncRewardFunction) and is_async_callable(f)
    out = asyncio.run(f(prompts=["q"], completions=["The answer is 2"], completion_ids=[[1]], answer=["2"]))
    assert out == [1.0]
    (r,) = reward_funcs({"rewards": [{"type": "remote", "url": "http://127.0.0.1:9"}]})
    assert isinstance(r, AsyncRewardFunction)  # a RemoteReward inside -> async by default


def test_split_components_and_weights():
    cfg = {"rewards": [{"type": "numeric", "name": "correct", "weight": 2.0, "fill": {"unparseable": -1.0}},
                       {"type": "regex", "name": "fmt", "pattern": "answer", "weight": 0.5},
                       {"type": "exact_match", "name": "logged", "weight": 0.0}]}
    fs = reward_funcs(cfg, split_components=True)
    assert [f.__name__ for f in fs] == ["correct", "fmt"]
    assert reward_weights(cfg) == [2.0, 0.5]
    args = (["q", "q"], ["The answer is 3", "nothing"], [[1], [2]])
    assert fs[0](*args, answer=["3", "3"]) == [1.0, -1.0]
    assert fs[1](*args, answer=["3", "3"]) == [1.0, 0.0]
    with pytest.raises(ValueError, match="gates"):
        reward_funcs({"rewards": [{"type": "numeric"}, {"type": "regex", "pattern": "x"}],
                      "gate": {"component": "regex"}}, split_components=True)


def test_reward_functions_pickle():
    (f,) = reward_funcs(Pipeline(NUMERIC))
    g = pickle.loads(pickle.dumps(f))
    assert isinstance(g, RewardFunction) and g(["q"], ["The answer is 1"], [[1]], answer=["1"]) == [1.0]


# -- a real GRPOTrainer ---------------------------------------------------------------------------
def _tiny_model_dir(tmp_path):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    chars = sorted(set("0123456789abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ.,:;=+-*/?#\n"))
    vocab = {"<pad>": 0, "<eos>": 1, "<unk>": 2, **{c: i + 3 for i, c in enumerate(chars)}}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Split("", behavior="isolated")
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="<eos>",
                                        unk_token="<unk>")
    tokenizer.chat_template = (
        "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
        "{% if add_generation_prompt %}assistant: {% endif %}"
    )
    config = Qwen2Config(vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=256,
                         pad_token_id=0, eos_token_id=1, bos_token_id=1, tie_word_embeddings=True)
    model = Qwen2ForCausalLM(config)
    path = tmp_path / "tiny"
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.mark.slow
@pytest.mark.parametrize("conversational", [False, True])
def test_real_grpo_trainer_two_steps(tmp_path, conversational):
    pytest.importorskip("trl")
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    path = _tiny_model_dir(tmp_path)
    rows = [{"prompt": f"What is {a}+{b}?", "answer": str(a + b)} for a, b in [(1, 2), (3, 4), (5, 6), (7, 8)]]
    if conversational:
        rows = [{"prompt": [{"role": "user", "content": r["prompt"]}], "answer": r["answer"]} for r in rows]
    seen: list[tuple] = []

    class Recording(RewardFunction):
        def __call__(self, prompts, completions, completion_ids, **kwargs):
            seen.append((prompts, completions, completion_ids, kwargs))
            return super().__call__(prompts, completions, completion_ids, **kwargs)

    # regex always applies, so at least one reward per completion is real
    pipe = Pipeline({"rewards": [{"type": "numeric", "name": "correct"},
                                 {"type": "regex", "name": "has_digit", "pattern": "[0-9]", "weight": 0.1}]})
    func = Recording(pipe, name="rewardkit")
    args = GRPOConfig(output_dir=str(tmp_path / "out"), max_steps=2, per_device_train_batch_size=4,
                      num_generations=4, max_completion_length=8, logging_steps=1, report_to=[],
                      use_cpu=True, save_strategy="no", learning_rate=1e-3, bf16=False, seed=0,
                      dataloader_num_workers=0)
    trainer = GRPOTrainer(model=str(path), reward_funcs=[func], args=args, train_dataset=Dataset.from_list(rows))
    trainer.train()

    assert trainer.state.global_step == 2
    assert seen, "the reward function was never called"
    prompts, completions, completion_ids, kwargs = seen[0]
    assert len(prompts) == len(completions) == len(completion_ids) == len(kwargs["answer"])
    assert all(isinstance(ids, list) and all(isinstance(t, int) for t in ids) for ids in completion_ids)
    if conversational:
        assert isinstance(completions[0], list) and completions[0][0]["role"] == "assistant"
    else:
        assert isinstance(completions[0], str)
    logged = {k for entry in trainer.state.log_history for k in entry}
    assert "rewards/rewardkit/mean" in logged  # TRL's own per-function log
    assert {"reward/status/ok", "reward/status/unparseable", "reward/has_digit/mean"} <= logged  # ours

"""OpenRLHF adapter: the Python-function mode, loaded and called the way OpenRLHF does it.

OpenRLHF is not installed here; the loader and the result handling below are written here to
follow OpenRLHF's calling convention (as in ``openrlhf/utils/agent.py`` SingleTurnAgentExecutor
and the 2025 ``remote_rm_utils.RemoteRewardModel``): only the steps that touch the reward function.
"""

from __future__ import annotations

import asyncio
import importlib.util
import inspect

import pytest
import yaml

import rewardkit.integrations.openrlhf as rk_openrlhf
from rewardkit.integrations.openrlhf import openrlhf_response, samples_from_openrlhf, split_query
from rewardkit.types import RewardResult, Status

torch = pytest.importorskip("torch")


@pytest.fixture
def pipeline_yaml(tmp_path, monkeypatch):
    p = tmp_path / "pipe.yaml"
    p.write_text(yaml.safe_dump({"rewards": [{"type": "numeric", "name": "correct"}]}))
    monkeypatch.setenv("REWARDKIT_CONFIG", str(p))
    return p


def _load_like_openrlhf(path: str):
    spec = importlib.util.spec_from_file_location("reward_func", path)
    reward_module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(reward_module)
    return reward_module.reward_func


def test_signature():
    params = list(inspect.signature(rk_openrlhf.reward_func).parameters)
    assert params[:3] == ["queries", "prompts", "labels"] and params[3] == "kwargs"


def test_function_mode_as_current_openrlhf_calls_it(pipeline_yaml):
    reward_func = _load_like_openrlhf(rk_openrlhf.__file__)
    prompt = "<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n"
    queries = [prompt + "The answer is 4<|im_end|>", prompt + "The answer is 5<|im_end|>", prompt + "hmm"]

    async def fetch(qs, ps, ls):  # SingleTurnAgentExecutor._fetch_rewards_via_func: one query per thread
        return await asyncio.gather(*(asyncio.to_thread(reward_func, qs[i:i + 1], ps[i:i + 1], ls[i:i + 1])
                                      for i in range(len(qs))))

    infos = asyncio.run(fetch(queries, [prompt] * 3, ["4", "4", "4"]))
    rewards, valid = [], []
    for rewards_info in infos:  # SingleTurnAgentExecutor.execute + samples_generator
        score_value = rewards_info.get("scores")
        if score_value is None:
            score_value = rewards_info.get("rewards")
        reward = torch.tensor([rewards_info.get("rewards")])
        torch.tensor([score_value])
        extra = {}
        for key, value in (rewards_info.get("extra_logs") or {}).items():
            if isinstance(value, torch.Tensor):
                value = value.flatten()[0].item()
            extra[key] = torch.tensor([value])
        rewards.append(reward.flatten().item())
        valid.append(extra["reward/valid"].item())
    assert rewards == [1.0, 0.0, 0.0]
    assert valid == [1.0, 1.0, 1.0]  # the third had no answer: the sample's fault, a real 0.0


def test_function_mode_batched_as_2025_openrlhf(pipeline_yaml):
    reward_func = _load_like_openrlhf(rk_openrlhf.__file__)
    queries = [f"Q{i}: A: the answer is {i}" for i in range(6)]
    prompts = [f"Q{i}: A:" for i in range(6)]
    labels = ["0", "1", "2", "0", "0", "0"]
    r = reward_func(queries, prompts, labels)
    rewards = torch.cat([r["rewards"]])
    assert rewards.dtype == torch.float32 and rewards.tolist() == [1, 1, 1, 0, 0, 0]
    assert torch.equal(r["scores"], r["rewards"])
    assert set(r["extra_logs"]) == {"reward/valid", "reward/correct"}
    assert all(v.shape == (6,) for v in r["extra_logs"].values())


def test_query_prompt_split_and_optional_lists():
    assert split_query("PROMPT answer", "PROMPT") == " answer"
    assert split_query("<bos>PROMPT answer", "PROMPT") == " answer"  # decode added a prefix
    assert split_query("something else", "PROMPT") == "something else"
    assert split_query("abc", None) == "abc"
    assert split_query("P The answer is 4<|im_end|>\n<|endoftext|>", "P") == " The answer is 4"
    assert split_query("x </s>", None) == "x" and split_query("a <b> c", None) == "a <b> c"
    s = samples_from_openrlhf(["p1 x", "p2 y"], None, None)
    assert [(x.prompt, x.completion, x.reference) for x in s] == [("", "p1 x", None), ("", "p2 y", None)]
    s = samples_from_openrlhf(["p1 x"], ["p1"], [{"answer": "1"}])
    assert (s[0].prompt, s[0].completion, s[0].reference) == ("p1", " x", {"answer": "1"})


def test_response_has_numbers_only():
    results = [RewardResult.ok(0.5, components={"a": 0.5, "b": None}), RewardResult.fail(Status.ERROR)]
    payload = openrlhf_response(results, ["a", "b"], fill=-1.0)  # an error is masked: fill, valid 0
    assert payload == {"rewards": [0.5, -1.0], "scores": [0.5, -1.0],
                       "extra_logs": {"reward/valid": [1.0, 0.0], "reward/a": [0.5, -1.0], "reward/b": [-1.0, -1.0]}}
    assert list(payload) == ["rewards", "scores", "extra_logs"]


def test_server_renders_like_openrlhfs_own_server():
    """OpenRLHF's serve_rm answers with starlette's JSONResponse; /get_reward renders identically."""
    from starlette.responses import JSONResponse

    from rewardkit.serving.app import render_openrlhf

    payload = openrlhf_response([RewardResult.ok(0.1 + 0.2, components={"é": 1e-7}),
                                 RewardResult.fail(Status.ERROR)], ["é"], fill=0.0)
    assert render_openrlhf(payload) == JSONResponse(payload).body

"""verl adapter, loaded and called the way verl loads and calls a custom reward function.

verl itself is not a dependency. When it is installed (``pip install --no-deps verl``), its own
module loader is used and its reward managers' call sites are checked against what we assume;
the package's ``__init__`` needs ray, so the loader file is loaded on its own.
"""

from __future__ import annotations

import asyncio
import importlib.util
import inspect
import re
from pathlib import Path

import pytest
import yaml

import rewardkit.integrations.verl as rk_verl


def _verl_dir() -> Path | None:
    spec = importlib.util.find_spec("verl")
    return Path(spec.origin).parent if spec is not None and spec.origin else None


def _verl_loader():
    d = _verl_dir()
    if d is None:
        pytest.skip("verl is not installed (pip install --no-deps verl to check against it)")
    spec = importlib.util.spec_from_file_location("verl_import_utils_standalone", d / "utils" / "import_utils.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.load_extern_object


@pytest.fixture
def pipeline_yaml(tmp_path, monkeypatch):
    p = tmp_path / "pipe.yaml"
    p.write_text(yaml.safe_dump({"rewards": [{"type": "numeric", "name": "correct"},
                                             {"type": "regex", "name": "fmt", "pattern": "####", "weight": 0.5}]}))
    monkeypatch.setenv("REWARDKIT_CONFIG", str(p))
    return p


def test_signature_is_verls_custom_reward_function():
    params = inspect.signature(rk_verl.compute_score).parameters
    assert list(params)[:4] == ["data_source", "solution_str", "ground_truth", "extra_info"]
    assert params["extra_info"].default is None
    assert any(p.kind is p.VAR_KEYWORD for p in params.values())
    assert inspect.iscoroutinefunction(rk_verl.acompute_score)


def test_verl_call_sites_match_what_the_adapter_assumes():
    d = _verl_dir()
    if d is None:
        pytest.skip("verl is not installed")
    naive = (d / "workers" / "reward_manager" / "naive.py").read_text()
    assert re.search(r"self\.compute_score\(\s*data_source=data_source,\s*solution_str=response_str,\s*"
                     r"ground_truth=ground_truth,\s*extra_info=extra_info,", naive)
    assert 'score["score"]' in naive  # a dict result is read by its "score" key
    batch = (d / "workers" / "reward_manager" / "batch.py").read_text()
    assert re.search(r"self\.compute_score\(\s*data_sources=data_sources,\s*solution_strs=responses_str,\s*"
                     r"ground_truths=ground_truths,\s*extra_infos=extras,", batch)
    reward = (d / "trainer" / "ppo" / "reward.py").read_text()
    assert "inspect.iscoroutinefunction(raw_fn)" in reward  # async custom functions are awaited


@pytest.mark.parametrize("path_form", ["file", "pkg"])
def test_loaded_by_verls_loader_and_called_like_naive_reward_manager(pipeline_yaml, path_form):
    load_extern_object = _verl_loader()
    module_path = rk_verl.__file__ if path_form == "file" else "pkg://rewardkit.integrations.verl"
    fn = load_extern_object(module_path=module_path, object_name="compute_score")
    reward_kwargs = {"fill": -1.0}  # custom_reward_function.reward_kwargs, merged in by verl

    def call(**kw):  # verl's _call_with_kwargs
        return fn(**{**kw, **reward_kwargs})

    ok = call(data_source="openai/gsm8k", solution_str="6 * 7 = 42\n#### 42", ground_truth="42",
              extra_info={"question": "6*7?", "index": 3, "num_turns": None, "rollout_reward_scores": {}})
    assert ok == {"score": 1.5, "valid": 1.0, "status": "ok", "reward/correct": 1.0, "reward/fmt": 1.0}
    wrong = call(data_source="openai/gsm8k", solution_str="#### 41", ground_truth="42", extra_info={})
    bad = call(data_source="openai/gsm8k", solution_str="no answer", ground_truth="42", extra_info=None)
    assert wrong["score"] == 0.5 and wrong["valid"] == 1.0
    assert bad["score"] == -1.0 and bad["valid"] == 0.0 and bad["status"] == "unparseable"
    assert bad["reward/correct"] is None
    assert set(ok) == set(wrong) == set(bad)  # verl stacks the keys into per-sample columns
    assert isinstance(ok["score"], float)


def test_async_and_batch_forms(pipeline_yaml):
    r = asyncio.run(rk_verl.acompute_score(data_source="x", solution_str="#### 5", ground_truth="5"))
    assert r["score"] == 1.5
    out = rk_verl.compute_score_batch(data_sources=["a", "b", "a"], solution_strs=["#### 1", "#### 2", "zzz"],
                                      ground_truths=["1", "3", "1"], extra_infos=[{}, {}, {}])
    assert [o["score"] for o in out] == [1.5, 0.5, 0.0]
    assert [o["status"] for o in out] == ["ok", "ok", "unparseable"]


def test_data_source_selects_the_pipeline(tmp_path, pipeline_yaml):
    strict = tmp_path / "strict.yaml"
    strict.write_text(yaml.safe_dump({"rewards": [{"type": "exact_match", "name": "exact"}]}))
    configs = {"trivia": str(strict), "*": str(pipeline_yaml)}
    a = rk_verl.compute_score("trivia", "<answer>Paris</answer>", "paris", configs=configs)
    b = rk_verl.compute_score("gsm8k", "#### 3", "3", configs=configs)
    assert a == {"score": 1.0, "valid": 1.0, "status": "ok", "reward/exact": 1.0}
    assert b["score"] == 1.5 and "reward/correct" in b
    c = rk_verl.compute_score("trivia", "#### 3", "3", configs=configs, components=False)
    assert set(c) == {"score", "valid", "status"}


def test_default_pipeline_without_config(monkeypatch):
    monkeypatch.delenv("REWARDKIT_CONFIG", raising=False)
    r = rk_verl.compute_score("gsm8k", "so the answer is 12", "12")
    assert r["score"] == 1.0 and r["valid"] == 1.0

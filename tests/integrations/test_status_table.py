"""Issue 9 §1: the TRL, verl and OpenRLHF adapters give the same reward for every status.

One table, one status policy: the sample's own failures cost the policy (failing score, valid),
infrastructure failures and ``not_applicable`` are masked (TRL ``None``; verl/OpenRLHF the fill
with ``valid = 0``). Before the fix TRL masked *every* non-ok result -- a completion with no answer
escaped the penalty a wrong answer gets -- while verl/OpenRLHF gave 0.0 to everything, punishing
the model for a crashed sandbox.
"""

from __future__ import annotations

import pytest

import rewardkit.integrations.openrlhf as rk_openrlhf
import rewardkit.integrations.verl as rk_verl
from rewardkit.integrations.trl import reward_funcs
from rewardkit.sources import SampleRewardSource
from rewardkit.types import RewardResult, Sample, Status

pytest.importorskip("torch")

_CASES = {
    "ok": lambda: RewardResult.ok(0.7),
    "wrong": lambda: RewardResult.ok(0.0),
    "unparseable": lambda: RewardResult.fail(Status.UNPARSEABLE, "no final answer"),
    "timeout": lambda: RewardResult.fail(Status.TIMEOUT, "expression over its budget"),
    "timeout_infra": lambda: RewardResult.fail(Status.TIMEOUT, "judge did not answer", info={"fault": "infrastructure"}),
    "error": lambda: RewardResult.fail(Status.ERROR, "sandbox down"),
    "error_sample": lambda: RewardResult.fail(Status.ERROR, "malformed tool call", info={"fault": "sample"}),
    "not_applicable": lambda: RewardResult.fail(Status.NOT_APPLICABLE),
}


class StatusSource(SampleRewardSource):
    """Returns the result named by the completion text."""

    def score_one(self, sample: Sample) -> RewardResult:
        return _CASES[sample.completion]()


SOURCE = f"{__name__}:StatusSource"

# completion -> (reward, valid) under the default policy; masked rows carry the fill (here 0.0)
DEFAULT_TABLE = {
    "ok": (0.7, True), "wrong": (0.0, True), "unparseable": (0.0, True), "timeout": (0.0, True),
    "timeout_infra": (0.0, False), "error": (0.0, False), "error_sample": (0.0, True),
    "not_applicable": (0.0, False),
}


def _through_all_adapters(config: dict, names: list[str], **adapter_args) -> dict[str, list]:
    """(reward, valid) per completion from each adapter, called as its trainer calls it."""
    (f,) = reward_funcs(config, status_policy=adapter_args.get("status_policy"))
    trl = [(v if v is not None else None) for v in f(["p"] * len(names), names, None, answer=["x"] * len(names))]
    trl_pairs = [(0.0 if v is None else v, v is not None) for v in trl]
    verl = [rk_verl.compute_score("d", n, "x", {"question": "p"}, config=config, **adapter_args) for n in names]
    verl_batch = rk_verl.compute_score_batch(["d"] * len(names), names, ["x"] * len(names), None, config=config,
                                             **adapter_args)
    payload = rk_openrlhf.reward_func(["p" + n for n in names], ["p"] * len(names), ["x"] * len(names),
                                      config=config, **adapter_args)
    return {
        "trl": trl_pairs,
        "verl": [(d["score"], d["valid"] == 1.0) for d in verl],
        "verl_batch": [(d["score"], d["valid"] == 1.0) for d in verl_batch],
        "openrlhf": list(zip(payload["rewards"].tolist(), (payload["extra_logs"]["reward/valid"] == 1.0).tolist(),
                             strict=True)),
    }


def test_every_adapter_gives_the_same_reward_for_each_status():
    names = list(DEFAULT_TABLE)
    got = _through_all_adapters({"rewards": [{"type": SOURCE}]}, names)
    expected = [(pytest.approx(DEFAULT_TABLE[n][0]), DEFAULT_TABLE[n][1]) for n in names]
    for adapter, pairs in got.items():
        assert pairs == expected, adapter


def test_no_answer_costs_as_much_as_a_wrong_answer_in_trl():
    """The old loophole: TRL got None for `unparseable`, masked it, and the completion had advantage 0."""
    (f,) = reward_funcs({"rewards": [{"type": SOURCE}]})
    wrong, no_answer, endless = f(["p"] * 3, ["wrong", "unparseable", "timeout"], None)
    assert no_answer is not None and endless is not None
    assert no_answer <= wrong and endless <= wrong


def test_policy_from_pipeline_yaml_and_from_adapter_arguments_agree_across_adapters():
    names = list(DEFAULT_TABLE)
    custom = {"failing_score": -1.0, "statuses": {"error": "fail", "timeout": "mask"}}
    from_yaml = _through_all_adapters({"rewards": [{"type": SOURCE}], "status_policy": custom}, names)
    from_args = _through_all_adapters({"rewards": [{"type": SOURCE}]}, names, status_policy=custom)
    expected = {"ok": (0.7, True), "wrong": (0.0, True), "unparseable": (-1.0, True), "timeout": (0.0, False),
                "timeout_infra": (0.0, False), "error": (-1.0, True), "error_sample": (-1.0, True),
                "not_applicable": (0.0, False)}
    for got in (from_yaml, from_args):
        for adapter, pairs in got.items():
            assert pairs == [(pytest.approx(expected[n][0]), expected[n][1]) for n in names], adapter


def test_pipeline_fill_is_a_real_score_and_the_status_is_still_logged():
    config = {"rewards": [{"type": SOURCE, "fill": {"unparseable": 0.25, "error": 0.5}}]}
    got = _through_all_adapters(config, ["unparseable", "error"])
    for adapter, pairs in got.items():
        assert pairs == [(0.25, True), (0.5, True)], adapter
    d = rk_verl.compute_score("d", "unparseable", "x", None, config=config)
    assert d["status"] == "unparseable"  # counted before the fill


def test_the_servers_get_reward_follows_the_same_table():
    pytest.importorskip("fastapi")
    from starlette.testclient import TestClient

    from rewardkit.serving.app import ServerSettings, create_app

    names = list(DEFAULT_TABLE)
    with TestClient(create_app({"rewards": [{"type": SOURCE}]}, ServerSettings(workers=1))) as client:
        body = client.post("/get_reward", json={"query": ["p" + n for n in names], "prompts": ["p"] * len(names),
                                                "labels": ["x"] * len(names)}).json()
    got = list(zip(body["rewards"], [v == 1.0 for v in body["extra_logs"]["reward/valid"]], strict=True))
    assert got == [(pytest.approx(DEFAULT_TABLE[n][0]), DEFAULT_TABLE[n][1]) for n in names]

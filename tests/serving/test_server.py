"""The reward server as a real uvicorn process on 127.0.0.1, hit by raw HTTP and by RemoteReward."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import threading
import time

import httpx
import pytest

from rewardkit.serving.client import RemoteReward
from rewardkit.types import Sample, Status
from tests.serving.conftest import NUMERIC, SLEEPY, SLEEPY_CPU


@pytest.fixture(scope="module")
def numeric_server(server_factory):
    return server_factory(NUMERIC, "--max-body-bytes", "20000", "--max-wait-ms", "2")


def metric(text: str, name: str, **labels: str) -> float:
    """Value of one sample in Prometheus text format (0 when absent)."""
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = re.match(r"^([a-zA-Z_:][\w:]*)(\{[^}]*\})? (\S+)$", line)
        if not m or m.group(1) != name:
            continue
        got = ",".join(sorted((m.group(2) or "{}")[1:-1].split(","))) if m.group(2) else ""
        if got == want:
            return float(m.group(3))
    return 0.0


# -- /score --------------------------------------------------------------------------------------
def test_score_batch_results_in_order_with_ids_and_statuses(numeric_server):
    body = {"samples": [
        {"prompt": "2+3?", "completion": "2+3=5. The answer is 5", "reference": {"answer": "5"}, "id": "a"},
        {"prompt": "2+3?", "completion": "The answer is 6", "reference": "5", "id": 7},
        {"prompt": "2+3?", "completion": "no idea", "reference": "5"},
        {"prompt": "2+3?", "completion": "The answer is 5", "reference": {"wrong_key": 1}},
        {"prompt": [{"role": "user", "content": "2+3?"}],
         "completion": [{"role": "assistant", "content": "#### 5"}], "reference": 5},
    ], "request_id": "req-1"}
    r = httpx.post(numeric_server.url + "/score", json=body)
    assert r.status_code == 200
    assert r.headers["x-request-id"] == "req-1"
    data = r.json()
    assert data["request_id"] == "req-1"
    res = data["results"]
    assert [x["status"] for x in res] == ["ok", "ok", "unparseable", "error", "ok"]
    assert [x["score"] for x in res] == [1.0, 0.0, None, None, 1.0]
    assert [x["id"] for x in res] == ["a", 7, None, None, None]
    assert [x["index"] for x in res] == [0, 1, 2, 3, 4]
    assert res[0]["components"] == {"numeric": 1.0}
    assert "answer" in res[3]["info"]["numeric"]["error"]
    assert data["counts"] == {"ok": 3, "unparseable": 1, "error": 1}


def test_request_id_generated_or_taken_from_header(numeric_server):
    s = {"samples": [{"completion": "The answer is 1", "reference": "1"}]}
    r1 = httpx.post(numeric_server.url + "/score", json=s)
    r2 = httpx.post(numeric_server.url + "/score", json=s, headers={"X-Request-ID": "abc"})
    assert len(r1.json()["request_id"]) == 32 and r1.headers["x-request-id"] == r1.json()["request_id"]
    assert r2.json()["request_id"] == "abc"


def test_empty_batch_is_fine(numeric_server):
    r = httpx.post(numeric_server.url + "/score", json={"samples": []})
    assert r.status_code == 200 and r.json()["results"] == []


def test_step_spans_travel(server_factory, tmp_path):
    srv = server_factory({"rewards": [{"type": "step_arithmetic"}]})
    comp = "3 + 4 = 7\n7 * 2 = 15\nThe answer is 15"
    r = httpx.post(srv.url + "/score", json={"samples": [{"completion": comp, "reference": "14"}]})
    steps = r.json()["results"][0].get("steps")
    assert steps, r.json()
    for st in steps:
        assert set(st) == {"start", "end", "score"}
        assert 0 <= st["start"] < st["end"] <= len(comp)


# -- OpenRLHF /get_reward ------------------------------------------------------------------------
def test_get_reward_bytes_match_openrlhf_protocol(numeric_server):
    prompt = "<|user|>What is 2+3?<|assistant|>"
    body = {"query": [prompt + "The answer is 5", prompt + "The answer is 4", prompt + "hmm"],
            "prompts": [prompt] * 3, "labels": ["5", "5", "5"]}
    r = httpx.post(numeric_server.url + "/get_reward", json=body)
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert r.content == (b'{"rewards":[1.0,0.0,0.0],"scores":[1.0,0.0,0.0],'
                         b'"extra_logs":{"reward/valid":[1.0,1.0,1.0],"reward/numeric":[1.0,0.0,0.0]}}')


def test_get_reward_as_openrlhf_clients_send_it(numeric_server):
    """The request/parse code of OpenRLHF's remote RM clients (requests + torch.tensor on each list)."""
    torch = pytest.importorskip("torch")
    requests = pytest.importorskip("requests")
    url = numeric_server.url + "/get_reward"
    queries = ["Q: 1+1? A: the answer is 2", "Q: 1+1? A: the answer is 3"]
    for data in ({"query": queries},  # 2024 clients
                 {"query": queries, "prompts": ["Q: 1+1? A:"] * 2},  # early 2025
                 {"query": queries, "prompts": ["Q: 1+1? A:"] * 2, "labels": ["2", "2"]}):  # current
        response = requests.post(url=url, json=data, headers={"Content-Type": "application/json"}, timeout=180)
        response.raise_for_status()
        response = response.json()
        rewards = torch.tensor(response["rewards"])
        scores = torch.tensor(response["scores"])
        extra = {k: torch.tensor(v) for k, v in response["extra_logs"].items()}
        assert rewards.shape == scores.shape == (2,)
        assert all(v.shape == (2,) for v in extra.values())
        if "labels" in data:
            assert rewards.tolist() == [1.0, 0.0]
            assert extra["reward/valid"].tolist() == [1.0, 1.0]
        else:  # no labels: the numeric verifier has no reference -> error status, filled, flagged invalid
            assert rewards.tolist() == [0.0, 0.0]
            assert extra["reward/valid"].tolist() == [0.0, 0.0]


# -- bad input -----------------------------------------------------------------------------------
@pytest.mark.parametrize("path, content, code, field", [
    ("/score", b'{"samples": [', 400, None),
    ("/score", b"", 400, None),
    ("/score", b'[1, 2]', 422, "<body>"),
    ("/score", b'{"samples": "abc"}', 422, "samples"),
    ("/score", b'{"samples": [{"completion": 3}]}', 422, "samples[0].completion"),
    ("/score", b'{"samples": [{"prompt": "p"}]}', 422, "samples[0].completion"),
    ("/score", b'{"samples": [{"completion": "x", "colour": 1}]}', 422, "samples[0].colour"),
    ("/score", b'{"samples": [{"completion": "x", "steps": "a"}]}', 422, "samples[0].steps"),
    ("/get_reward", b'{"prompts": ["a"]}', 422, "query"),
    ("/get_reward", b'{"query": [1]}', 422, "query[0]"),
    ("/get_reward", b'{"query": ["a", "b"], "prompts": ["a"]}', 422, "prompts"),
    ("/get_reward", b'{"query": ["a"], "labels": ["1", "2"]}', 422, "labels"),
])
def test_bad_input_gets_a_clear_4xx(numeric_server, path, content, code, field):
    r = httpx.post(numeric_server.url + path, content=content, headers={"Content-Type": "application/json"})
    assert r.status_code == code, r.text
    body = r.json()
    assert body["detail"]
    assert body.get("field") == field
    if field and field != "<body>":
        assert field in body["detail"]


def test_oversized_body_refused_by_content_length_and_by_streaming_cap(numeric_server):
    big = json.dumps({"samples": [{"completion": "x" * 30000}]}).encode()
    r = httpx.post(numeric_server.url + "/score", content=big)
    assert r.status_code == 413 and "20000" in r.json()["detail"]

    def chunks():  # no Content-Length: chunked transfer encoding
        for i in range(0, len(big), 4096):
            yield big[i:i + 4096]

    r = httpx.post(numeric_server.url + "/score", content=chunks())
    assert r.status_code == 413


def test_unknown_endpoint_and_method(numeric_server):
    r = httpx.get(numeric_server.url + "/nope")
    assert r.status_code == 404 and "POST /score" in r.json()["detail"]
    r = httpx.get(numeric_server.url + "/score")
    assert r.status_code == 405


def test_server_keeps_serving_after_bad_requests_and_counts_them(numeric_server):
    for _ in range(3):
        httpx.post(numeric_server.url + "/score", content=b"{{{")
    r = httpx.post(numeric_server.url + "/score", json={"samples": [{"completion": "The answer is 2",
                                                                      "reference": "2"}]})
    assert r.status_code == 200 and r.json()["results"][0]["score"] == 1.0
    text = httpx.get(numeric_server.url + "/metrics").text
    assert metric(text, "rewardkit_requests_total", endpoint="score", code="400") >= 3
    assert metric(text, "rewardkit_requests_total", endpoint="score", code="200") >= 1
    assert metric(text, "rewardkit_items_total", status="ok") >= 1
    assert metric(text, "rewardkit_request_latency_seconds_count", endpoint="score") >= 4
    assert metric(text, "rewardkit_rejected_total", reason="invalid") >= 3


# -- auth ----------------------------------------------------------------------------------------
def test_bearer_token_auth(server_factory):
    srv = server_factory(NUMERIC, env={"REWARDKIT_API_KEY": "s3cret"})
    body = {"samples": [{"completion": "The answer is 2", "reference": "2"}]}
    assert httpx.post(srv.url + "/score", json=body).status_code == 401
    r = httpx.post(srv.url + "/score", json=body, headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert httpx.post(srv.url + "/get_reward", json={"query": ["a"]}).status_code == 401
    assert httpx.get(srv.url + "/metrics").status_code == 401
    assert httpx.get(srv.url + "/health").status_code == 200
    ok = httpx.post(srv.url + "/score", json=body, headers={"Authorization": "Bearer s3cret"})
    assert ok.status_code == 200
    # the client: key from the parameter, from the environment, or missing
    good = RemoteReward(srv.url, api_key="s3cret").score([Sample("p", "The answer is 2", "2")])
    assert good[0].status is Status.OK
    bad = RemoteReward(srv.url, api_key_env="RK_TEST_NO_SUCH_VAR").score([Sample("p", "x", "2")])
    assert bad[0].status is Status.ERROR and "401" in bad[0].info["error"]
    assert "s3cret" not in repr(RemoteReward(srv.url, api_key="s3cret"))


# -- client --------------------------------------------------------------------------------------
def test_remote_reward_sync_async_and_splitting(numeric_server):
    samples = [Sample("q", f"The answer is {i % 3}", str(i % 2), id=i) for i in range(25)]
    rk = RemoteReward(numeric_server.url, max_batch=4)
    sync = rk.score(samples)
    asyn = asyncio.run(rk.ascore(samples))
    expected = [float(i % 3 == i % 2) for i in range(25)]
    assert [r.score for r in sync] == expected
    assert [r.score for r in asyn] == expected
    assert sync[0].components == {"numeric": 1.0}
    assert rk.score([]) == []


def test_remote_reward_failures_become_statuses(numeric_server, server_factory):
    dead = RemoteReward("http://127.0.0.1:9", retries=1, backoff=0.01)
    r = dead.score([Sample("p", "c", "1")] * 2)
    assert [x.status for x in r] == [Status.ERROR] * 2 and "cannot reach" in r[0].info["error"]
    slow = server_factory({"rewards": [{"type": SLEEPY}]})
    r = RemoteReward(slow.url, timeout=0.3, retries=0).score([Sample("p", "sleep:2", "x")])
    assert r[0].status is Status.TIMEOUT and r[0].score is None


def test_remote_reward_in_a_pipeline_config(numeric_server):
    from rewardkit.pipeline import Pipeline

    pipe = Pipeline({"rewards": [{"type": "remote", "url": numeric_server.url, "name": "far"},
                                 {"type": "numeric", "name": "near", "weight": 0.5}]})
    res = pipe.score([Sample("q", "The answer is 4", "4")])[0]
    assert res.score == 1.5 and res.components == {"far": 1.0, "near": 1.0}


# -- batching, queue, timeouts, workers ----------------------------------------------------------
def _post_many(url: str, bodies: list[dict], timeout: float = 60.0) -> list[httpx.Response]:
    async def go() -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=timeout, limits=httpx.Limits(max_connections=100)) as c:
            return await asyncio.gather(*(c.post(url, json=b) for b in bodies))

    return asyncio.run(go())


def test_concurrent_requests_are_merged_into_micro_batches(server_factory):
    srv = server_factory({"rewards": [{"type": SLEEPY, "delay": 0.01}]}, "--max-wait-ms", "100",
                         "--concurrency", "1")
    bodies = [{"samples": [{"completion": "a", "reference": "a"}]} for _ in range(24)]
    res = _post_many(srv.url + "/score", bodies)
    assert all(r.status_code == 200 and r.json()["results"][0]["score"] == 1.0 for r in res)
    text = httpx.get(srv.url + "/metrics").text
    n_batches = metric(text, "rewardkit_batch_size_count")
    assert metric(text, "rewardkit_batch_size_sum") == 24
    assert n_batches < 12  # 24 single-item requests arriving together -> a few batches


def test_full_queue_answers_429_with_retry_after(server_factory):
    srv = server_factory({"rewards": [{"type": SLEEPY}]}, "--max-queue", "4", "--concurrency", "1",
                         "--max-batch", "2", "--max-wait-ms", "0")
    bodies = [{"samples": [{"completion": "sleep:0.5", "reference": "x"}]} for _ in range(12)]
    res = _post_many(srv.url + "/score", bodies)
    codes = sorted(r.status_code for r in res)
    assert codes.count(429) >= 4 and codes.count(200) >= 4, codes
    rejected = next(r for r in res if r.status_code == 429)
    assert int(rejected.headers["retry-after"]) >= 1 and "queue full" in rejected.json()["detail"]
    # a request bigger than the queue can never fit: 413, not an endless 429
    big = {"samples": [{"completion": "a", "reference": "a"}] * 5}
    assert httpx.post(srv.url + "/score", json=big).status_code == 413
    assert httpx.post(srv.url + "/score", json=bodies[0]).status_code == 200


@pytest.mark.slow  # ~10 s of deliberate hangs and worker restarts; the quick run keeps test_lifecycle's pool
def test_cpu_heavy_source_runs_in_worker_processes_with_hard_timeouts(server_factory):
    srv = server_factory({"rewards": [{"type": SLEEPY_CPU}]}, "--workers", "2", "--item-timeout", "1.5",
                         "--max-wait-ms", "1")
    health = httpx.get(srv.url + "/health").json()
    assert health["cpu_heavy"] is True and health["slots"] == 2
    ok = httpx.post(srv.url + "/score", json={"samples": [{"completion": "a", "reference": "a"}]}).json()
    pid = ok["results"][0]["info"][SLEEPY_CPU]["pid"]  # info is keyed by component name
    assert pid != srv.proc.pid  # scored in a worker process

    # a hanging item times out; a concurrent request in another batch is unaffected
    res = _post_many(srv.url + "/score", [{"samples": [{"completion": "hang", "reference": "x"}]},
                                          {"samples": [{"completion": "b", "reference": "b"}]}])
    hung, fine = res[0].json()["results"][0], res[1].json()["results"][0]
    assert hung["status"] == "timeout" and hung["score"] is None
    assert fine["status"] == "ok" and fine["score"] == 1.0
    # a worker that dies and a source that raises: error statuses, then the server recovers
    died = httpx.post(srv.url + "/score", json={"samples": [{"completion": "die"}]}, timeout=30).json()
    assert died["results"][0]["status"] == "error"
    crashed = httpx.post(srv.url + "/score", json={"samples": [{"completion": "crash"},
                                                               {"completion": "a", "reference": "a"}]}).json()
    assert [x["status"] for x in crashed["results"]] == ["error", "ok"]
    assert "boom" in json.dumps(crashed["results"][0]["info"])
    again = httpx.post(srv.url + "/score", json={"samples": [{"completion": "c", "reference": "c"}]}, timeout=30)
    assert again.json()["results"][0]["score"] == 1.0
    text = httpx.get(srv.url + "/metrics").text
    assert metric(text, "rewardkit_worker_restarts_total") >= 2
    assert metric(text, "rewardkit_items_total", status="timeout") == 1


def test_graceful_shutdown_finishes_in_flight_requests(server_factory):
    srv = server_factory({"rewards": [{"type": SLEEPY}]})
    out: dict[str, httpx.Response] = {}

    def call() -> None:
        out["r"] = httpx.post(srv.url + "/score", json={"samples": [{"completion": "sleep:1.5", "reference": "x"}]},
                              timeout=30)

    t = threading.Thread(target=call)
    t.start()
    time.sleep(0.5)  # the request is being scored
    srv.proc.send_signal(signal.SIGTERM)
    t.join(30)
    assert out["r"].status_code == 200 and out["r"].json()["results"][0]["status"] == "ok"
    # uvicorn re-raises the signal once it has shut down cleanly
    assert srv.proc.wait(30) in (0, -signal.SIGTERM)
    with pytest.raises(httpx.HTTPError):
        httpx.get(srv.url + "/health", timeout=1)


def test_binds_loopback_by_default():
    import argparse

    from rewardkit.serving.server import add_serve_arguments, settings_from_args

    args = add_serve_arguments(argparse.ArgumentParser()).parse_args([])
    assert args.host == "127.0.0.1" and args.port == 8000
    os.environ.pop("REWARDKIT_API_KEY", None)
    s = settings_from_args(args)
    assert s.api_key is None and s.max_batch == 64

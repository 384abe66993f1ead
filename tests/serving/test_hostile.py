"""The server under hostile or broken clients (raw sockets to 127.0.0.1 only)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import httpx
import pytest

from tests.serving.conftest import NUMERIC, REPO


@pytest.fixture(scope="module")
def server(server_factory):
    return server_factory(NUMERIC, "--header-timeout", "2", "--body-timeout", "1", "--limit-concurrency", "6")


def _connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    assert host == "127.0.0.1"
    s = socket.create_connection((host, int(port)), timeout=10)
    return s


def _read_until_closed(s: socket.socket, timeout: float) -> tuple[bytes, float]:
    """Everything the server sends until it closes the connection; (data, seconds it took)."""
    t0 = time.monotonic()
    s.settimeout(timeout)
    data = b""
    try:
        while chunk := s.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    return data, time.monotonic() - t0


def _closed_within(s: socket.socket, seconds: float) -> bool:
    s.settimeout(seconds)
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_silent_connection_is_closed(server):
    with _connect(server.url) as s:
        assert _closed_within(s, 8.0)


def test_trickled_headers_are_cut_off(server):
    with _connect(server.url) as s:
        s.sendall(b"POST /score HTTP/1.1\r\nHost: x\r\n")
        t0 = time.monotonic()
        closed = False
        while time.monotonic() - t0 < 10.0:  # one header byte every 0.2 s, forever
            try:
                s.sendall(b"X")
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            if _closed_within(s, 0.2):
                closed = True
                break
        assert closed, "a client trickling its headers kept the connection open"
        assert time.monotonic() - t0 < 8.0


def test_trickled_body_gets_408(server):
    """The body deadline is for the whole body: bytes that keep coming do not extend it."""
    with _connect(server.url) as s:
        s.sendall(b"POST /score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 200\r\n\r\n{")
        for _ in range(3):  # a byte every 0.2 s: still coming, yet the 1 s body_timeout holds
            time.sleep(0.2)
            s.sendall(b" ")
        data, took = _read_until_closed(s, 10.0)
        assert data.startswith(b"HTTP/1.1 408"), data
        assert b"body_timeout" in data


def test_body_shorter_than_content_length_gets_408_and_close(server):
    with _connect(server.url) as s:
        s.sendall(b"POST /score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 100\r\n\r\n{\"samples\": []")
        data, took = _read_until_closed(s, 10.0)
        assert data.startswith(b"HTTP/1.1 408"), data
        assert took < 5.0


def test_connection_cap_answers_503(server):
    idle = [_connect(server.url) for _ in range(6)]  # silent ones count until header_timeout cuts them
    try:
        with _connect(server.url) as s:
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            s.settimeout(5)
            assert s.recv(65536).startswith(b"HTTP/1.1 503")
    finally:
        for c in idle:
            c.close()
    time.sleep(0.3)
    assert httpx.get(server.url + "/health").status_code == 200  # and it recovers


def test_id_beyond_64_bits_is_echoed_exactly(server):
    big = 2**70 + 1
    raw = json.dumps({"samples": [{"id": big, "completion": "The answer is 4", "reference": "4"}]})
    r = httpx.post(server.url + "/score", content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 200, r.text
    res = json.loads(r.text)["results"][0]
    assert res["id"] == big and res["score"] == 1.0


@pytest.mark.parametrize("bad", ["a\r\nX-Evil: 1", "a\nb", "a\x00b", "a b", "é"])
def test_request_id_with_control_characters_is_refused(server, bad):
    r = httpx.post(server.url + "/score", json={"samples": [], "request_id": bad})
    assert r.status_code == 422 and r.json()["field"] == "request_id"
    assert "x-evil" not in r.headers


def test_header_request_id_is_sanitised(server):
    with _connect(server.url) as s:
        s.sendall(b"POST /score HTTP/1.1\r\nHost: x\r\nX-Request-ID: ab\xff\x7fcd\r\n"
                  b"Content-Length: 15\r\n\r\n{\"samples\": []}")
        s.settimeout(5)
        head = s.recv(65536).split(b"\r\n\r\n")[0].lower()
    assert head.startswith(b"http/1.1 200") and b"x-request-id: abcd" in head.split(b"\r\n")


def test_head_health_answers_200(server):
    r = httpx.head(server.url + "/health")
    assert r.status_code == 200 and r.content == b""


@pytest.mark.parametrize("how", ["flag", "env"])
def test_empty_api_key_is_refused(how):
    env = {k: v for k, v in os.environ.items() if k != "REWARDKIT_API_KEY"}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    args = [sys.executable, "-m", "rewardkit.cli", "serve", "--port", "1"]
    if how == "flag":
        args += ["--api-key", ""]
    else:
        env["REWARDKIT_API_KEY"] = ""
    out = subprocess.run(args, capture_output=True, text=True, env=env, timeout=60, cwd=REPO)
    assert out.returncode == 2
    assert "empty" in out.stderr and "Traceback" not in out.stderr


def test_settings_refuse_an_empty_api_key():
    from rewardkit.serving.app import ServerSettings

    with pytest.raises(ValueError, match="empty"):
        ServerSettings(api_key="")

"""Sandboxed execution of untrusted (model-written) Python code.

Backends share one interface -- ``run(Job) -> RunResult``, ``run_many(jobs)``, ``info()``,
``setup()``, ``close()``:

- `LocalSandbox`: a warm worker pool on this machine (``_worker.py``), with the isolation layers
  of ``_isolation.py`` detected and reported at run time;
- `SandboxFusionClient`: a SandboxFusion server (``/run_code``).

`TestProgramClient` talks to ``/test_program``-style APIs, which run their own test harness.
`make_backend` builds one from config values (``backend: local | sandbox_fusion``).
"""

from __future__ import annotations

from typing import Any

from rewardkit.verifiers.sandbox.pool import ALL_LAYERS, LocalSandbox
from rewardkit.verifiers.sandbox.remote import RemoteError, SandboxFusionClient, TestProgramClient
from rewardkit.verifiers.sandbox.spec import Job, Limits, RunResult

__all__ = [
    "Job",
    "Limits",
    "RunResult",
    "LocalSandbox",
    "SandboxFusionClient",
    "TestProgramClient",
    "RemoteError",
    "ALL_LAYERS",
    "make_backend",
]


def make_backend(backend: str = "local", *, url: str | None = None, limits: Limits | None = None,
                 **kw: Any) -> Any:
    """A program-running backend by name (``local`` or ``sandbox_fusion``)."""
    if backend == "local":
        return LocalSandbox(limits=limits, **kw)
    if backend == "sandbox_fusion":
        if not url:
            raise ValueError("backend 'sandbox_fusion' needs a url")
        return SandboxFusionClient(url, limits=limits, **kw)
    raise ValueError(f"unknown sandbox backend {backend!r} (expected 'local' or 'sandbox_fusion')")

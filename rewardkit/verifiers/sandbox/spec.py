"""Data types shared by every sandbox backend (local pool, SandboxFusion, test-program APIs)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

__all__ = ["Limits", "Job", "RunResult", "RunStatus"]

RunStatus = Literal["ok", "timeout", "output_limit", "error"]


@dataclass(frozen=True, slots=True)
class Limits:
    """Per-run resource limits.

    wall_s: wall-clock limit; cpu_s: CPU-time limit (RLIMIT_CPU, rounded up to whole seconds);
    memory_mb: address-space limit (RLIMIT_AS; note a warm run starts from the worker's ~50-100 MB
    of mappings); max_procs: processes/threads (RLIMIT_NPROC for the run's uid, and pids.max);
    max_open_files: RLIMIT_NOFILE; max_file_mb: RLIMIT_FSIZE; max_output_bytes: stdout and stderr
    are each truncated to this; kill_output_bytes: the run is killed once it has written this much
    (default 16 x max_output_bytes).
    """

    wall_s: float = 5.0
    cpu_s: float = 4.0
    memory_mb: int = 1024
    max_procs: int = 16
    max_open_files: int = 64
    max_file_mb: float = 16.0
    max_output_bytes: int = 64 * 1024
    kill_output_bytes: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class Job:
    """One run: a Python program (``kind="program"``, fed ``stdin``) or the unit-test harness
    (``kind="harness"`` with a harness ``payload``; see ``_harness.py``)."""

    code: str = ""
    stdin: str = ""
    kind: Literal["program", "harness"] = "program"
    payload: dict[str, Any] | None = None
    files: dict[str, str] = field(default_factory=dict)
    limits: Limits | None = None


@dataclass(slots=True)
class RunResult:
    """What happened to one run.

    status: ``ok`` (the program ended on its own, whatever its exit code), ``timeout`` (wall or CPU
    limit; see ``timeout_kind``), ``output_limit`` (killed for writing too much), ``error`` (the
    sandbox itself failed: ``error`` says why). ``report`` is the raw harness channel.
    """

    status: RunStatus
    exit_code: int | None = None
    signal: int | None = None
    stdout: str = ""
    stderr: str = ""
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    report: str = ""
    wall_s: float | None = None
    cpu_s: float | None = None
    maxrss_kb: int | None = None
    timeout_kind: str | None = None
    error: str | None = None
    layers: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """The program ran to completion and exited with status 0."""
        return self.status == "ok" and self.exit_code == 0

    @classmethod
    def from_worker(cls, d: dict[str, Any]) -> RunResult:
        keys = cls.__slots__  # type: ignore[attr-defined]
        return cls(**{k: d[k] for k in keys if k in d})

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__}  # type: ignore[attr-defined]

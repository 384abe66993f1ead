"""Sandbox worker: a warm interpreter that forks one fresh, limited child per run.

Started by `rewardkit.verifiers.sandbox.pool` as ``python -I <this file>`` (a plain script, so it
does not import rewardkit or pydantic). Protocol on stdin/stdout: 4-byte big-endian length + JSON.
The first message holds the worker options; the worker answers ``{"ready": ...}`` with the
isolation layers it could set up, then serves one job per message.

Per run: a fresh working directory owned by the run's uid, pipes for stdout/stderr (and the
harness report channel on fd 3), a memfd for stdin, then ``fork``. The child joins the worker's
pids cgroup, starts a new session, applies rlimits, drops to the unprivileged uid, scrubs the
environment and runs the code in the already-warm interpreter (or ``exec``s a fresh one when the
job asks for a cold run). The worker enforces the wall-clock limit, caps captured output, and
when the main process ends kills everything that is left (cgroup, else uid + process group).
"""

from __future__ import annotations

import atexit
import builtins
import fcntl
import io
import json
import os
import select
import shutil
import signal
import struct
import sys
import tempfile
import time
import traceback
import types

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _harness  # noqa: E402
import _isolation  # noqa: E402

PRELOAD = (
    "math cmath itertools functools collections collections.abc heapq bisect re string random operator "
    "typing fractions decimal statistics copy json datetime time array dataclasses enum numbers "
    "textwrap unicodedata hashlib struct io abc contextlib queue keyword"
).split()

MAX_MSG = 256 * 1024 * 1024


def _read_exact(fd: int, n: int) -> bytes | None:
    buf = bytearray()
    while len(buf) < n:
        chunk = os.read(fd, n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def read_msg(fd: int) -> dict | None:
    head = _read_exact(fd, 4)
    if head is None:
        return None
    (n,) = struct.unpack(">I", head)
    if n > MAX_MSG:
        raise ValueError("message too large")
    body = _read_exact(fd, n)
    return None if body is None else json.loads(body)


def write_msg(fd: int, msg: dict) -> None:
    body = json.dumps(msg).encode()
    data = struct.pack(">I", len(body)) + body
    while data:
        k = os.write(fd, data)
        data = data[k:]


class Worker:
    def __init__(self, opts: dict) -> None:
        self.opts = opts
        self.layers, self.missing = _isolation.setup_worker(opts.get("want", {}))
        for m in PRELOAD + list(opts.get("preload", ())):
            try:
                __import__(m)
            except Exception:  # noqa: BLE001 - optional
                pass
        self.uid = None
        if "setuid" in self.layers:
            self.uid = int(opts.get("uid_base", 2_000_000_000)) + os.getpid()
        self.cgroup = None
        if opts.get("want", {}).get("pids_cgroup", True):
            try:
                self.cgroup = _isolation.PidsCgroup.create(f"w-{os.getpid()}")
                self.layers.append("pids_cgroup")
            except OSError as e:
                self.missing["pids_cgroup"] = str(e)
        if self.uid is None and self.cgroup is None:
            self.missing.setdefault("fork_containment", "no setuid and no pids cgroup: RLIMIT_NPROC counts the "
                                    "caller's own processes only")
        self.workbase = tempfile.mkdtemp(prefix="rk-work-")
        os.chmod(self.workbase, 0o711)
        self.private_tmp = "private_tmp" in self.layers

    def close(self) -> None:
        if self.cgroup is not None:
            self.cgroup.remove()
        shutil.rmtree(self.workbase, ignore_errors=True)

    # -- one run -------------------------------------------------------------------------------
    def run(self, job: dict) -> dict:
        lim = job["limits"]
        t0 = time.monotonic()
        workdir = tempfile.mkdtemp(dir=self.workbase)
        if self.uid is not None:
            os.chown(workdir, self.uid, self.uid)
        os.chmod(workdir, 0o700)
        for name, content in (job.get("files") or {}).items():
            p = os.path.join(workdir, os.path.basename(name))
            with open(p, "w", encoding="utf-8") as f:
                f.write(content)
            if self.uid is not None:
                os.chown(p, self.uid, self.uid)
        harness = job["kind"] == "harness"
        stdin_fd = os.memfd_create("stdin")
        data = (job.get("stdin") or "").encode()
        while data:
            data = data[os.write(stdin_fd, data):]
        os.lseek(stdin_fd, 0, os.SEEK_SET)
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        rep_r, rep_w = os.pipe() if harness else (None, None)
        sync_r, sync_w = os.pipe()
        if self.cgroup is not None:
            self.cgroup.set_max(int(lim["max_procs"]))
        pid = os.fork()
        if pid == 0:  # pragma: no cover - exercised through the pool tests
            try:
                self._child(job, workdir, stdin_fd, out_w, err_w, rep_w, sync_w)
            finally:
                os._exit(70)  # the child must never return into the worker loop
        for fd in (stdin_fd, out_w, err_w, rep_w, sync_w):
            if fd is not None:
                os.close(fd)
        try:
            res = self._supervise(pid, job, t0, out_r, err_r, rep_r, sync_r)
        finally:
            for fd in (out_r, err_r, rep_r, sync_r):
                if fd is not None:
                    os.close(fd)
            shutil.rmtree(workdir, ignore_errors=True)
            if self.private_tmp:
                _isolation.wipe_private_tmp(self.workbase)
        res["layers"] = self.layers
        return res

    def _kill_all(self, pid: int) -> None:
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass
        if self.cgroup is not None:
            self.cgroup.kill_all()
        elif self.uid is not None:
            _isolation.kill_uid(self.uid)
        else:  # no cgroup, no uid of our own: everything below us in the process tree
            _isolation.kill_descendants(os.getpid())

    def _supervise(self, pid, job, t0, out_r, err_r, rep_r, sync_r) -> dict:
        lim = job["limits"]
        cap = int(lim["max_output_bytes"])
        kill_cap = int(lim.get("kill_output_bytes") or 16 * cap)
        deadline = t0 + float(lim["wall_s"])
        bufs = {out_r: bytearray(), err_r: bytearray()}
        seen = {out_r: 0, err_r: 0}
        if rep_r is not None:
            bufs[rep_r] = bytearray()
            seen[rep_r] = 0
        sync = bytearray()
        open_fds = set(bufs) | {sync_r}
        for fd in open_fds:
            os.set_blocking(fd, False)
        poller = select.poll()
        for fd in open_fds:
            poller.register(fd, select.POLLIN)
        try:
            pidfd = os.pidfd_open(pid)
            poller.register(pidfd, select.POLLIN)
        except (AttributeError, OSError):
            pidfd = None
        status, timeout_kind, wait_status, rusage = "ok", None, None, None
        exited = False

        def drain(fd: int) -> None:
            while True:
                try:
                    chunk = os.read(fd, 65536)
                except BlockingIOError:
                    return
                except OSError:
                    chunk = b""
                if not chunk:
                    poller.unregister(fd)
                    open_fds.discard(fd)
                    return
                if fd == sync_r:
                    sync.extend(chunk[:4096])
                    continue
                seen[fd] += len(chunk)
                room = (cap if fd != rep_r else 8 * 1024 * 1024) - len(bufs[fd])
                if room > 0:
                    bufs[fd] += chunk[:room]

        while not exited:
            now = time.monotonic()
            if now >= deadline:
                status, timeout_kind = "timeout", "wall"
                break
            events = poller.poll(max(1, min(int((deadline - now) * 1000) + 1, 50 if pidfd is None else 1000)))
            for fd, _ in events:
                if fd == pidfd:
                    exited = True
                elif fd in open_fds:
                    drain(fd)
            if seen[out_r] + seen[err_r] > kill_cap:
                status = "output_limit"
                break
            if pidfd is None:
                wp, st, ru = os.wait4(pid, os.WNOHANG)
                if wp:
                    wait_status, rusage, exited = st, ru, True
        if not exited or status != "ok":
            self._kill_all(pid)
        if wait_status is None:
            if pid in _isolation.REAPED:
                wait_status, rusage = _isolation.REAPED.pop(pid)
            else:
                _, wait_status, rusage = os.wait4(pid, 0)
        # the main process is gone: everything else it left behind goes too
        self._kill_all(pid)
        _isolation.reap_children()
        _isolation.REAPED.clear()
        end = time.monotonic() + 1.0
        while open_fds and time.monotonic() < end:  # write ends are closed now: read to EOF
            for fd in list(open_fds):
                drain(fd)
            if open_fds:
                poller.poll(10)
        if pidfd is not None:
            os.close(pidfd)
        wall = time.monotonic() - t0
        exit_code = os.waitstatus_to_exitcode(wait_status)
        sig = -exit_code if exit_code < 0 else None
        cpu = (rusage.ru_utime + rusage.ru_stime) if rusage else None
        if status == "ok" and (sig == signal.SIGXCPU or (sig == signal.SIGKILL and cpu is not None
                                                           and cpu >= float(lim["cpu_s"]) - 0.1)):
            status, timeout_kind = "timeout", "cpu"
        res = {
            "status": status,
            "timeout_kind": timeout_kind,
            "exit_code": exit_code if exit_code >= 0 else None,
            "signal": sig,
            "stdout": bufs[out_r].decode("utf-8", "replace"),
            "stderr": bufs[err_r].decode("utf-8", "replace"),
            "stdout_truncated": seen[out_r] > cap,
            "stderr_truncated": seen[err_r] > cap,
            "report": bufs[rep_r].decode("utf-8", "replace") if rep_r is not None else "",
            "wall_s": wall,
            "cpu_s": cpu,
            "maxrss_kb": rusage.ru_maxrss if rusage else None,
        }
        if not sync.startswith(b"K"):
            if status == "ok":
                res["status"] = "error"
            res["error"] = "sandbox setup failed: " + sync[1:].decode("utf-8", "replace")[:2000]
        return res

    def _child(self, job, workdir, stdin_fd, out_w, err_w, rep_w, sync_w) -> None:
        code = 70
        sync_hi = sync_w
        try:
            os.setsid()
            if self.cgroup is not None:
                self.cgroup.join(os.getpid())
            srcs = [stdin_fd, out_w, err_w] + ([rep_w] if rep_w is not None else [])
            hi = [fcntl.fcntl(fd, fcntl.F_DUPFD, 1024) for fd in srcs]
            sync_hi = fcntl.fcntl(sync_w, fcntl.F_DUPFD_CLOEXEC, 1024)
            for target, fd in enumerate(hi):
                os.dup2(fd, target)
            # close everything else we inherited (protocol pipes, other runs' nothing, the sources)
            os.closerange(len(hi), sync_hi)
            os.closerange(sync_hi + 1, 1 << 16)
            _isolation.apply_child_limits(job["limits"], self.uid, workdir)
            env = _isolation.scrubbed_env(workdir)
            if job.get("cold"):
                main = os.path.join(workdir, "main.py")
                text = job["code"] if job["kind"] != "harness" else _harness.harness_script(job["payload"], 3)
                with open(main, "w", encoding="utf-8") as f:
                    f.write(text)
                os.write(sync_hi, b"K")
                os.execve(sys.executable, [sys.executable, "-I", "main.py"], env)
            os.environ.clear()
            os.environ.update(env)
            sys.stdin = io.TextIOWrapper(io.BufferedReader(io.FileIO(0, "r", closefd=False)), encoding="utf-8")
            sys.stdout = io.TextIOWrapper(io.BufferedWriter(io.FileIO(1, "w", closefd=False)), encoding="utf-8")
            sys.stderr = io.TextIOWrapper(io.BufferedWriter(io.FileIO(2, "w", closefd=False)), encoding="utf-8",
                                          errors="backslashreplace", line_buffering=True)
            sys.__stdin__, sys.__stdout__, sys.__stderr__ = sys.stdin, sys.stdout, sys.stderr
            sys.argv = ["main.py"]
            sys.path[0] = workdir
            atexit._clear()
            import random

            random.seed()  # the fork copied the worker's generator state
            os.write(sync_hi, b"K")
            os.close(sync_hi)
        except BaseException as e:  # noqa: BLE001 - report the setup failure, never run the code
            try:
                os.write(sync_hi, b"E" + repr(e).encode()[:2000])
            except Exception:  # noqa: BLE001
                pass
            os._exit(code)
        if job["kind"] == "harness":
            try:
                _harness.run(job["payload"], 3)
            finally:
                os._exit(0)
        _run_program(job["code"])


def _run_program(code: str) -> None:
    """Run ``code`` as ``python main.py`` would, in this (forked, limited) interpreter; never returns."""
    main = types.ModuleType("__main__")
    main.__dict__.update({"__builtins__": builtins, "__file__": "main.py"})
    sys.modules["__main__"] = main
    status = 0
    try:
        exec(compile(code, "main.py", "exec", dont_inherit=True), main.__dict__)
    except SystemExit as e:
        status = _exit_status(e)
    except BaseException:  # noqa: BLE001
        try:
            traceback.print_exc()
        except BaseException:  # noqa: BLE001
            pass
        status = 1
    try:
        atexit._run_exitfuncs()
    except BaseException:  # noqa: BLE001
        pass
    for s in (sys.stdout, sys.stderr):
        try:
            s.flush()
        except BaseException:  # noqa: BLE001
            if status == 0:
                status = 120
    os._exit(status)


def _exit_status(e: SystemExit) -> int:
    c = e.code
    if c is None:
        return 0
    if isinstance(c, int):
        return c & 0xFF
    try:
        print(c, file=sys.stderr)
    except BaseException:  # noqa: BLE001
        pass
    return 1


def main() -> None:
    rfd = fcntl.fcntl(0, fcntl.F_DUPFD_CLOEXEC, 100)
    wfd = fcntl.fcntl(1, fcntl.F_DUPFD_CLOEXEC, 100)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(2, 1)  # stray prints must never corrupt the protocol
    os.close(devnull)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in the parent's terminal: the parent decides
    opts = read_msg(rfd)
    if opts is None:
        return
    try:
        w = Worker(opts)
    except BaseException as e:  # noqa: BLE001
        write_msg(wfd, {"ready": False, "error": f"{type(e).__name__}: {e}"})
        return
    write_msg(wfd, {"ready": True, "pid": os.getpid(), "uid": w.uid, "layers": w.layers, "missing": w.missing})
    try:
        while True:
            job = read_msg(rfd)
            if job is None:
                break
            try:
                res = w.run(job)
            except BaseException as e:  # noqa: BLE001 - infrastructure failure of this run
                res = {"status": "error", "error": f"{type(e).__name__}: {e}\n{traceback.format_exc()[-2000:]}",
                       "layers": w.layers}
            res["id"] = job.get("id")
            write_msg(wfd, res)
    finally:
        w.close()


if __name__ == "__main__":
    main()

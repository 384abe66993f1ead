"""Linux isolation primitives used by the sandbox worker (stdlib + ctypes only).

This module is imported by the worker process (``_worker.py``), which is started as a plain script
so that it does not pay for importing rewardkit; keep it free of rewardkit imports.

Layers, applied where the kernel and our privileges allow (each is detected at run time, and the
ones actually active are reported with every run):

- ``rlimits``        CPU seconds, address space, processes, open files, file size, no core dumps.
- ``setuid``         run as an unprivileged uid unique to the worker (so RLIMIT_NPROC is enforced
                     and the run cannot signal or read other processes), ``setgroups([])``.
- ``no_new_privs``   setuid binaries cannot regain privileges.
- ``pids_cgroup``    a per-worker pids cgroup, nested under the caller's own: a hard cap on tasks
                     and a complete list of what to kill when the run ends, even for processes
                     that left the process group.
- ``netns``          a fresh network namespace with no interfaces up: no network at all.
- ``mountns``        a private mount namespace for the worker and its runs, in which
- ``private_tmp``    /tmp, /var/tmp, /dev/shm, /run/lock are fresh tmpfs (wiped after every run),
- ``hidden_home``    /root and /home are replaced by empty tmpfs (the Python installation is
                     bind-mounted back read-only when it lives there), and
- ``proc_hidepid``   /proc only shows the run's own processes.
- ``scrubbed_env``, ``fresh_workdir``, ``process_group`` are always on.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import resource
import signal
import sys
import time

CLONE_NEWNS = 0x00020000
CLONE_NEWNET = 0x40000000
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MNT_DETACH = 2
PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38

MASKED_TMP_DIRS = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock")
HIDDEN_HOME_DIRS = ("/root", "/home")
CGROUP_V1_PIDS = "/sys/fs/cgroup/pids"
CGROUP_PARENT_NAME = "rewardkit-sandbox"

_libc = None


def libc():
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        _libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong,
                                ctypes.c_char_p]
        _libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
        _libc.unshare.argtypes = [ctypes.c_int]
        _libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    return _libc


def _check(ret: int, what: str) -> None:
    if ret != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"{what}: {os.strerror(e)}")


def unshare(flags: int) -> None:
    _check(libc().unshare(flags), "unshare")


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    def enc(s):
        return (s.encode() if s is not None else None)
    _check(libc().mount(enc(source), enc(target), enc(fstype), flags, enc(data)), f"mount {target}")


def umount(target: str) -> None:
    _check(libc().umount2(target.encode(), MNT_DETACH), f"umount {target}")


def prctl(option: int, arg: int = 0) -> None:
    _check(libc().prctl(option, arg, 0, 0, 0), f"prctl {option}")


# -- worker-level setup ------------------------------------------------------------------------


def _python_roots_under(hidden: str) -> list[str]:
    """Directories the sandboxed interpreter needs that live under ``hidden`` (topmost only)."""
    cands = {sys.base_prefix, sys.prefix, sys.exec_prefix, os.path.dirname(os.path.realpath(sys.executable))}
    cands.update(p for p in sys.path if p and os.path.isdir(p))
    under = sorted({os.path.realpath(c) for c in cands if os.path.realpath(c).startswith(hidden.rstrip("/") + "/")})
    roots: list[str] = []
    for c in under:
        if not any(c == r or c.startswith(r + "/") for r in roots):
            roots.append(c)
    return roots


def setup_worker(want: dict) -> tuple[list[str], dict[str, str]]:
    """Isolate the worker process itself; returns (active layers, {layer: why unavailable}).

    ``want`` maps layer names to bools (missing = wanted). Everything here happens once per worker,
    so runs only pay for a fork.
    """
    active: list[str] = ["rlimits", "scrubbed_env", "fresh_workdir", "process_group"]
    missing: dict[str, str] = {}
    root = os.geteuid() == 0
    try:
        # (no PR_SET_PDEATHSIG: it fires when the *thread* that spawned us exits; the worker
        # notices its pool is gone from EOF on its command pipe instead)
        prctl(PR_SET_CHILD_SUBREAPER, 1)  # orphans of a run are re-parented to us, so we reap them
    except OSError as e:  # pragma: no cover - non-Linux
        missing["subreaper"] = str(e)
    if want.get("netns", True):
        try:
            unshare(CLONE_NEWNET)
            active.append("netns")
        except OSError as e:
            missing["netns"] = str(e)
    if want.get("mountns", True):
        try:
            unshare(CLONE_NEWNS)
            mount(None, "/", None, MS_REC | MS_PRIVATE)
            active.append("mountns")
        except OSError as e:
            missing["mountns"] = str(e)
    if "mountns" in active:
        masked = []
        # a tmp dir without a Python installation in it is masked first: it is then the staging
        # area for the Python roots that live in the others (a venv under /tmp)
        dirs = [d for d in MASKED_TMP_DIRS if os.path.isdir(d) and not os.path.islink(d)]
        dirs.sort(key=lambda d: bool(_python_roots_under(d)))
        for d in dirs:
            try:
                _over_mount(d, "mode=1777,size=512m", masked[0] if masked else None)
                masked.append(d)
            except OSError as e:
                missing[f"private_tmp:{d}"] = str(e)
        if "/tmp" in masked:
            active.append("private_tmp")
        if want.get("hide_home", True):
            try:
                _hide_homes()
                active.append("hidden_home")
            except OSError as e:
                missing["hidden_home"] = str(e)
        if want.get("proc_hidepid", True):
            try:
                mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "hidepid=2")
                active.append("proc_hidepid")
            except OSError as e:
                missing["proc_hidepid"] = str(e)
    if root and want.get("setuid", True):
        active.append("setuid")
        active.append("no_new_privs")
    elif not root:
        missing["setuid"] = "not running as root"
    return active, missing


def _over_mount(target: str, options: str, staging: str | None) -> None:
    """Mount a fresh tmpfs over ``target``; the Python installation's directories that live under
    it are bind-mounted back read-only (staged meanwhile under ``staging``, a private tmpfs)."""
    roots = _python_roots_under(target)
    if roots and staging is None:
        raise OSError(errno.ENOENT, f"no private tmpfs to stage {roots} while masking {target}")
    staged = []
    for i, r in enumerate(roots):
        st = f"{staging}/.rk-stage-{os.getpid()}-{i}"
        os.makedirs(st, exist_ok=True)
        mount(r, st, None, MS_BIND | MS_REC)
        staged.append((st, r))
    mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, options)
    for st, r in staged:
        os.makedirs(r, exist_ok=True)
        mount(st, r, None, MS_BIND | MS_REC)
        mount(None, r, None, MS_REMOUNT | MS_BIND | MS_RDONLY)
        umount(st)
        os.rmdir(st)
    _PRESERVED.extend(r for _, r in staged)


_PRESERVED: list[str] = []  # Python roots bound back inside masked dirs (never wiped)


def _hide_homes() -> None:
    for hidden in HIDDEN_HOME_DIRS:  # /tmp is our private tmpfs at this point: the staging area
        if os.path.isdir(hidden):
            _over_mount(hidden, "mode=0755,size=1m", "/tmp")


def wipe_private_tmp(keep: str) -> None:
    """Remove everything a run left in the private tmp mounts (except the workdir base)."""
    import shutil

    for d in MASKED_TMP_DIRS:
        try:
            entries = list(os.scandir(d))
        except OSError:
            continue
        for e in entries:
            if e.path == keep or any(r == e.path or r.startswith(e.path + "/") for r in _PRESERVED):
                continue
            try:
                if e.is_dir(follow_symlinks=False):
                    shutil.rmtree(e.path, ignore_errors=True)
                else:
                    os.unlink(e.path)
            except OSError:
                pass


# -- pids cgroup -----------------------------------------------------------------------------


class PidsCgroup:
    """A pids cgroup (v1 hierarchy or v2 delegated subtree) for one worker's runs."""

    def __init__(self, path: str) -> None:
        self.path = path

    @classmethod
    def create(cls, name: str) -> PidsCgroup:
        base = cls._base()
        parent = os.path.join(base, CGROUP_PARENT_NAME)
        os.makedirs(parent, exist_ok=True)
        cls._reap_stale(parent)
        path = os.path.join(parent, name)
        os.makedirs(path, exist_ok=True)
        cg = cls(path)
        cg.set_max(64)  # probe: must be writable
        return cg

    @staticmethod
    def _base() -> str:
        """The caller's own pids cgroup: ours nest under it, so a limit an operator puts around
        rewardkit (systemd slice, container, ``pids.max``) also bounds the code it runs."""
        with open("/proc/self/cgroup") as f:
            lines = [ln.rstrip("\n").split(":", 2) for ln in f if ln.count(":") >= 2]
        v1 = next((rel for _, ctrls, rel in lines if "pids" in ctrls.split(",")), None)
        if v1 is not None and os.path.isfile(os.path.join(CGROUP_V1_PIDS, "cgroup.procs")):
            return os.path.join(CGROUP_V1_PIDS, v1.lstrip("/"))
        # cgroup v2: our own cgroup must have the pids controller delegated to children
        rel = next((rel for hid, ctrls, rel in lines if hid == "0" and ctrls == ""), None)
        if rel is None:
            raise OSError(errno.ENOENT, "no pids cgroup hierarchy")
        base = os.path.join("/sys/fs/cgroup", rel.lstrip("/"))
        with open(os.path.join(base, "cgroup.subtree_control")) as f:
            if "pids" not in f.read().split():
                raise OSError(errno.EPERM, "pids controller not delegated to child cgroups")
        return base

    @staticmethod
    def _reap_stale(parent: str) -> None:
        """Remove empty cgroups of workers that no longer exist (names end with the worker pid)."""
        for name in os.listdir(parent):
            p = os.path.join(parent, name)
            if not os.path.isdir(p):
                continue
            pid = name.rsplit("-", 1)[-1]
            if pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
                try:
                    os.rmdir(p)
                except OSError:
                    pass

    def set_max(self, n: int) -> None:
        with open(os.path.join(self.path, "pids.max"), "w") as f:
            f.write(str(n))

    def join(self, pid: int) -> None:
        with open(os.path.join(self.path, "cgroup.procs"), "w") as f:
            f.write(str(pid))

    def pids(self) -> list[int]:
        with open(os.path.join(self.path, "cgroup.procs")) as f:
            return [int(x) for x in f.read().split()]

    def kill_all(self, deadline_s: float = 2.0) -> int:
        """SIGKILL every task until the cgroup is empty (pids.max bounds the fork race)."""
        end = time.monotonic() + deadline_s
        killed = 0
        while True:
            pids = self.pids()
            if not pids:
                return killed
            for p in pids:
                try:
                    os.kill(p, signal.SIGKILL)
                    killed += 1
                except ProcessLookupError:
                    pass
            reap_children()
            if time.monotonic() > end:
                return killed
            time.sleep(0.001)

    def remove(self) -> None:
        try:
            self.kill_all(0.5)
            os.rmdir(self.path)
        except OSError:
            pass


REAPED: dict[int, tuple[int, object]] = {}  # pid -> (wait status, rusage) of reaped children


def reap_children() -> None:
    """Reap every exited child (we are a subreaper, so orphans of runs end up here).

    Statuses are kept in ``REAPED`` so the supervisor still learns how a run's main process
    ended when it was reaped here first.
    """
    while True:
        try:
            pid, status, ru = os.wait3(os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        REAPED[pid] = (status, ru)
        if len(REAPED) > 10000:
            REAPED.clear()


def _children_map() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(b")", 1)[1].split()[1])
        kids.setdefault(ppid, []).append(int(d))
    return kids


def kill_descendants(root: int, deadline_s: float = 2.0) -> None:
    """SIGKILL every descendant of ``root`` (fallback without cgroup or setuid).

    The worker is a child subreaper, so processes that daemonise (double fork + setsid) are
    re-parented to it and stay in its tree.
    """
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        kids = _children_map()
        todo, found = list(kids.get(root, [])), []
        while todo:
            p = todo.pop()
            found.append(p)
            todo.extend(kids.get(p, []))
        if not found:
            return
        for p in found:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        reap_children()
        time.sleep(0.001)


def kill_uid(uid: int) -> None:
    """Kill every process of ``uid`` (fallback when no cgroup): kill(-1) from a helper with that uid."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        try:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            os.kill(-1, signal.SIGKILL)
        except OSError:
            pass
        os._exit(0)
    os.waitpid(pid, 0)


# -- per-run child setup (runs in the forked child, still root) ------------------------------


def apply_child_limits(limits: dict, uid: int | None, workdir: str) -> None:
    """Resource limits, credentials and cwd for the run process. Raises on failure."""
    os.chdir(workdir)
    mb = 1024 * 1024
    cpu = max(1, int(limits["cpu_s"] + 0.999))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    if limits.get("memory_mb"):
        m = int(limits["memory_mb"] * mb)
        resource.setrlimit(resource.RLIMIT_AS, (m, m))
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits["max_open_files"], limits["max_open_files"]))
    f = int(limits["max_file_mb"] * mb)
    resource.setrlimit(resource.RLIMIT_FSIZE, (f, f))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NPROC, (limits["max_procs"], limits["max_procs"]))
    if uid is not None:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
        prctl(PR_SET_NO_NEW_PRIVS, 1)
        if os.getuid() != uid or os.geteuid() != uid:  # belt and braces
            raise OSError(errno.EPERM, "setuid did not take effect")


def scrubbed_env(workdir: str) -> dict[str, str]:
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": workdir,
        "TMPDIR": workdir,
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONIOENCODING": "utf-8",
    }

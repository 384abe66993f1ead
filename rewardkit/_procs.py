"""Worker processes that cannot outlive their parent, however the parent dies."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

__all__ = ["die_with_parent"]

_PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int) -> None:
    """Call first thing in a worker: on Linux the kernel SIGKILLs it when the parent dies (SIGKILL
    of the parent included); elsewhere a daemon thread watches the parent and exits with it.

    The Linux signal fires when the *thread* that started the worker ends, so start workers from a
    thread that lives as long as the parent (the main thread, or a server's event-loop thread)."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass
        else:
            if os.getppid() != parent_pid:  # the parent died before prctl took effect
                os._exit(1)
            return

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="rewardkit-parent-watch").start()

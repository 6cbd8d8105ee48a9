"""For the app's worker processes (audition pool, training): end with the app.

A worker waits on a queue the app writes to; if the app is killed or crashes, nothing closes that queue (the
worker holds both of its ends), so the worker would wait forever, holding its models in memory, and a training
would run on. ``exit_with_parent`` watches for the parent going away and ends the process then.
"""
from __future__ import annotations

import os
import threading
import time

PARENT_POLL_SEC = 1.0


def exit_with_parent(parent: int | None = None, poll_sec: float = PARENT_POLL_SEC) -> None:
    """Call in the child: a daemon thread ends this process (exit status 3) within ``poll_sec`` of its parent's
    death (it is then re-parented, so ``getppid`` changes; POSIX). ``parent``: the pid the parent passed down
    (``os.getpid()`` there); a child whose parent died before this call (a spawned Python takes ~1 s to get
    here) then ends at once, where ``getppid`` alone would already name its new parent."""
    if os.name != "posix":
        return
    if parent is None:
        parent = os.getppid()
    elif os.getppid() != parent:
        os._exit(3)
    if parent <= 1:
        return

    def watch() -> None:
        while True:
            time.sleep(poll_sec)
            if os.getppid() != parent:
                os._exit(3)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()

"""A lazily started, persistent worker process for sympy calls that may not terminate in time.

``sympy.simplify`` has no time bound and cannot be interrupted from another thread, so the rare
cases that need it run in a separate process that is killed (and lazily restarted) on timeout.
The common verification path never reaches this module. Works from any thread; calls are
serialised by a lock and each waits at most its own remaining time.
"""

from __future__ import annotations

import atexit
import itertools
import multiprocessing as mp
import threading
import time
from multiprocessing.connection import Connection
from typing import Any

from thinkgym.expr import Node


def _serve(conn: Connection) -> None:  # runs in the child process
    import sympy

    from thinkgym.rewards._verify_parse import to_sympy

    conn.send(("ready", None))
    while True:
        try:
            job_id, node = conn.recv()
        except EOFError:
            return
        result: bool | None
        try:
            result = bool(sympy.simplify(to_sympy(node)) == 0)
        except (ValueError, TypeError, ArithmeticError, RecursionError, AttributeError):
            result = None
        conn.send((job_id, result))


class SympyWorker:
    """One child process answering "does this AST simplify to zero?"."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: Any = None
        self._conn: Connection | None = None
        self._ready = False
        self._ids = itertools.count()
        atexit.register(self.close)

    def _start(self) -> None:
        ctx = mp.get_context("spawn")
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_serve, args=(child,), daemon=True, name="thinkgym-verify")
        proc.start()
        child.close()
        self._proc, self._conn, self._ready = proc, parent, False

    def close(self) -> None:
        """Kill the child process (it is restarted on the next call)."""
        if self._proc is not None:
            self._proc.kill()
            self._proc.join(1)
        if self._conn is not None:
            self._conn.close()
        self._proc, self._conn, self._ready = None, None, False

    def is_zero(self, node: Node, timeout: float) -> bool | None:
        """Whether ``simplify(node) == 0``; ``None`` when undecided within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        if timeout <= 0 or not self._lock.acquire(timeout=timeout):
            return None
        try:
            if self._proc is None or not self._proc.is_alive():
                self.close()
                self._start()
            assert self._conn is not None
            job_id = next(self._ids)
            self._conn.send((job_id, node))
            while True:
                left = deadline - time.monotonic()
                if left <= 0 or not self._conn.poll(left):
                    if self._ready:  # stuck in sympy: kill it; a fresh one starts next time
                        self.close()
                    return None
                tag, value = self._conn.recv()
                if tag == "ready":
                    self._ready = True
                elif tag == job_id:
                    return value
                # else: a stale answer to an earlier, timed-out job
        except (OSError, EOFError, BrokenPipeError):
            self.close()
            return None
        finally:
            self._lock.release()


WORKER = SympyWorker()

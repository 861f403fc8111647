"""A lazily started, persistent worker process for sympy calls that may not terminate in time.

``sympy.simplify`` has no time bound and cannot be interrupted from another thread, so the rare
cases that need it run in a separate process that is killed (and lazily restarted) on timeout.
The common verification path never reaches this module. Works from any thread; calls are
serialised by a lock and each waits at most its own remaining time.
"""

from __future__ import annotations

import atexit
import itertools
import os
import subprocess
import sys
import threading
import time
from multiprocessing.connection import Connection
from typing import Any

from thinkgym.expr import Node


def _serve() -> None:
    """Child main loop: jobs arrive pickled on stdin, answers leave on stdout."""
    inp = Connection(os.dup(0), writable=False)
    out = Connection(os.dup(1), readable=False)
    os.dup2(2, 1)  # stray prints must not corrupt the protocol
    import sympy

    from thinkgym.expr import to_sympy

    out.send(("ready", None))
    while True:
        try:
            job_id, node = inp.recv()
        except (EOFError, OSError):
            return
        result: bool | None
        try:
            result = bool(sympy.simplify(to_sympy(node)) == 0)
        except (ValueError, TypeError, ArithmeticError, RecursionError, AttributeError):
            result = None
        out.send((job_id, result))


class SympyWorker:
    """One child process answering "does this AST simplify to zero?"."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: Any = None
        self._conn: Connection | None = None
        self._send: Connection | None = None
        self._ready = False
        self._ids = itertools.count()
        atexit.register(self.close)

    def _start(self) -> None:
        # A plain subprocess (not multiprocessing) so the caller's __main__ is never re-imported.
        proc = subprocess.Popen(
            [sys.executable, "-m", "thinkgym.rewards._verify_worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        assert proc.stdin is not None and proc.stdout is not None
        self._send = Connection(os.dup(proc.stdin.fileno()), readable=False)
        self._conn = Connection(os.dup(proc.stdout.fileno()), writable=False)
        proc.stdin.close()
        proc.stdout.close()
        self._proc, self._ready = proc, False

    def close(self) -> None:
        """Kill the child process (it is restarted on the next call)."""
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait(5)
        for conn in (self._conn, self._send):
            if conn is not None:
                conn.close()
        self._proc, self._conn, self._send, self._ready = None, None, None, False

    def is_zero(self, node: Node, timeout: float) -> bool | None:
        """Whether ``simplify(node) == 0``; ``None`` when undecided within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        if timeout <= 0 or not self._lock.acquire(timeout=timeout):
            return None
        try:
            if self._proc is None or self._proc.poll() is not None:
                self.close()
                self._start()
            assert self._conn is not None and self._send is not None
            job_id = next(self._ids)
            self._send.send((job_id, node))
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


if __name__ == "__main__":
    _serve()

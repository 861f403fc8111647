"""Run work shard by shard, in this process or over Ray workers (``pip install thinkgym[ray]``).

The unit of work is a *shard*: a contiguous slice of a list of items (problems, seeds, ...).
A caller hands a backend a **factory**, a picklable zero-argument callable that builds what a
worker holds for its life (a policy, reward models: loaded once per worker) and returns a
function ``fn(shard_items: list) -> list`` giving one result per item, in order. Each worker
runs the caller's batched driver (``Planner.plan_many`` / ``plan_together``) on its shard, and
:meth:`Backend.map` returns the results of all items in item order::

    from thinkgym.distributed import make_backend

    with make_backend("ray", workers=2) as backend:  # ray.init() locally; address= a cluster
        results = backend.map(MyFactory(policy_dir), problems)

Results depend on how the items are cut into shards (a batched driver draws its samples per
batch), never on the backend or on the number of workers: ``shards=k`` gives the same results
in this process (:class:`LocalBackend`) and on any number of Ray workers. By default the local
backend runs one shard and the Ray backend one shard per worker.

Failures (Ray): a worker process that dies is replaced by a new one (its factory runs again)
and its shard is re-run; a shard whose function raises is re-run once too. A shard that fails
``max_attempts`` times (2) is reported: :class:`ShardError` lists its items and the error,
after the other shards have finished (their results ride on the exception). Ctrl-C kills the
workers (and stops Ray when this backend started it) before the ``KeyboardInterrupt`` goes on.

Layer: this module imports nothing else from thinkgym, so any layer may use it; the bench
(CLI layer) and the learning loops (rollouts, expert iteration's search phase) take a backend
object, and build the factory for their own work.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import pickle
import socket
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

__all__ = [
    "Backend",
    "BackendError",
    "Counter",
    "LocalBackend",
    "RayBackend",
    "RayCounter",
    "ShardError",
    "ShardFailure",
    "BACKENDS",
    "check_address",
    "make_backend",
    "run_sharded",
    "shard_bounds",
]

T = TypeVar("T")
R = TypeVar("R")

ShardFn = Callable[[list[Any]], Sequence[Any]]
Factory = Callable[[], ShardFn]

BACKENDS = ("local", "ray")
_RAY_HINT = "the Ray backend needs ray: pip install 'thinkgym[ray]'"


def shard_bounds(n_items: int, shards: int) -> list[tuple[int, int]]:
    """Cut ``range(n_items)`` into at most ``shards`` contiguous, near-equal, non-empty slices.

    Returns:
        ``(start, stop)`` pairs in order; the first ``n_items % shards`` slices are one longer.
    """
    if shards < 1:
        raise ValueError(f"shards={shards!r} must be a positive integer")
    shards = min(shards, n_items)
    if shards == 0:
        return []
    size, extra = divmod(n_items, shards)
    out, start = [], 0
    for k in range(shards):
        stop = start + size + (1 if k < extra else 0)
        out.append((start, stop))
        start = stop
    return out


@dataclass
class ShardFailure:
    """A shard that failed every attempt.

    Attributes:
        shard: its index among the shards.
        start: index of its first item in the item list.
        items: its items.
        attempts: how many times it was run.
        error: the last error, in words.
    """

    shard: int
    start: int
    items: list[Any]
    attempts: int
    error: str


class ShardError(RuntimeError):
    """Raised when shards failed every attempt; names them and their items.

    Attributes:
        failures: one :class:`ShardFailure` per failed shard.
        results: the results of every item, ``None`` where the item's shard failed.
    """

    def __init__(self, failures: list[ShardFailure], results: list[Any]) -> None:
        self.failures = failures
        self.results = results
        lines = [f"{len(failures)} shard(s) failed; their items got no result:"]
        for f in failures:
            shown = ", ".join(_short(x) for x in f.items)
            lines.append(
                f"  shard {f.shard} (items {f.start}..{f.start + len(f.items) - 1}, "
                f"{f.attempts} attempts): {f.error}\n    items: [{shown}]"
            )
        super().__init__("\n".join(lines))


def _short(x: Any, limit: int = 80) -> str:
    text = repr(x)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _check_results(out: Any, items: list[Any], where: str) -> list[Any]:
    out = list(out)
    if len(out) != len(items):
        raise RuntimeError(
            f"the shard function returned {len(out)} results for {len(items)} items ({where}); "
            "it must return one result per item, in order"
        )
    return out


class Backend:
    """Where shards run. Use as a context manager, or call :meth:`close`.

    Attributes:
        workers: how many shards can run at once.
        startup_seconds: time spent starting (Ray start-up and workers, factories included),
            ``0.0`` until the first :meth:`map`.
    """

    name: ClassVar[str] = "backend"

    def __init__(self) -> None:
        self.workers = 1
        self.startup_seconds = 0.0

    def map(self, factory: Factory, items: Sequence[Any], *, shards: int | None = None) -> list:
        """Run ``factory()``'s function over ``items`` cut into ``shards`` shards.

        Args:
            factory: a picklable zero-argument callable returning ``fn(shard_items) -> results``.
                A worker calls it once and keeps the function for later calls with an equal
                factory (equal pickled bytes), so a policy is loaded once per worker. Keep
                ``fn`` free of state that changes results from shard to shard (seed sampling
                per call, as ``LLMPolicy`` does), or results depend on which worker ran what.
            items: the work items (picklable for Ray).
            shards: how many shards to cut the items into (default: one per worker).

        Returns:
            One result per item, in item order.
        """
        raise NotImplementedError

    def counter(self) -> Counter:
        """A :class:`Counter` the workers' code can add to while :meth:`map` runs (the same one
        for the backend's life): a progress bar in this process reads it."""
        if getattr(self, "_counter", None) is None:
            self._counter = Counter()
        return self._counter

    def close(self) -> None:
        """Release the workers."""

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _shards(self, items: Sequence[Any], shards: int | None) -> list[tuple[int, int]]:
        k = self.workers if shards is None else shards
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise ValueError(f"shards={shards!r} must be a positive integer (or None)")
        return shard_bounds(len(items), k)


class Counter:
    """A running total that shard functions add to (rows generated, problems done): what a
    progress bar in the calling process reads while :meth:`Backend.map` runs. Picklable; adding
    is thread-safe."""

    def __init__(self) -> None:
        import threading

        self._lock = threading.Lock()
        self._value = 0

    def add(self, n: int) -> None:
        """Add ``n``."""
        with self._lock:
            self._value += int(n)

    def value(self) -> int:
        """The total so far."""
        return self._value

    def __getstate__(self) -> dict[str, Any]:
        return {"_value": self._value}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__()  # type: ignore[misc]
        self._value = int(state["_value"])


class _CounterActor:
    """The Ray actor behind a :class:`RayCounter`."""

    def __init__(self) -> None:
        self.total = 0

    def add(self, n: int) -> None:
        self.total += int(n)

    def value(self) -> int:
        return self.total


class RayCounter(Counter):
    """A :class:`Counter` held by a Ray actor: workers add to it (without waiting), the caller
    reads it."""

    def __init__(self, handle: Any) -> None:
        self.handle = handle

    def add(self, n: int) -> None:
        """Add ``n`` (sent to the actor, not waited for)."""
        self.handle.add.remote(int(n))

    def value(self) -> int:
        """The total so far (``0`` when the actor does not answer within 5 s)."""
        import ray

        try:
            return int(ray.get(self.handle.value.remote(), timeout=5))
        except ray.exceptions.RayError:
            return 0

    def __getstate__(self) -> dict[str, Any]:
        return {"handle": self.handle}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.handle = state["handle"]


class LocalBackend(Backend):
    """Runs the shards one after another in this process (no pickling, no retries).

    The factory is called once per distinct factory object, as a worker would (the two most
    recent are kept). Errors from the shard function propagate unchanged.
    """

    name: ClassVar[str] = "local"

    def __init__(self) -> None:
        super().__init__()
        self._fns: list[tuple[Factory, ShardFn]] = []

    def map(self, factory: Factory, items: Sequence[Any], *, shards: int | None = None) -> list:
        """See :meth:`Backend.map`; shards run in order in this process."""
        hit = next((k for k, (fac, _) in enumerate(self._fns) if fac is factory), None)
        if hit is None:
            t0 = time.perf_counter()
            fn = factory()
            self.startup_seconds += time.perf_counter() - t0
        else:
            fn = self._fns.pop(hit)[1]
        self._fns = self._fns[-(_Worker.keep - 1) :] + [(factory, fn)]
        results: list[Any] = []
        for k, (a, b) in enumerate(self._shards(items, shards)):
            chunk = list(items[a:b])
            results.extend(_check_results(fn(chunk), chunk, f"shard {k}"))
        return results

    def close(self) -> None:
        """Forget the functions built by the factories."""
        self._fns.clear()


class _Worker:
    """What a Ray actor holds: the functions its latest factories built, by factory key.

    Only the :attr:`keep` most recently used are kept: a learning loop ships a new policy each
    iteration, and the old ones must not pile up in the worker's memory.
    """

    keep: ClassVar[int] = 2

    def __init__(self) -> None:
        self._fns: dict[str, ShardFn] = {}

    def ready(self) -> int:
        """The actor's process id (answers once the actor runs)."""
        return os.getpid()

    def run(self, key: str, blob: bytes, items: list[Any]) -> list[Any]:
        """Run the shard ``items`` with the function of the factory pickled in ``blob``."""
        fn = self._fns.pop(key, None)
        if fn is None:
            while len(self._fns) >= self.keep:
                self._fns.pop(next(iter(self._fns)))  # least recently used first
            # unpickled only when missing: a factory may carry a whole policy
            fn = pickle.loads(blob)()
        self._fns[key] = fn
        return _check_results(fn(items), items, f"worker pid {os.getpid()}")


class RayBackend(Backend):
    """Runs shards on Ray actors, one actor per worker, each holding its factories' functions.

    Args:
        workers: number of actors (default: as many as the cluster's CPUs allow).
        address: a Ray cluster to join (``"auto"``, ``"ray://host:10001"``, ``"host:6379"``);
            ``None`` starts a local Ray instance (``ray.init()``) unless one is already running
            in this process, which is then used as is.
        cpus_per_worker: CPUs Ray reserves for each actor (torch in an actor uses this many
            threads: Ray sets ``OMP_NUM_THREADS``).
        gpus_per_worker: GPUs reserved for each actor (0 on a CPU cluster).
        max_attempts: runs of a shard before it is reported as failed (>= 1).
        start_timeout: seconds to wait for the actors to start.
        connect_timeout: seconds to wait for an ``address`` to answer (:func:`check_address`)
            before Ray is asked to join it.
        init_kwargs: extra ``ray.init`` arguments (``num_cpus=2``, ``runtime_env=...``).

    Raises:
        ImportError: ray is not installed (names the pip command).
        ValueError: bad settings, or more workers than the cluster can host.

    :meth:`start` raises :class:`ConnectionError` when nothing answers at ``address`` within
    ``connect_timeout`` and :class:`BackendError` when Ray itself fails (a process of the Ray
    node, such as its dashboard agent, died); :meth:`map` raises :class:`BackendError` when the
    Ray node stops working mid-run.
    """

    name: ClassVar[str] = "ray"

    def __init__(
        self,
        workers: int | None = None,
        *,
        address: str | None = None,
        cpus_per_worker: float = 1,
        gpus_per_worker: float = 0,
        max_attempts: int = 2,
        start_timeout: float = 300.0,
        connect_timeout: float = 30.0,
        init_kwargs: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        try:
            import ray
        except ImportError as exc:
            raise ImportError(_RAY_HINT) from exc
        if workers is not None and (not isinstance(workers, int) or workers < 1):
            raise ValueError(f"workers={workers!r} must be a positive integer (or None)")
        if cpus_per_worker <= 0 or gpus_per_worker < 0:
            raise ValueError(
                f"cpus_per_worker={cpus_per_worker!r} must be > 0 and "
                f"gpus_per_worker={gpus_per_worker!r} >= 0"
            )
        if not isinstance(max_attempts, int) or max_attempts < 1:
            raise ValueError(f"max_attempts={max_attempts!r} must be a positive integer")
        if not connect_timeout > 0:
            raise ValueError(f"connect_timeout={connect_timeout!r} must be a number of seconds > 0")
        _address_parts(address)  # a malformed address is refused now
        self._ray = ray
        self.connect_timeout = float(connect_timeout)
        self.address = address
        self.cpus_per_worker = cpus_per_worker
        self.gpus_per_worker = gpus_per_worker
        self.max_attempts = max_attempts
        self.start_timeout = float(start_timeout)
        self._init_kwargs = dict(init_kwargs or {})
        self._requested = workers
        self.workers = workers or 1
        self._owns_ray = False
        self._actors: list[Any] = []
        self._actor_cls: Any = None
        self.restarts = 0

    # -- start-up
    def start(self) -> None:
        """Start Ray (or join ``address``) and the actors; :meth:`map` calls it when needed."""
        if self._actors:
            return
        ray = self._ray
        t0 = time.perf_counter()
        if not ray.is_initialized():
            check_address(self.address, self.connect_timeout)
            kwargs = {"include_dashboard": False, "log_to_driver": True}
            kwargs.update(self._init_kwargs)
            try:
                ray.init(address=self.address, **kwargs)
            except (KeyboardInterrupt, ValueError, TypeError):
                raise
            except Exception as exc:  # noqa: BLE001 - Ray's own start-up failures, in one line
                raise BackendError(
                    f"Ray did not start ({type(exc).__name__}: {_first_line(exc)}); {_RAY_LOGS}"
                ) from exc
            self._owns_ray = True
        cpus = float(ray.cluster_resources().get("CPU", 0))
        gpus = float(ray.cluster_resources().get("GPU", 0))
        fit = int(cpus // self.cpus_per_worker)
        if self.gpus_per_worker:
            fit = min(fit, int(gpus // self.gpus_per_worker))
        if self._requested is None:
            self.workers = max(1, fit)
        elif self._requested > fit:
            self.close()
            raise ValueError(
                f"workers={self._requested} need {self._requested * self.cpus_per_worker:g} CPUs"
                + (
                    f" and {self._requested * self.gpus_per_worker:g} GPUs"
                    if self.gpus_per_worker
                    else ""
                )
                + f" but the Ray cluster has {cpus:g} CPUs and {gpus:g} GPUs; use "
                f"workers<={fit} or a bigger cluster (ray start --address=... on more machines)"
            )
        self._actor_cls = ray.remote(_Worker).options(
            num_cpus=self.cpus_per_worker, num_gpus=self.gpus_per_worker, max_restarts=0
        )
        self._actors = [self._actor_cls.remote() for _ in range(self.workers)]
        try:
            ray.get([a.ready.remote() for a in self._actors], timeout=self.start_timeout)
        except KeyboardInterrupt:
            self.close()
            raise
        except ray.exceptions.GetTimeoutError:
            free = ray.available_resources().get("CPU", 0)
            self.close()
            raise RuntimeError(
                f"{self.workers} Ray workers did not start within {self.start_timeout:g} s; the "
                f"cluster has {free:g} free CPUs of {cpus:g} (other actors hold the rest?). "
                "Use fewer workers, a smaller cpus_per_worker, or a bigger cluster"
            ) from None
        self.startup_seconds += time.perf_counter() - t0

    def counter(self) -> Counter:
        """A :class:`RayCounter` (an actor without CPUs): the workers add to it while they run."""
        if getattr(self, "_counter", None) is None:
            self.start()
            actor = self._ray.remote(_CounterActor).options(num_cpus=0)
            self._counter = RayCounter(actor.remote())
        return self._counter

    def worker_pids(self) -> list[int]:
        """Process ids of the live actors (starts them if needed)."""
        self.start()
        return list(self._ray.get([a.ready.remote() for a in self._actors]))

    def _restart(self, slot: int) -> None:
        ray = self._ray
        try:
            ray.kill(self._actors[slot], no_restart=True)
        except (ValueError, ray.exceptions.RayError):  # already gone
            pass
        self._actors[slot] = self._actor_cls.remote()
        self.restarts += 1

    # -- work
    def map(self, factory: Factory, items: Sequence[Any], *, shards: int | None = None) -> list:
        """See :meth:`Backend.map`. Raises :class:`ShardError` for shards that kept failing."""
        try:
            return self._map(factory, items, shards)
        except KeyboardInterrupt:
            self.close()
            raise

    def _map(self, factory: Factory, items: Sequence[Any], shards: int | None) -> list:
        ray = self._ray
        try:
            return self._map_on_ray(factory, items, shards)
        except (ray.exceptions.RaySystemError, ConnectionError) as exc:
            # the node itself failed (its raylet or dashboard agent died): not one shard's fault
            self.close()
            raise BackendError(
                f"the Ray node stopped working ({type(exc).__name__}: {_first_line(exc)}); "
                f"{_RAY_LOGS}"
            ) from exc

    def _map_on_ray(self, factory: Factory, items: Sequence[Any], shards: int | None) -> list:
        ray = self._ray
        try:
            blob = ray.cloudpickle.dumps(factory)
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            raise TypeError(
                f"factory={factory!r} cannot be pickled for the Ray workers ({exc}); pass a "
                "module-level function, a functools.partial of one, or an instance of a "
                "module-level class, holding paths and settings rather than loaded models"
            ) from exc
        key = hashlib.sha1(blob).hexdigest()
        bounds = self._shards(items, shards)
        self.start()
        return self._run(key, ray.put(blob), items, bounds)

    def _run(
        self, key: str, blob_ref: Any, items: Sequence[Any], bounds: list[tuple[int, int]]
    ) -> list[Any]:
        ray = self._ray
        results: list[Any] = [None] * len(items)
        todo = deque(range(len(bounds)))
        attempts = [0] * len(bounds)
        errors = [""] * len(bounds)
        failed: list[int] = []
        idle = deque(range(len(self._actors)))
        inflight: dict[Any, tuple[int, int]] = {}  # future -> (actor slot, shard)
        while todo or inflight:
            while todo and idle:
                slot, k = idle.popleft(), todo.popleft()
                a, b = bounds[k]
                attempts[k] += 1
                fut = self._actors[slot].run.remote(key, blob_ref, list(items[a:b]))
                inflight[fut] = (slot, k)
            ready, _ = ray.wait(list(inflight), num_returns=1, timeout=1.0)
            for fut in ready:
                slot, k = inflight.pop(fut)
                a, b = bounds[k]
                try:
                    results[a:b] = ray.get(fut)
                except ray.exceptions.RayActorError as exc:  # the worker process died
                    self._restart(slot)
                    errors[k] = f"worker died ({type(exc).__name__}: {_first_line(exc)})"
                    (todo.appendleft if attempts[k] < self.max_attempts else failed.append)(k)
                except ray.exceptions.RayTaskError as exc:  # the shard function raised
                    errors[k] = _first_line(exc)
                    (todo.appendleft if attempts[k] < self.max_attempts else failed.append)(k)
                except ray.exceptions.RayError as exc:  # lost objects, OOM: start afresh
                    self._restart(slot)
                    errors[k] = f"{type(exc).__name__}: {_first_line(exc)}"
                    (todo.appendleft if attempts[k] < self.max_attempts else failed.append)(k)
                idle.append(slot)
        if failed:
            failures = [
                ShardFailure(
                    k,
                    bounds[k][0],
                    list(items[bounds[k][0] : bounds[k][1]]),
                    attempts[k],
                    errors[k],
                )
                for k in sorted(failed)
            ]
            raise ShardError(failures, results)
        return results

    def close(self) -> None:
        """Kill the actors; stop Ray if this backend started it."""
        ray = self._ray
        # (ray.kill would start a new Ray instance when Ray is down, and the actors died with it)
        for actor in self._actors if ray.is_initialized() else []:
            try:
                ray.kill(actor, no_restart=True)
            except (ValueError, ray.exceptions.RayError):  # already dead or Ray already down
                pass
        self._actors = []
        counter, self._counter = getattr(self, "_counter", None), None
        if counter is not None and ray.is_initialized():
            try:
                ray.kill(counter.handle, no_restart=True)
            except (ValueError, ray.exceptions.RayError):
                pass
        if self._owns_ray and ray.is_initialized():
            ray.shutdown()
        self._owns_ray = False


_RAY_LOGS = (
    "Ray's logs are in /tmp/ray/session_latest/logs (a dead dashboard agent or raylet is "
    "named there); rerun, or use --backend local"
)


class BackendError(RuntimeError):
    """The Ray node failed to start or stopped working (not one shard's error)."""


def _address_parts(address: str | None) -> tuple[str, int] | None:
    """``(host, port)`` of a ``host:port`` / ``ray://host:port`` address; ``None`` for no
    address or ``"auto"``. ``ValueError`` for anything else."""
    if address is None or address in ("auto", "local"):
        return None
    if not isinstance(address, str):
        raise ValueError(f"address={address!r} must be 'auto', 'host:port' or 'ray://host:port'")
    rest = address.split("://", 1)[1] if address.startswith("ray://") else address
    host, sep, port = rest.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(
            f"address={address!r} is not 'auto', 'host:port' or 'ray://host:port' (e.g. "
            "127.0.0.1:6379, the address `ray start --head` prints)"
        )
    return host, int(port)


def check_address(address: str | None, timeout: float = 30.0) -> None:
    """Fail fast when nothing answers at a Ray address (``ray.init`` would wait for minutes).

    Args:
        address: ``host:port`` or ``ray://host:port``; ``None`` and ``"auto"`` are not checked.
        timeout: seconds to wait for the TCP connection.

    Raises:
        ValueError: the address is malformed.
        ConnectionError: the connection was refused or did not answer within ``timeout``.
    """
    parts = _address_parts(address)
    if parts is None:
        return
    try:
        with socket.create_connection(parts, timeout=timeout):
            pass
    except TimeoutError:
        raise ConnectionError(
            f"no answer from a Ray cluster at {address} within {timeout:g} s; check the address "
            "(`ray status` on the head node) or allow longer with a larger connect timeout"
        ) from None
    except OSError as exc:
        why = exc.strerror or type(exc).__name__
        raise ConnectionError(
            f"no Ray cluster at {address} ({why.lower()}); start one with `ray start --head` "
            "and pass the address it prints, or leave the address out to start Ray here"
        ) from None


def _first_line(exc: BaseException) -> str:
    cause = getattr(exc, "cause", None)  # RayTaskError carries the original exception
    if isinstance(cause, BaseException):
        return f"{type(cause).__name__}: {cause}".split("\n")[0]
    return str(exc).strip().split("\n")[0]


def make_backend(
    name: str | Backend = "local",
    *,
    workers: int | None = None,
    address: str | None = None,
    **kwargs: Any,
) -> Backend:
    """A backend by name (``"local"`` or ``"ray"``); a :class:`Backend` is returned as is.

    Args:
        name: ``"local"`` (this process) or ``"ray"``.
        workers: Ray actors (default: one per CPU of the cluster); the local backend has one.
        address: Ray cluster address (``None``: a local Ray instance).
        **kwargs: further :class:`RayBackend` arguments.

    Raises:
        ValueError: unknown name (with the choices), or Ray-only settings for ``"local"``.
    """
    if isinstance(name, Backend):
        return name
    if name == "local":
        if (workers not in (None, 1)) or address is not None or kwargs:
            raise ValueError(
                f"the local backend runs in this process: workers={workers!r}, "
                f"address={address!r} and {sorted(kwargs)} need backend='ray'"
            )
        return LocalBackend()
    if name == "ray":
        return RayBackend(workers, address=address, **kwargs)
    hint = difflib.get_close_matches(str(name), BACKENDS, n=1)
    raise ValueError(
        f"unknown backend {name!r}"
        + (f"; did you mean {hint[0]!r}?" if hint else "")
        + f" Choices: {', '.join(BACKENDS)}"
    )


def run_sharded(
    factory: Factory,
    items: Sequence[Any],
    *,
    backend: str | Backend = "local",
    workers: int | None = None,
    address: str | None = None,
    shards: int | None = None,
) -> list:
    """One-shot :meth:`Backend.map`: builds the backend (unless given one) and closes it after.

    Args:
        factory: see :meth:`Backend.map`.
        items: the work items.
        backend: ``"local"``, ``"ray"`` or a :class:`Backend` (left open: its owner closes it).
        workers: Ray actors (see :func:`make_backend`).
        address: Ray cluster address.
        shards: how many shards (default: one per worker).

    Returns:
        One result per item, in item order.
    """
    if isinstance(backend, Backend):
        return backend.map(factory, items, shards=shards)
    with make_backend(backend, workers=workers, address=address) as be:
        return be.map(factory, items, shards=shards)

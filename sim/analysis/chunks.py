"""Run an ensemble's samples in fixed chunks: in this process, in local processes or on Dask.

A :class:`ChunkTask` is one call of the vectorised :func:`sim.engine.batch.simulate_batch`
on consecutive sample indices of one scenario. The solver's step size follows the
hardest sample of a call, so the chunk, not the machine, decides the numbers: serial,
local processes (:class:`concurrent.futures.ProcessPoolExecutor`) and a Dask cluster
compute the same chunks and give identical bits (:func:`execute`).
"""
from __future__ import annotations

import multiprocessing
import os
import re
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sim.errors import SimError, UsageError

#: Samples per batch call. Each call pays PySD's set-up (a fresh model, initialisation)
#: once; more chunks than workers only add calls. 10,000 Jingdezhen runs on the shared
#: 2-core machine (load 4-6 from other jobs), 2 worker processes: chunks of 1000: 22 s,
#: 2500: 21-25 s, 5000: 13-19 s, one chunk of 10,000: 13-15 s. 5000 keeps both workers
#: busy for a 10,000-run ensemble and its state (5000 × ~80 stocks × 7 RK stages) small.
DEFAULT_CHUNK = 5000
DEFAULT_WORKERS = 2
DASK_CONNECT_TIMEOUT_S = 15


# --------------------------------------------------------------------------- chunks
@dataclass(frozen=True)
class ChunkTask:
    """One batch call: samples ``start … start + len(values) - 1`` of one scenario."""

    model: str
    params: dict
    names: tuple
    values: np.ndarray            # (n_chunk, d), model units
    columns: tuple
    engine: dict
    start: int = 0
    scenario: str = ""


_HANDLES: dict = {}


def _handle(path: str):
    """The loaded model of this process (loaded once per worker)."""
    from sim.engine.load import load_model

    if path not in _HANDLES:
        _HANDLES[path] = load_model(path)
    return _HANDLES[path]


#: OpenBLAS libraries bundled with NumPy and SciPy wheels, and their thread-count setters.
_BLAS_SETTERS = (("numpy", "numpy.libs", "libscipy_openblas64_*.so", "scipy_openblas_set_num_threads64_"),
                 ("scipy", "scipy.libs", "libscipy_openblas*.so", "scipy_openblas_set_num_threads"))


def single_blas_thread() -> dict:
    """Make OpenBLAS use one thread in this process; return the previous thread counts.

    RK45 combines its stages with a matrix-vector product over the whole stacked state
    (samples × stocks); OpenBLAS threads it, and on a shared 2-core machine the threads
    of two workers fight: one chunk of 2500 samples took 17 s with 2 BLAS threads and
    4 s with one. Every chunk runs with one thread whatever the executor, so the numbers
    cannot depend on a thread count; the worker processes supply the parallelism.
    """
    return set_blas_threads(1)


def set_blas_threads(n: int | dict) -> dict:
    """Set OpenBLAS threads (a count, or ``{library: count}`` as returned); return the old counts."""
    import ctypes
    import glob
    import importlib

    old = {}
    for pkg, libdir, pattern, setter in _BLAS_SETTERS:
        try:
            root = Path(importlib.import_module(pkg).__file__).resolve().parent.parent
            for lib in glob.glob(str(root / libdir / pattern)):
                handle = ctypes.CDLL(lib)
                fn = getattr(handle, setter, None)
                get = getattr(handle, setter.replace("set_", "get_"), None)
                if fn is None or get is None:
                    continue
                want = n.get(lib) if isinstance(n, dict) else n
                if want is None:
                    continue
                old[lib] = int(get())
                fn(int(want))
        except (ImportError, OSError):
            continue
    return old


def run_chunk(task: ChunkTask) -> dict:
    """Run one chunk; ``{"start", "scenario", "times", "data": (n_columns, n_chunk, T)}``."""
    from sim.engine.batch import simulate_batch

    previous = single_blas_thread()
    try:
        samples = {name: np.ascontiguousarray(task.values[:, j]) for j, name in enumerate(task.names)}
        ds = simulate_batch(_handle(task.model), samples, task.params, return_columns=list(task.columns),
                            **task.engine)
    except SimError as err:  # say which scenario and samples; sample numbers in err are chunk-local
        err.args = (f"scenario {task.scenario!r}, chunk of samples {task.start}-"
                    f"{task.start + len(task.values) - 1} (sample k of the message is sample "
                    f"{task.start} + k of the ensemble): {err.args[0] if err.args else err}", *err.args[1:])
        raise
    finally:
        set_blas_threads(previous)
    data = np.stack([ds[c].values for c in task.columns])
    return {"start": task.start, "scenario": task.scenario, "times": ds["time"].values,
            "data": data, "nfev": int(ds.attrs.get("nfev", 0))}


def chunk_bounds(rows: int, chunk_size: int) -> list[tuple[int, int]]:
    """``[(start, stop), …]`` covering ``range(rows)`` in fixed steps of ``chunk_size``."""
    if chunk_size < 1:
        raise ValueError(f"chunk size must be positive, got {chunk_size}")
    return [(a, min(a + chunk_size, rows)) for a in range(0, rows, chunk_size)]


def _progress(total: int, desc: str, enabled: bool):
    if not enabled:
        return None
    from tqdm.auto import tqdm
    return tqdm(total=total, desc=desc, unit="run")


SCHEDULER_ENV = "SIM_DASK_SCHEDULER"
_ADDRESS = re.compile(r"(tcp|tls|ucx|ws|wss)://(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):([0-9]{1,5})")


def resolve_scheduler(option: str | None) -> str | None:
    """The Dask scheduler address: ``option`` (``--scheduler``), else ``$SIM_DASK_SCHEDULER``,
    else ``None`` (local processes). Never from a data file: results come back pickled.
    A malformed address is a :class:`~sim.errors.UsageError` naming where it came from."""
    origin = "--scheduler"
    if option is None:
        option, origin = os.environ.get(SCHEDULER_ENV) or None, f"${SCHEDULER_ENV}"
    if option is None:
        return None
    m = _ADDRESS.fullmatch(str(option).strip())
    if not m or not 0 < int(m.group(3)) < 65536:
        raise UsageError(f"{origin} {option!r}: expected a Dask scheduler address like "
                         "tcp://host:8786")
    return str(option).strip()


def scheduler_address(scheduler) -> str | None:
    if scheduler is None or isinstance(scheduler, str):
        return scheduler
    return getattr(scheduler, "scheduler_address", None) or getattr(scheduler, "address", None)


#: How often a worker checks that its parent is alive (seconds).
PARENT_POLL_S = 0.5


def die_with_parent(parent_pid: int) -> None:
    """Worker initializer: end this process when the parent dies, however it dies
    (SIGKILL included), so no ~300 MB worker outlives an interrupted ensemble.

    Linux delivers SIGKILL on the parent's death (``prctl(PR_SET_PDEATHSIG)``); a daemon
    thread that polls the parent id covers other systems and a parent that died before
    the ``prctl`` call.
    """
    import signal
    import threading

    if sys.platform.startswith("linux"):
        try:
            import ctypes
            libc = ctypes.CDLL("libc.so.6", use_errno=True)
            libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent_pid:
        os._exit(1)

    def watch():
        while True:
            time.sleep(PARENT_POLL_S)
            if os.getppid() != parent_pid:
                os._exit(1)

    threading.Thread(target=watch, name="die-with-parent", daemon=True).start()


def execute(tasks: Sequence[ChunkTask], *, scheduler=None, workers: int = DEFAULT_WORKERS,
            progress: bool = False) -> list[dict]:
    """Run chunk tasks; results in the order of ``tasks`` whatever the executor.

    ``scheduler``: a Dask scheduler address (``tcp://host:port``), a
    ``dask.distributed.Client`` or ``LocalCluster``; else local processes (``workers``
    of them; 1 runs in this process). Tested with Dask workers of one thread each
    (``dask worker --nthreads 1``); every chunk builds its own PySD model object.
    """
    bar = _progress(sum(len(t.values) for t in tasks), "ensemble", progress)
    out: list[dict | None] = [None] * len(tasks)

    def done(i, res):
        out[i] = res
        if bar is not None:
            bar.update(len(tasks[i].values))

    try:
        if scheduler is not None:
            from dask.distributed import Client, as_completed as dask_completed

            if isinstance(scheduler, Client):
                client = scheduler
            else:
                address = scheduler_address(scheduler)
                try:
                    client = Client(address, timeout=DASK_CONNECT_TIMEOUT_S)
                except (OSError, TimeoutError) as err:
                    raise SimError(f"cannot reach the Dask scheduler {address!r}: {err}") from err
            try:
                futures = client.map(run_chunk, list(tasks), pure=False)
                index = {f.key: i for i, f in enumerate(futures)}
                for fut in dask_completed(futures):
                    done(index[fut.key], fut.result())
            finally:
                if client is not scheduler:
                    client.close()
        elif workers <= 1 or len(tasks) == 1:
            for i, task in enumerate(tasks):
                done(i, run_chunk(task))
        else:
            ctx = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
            with ProcessPoolExecutor(max_workers=min(workers, len(tasks)), mp_context=ctx,
                                     initializer=die_with_parent, initargs=(os.getpid(),)) as pool:
                futures = {pool.submit(run_chunk, t): i for i, t in enumerate(tasks)}
                for fut in as_completed(futures):
                    done(futures[fut], fut.result())
    finally:
        if bar is not None:
            bar.close()
    return out  # type: ignore[return-value]

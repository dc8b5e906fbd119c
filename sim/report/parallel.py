"""Independent pieces of report work (figures, the brief, the slides) run in worker processes.

One pool for all of a run's report work keeps every CPU busy to the end: the main job puts
its two documents (several seconds each) first and the figures (a fraction of a second
each) after them, so the figures fill in around the documents instead of waiting for them.

Tasks are zero-argument callables. They may be closures (figure drawers are): the workers
are *forked* (Linux), so they inherit the task list and only a task's index and its result
cross the process boundary. Where fork does not exist, or with one worker, the tasks run
here, one after the other, with the same results.
"""
from __future__ import annotations

import multiprocessing as mp
import os
from typing import Any, Callable, Sequence

#: The tasks being run; forked workers inherit it (closures never need pickling).
_TASKS: Sequence[Callable[[], Any]] = ()


def default_workers() -> int:
    """Processes for report work: the CPUs this process may use (at least 1)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _call(index: int) -> tuple[int, Any]:
    return index, _TASKS[index]()


def run_tasks(tasks: Sequence[Callable[[], Any]], workers: int | None = 1,
              on_done: Callable[[int, Any], None] | None = None) -> list:
    """Call every task; return their results in task order.

    ``workers``: processes (None: one per CPU). Tasks start in the order given (put the
    long ones first); ``on_done(index, result)`` is called here, in the parent, as each
    finishes. An exception in a task is raised here, and the other tasks are stopped.
    """
    global _TASKS
    workers = default_workers() if workers is None else max(1, int(workers))
    results: list = [None] * len(tasks)

    def record(index: int, result: Any) -> None:
        results[index] = result
        if on_done is not None:
            on_done(index, result)

    if workers > 1 and len(tasks) > 1 and "fork" in mp.get_all_start_methods():
        _TASKS = tasks
        try:
            with mp.get_context("fork").Pool(min(workers, len(tasks))) as pool:
                for index, result in pool.imap_unordered(_call, range(len(tasks))):
                    record(index, result)
        finally:
            _TASKS = ()
    else:
        for index, task in enumerate(tasks):
            record(index, task())
    return results


def counter(progress: Callable[[str], None] | None, what: str, total: int,
            every: int | None = None) -> Callable[[], None]:
    """A function to call once per finished item; it reports ``"<what> k/total"`` to
    ``progress`` every ``every`` items (default: about ten reports) and at the last."""
    step = every or max(1, total // 10)
    done = 0

    def tick() -> None:
        nonlocal done
        done += 1
        if progress and (done % step == 0 or done == total):
            progress(f"{what} {done}/{total}")
    return tick

"""One pool for a run's report work (sim.report.parallel): results in task order whatever
order they finish in, closures run in forked workers, a failing task stops the run."""
from __future__ import annotations

import os
import time

import pytest

from sim.report.parallel import counter, run_tasks


def slow_then_fast():
    # task 0 is slow: with two workers the others finish first, but results keep task order
    def make(i, pause):
        return lambda: (time.sleep(pause), i * i, os.getpid())[1:]
    return [make(0, 0.4)] + [make(i, 0.0) for i in range(1, 6)]


def test_results_keep_task_order_and_on_done_sees_every_task():
    seen = []
    two = run_tasks(slow_then_fast(), workers=2, on_done=lambda i, r: seen.append(i))
    assert [r[0] for r in two] == [0, 1, 4, 9, 16, 25]
    assert sorted(seen) == list(range(6))
    assert seen[-1] == 0                                  # the slow one finished last ...
    assert {r[1] for r in two} - {os.getpid()}            # ... in worker processes, not here
    one = run_tasks(slow_then_fast(), workers=1)
    assert [r[0] for r in one] == [0, 1, 4, 9, 16, 25] and {r[1] for r in one} == {os.getpid()}


def test_a_failing_task_is_raised_in_the_parent():
    def boom():
        raise RuntimeError("figure 3 broke")
    with pytest.raises(RuntimeError, match="figure 3 broke"):
        run_tasks([lambda: 1, boom, lambda: 2], workers=2)
    with pytest.raises(RuntimeError, match="figure 3 broke"):
        run_tasks([lambda: 1, boom], workers=1)


def test_counter_reports_about_ten_times_and_the_last():
    lines = []
    tick = counter(lines.append, "figures", 25)
    for _ in range(25):
        tick()
    assert lines[0] == "figures 2/25" and lines[-1] == "figures 25/25" and len(lines) == 13
    quiet = counter(None, "figures", 3)
    quiet()   # no progress function: nothing to report, no error

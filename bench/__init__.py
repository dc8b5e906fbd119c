"""Benchmark of :func:`sim.simulate` against PySD's Euler ``run()`` at matched accuracy.

Run with ``make bench`` (``python -m bench``); not part of ``make test``. Writes
``docs/benchmarks.md``. Modules: :mod:`bench.chain_model` (generated >= 50-stock model),
:mod:`bench.measure` (timing and accuracy matching), :mod:`bench.report` (machine
description and tables).
"""

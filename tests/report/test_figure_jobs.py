"""The main job's figure set in parallel processes, its progress lines and options
(issue 14, item 7): the same files as one process, progress reported, bad options refused."""
from __future__ import annotations

import argparse

import matplotlib

matplotlib.use("Agg")
import pytest  # noqa: E402

from sim import plots  # noqa: E402
from sim.cli import _formats, build_parser  # noqa: E402
from sim.policy.targets import scorecard  # noqa: E402
from tests.report.test_plots import META, TARGETS, synthetic_results  # noqa: E402


@pytest.fixture(scope="module")
def data():
    results = synthetic_results()
    return results, scorecard(results, TARGETS)


def test_two_processes_write_the_same_files_as_one(tmp_path, data):
    results, card = data
    lines = []
    one = plots.write_figure_set(tmp_path / "one", results, card, TARGETS[:2], META, lang="en",
                                 formats=("png", "svg"), dpi=20, history=None, workers=1)
    two = plots.write_figure_set(tmp_path / "two", results, card, TARGETS[:2], META, lang="en",
                                 formats=("png", "svg"), dpi=20, history=None, workers=2,
                                 progress=lines.append)
    rel = lambda paths, root: [p.relative_to(root) for p in paths]  # noqa: E731
    assert rel(one, tmp_path / "one") == rel(two, tmp_path / "two")      # same files, same order
    assert all(p.is_file() for p in two)
    png = [p for p in one if p.suffix == ".png"][0]
    assert png.read_bytes() == (tmp_path / "two" / png.relative_to(tmp_path / "one")).read_bytes()
    n_jobs = len(one) // 2                                               # 2 formats per job
    assert lines[-1] == f"figures {n_jobs}/{n_jobs}"


def test_a_figure_without_data_is_skipped_once_in_a_worker(tmp_path, data):
    results, card = data
    slim = {s: df.drop(columns=[c for c in df.columns if c.startswith("VA ")]) for s, df in results.items()}
    with pytest.warns(UserWarning, match="gdp_by_sector") as caught:
        out = plots.write_figure_set(tmp_path, slim, card, [], META, lang="both",
                                     formats=("png",), dpi=20, history=None, workers=2)
    assert not any("gdp_by_sector" in p.name for p in out)
    assert sum("gdp_by_sector" in str(w.message) for w in caught) == 1


def test_unknown_format_is_refused(tmp_path, data):
    results, card = data
    with pytest.raises(ValueError, match="expected one or more of png, svg, pdf"):
        plots.write_figure_set(tmp_path, results, card, TARGETS[:1], META, formats=("jpg",))
    with pytest.raises(argparse.ArgumentTypeError, match="png,svg"):
        _formats("png,gif")
    assert _formats("PNG, svg,png") == ("png", "svg")


def test_run_options_default_to_png_svg_both_languages():
    args = build_parser().parse_args(["run"])
    assert args.formats == ("png", "svg") and args.lang == "both"
    args = build_parser().parse_args(["run", "--lang", "zh", "--formats", "png,svg,pdf"])
    assert args.formats == ("png", "svg", "pdf") and args.lang == "zh"

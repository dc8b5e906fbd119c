"""Every notebook in notebooks/ is stored without outputs and runs top to bottom without error.

Each notebook is executed with nbclient in a fresh kernel of *this* interpreter (a kernel
spec written for ``sys.executable`` into a temporary folder, so no installed or user-level
``python3`` spec is needed or used), from ``notebooks/`` as the working directory (the
notebooks find the repository root themselves), with ``TMPDIR`` pointing into pytest's
temporary folder so nothing the notebooks write is left behind.
"""
import json
import os
import sys
from pathlib import Path

import nbformat
import pytest
from ipykernel.kernelspec import write_kernel_spec
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
KERNEL_NAME = "jdz-sim-tests"
CELL_TIMEOUT_S = 300          # per cell; the slowest cell (05's figure set) takes ~30 s unloaded


def ids(paths):
    return [p.name for p in paths]


def test_there_are_notebooks():
    assert [p.name[:2] for p in NOTEBOOKS][:6] == ["01", "02", "03", "04", "05", "06"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_stored_without_outputs(path):
    book = nbformat.read(path, as_version=4)
    nbformat.validate(book)
    dirty = [i for i, cell in enumerate(book.cells) if cell.cell_type == "code"
             and (cell.get("outputs") or cell.get("execution_count") is not None)]
    assert not dirty, f"{path.name}: code cells {dirty} carry outputs or execution counts; clear them"
    assert "widgets" not in book.metadata, f"{path.name}: saved widget state in the metadata; clear it"


@pytest.mark.parametrize("start", [".", "notebooks"])
@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_first_cell_finds_the_repo_root(path, start, monkeypatch):
    """The set-up cell moves to the repository root whether started there or in notebooks/."""
    first = next(c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
    if "ROOT" not in first.source:
        pytest.skip(f"{path.name}: its first code cell does not locate the repository root")
    monkeypatch.chdir(ROOT / start)
    exec(compile(first.source, f"{path.name}:first cell", "exec"), {})
    assert Path.cwd().resolve() == ROOT


@pytest.fixture(scope="module")
def kernel_dir(tmp_path_factory):
    """A kernel spec running ipykernel with the interpreter that runs the tests."""
    kernels = tmp_path_factory.mktemp("kernels")
    spec_dir = Path(write_kernel_spec(kernels / KERNEL_NAME))
    argv = json.loads((spec_dir / "kernel.json").read_text())["argv"]
    assert argv[0] == sys.executable
    return kernels


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_runs_top_to_bottom(path, kernel_dir, tmp_path):
    book = nbformat.read(path, as_version=4)
    km = AsyncKernelManager(kernel_name=KERNEL_NAME,
                            kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernel_dir)]))
    client = NotebookClient(book, km=km, timeout=CELL_TIMEOUT_S, allow_errors=False,
                            resources={"metadata": {"path": str(ROOT / "notebooks")}})
    env = {**os.environ, "TMPDIR": str(tmp_path), "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
    client.execute(env=env)   # raises CellExecutionError naming the cell if one raises
    errors = [(i, out.get("ename")) for i, cell in enumerate(book.cells) if cell.cell_type == "code"
              for out in cell.get("outputs", []) if out.get("output_type") == "error"]
    assert not errors, f"{path.name}: cells raised {errors}"
    unexecuted = [i for i, cell in enumerate(book.cells)
                  if cell.cell_type == "code" and cell.get("execution_count") is None]
    assert not unexecuted, f"{path.name}: cells {unexecuted} did not run"

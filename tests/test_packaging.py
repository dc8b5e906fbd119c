"""The two ways to install (pip's pyproject.toml, conda's environment.yml) list the same
dependencies, and the two-command set-up is wired as the README promises."""
import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
# conda-forge spells a few packages differently from PyPI
CONDA_NAME = {"dask[distributed]": {"dask", "distributed"}, "salib": {"salib"}}


def _name(req: str) -> str:
    return re.split(r"[<>=!~ ;]", req.strip(), maxsplit=1)[0].lower()


def pip_names() -> set[str]:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = meta["dependencies"] + meta["optional-dependencies"]["dev"]
    return {_name(r) for r in reqs}


def conda_names() -> set[str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    names = set()
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            names |= {_name(p) for p in dep["pip"] if not p.startswith("-e")}
        else:
            names.add(_name(dep))
    return names - {"python", "pip"}


def test_pyproject_and_environment_list_the_same_dependencies():
    expected = set()
    for name in pip_names():
        expected |= CONDA_NAME.get(name, {name})
    assert conda_names() == expected


def test_makefile_bootstraps_the_venv_for_run_and_test():
    make = (ROOT / "Makefile").read_text()
    for target in ("run", "test", "bench"):
        assert re.search(rf"^{target}: \$\(STAMP\)", make, re.M), target
    assert "-m venv" in make and 'pip install --quiet -e ".[dev]"' in make


def test_ci_runs_make_test_strictly():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "set -euo pipefail" in ci and "make test" in ci


def test_readme_starts_with_the_two_commands():
    head = (ROOT / "README.md").read_text(encoding="utf-8")[:1500]
    assert "make run" in head and "make test" in head


def test_make_lab_opens_notebooks_with_the_kernel_the_notebooks_name():
    """`make lab` writes a kernel spec into .venv and starts JupyterLab on notebooks/ with
    it as the default; every notebook asks for that same kernel."""
    import json

    make = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^lab: \$\(STAMP\)\n((?:\t.*\n)+)", make, re.M)
    assert recipe, "Makefile has no `lab: $(STAMP)` target"
    kernel = re.search(r"^KERNEL\s*:=\s*(\S+)", make, re.M).group(1)
    body = recipe.group(1)
    assert "ipykernel install --sys-prefix --name $(KERNEL)" in body
    assert "jupyter lab" in body and "root_dir=notebooks" in body
    assert "default_kernel_name=$(KERNEL)" in body
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        spec = json.loads(path.read_text(encoding="utf-8"))["metadata"]["kernelspec"]
        assert spec["name"] == kernel, path.name


def test_jupyterlab_is_installed_next_to_the_interpreter():
    """The dependency is really there: the `jupyter lab` entry point of this environment runs."""
    import subprocess
    import sys

    exe = Path(sys.executable).parent / "jupyter-lab"
    assert exe.is_file(), f"{exe}: JupyterLab is not installed in this environment"
    out = subprocess.run([str(exe), "--version"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and re.match(r"\d+\.", out.stdout.strip()), out.stderr


def test_readme_first_screen_says_how_to_open_the_notebooks():
    head = (ROOT / "README.md").read_text(encoding="utf-8")[:1500]
    assert "make lab" in head

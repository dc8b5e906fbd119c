"""The package's rooms, read from the code's own imports (``docs/design.md``, "Rooms").

Every module of ``sim/`` belongs to a room; rooms are ordered and a module imports only
from its own room or lower ones; there are no import circles; no module imports another
module's ``_private`` names. Imports inside functions count as imports.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "sim"

#: Rooms from the bottom up; a module is in the first room whose prefix it matches.
ROOMS = [
    ("foundation", ["sim.errors", "sim.provenance", "sim.defaults"]),
    ("engine", ["sim.engine"]),
    ("modelfile", ["sim.modelfile"]),
    ("policy", ["sim.policy"]),
    ("history", ["sim.history"]),
    ("analysis", ["sim.analysis"]),
    ("report", ["sim.report"]),
    ("faces", ["sim.run", "sim.cli", "sim.plots", "sim.explorer", "sim.__main__",
               "sim.batch", "sim.model", "sim"]),   # sim.batch, sim.model: re-exports kept for old scripts
]
#: Names any module may import from the package root (defined there before any import).
ROOT_NAMES = {"__version__"}


def module_files(package: Path) -> dict[str, Path]:
    """``{dotted module name: file}`` for every ``.py`` file of the package."""
    out = {}
    for path in sorted(package.rglob("*.py")):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def room_of(module: str) -> int | None:
    """The rank of a module's room (0 = foundation), None when it is in none."""
    for rank, (_, prefixes) in enumerate(ROOMS):
        if any(module == p or (p != "sim" and module.startswith(p + ".")) for p in prefixes):
            return rank
    return None


def _absolute(module: str, node: ast.ImportFrom, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[:len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def read_imports(modules: dict[str, Path], root: str = "sim"):
    """``(edges, private)``: edges ``{(importer, imported module, line)}`` between package
    modules, and private-name uses ``[(importer, "module._name", line)]``."""
    edges, private = set(), []
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        is_package = path.name == "__init__.py"
        bound: dict[str, str] = {}          # local name -> package module it refers to
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name == root or alias.name.startswith(root + "."):
                        target = alias.name if alias.name in modules else root
                        edges.add((name, target, node.lineno))
                        if alias.asname:
                            bound[alias.asname] = alias.name
            elif isinstance(node, ast.ImportFrom):
                source = _absolute(name, node, is_package)
                if not (source == root or source.startswith(root + ".")):
                    continue
                for alias in node.names:
                    sub = f"{source}.{alias.name}"
                    if sub in modules:                      # from sim.report import tables
                        edges.add((name, sub, node.lineno))
                        bound[alias.asname or alias.name] = sub
                        continue
                    if source == root and alias.name in ROOT_NAMES:
                        continue
                    edges.add((name, source, node.lineno))
                    if alias.name.startswith("_") and not alias.name.startswith("__"):
                        private.append((name, f"{source}.{alias.name}", node.lineno))
        for node in ast.walk(tree):                         # module._name through a bound module
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id in bound and node.attr.startswith("_")
                    and not node.attr.startswith("__")):
                private.append((name, f"{bound[node.value.id]}.{node.attr}", node.lineno))
    return {(a, b, line) for a, b, line in edges if a != b}, private


def find_cycle(edges) -> list[str] | None:
    """One import circle as ``[a, b, …, a]``, or None."""
    graph: dict[str, set[str]] = {}
    for a, b, _ in edges:
        graph.setdefault(a, set()).add(b)
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def upward_imports(edges) -> list[str]:
    bad = []
    for a, b, line in sorted(edges):
        ra, rb = room_of(a), room_of(b)
        if ra is not None and rb is not None and rb > ra:
            bad.append(f"{a} (room {ROOMS[ra][0]}) imports {b} (room {ROOMS[rb][0]}) at line {line}")
    return bad


# ------------------------------------------------------------------ the package
@pytest.fixture(scope="module")
def package():
    modules = module_files(PACKAGE)
    return modules, *read_imports(modules)


def test_every_module_has_a_room(package):
    modules, _, _ = package
    homeless = [m for m in modules if room_of(m) is None]
    assert not homeless, f"modules in no room (add them to ROOMS here and in docs/design.md): {homeless}"


def test_no_import_circles(package):
    _, edges, _ = package
    cycle = find_cycle(edges)
    assert cycle is None, "import circle: " + " -> ".join(cycle)


def test_lower_rooms_never_import_higher_ones(package):
    _, edges, _ = package
    bad = upward_imports(edges)
    assert not bad, "imports against the room order:\n" + "\n".join(bad)


def test_no_module_imports_another_modules_private_names(package):
    _, _, private = package
    assert not private, "private names used across modules:\n" + "\n".join(
        f"{a} uses {b} at line {line}" for a, b, line in private)


# ------------------------------------------------------------------ the checker itself
def test_the_checker_finds_circles_upward_imports_and_private_names(tmp_path):
    pkg = tmp_path / "sim"
    for rel, text in {
        "__init__.py": "__version__ = '0'\n",
        "errors.py": "from sim import __version__\n",
        "engine/__init__.py": "",
        "engine/a.py": "def f():\n    from sim.report.b import g\n",      # engine -> report
        "report/__init__.py": "",
        "report/b.py": "from sim.engine import a\nx = a._hidden\n",       # private via a module
        "policy/__init__.py": "",
        "policy/c.py": "from .d import _secret\n",                       # relative, private
        "policy/d.py": "from sim.policy.c import x\n",                   # c <-> d
    }.items():
        (pkg / rel).parent.mkdir(parents=True, exist_ok=True)
        (pkg / rel).write_text(text)
    modules = module_files(pkg)
    edges, private = read_imports(modules)
    assert ("sim.errors", "sim", 1) not in edges                         # __version__ is allowed
    assert find_cycle(edges) == ["sim.engine.a", "sim.report.b", "sim.engine.a"]
    assert find_cycle({e for e in edges if e[0] != "sim.engine.a"}) == ["sim.policy.c", "sim.policy.d",
                                                                        "sim.policy.c"]
    assert upward_imports(edges) == ["sim.engine.a (room engine) imports sim.report.b (room report) at line 2"]
    assert sorted(b for _, b, _ in private) == ["sim.engine.a._hidden", "sim.policy.d._secret"]

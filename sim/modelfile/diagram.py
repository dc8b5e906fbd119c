"""Stock-flow / dependency diagrams of a model, drawn with matplotlib (no graphviz).

One image per module (Vensim group) in ``docs/diagrams/<module>.png``: stocks in
boxes, flows in blue, constants in grey, lookups in green, other auxiliaries in
black; an arrow for every dependency inside the module (thick blue for a flow
entering/leaving a stock); variables of other modules that the module reads are
listed at the left in grey ``<angle brackets>`` (Vensim's shadow variables) with
their arrows.  ``docs/model_diagram.png`` is the overview: one box per module, an
arrow A -> B labelled with the number of variables of B that read a variable of A.

:func:`layout_group` (grid positions) is shared with :mod:`sim.modelfile.sketch`.
"""
from __future__ import annotations

import math
import re
from pathlib import Path

from sim.modelfile.mdl import MdlModel, role

STYLE = {  # role -> text colour, box?
    "stock": ("black", True), "flow": ("#1f4e9e", False), "auxiliary": ("black", False),
    "constant": ("#666666", False), "lookup": ("#2e7d32", False),
    "data": ("#6a1b9a", False), "control": ("#666666", False),
}


def slug(group: str) -> str:
    """File-name form of a module name: ``"Energy & waste"`` -> ``"energy_waste"``."""
    return re.sub(r"[^0-9a-z]+", "_", group.lower()).strip("_") or "module"


def in_group_edges(model: MdlModel, group: str) -> list:
    """Dependencies (source, target) with both ends in ``group``."""
    names = {e.name for e in model.in_group(group)}
    return [(d, e.name) for e in model.in_group(group) for d in e.dependencies
            if d in names and d != e.name]


def shadows(model: MdlModel, group: str) -> list:
    """Variables of other modules (and ``Time``) read by ``group``, first-use order."""
    names = {e.name for e in model.in_group(group)}
    out = []
    for e in model.in_group(group):
        for d in e.dependencies:
            if d not in names and d not in out:
                out.append(d)
    return out


def layout_group(model: MdlModel, group: str) -> dict:
    """Grid cell ``(column, row)`` of every element of ``group`` and of its shadows.

    Columns are dependency depth (longest chain of in-module dependencies, arrows
    into stocks ignored so feedback loops do not matter), shadows in column 0 and the
    module's own variables from column 1 (constants and lookups just left of their
    nearest reader); rows within a column are ordered by the mean
    row of the variables they depend on, which keeps most arrows short.
    """
    elements = model.in_group(group)
    names = [e.name for e in elements]
    kinds = {e.name: e.kind for e in elements}
    preds = {n: [] for n in names}
    for src, dst in in_group_edges(model, group):
        if kinds[dst] != "stock":
            preds[dst].append(src)
    depth = {}

    def level(n, path=()):
        if n in depth:
            return depth[n]
        if n in path:  # a loop not through a stock (e.g. SMOOTH); cut it here
            return 0
        ps = preds[n]
        d = 0 if not ps else 1 + max(level(p, path + (n,)) for p in ps)
        depth[n] = d
        return d

    for n in names:
        level(n)
    # sources (constants, lookups) sit just left of their nearest reader, not all at 0
    succs = {n: [] for n in names}
    for src, dst in in_group_edges(model, group):
        succs[src].append(dst)
    for n in names:
        if not preds[n] and kinds[n] != "stock" and succs[n]:
            depth[n] = max(0, min(depth[s] for s in succs[n]) - 1)
    cells = {}
    shadow = shadows(model, group)
    for row, s in enumerate(shadow):
        cells[s] = (0, row)
    neighbours = {e.name: list(e.dependencies) for e in elements}
    for src, dst in in_group_edges(model, group):
        neighbours[src].append(dst)
    columns = sorted(set(depth.values()))
    for col in columns:  # first pass: file order within each column
        for row, n in enumerate(n for n in names if depth[n] == col):
            cells[n] = (col + 1, row)
    for _sweep in range(4):  # barycentre sweeps: order by the mean row of neighbours
        for col in columns:
            members = [n for n in names if depth[n] == col]

            def centre(n):
                rows = [cells[p][1] for p in neighbours[n] if p in cells and p != n]
                return sum(rows) / len(rows) if rows else cells[n][1]

            order = sorted(members, key=lambda n: (centre(n), names.index(n)))
            for row, n in enumerate(order):
                cells[n] = (col + 1, row)
    return cells


def draw_group(model: MdlModel, group: str, path: Path) -> Path:
    """Draw one module's diagram to ``path`` (PNG)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cells = layout_group(model, group)
    ncols = max(c for c, _ in cells.values()) + 1
    nrows = max(r for _, r in cells.values()) + 1
    dx, dy = 3.4, 0.9
    fig, ax = plt.subplots(figsize=(max(6.0, ncols * dx * 0.95), max(3.0, nrows * dy * 0.55 + 1)))
    pos = {n: (c * dx, -r * dy) for n, (c, r) in cells.items()}
    own = {e.name: e for e in model.in_group(group)}
    for name, (x, y) in pos.items():
        if name in own:
            r = role(model, own[name])
            colour, boxed = STYLE.get(r, ("black", False))
            ax.text(x, y, name, ha="center", va="center", fontsize=8, color=colour,
                    fontweight="bold" if r in ("stock", "flow") else "normal",
                    bbox=dict(boxstyle="square,pad=0.4", fc="#fff8e1", ec="black")
                    if boxed else dict(boxstyle="round,pad=0.2", fc="white", ec="none"),
                    zorder=3)
        else:
            ax.text(x, y, f"<{name}>", ha="center", va="center", fontsize=7,
                    color="#888888", style="italic", zorder=3,
                    bbox=dict(boxstyle="round,pad=0.2", fc="white", ec="none"))
    flows = model.flows
    for e in own.values():
        for d in e.dependencies:
            if d not in pos or d == e.name:
                continue
            is_flow = e.kind == "stock" and d in flows
            ax.annotate("", xy=pos[e.name], xytext=pos[d], zorder=2,
                        arrowprops=dict(arrowstyle="-|>", shrinkA=14, shrinkB=14,
                                        color="#1f4e9e" if is_flow else
                                        ("#bbbbbb" if d not in own else "#555555"),
                                        lw=2.0 if is_flow else 0.7,
                                        connectionstyle="arc3,rad=0.08"))
    ax.set_xlim(-dx * 0.6, (ncols - 1) * dx + dx * 0.6)
    ax.set_ylim(-(nrows - 1) * dy - dy * 0.8, dy * 0.8)
    ax.set_title(f"Module: {group}  (boxes: stocks; blue: flows; grey <name>: from other "
                 "modules)", fontsize=9)
    ax.axis("off")
    fig.tight_layout()
    return _save(fig, path)


def _save(fig, path: Path) -> Path:
    """Write a figure as a 32-colour palette PNG (a third of the size; diagrams are
    committed to git), then close it."""
    import io

    import matplotlib.pyplot as plt
    from PIL import Image

    buffer = io.BytesIO()
    fig.savefig(buffer, dpi=110, format="png")
    plt.close(fig)
    buffer.seek(0)
    image = Image.open(buffer).convert("RGB").quantize(colors=32)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, optimize=True)
    return path


def module_links(model: MdlModel) -> dict:
    """``{(from module, to module): number of dependencies}`` across modules."""
    group_of = {e.name: e.group for e in model.elements}
    links = {}
    for e in model.elements:
        for d in e.dependencies:
            g = group_of.get(d)
            if g is not None and g != e.group:
                links[(g, e.group)] = links.get((g, e.group), 0) + 1
    return links


def draw_overview(model: MdlModel, path: Path) -> Path:
    """Module-to-module overview (boxes on a circle, arrows labelled with link counts)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = [g for g in model.groups if g.lower() != "control"] or model.groups
    n = len(groups)
    pos = {g: (math.cos(2 * math.pi * i / n + math.pi / 2) * 4,
               math.sin(2 * math.pi * i / n + math.pi / 2) * 3) for i, g in enumerate(groups)}
    fig, ax = plt.subplots(figsize=(10, 8))
    for g, (x, y) in pos.items():
        members = model.in_group(g)
        stocks = sum(role(model, e) == "stock" for e in members)
        flows = sum(role(model, e) == "flow" for e in members)
        ax.text(x, y, f"{g}\n{len(members)} variables\n{stocks} stocks, {flows} flows",
                ha="center", va="center", fontsize=9, zorder=3,
                bbox=dict(boxstyle="round,pad=0.5", fc="#e3f2fd", ec="#1f4e9e"))
    for (a, b), count in sorted(module_links(model).items()):
        if a not in pos or b not in pos:
            continue
        (x0, y0), (x1, y1) = pos[a], pos[b]
        ax.annotate("", xy=(x1, y1), xytext=(x0, y0), zorder=2,
                    arrowprops=dict(arrowstyle="-|>", shrinkA=38, shrinkB=38,
                                    lw=0.6 + 0.25 * min(count, 12), color="#555555",
                                    connectionstyle="arc3,rad=0.15"))
        # label a little off the straight line, on the side the arc bends to
        mx, my = (x0 + x1) / 2, (y0 + y1) / 2
        nx, ny = (y1 - y0), -(x1 - x0)
        norm = math.hypot(nx, ny) or 1
        ax.text(mx + 0.35 * nx / norm, my + 0.35 * ny / norm, str(count), fontsize=8,
                ha="center", va="center", color="#b71c1c", zorder=4)
    ax.set_xlim(-5.8, 5.8)
    ax.set_ylim(-4.4, 4.4)
    ax.set_title(f"{model.path.name}: modules and their links (arrow A -> B labelled "
                 "with the number of B's equations that read A)", fontsize=10)
    ax.axis("off")
    fig.tight_layout()
    return _save(fig, path)


def draw_all(model: MdlModel, docs_dir: Path) -> list:
    """Overview ``docs_dir/model_diagram.png`` and ``docs_dir/diagrams/<module>.png``."""
    docs_dir = Path(docs_dir)
    written = [draw_overview(model, docs_dir / "model_diagram.png")]
    for g in model.groups:
        written.append(draw_group(model, g, docs_dir / "diagrams" / f"{slug(g)}.png"))
    return written

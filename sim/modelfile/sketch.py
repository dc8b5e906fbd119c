"""Generate the Vensim sketch of a ``.mdl`` file: one view per group (module).

Every element of a group is placed on the grid of :func:`sim.modelfile.diagram.layout_group`
in that group's view; variables of other groups that the group reads appear as
shadow variables (grey, Vensim's ``<name>``) in the left column; an influence arrow
is drawn for every dependency inside the view.  Stocks are boxes (shape 3), other
variables plain text (shape 8); flows are drawn as plain arrows into the stock, not
as Vensim valves/pipes.  The equations part of the file is kept byte for byte; any
settings block after the sketch (``///---\\\\\\`` ... ``:L<%^E!@`` ...) is kept too.

Sketch syntax written (Vensim V300, as read by PySD's ``sketch.peg``)::

    \\\\\\---/// Sketch information - do not modify anything except names
    V300  Do not put anything below this section - it will be ignored
    *<view name>
    $192-192-192,0,Times New Roman|12||0-0-0|0-0-0|0-0-255|-1--1--1|-1--1--1|96,96,100,0
    10,<id>,<name>,<x>,<y>,<half width>,<half height>,<shape>,<bits>,0,0,0,0,0,0
    10,<id>,<name>,<x>,<y>,<hw>,<hh>,8,2,0,3,-1,0,0,0,128-128-128,0-0-0,|12||128-128-128
    1,<id>,<from id>,<to id>,0,0,0,0,0,64,0,-1--1--1,,1|(<x>,<y>)|

(the second ``10`` line is a shadow: its bits field is even.)
"""
from __future__ import annotations

from pathlib import Path

from sim.modelfile.diagram import layout_group
from sim.modelfile.mdl import MdlModel, read_mdl

SKETCH_START = "\\\\\\---///"          # \\\---///
SKETCH_END = "///---\\\\\\"            # ///---\\\
VIEW_HEADER = (SKETCH_START + " Sketch information - do not modify anything except names\n"
               "V300  Do not put anything below this section - it will be ignored\n")
FONT_LINE = ("$192-192-192,0,Times New Roman|12||0-0-0|0-0-0|0-0-255|-1--1--1|-1--1--1|"
             "96,96,100,0")
DX, DY, X0, Y0 = 230, 60, 120, 60     # grid spacing and origin, in sketch pixels


def _sketch_name(name: str) -> str:
    """Names with commas or quotes must be quoted in the sketch."""
    if any(c in name for c in ',"|'):
        return '"' + name.replace('"', '\\"') + '"'
    return name


def view_lines(model: MdlModel, group: str) -> list:
    """Lines of one view (title, font line, variables, shadows, arrows)."""
    cells = layout_group(model, group)
    own = {e.name: e for e in model.in_group(group)}
    ids, lines = {}, [f"*{group}", FONT_LINE]
    next_id = 1
    for name, (col, row) in cells.items():
        x, y = X0 + col * DX, Y0 + row * DY
        half_width = max(25, min(100, int(len(name) * 3.3)))
        ids[name] = next_id
        if name in own:
            stock = own[name].kind == "stock"
            lines.append(f"10,{next_id},{_sketch_name(name)},{x},{y},{half_width},"
                         f"{20 if stock else 11},{3 if stock else 8},3,0,0,0,0,0,0")
        else:  # shadow variable from another view
            lines.append(f"10,{next_id},{_sketch_name(name)},{x},{y},{half_width},11,8,2,0,3,"
                         "-1,0,0,0,128-128-128,0-0-0,|12||128-128-128")
        next_id += 1
    for e in own.values():
        for dep in e.dependencies:
            if dep in ids and dep != e.name:
                (c0, r0), (c1, r1) = cells[dep], cells[e.name]
                mx = X0 + (c0 + c1) * DX // 2
                my = Y0 + (r0 + r1) * DY // 2
                lines.append(f"1,{next_id},{ids[dep]},{ids[e.name]},0,0,0,0,0,64,0,"
                             f"-1--1--1,,1|({mx},{my})|")
                next_id += 1
    return lines


def build_sketch(model: MdlModel) -> str:
    """Whole sketch section, from the first ``\\\\\\---///`` to ``///---\\\\\\`` included."""
    views = []
    for group in model.groups:
        views.append(VIEW_HEADER + "\n".join(view_lines(model, group)) + "\n")
    return "".join(views) + SKETCH_END + "\n"


def split_mdl(text: str) -> tuple:
    """``(equations, sketch, tail)`` of a model text; ``sketch`` and ``tail`` may be ''.

    ``tail`` is what follows the sketch's closing ``///---\\\\\\`` line (Vensim's
    settings block), kept verbatim.
    """
    start = text.find(SKETCH_START)
    if start == -1:
        return text, "", ""
    end = text.find(SKETCH_END, start)
    if end == -1:
        return text[:start], text[start:], ""
    end_line = text.find("\n", end)
    end_line = len(text) if end_line == -1 else end_line + 1
    return text[:start], text[start:end_line], text[end_line:]


def with_sketch(text: str, model: MdlModel) -> str:
    """Model text with its sketch replaced by a generated one (equations untouched)."""
    equations, _old, tail = split_mdl(text)
    if not equations.endswith("\n"):
        equations += "\n"
    return equations + build_sketch(model) + tail


def write_sketch(mdl_path, out_path=None) -> bool:
    """Rewrite the sketch of ``mdl_path`` into ``out_path`` (default: in place).

    Returns True when the file was written (False when already identical).
    """
    mdl_path = Path(mdl_path)
    out_path = Path(out_path) if out_path else mdl_path
    with mdl_path.open(encoding="utf-8", newline="") as f:
        text = f.read()
    new = with_sketch(text, read_mdl(mdl_path))
    if out_path.exists():
        with out_path.open(encoding="utf-8", newline="") as f:
            if f.read() == new:
                return False
    with out_path.open("w", encoding="utf-8", newline="") as f:
        f.write(new)
    return True


def views_of(text: str) -> dict:
    """``{view name: {"vars": [names], "shadows": [names]}}`` parsed from a sketch text.

    A small reader for tests and checks, independent of the writer above.
    """
    views, current = {}, None
    for line in split_mdl(text)[1].splitlines():
        if line.startswith("*"):
            current = views.setdefault(line[1:].strip(), {"vars": [], "shadows": []})
        elif line.startswith("10,") and current is not None:
            fields = line.split(",")
            name = fields[2].strip('"')
            shadow = int(fields[8]) % 2 == 0
            current["shadows" if shadow else "vars"].append(name)
    return views

"""Generated model documentation: the equation tables of ``models/README.md``.

The README mixes hand-written sections with one generated block, delimited by
:data:`BEGIN` and :data:`END`.  Only the text between the markers is ever rewritten;
a README without markers gets the block appended at its end, a missing README is
created with a title and the block.

The block holds a module map (module -> number of stocks, flows, auxiliaries,
constants, lookups) and, module by module (Vensim groups), a table of every element:
name, kind, equation, units (with the ``[min, max]`` range when given) and the
source/comment.  It contains nothing that changes between runs, so
:func:`doc_is_current` can be asserted in a test.

:func:`main_docs` regenerates everything in one go (README block, diagrams, sketch);
:func:`check_units` is re-exported from :mod:`sim.modelfile.units` as the ``units`` entry point.
"""
from __future__ import annotations

from pathlib import Path

from sim.modelfile.mdl import MdlModel, read_mdl, role
from sim.modelfile.units import check_units  # noqa: F401  (entry point for `python -m sim units`)

BEGIN = "<!-- BEGIN GENERATED: equations -->"
END = "<!-- END GENERATED: equations -->"

#: Column order of the module map: header -> element kind (``flow`` = INTEG rate term).
MAP_COLUMNS = {"stocks": "stock", "flows": "flow", "auxiliaries": "auxiliary",
               "constants": "constant", "lookups": "lookup", "data": "data",
               "control": "control"}


def _cell(text: str) -> str:
    """Markdown table cell: one line, pipes escaped."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _code(text: str) -> str:
    text = _cell(text)
    return f"`{text}`" if text else ""


def _units(element) -> str:
    units = _cell(element.units) or "**(none)**"
    if element.limits:
        lo, hi = (("?" if v is None else f"{v:g}") for v in element.limits)
        units += f" [{lo}, {hi}]"
    return units


def module_map(model: MdlModel) -> str:
    """Markdown table: module -> counts of stocks, flows, auxiliaries, constants ..."""
    counts = {g: {c: 0 for c in MAP_COLUMNS} for g in model.groups}
    for e in model.elements:
        r = role(model, e)
        for column, kind in MAP_COLUMNS.items():
            if kind == r:
                counts[e.group][column] += 1
    columns = [c for c in MAP_COLUMNS if any(counts[g][c] for g in model.groups)]
    lines = ["| module | " + " | ".join(columns) + " | total |",
             "|---|" + "---:|" * (len(columns) + 1)]
    for g in model.groups:
        row = [counts[g][c] for c in columns]
        lines.append(f"| {_cell(g)} | " + " | ".join(map(str, row)) + f" | {sum(row)} |")
    totals = [sum(counts[g][c] for g in model.groups) for c in columns]
    lines.append("| **all** | " + " | ".join(map(str, totals)) + f" | {sum(totals)} |")
    return "\n".join(lines)


def equations_block(model: MdlModel, source_name: str | None = None) -> str:
    """The generated Markdown (without the markers) for a parsed model."""
    source = source_name or model.path.name
    out = [f"*Generated from `{source}` by `python -m sim docs`; edit the model, not "
           "this block.*", "", "### Module map", "", module_map(model), ""]
    for group in model.groups:
        out += [f"### Module: {group}", "",
                "| name | kind | equation | units | source / comment |",
                "|---|---|---|---|---|"]
        for e in model.in_group(group):
            out.append(f"| {_cell(e.name)} | {role(model, e)} | {_code(e.equation)} | "
                       f"{_units(e)} | {_cell(e.comment)} |")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def _splice(text: str, block: str, readme: Path) -> str:
    begin, end = text.find(BEGIN), text.find(END)
    if begin == -1 and end == -1:
        sep = "" if text.endswith("\n") or not text else "\n"
        return f"{text}{sep}\n{BEGIN}\n{block}{END}\n"
    if begin == -1 or end == -1 or end < begin or text.count(BEGIN) > 1 \
            or text.count(END) > 1:
        raise ValueError(f"{readme}: expected exactly one {BEGIN!r} followed by one "
                         f"{END!r}")
    return text[:begin + len(BEGIN)] + "\n" + block + text[end:]


def render_readme(mdl_path, readme_path) -> str:
    """Full README text with the generated block refreshed (nothing written)."""
    mdl_path, readme_path = Path(mdl_path), Path(readme_path)
    block = equations_block(read_mdl(mdl_path), mdl_path.name)
    if readme_path.exists():
        text = readme_path.read_text(encoding="utf-8")
    else:
        text = "# Models\n"
    return _splice(text, block, readme_path)


def update_readme(mdl_path, readme_path) -> bool:
    """Rewrite the generated block of ``readme_path`` from ``mdl_path``; True if changed."""
    readme_path = Path(readme_path)
    new = render_readme(mdl_path, readme_path)
    old = readme_path.read_text(encoding="utf-8") if readme_path.exists() else None
    if new == old:
        return False
    readme_path.parent.mkdir(parents=True, exist_ok=True)
    readme_path.write_text(new, encoding="utf-8")
    return True


def doc_is_current(mdl, readme) -> bool:
    """True when ``readme`` exists and its generated block matches the model ``mdl``."""
    readme = Path(readme)
    if not readme.exists():
        return False
    text = readme.read_text(encoding="utf-8")
    if BEGIN not in text or END not in text:
        return False
    return render_readme(mdl, readme) == text


def main_docs(model_path: str = "models/jingdezhen.mdl", *, readme: str | None = None,
              docs_dir: str = "docs", sketch: bool = True) -> list:
    """Regenerate the README block, the diagrams and the Vensim sketch of a model.

    ``readme`` defaults to ``README.md`` next to the model; diagrams go to
    ``<docs_dir>/model_diagram.png`` and ``<docs_dir>/diagrams/<module>.png``; the
    sketch is rewritten in place in ``model_path`` (equations untouched) unless
    ``sketch=False``.  Returns the paths written.
    """
    from sim.modelfile.diagram import draw_all
    from sim.modelfile.sketch import write_sketch

    model_path = Path(model_path)
    readme_path = Path(readme) if readme else model_path.parent / "README.md"
    written = []
    if update_readme(model_path, readme_path):
        written.append(str(readme_path))
    written += [str(p) for p in draw_all(read_mdl(model_path), Path(docs_dir))]
    if sketch and write_sketch(model_path):
        written.append(str(model_path))
    return written


def main(argv=None) -> int:
    """``python -m sim.modelfile.doc [MODEL] [--no-sketch]``: regenerate and list the files."""
    import sys
    args = sys.argv[1:] if argv is None else list(argv)
    sketch = "--no-sketch" not in args
    paths = [a for a in args if not a.startswith("--")]
    for path in main_docs(paths[0] if paths else "models/jingdezhen.mdl", sketch=sketch):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

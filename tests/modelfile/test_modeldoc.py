"""Generated documentation (sim.modelfile.doc), diagrams (sim.modelfile.diagram) and the Vensim
sketch generator (sim.modelfile.sketch), on the small tooling models and, when it exists, on
models/jingdezhen.mdl."""
import shutil
import warnings
from pathlib import Path

import pytest

from sim.modelfile.diagram import draw_all, in_group_edges, layout_group, module_links, shadows
from sim.modelfile.mdl import read_mdl
from sim.modelfile.doc import (BEGIN, END, doc_is_current, equations_block, main_docs,
                          update_readme)
from sim.modelfile.sketch import split_mdl, views_of, write_sketch

TOOLING = Path(__file__).parents[1] / "models" / "tooling"
ROOT = Path(__file__).parents[2]
JDZ = ROOT / "models" / "jingdezhen.mdl"


@pytest.fixture
def mdl(tmp_path):
    path = tmp_path / "correct.mdl"
    shutil.copy(TOOLING / "correct.mdl", path)
    return path


# -- README block ----------------------------------------------------------------------
def test_block_has_one_table_per_module_and_every_element(mdl):
    model = read_mdl(mdl)
    block = equations_block(model)
    for group in model.groups:
        assert f"### Module: {group}" in block
    for e in model.elements:
        assert f"| {e.name} |" in block
    assert "| capital | stock | `INTEG ( investment-depreciation, initial capital)` | CNY100M |" in block
    assert "Dmnl [0, 1]" in block                       # range from the units field
    assert "Share of GDP invested." in block            # comment


def test_module_map_counts_stocks_flows_constants(mdl):
    block = equations_block(read_mdl(mdl))
    # Economy: capital; investment, depreciation; GDP real; 4 constants
    assert "| Economy | 1 | 2 | 1 | 4 | 0 | 0 | 8 |" in block
    assert "| **all** | 2 | 4 | 5 | 10 | 1 | 4 | 26 |" in block


def test_missing_readme_is_created_with_markers(mdl, tmp_path):
    readme = tmp_path / "README.md"
    assert update_readme(mdl, readme)
    text = readme.read_text()
    assert text.startswith("# Models") and BEGIN in text and END in text
    assert doc_is_current(mdl, readme)
    assert not update_readme(mdl, readme)          # second run: nothing to do


def test_text_outside_markers_is_never_touched(mdl, tmp_path):
    readme = tmp_path / "README.md"
    before = "# Models\n\n## Fit to 2010–2015 data\n\nhand text | with pipe\n\n"
    after = "\n## Main feedback loops\n\nR1 ...\n"
    readme.write_text(f"{before}{BEGIN}\nold stuff\n{END}{after}")
    assert not doc_is_current(mdl, readme)
    update_readme(mdl, readme)
    text = readme.read_text()
    assert text.startswith(before + BEGIN) and text.endswith(END + after)
    assert "old stuff" not in text
    assert doc_is_current(mdl, readme)


def test_readme_without_markers_gets_block_appended(mdl, tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# Models\n\n## Key assumptions\n\n- one\n")
    update_readme(mdl, readme)
    text = readme.read_text()
    assert text.startswith("# Models\n\n## Key assumptions\n\n- one\n")
    assert text.index(BEGIN) > text.index("- one")


def test_stale_readme_is_detected(mdl, tmp_path):
    readme = tmp_path / "README.md"
    update_readme(mdl, readme)
    mdl.write_text(mdl.read_text().replace("Share of GDP invested.", "Share invested."))
    assert not doc_is_current(mdl, readme)
    assert not doc_is_current(mdl, tmp_path / "absent.md")


def test_broken_markers_are_a_clear_error(mdl, tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"{END}\n{BEGIN}\n")
    with pytest.raises(ValueError, match="README.md"):
        update_readme(mdl, readme)


# -- layout and diagrams -------------------------------------------------------------------
@pytest.mark.parametrize("group", ["Economy", "Population"])
def test_layout_places_each_variable_once_and_after_its_inputs(mdl, group):
    model = read_mdl(mdl)
    cells = layout_group(model, group)
    names = [e.name for e in model.in_group(group)]
    assert set(cells) == set(names) | set(shadows(model, group))
    assert len(set(cells.values())) == len(cells)               # no two on one cell
    assert all(cells[s][0] == 0 for s in shadows(model, group))
    kinds = {e.name: e.kind for e in model.in_group(group)}
    for src, dst in in_group_edges(model, group):
        if kinds[dst] != "stock":
            assert cells[src][0] < cells[dst][0], (src, dst)


def test_module_links_count_cross_module_reads(mdl):
    # Population reads GDP real (GDP per capita, smoothed GDP) and capital lifetime
    assert module_links(read_mdl(mdl)) == {("Economy", "Population"): 3}


def test_diagrams_are_written_per_module_and_overview(mdl, tmp_path):
    import matplotlib.image as mpimg
    written = draw_all(read_mdl(mdl), tmp_path / "docs")
    names = sorted(p.relative_to(tmp_path / "docs").as_posix() for p in written)
    assert names == ["diagrams/control.png", "diagrams/economy.png",
                     "diagrams/population.png", "model_diagram.png"]
    image = mpimg.imread(tmp_path / "docs" / "diagrams" / "population.png")
    assert image.shape[0] > 200 and image.shape[1] > 400
    image = image if image.ndim == 3 else image[..., None]
    assert image[..., :3].min() < 0.5            # something dark was drawn


# -- Vensim sketch -------------------------------------------------------------------------
def test_sketch_keeps_equations_and_settings_byte_for_byte(mdl):
    original = mdl.read_bytes().decode()
    assert write_sketch(mdl)
    new = mdl.read_bytes().decode()
    old_eq, old_sketch, old_tail = split_mdl(original)
    new_eq, new_sketch, new_tail = split_mdl(new)
    assert new_eq == old_eq and new_tail == old_tail == ":L<%^E!@\n9:Current\n"
    assert new_sketch != old_sketch
    assert not write_sketch(mdl)                 # idempotent


def test_every_variable_in_exactly_one_view_as_non_shadow(mdl):
    write_sketch(mdl)
    model = read_mdl(mdl)
    views = views_of(mdl.read_text())
    assert list(views) == model.groups
    placed = [n for v in views.values() for n in v["vars"]]
    assert sorted(placed) == sorted(e.name for e in model.elements)
    for group, view in views.items():
        assert view["shadows"] == shadows(model, group)
        assert not set(view["shadows"]) & set(view["vars"])


def test_stocks_are_boxes_and_arrows_join_existing_ids(mdl):
    write_sketch(mdl)
    lines = split_mdl(mdl.read_text())[1].splitlines()
    view = lines[lines.index("*Economy"):lines.index("*Population")]
    ids = {f.split(",")[1]: f.split(",")[2] for f in view if f.startswith("10,")}
    shape = {f.split(",")[2]: f.split(",")[7] for f in view if f.startswith("10,")}
    assert shape["capital"] == "3" and shape["GDP real"] == "8"
    arrows = {(ids[a.split(",")[2]], ids[a.split(",")[3]]) for a in view if a.startswith("1,")}
    assert ("investment", "capital") in arrows and ("depreciation", "capital") in arrows
    assert ("capital", "GDP real") in arrows


def test_sketched_model_loads_in_pysd_with_split_views(mdl, tmp_path):
    import pysd
    plain = tmp_path / "plain" / "correct.mdl"    # PySD writes its .py next to the .mdl
    plain.parent.mkdir()
    shutil.copy(TOOLING / "correct.mdl", plain)
    reference = pysd.read_vensim(str(plain)).run()
    write_sketch(mdl)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # PySD warns that control variables stay in main
        split = pysd.read_vensim(str(mdl), split_views=True)
    modules = {p.stem for p in (tmp_path / "modules_correct").glob("*.py")}
    assert modules == {"economy", "population"}
    result = split.run()
    assert (result[["capital", "population"]] == reference[["capital", "population"]]).all().all()


def test_main_docs_writes_readme_diagrams_and_sketch(mdl, tmp_path):
    written = main_docs(str(mdl), docs_dir=str(tmp_path / "docs"))
    assert str(tmp_path / "README.md") in written
    assert str(tmp_path / "docs" / "model_diagram.png") in written
    assert str(mdl) in written
    assert doc_is_current(mdl, tmp_path / "README.md")
    # a second run changes neither the README nor the model
    again = main_docs(str(mdl), docs_dir=str(tmp_path / "docs"))
    assert str(mdl) not in again and str(tmp_path / "README.md") not in again


# -- the Jingdezhen model ------------------------------------------------------------------
@pytest.mark.skipif(not JDZ.exists(), reason="models/jingdezhen.mdl does not exist yet")
def test_jingdezhen_readme_is_current():
    assert doc_is_current(JDZ, ROOT / "models" / "README.md"), (
        "models/README.md is stale: run `python -m sim docs` (or "
        "sim.modelfile.doc.update_readme) after editing models/jingdezhen.mdl")


@pytest.mark.skipif(not JDZ.exists(), reason="models/jingdezhen.mdl does not exist yet")
def test_jingdezhen_sketch_has_one_view_per_module(tmp_path):
    copy = tmp_path / "jingdezhen.mdl"
    shutil.copy(JDZ, copy)
    write_sketch(copy)
    model = read_mdl(copy)
    views = views_of(copy.read_text(encoding="utf-8"))
    assert list(views) == model.groups
    placed = [n for v in views.values() for n in v["vars"]]
    assert sorted(placed) == sorted(e.name for e in model.elements)
    assert split_mdl(copy.read_text(encoding="utf-8"))[0] == split_mdl(
        JDZ.read_text(encoding="utf-8"))[0]

"""The one table writer's HTML: group rows, two-line cells with classes, column widths,
an optional heading row, escaping; parsed back with the standard library's HTML parser."""
from __future__ import annotations

from html.parser import HTMLParser

from sim.report.tables import html_table


class _Tree(HTMLParser):
    """Elements as (tag, attrs, text) in document order; text is the element's own direct text."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.items, self.stack = [], []

    def handle_starttag(self, tag, attrs):
        item = [tag, dict(attrs), ""]
        self.items.append(item)
        if tag != "col":
            self.stack.append(item)

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1][0] == tag, f"</{tag}> closes {self.stack[-1:]}"
        self.stack.pop()

    def handle_data(self, data):
        if self.stack:
            self.stack[-1][2] += data


def parse(text: str) -> list:
    tree = _Tree()
    tree.feed(text)
    tree.close()
    assert tree.stack == [], f"unclosed: {tree.stack}"
    return tree.items


def tags(items, name):
    return [i for i in items if i[0] == name]


def test_group_rows_span_every_column_with_or_without_a_heading_row():
    rows = [{"group": "2020 goals"}, ["a", "b", "c"], {"group": "2030 goals"}, ["d", "e", "f"]]
    for header, widths in ((["x", "y", "z"], None), (None, [0.5, 0.25, 0.25])):
        items = parse(html_table(header, rows, widths=widths))
        groups = [tr for tr in tags(items, "tr") if tr[1].get("class") == "group"]
        assert len(groups) == 2
        spans = [td[1].get("colspan") for td in tags(items, "td") if "colspan" in td[1]]
        assert spans == ["3", "3"]
        assert [td[2] for td in tags(items, "td")] == ["2020 goals", "a", "b", "c", "2030 goals", "d", "e", "f"]
        assert bool(tags(items, "thead")) == (header is not None)
        assert len(tags(items, "th")) == (3 if header else 0)


def test_two_line_cells_carry_their_class_and_a_sub_line():
    rows = [[{"text": "Goal", "sub": "≥ 50 %", "cls": "met"}, {"text": "12.5", "sub": None, "cls": None},
             {"text": "no data", "sub": "", "cls": "nodata"}]]
    out = html_table(["goal", "value", "actual"], rows)
    items = parse(out)
    tds = tags(items, "td")
    assert [td[1].get("class") for td in tds] == ["met", None, "nodata"]
    assert [td[2] for td in tds] == ["Goal", "12.5", "no data"]
    subs = [s for s in tags(items, "span") if s[1].get("class") == "sub"]
    assert [s[2] for s in subs] == ["≥ 50 %"]          # empty or missing sub: no second line
    assert out.count('<span class="sub">') == 1


def test_column_widths_become_a_colgroup_in_percent():
    items = parse(html_table(["a", "b", "c"], [["1", "2", "3"]], widths=[0.25, 0.115, 0.635]))
    cols = [c[1]["style"] for c in tags(items, "col")]
    assert cols == ["width:25.00%", "width:11.50%", "width:63.50%"]
    assert not tags(parse(html_table(["a"], [["1"]])), "colgroup")


def test_every_text_is_escaped():
    nasty = '<b>"&x\'</b>'
    out = html_table([nasty], [[{"text": nasty, "sub": nasty, "cls": 'a" onclick="x'}], [nasty],
                              {"group": nasty}], cls="grid", name=nasty)
    items = parse(out)
    assert not tags(items, "b")
    assert "onclick" not in tags(items, "td")[0][1]
    assert tags(items, "td")[0][1]["class"] == 'a" onclick="x'
    assert [td[2] for td in tags(items, "td")] == [nasty, nasty, nasty]
    assert tags(items, "th")[0][2] == nasty and tags(items, "span")[0][2] == nasty
    assert tags(items, "table")[0][1] == {"class": "grid", "data-name": nasty}


def test_table_attributes_and_per_cell_styles_and_titles():
    out = html_table(["h1", "h2"], [["1", "2"], ["3", "4"]], styles=[[None, "color:red"], ["x:y", None]],
                     titles=[["t1", None], [None, "t4"]], style="font-size:12px")
    items = parse(out)
    assert tags(items, "table")[0][1] == {"style": "font-size:12px"}   # no class, no data-name
    tds = tags(items, "td")
    assert [td[1].get("style") for td in tds] == [None, "color:red", "x:y", None]
    assert [td[1].get("title") for td in tds] == ["t1", None, None, "t4"]
    assert 'data-name=""' in html_table(["a"], [["1"]], name="")

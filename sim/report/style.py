"""House style: projector-sized type, the Okabe–Ito palette, one fixed colour per scenario,
horizon marks, the caption line and export.

Sizes assume a 16:9 slide: figures are 13.33 × 7.5 in, so at full-screen on a 1920-px
projector 1 pt ≈ 2 px and 18-pt body text is about 36 px high.
"""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator

from sim.report.fonts import font_rc
from sim.report.png import save_png

from sim.report.labels import Labels, compose, pick

# The backend is left alone: notebooks keep their inline backend; headless runs (the main
# job, CI) get Agg from matplotlib's own fallback, and tests select it explicitly.

#: Okabe & Ito (2008) colour-blind-safe palette.
OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
}

#: The known scenarios keep these colours in every figure.
FIXED_SCENARIO_COLOURS = {
    "baseline": OKABE_ITO["black"],
    "plan": OKABE_ITO["blue"],
    "accelerated": OKABE_ITO["vermillion"],
    "green_first": OKABE_ITO["bluish_green"],
    "social_first": OKABE_ITO["reddish_purple"],
    "no_transfers": OKABE_ITO["orange"],
}

#: Colours handed, in this order, to scenarios not listed above (sorted by id): the rest of
#: Okabe–Ito, then Paul Tol's "muted" scheme (also colour-blind safe).
EXTRA_SCENARIO_COLOURS = (
    OKABE_ITO["sky_blue"], "#332288", "#117733", "#882255", "#999933", "#AA4499",
    "#44AA99", "#DDCC77", "#888888", OKABE_ITO["yellow"],
)
#: After the extra colours run out, colours repeat with these line styles.
CYCLE_LINESTYLES = ("-", "--", ":", "-.")

#: Goal-dashboard cell colours by result (colour-blind-safe pair plus grey).
STATUS_COLOURS = {True: OKABE_ITO["bluish_green"], False: OKABE_ITO["vermillion"], None: "#BBBBBB"}

#: Planning horizons marked on every time plot (years).
DEFAULT_HORIZONS = (2020, 2030)

FIGSIZE = (16 / 9 * 7.5, 7.5)  # 16:9 slide; 4000 × 2250 px at 300 dpi
DPI = 300
FORMATS = ("png", "svg", "pdf")

HOUSE_RC = {
    "figure.figsize": FIGSIZE,
    "figure.dpi": 100,
    "savefig.dpi": DPI,
    "font.size": 18,
    "axes.titlesize": 21,
    "axes.titleweight": "normal",
    "axes.labelsize": 18,
    "xtick.labelsize": 16,
    "ytick.labelsize": 16,
    "legend.fontsize": 15,
    "legend.title_fontsize": 16,
    "figure.titlesize": 24,
    "figure.titleweight": "normal",
    "lines.linewidth": 3.0,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#DDDDDD",
    "grid.linewidth": 1.0,
    "axes.axisbelow": True,
    "legend.frameon": False,
}
CAPTION_SIZE = 13
#: Space (figure fraction) kept free at the bottom for the caption line.
CAPTION_BAND = 0.055
#: Caption lines by language setting (both: Chinese line, then English line).
CAPTION_LINES = {"zh": 1, "en": 1, "both": 2}


#: Panel titles: type size, and the share of the figure width the panels get (the rest
#: is the legend column).
PANEL_TITLE_SIZE = 18
PANEL_WIDTH_SHARE = 0.80
LATIN_EM = 0.55          # average width of a Latin character, in em
WIDE_FROM = 0x2E80       # CJK and full-width characters: 1 em


def _em(text: str) -> float:
    return sum(1.0 if ord(c) >= WIDE_FROM else LATIN_EM for c in text)


def wrap_text(text: str, width_em: float) -> str:
    """Break ``text`` into lines of at most ``width_em`` em: between words in Latin script,
    between any two characters in CJK. Existing line breaks are kept."""
    out = []
    for para in text.split("\n"):
        tokens, word = [], ""
        for c in para:
            if ord(c) >= WIDE_FROM:
                tokens += [word, c] if word else [c]
                word = ""
            elif c == " ":
                tokens += [word, " "] if word else [" "]
                word = ""
            else:
                word += c
        tokens += [word] if word else []
        line = ""
        for tok in tokens:
            if line.strip() and _em(line + tok) > width_em and tok != " ":
                out.append(line.rstrip())
                line = "" if tok == " " else tok
            else:
                line += tok
        out.append(line.rstrip())
    return "\n".join(out)


def panel_title(text: str, ncols: int, fontsize: float = PANEL_TITLE_SIZE) -> str:
    """``text`` wrapped to the width of one of ``ncols`` panels side by side."""
    width_pt = FIGSIZE[0] * 72 * PANEL_WIDTH_SHARE / ncols - 60
    return wrap_text(text, width_pt / fontsize)


def scenario_colours(ids: Iterable[str]) -> dict[str, str]:
    """One colour per scenario: fixed for the known ids, the next free ones for the rest.

    Unknown ids are sorted, so the assignment depends only on the set of ids.
    """
    ids = list(dict.fromkeys(ids))
    out = {i: FIXED_SCENARIO_COLOURS[i] for i in ids if i in FIXED_SCENARIO_COLOURS}
    unknown = sorted(i for i in ids if i not in FIXED_SCENARIO_COLOURS)
    for k, sid in enumerate(unknown):
        out[sid] = EXTRA_SCENARIO_COLOURS[k % len(EXTRA_SCENARIO_COLOURS)]
    return {i: out[i] for i in ids}


def scenario_linestyles(ids: Iterable[str]) -> dict[str, str]:
    """Solid lines, except where extra colours had to repeat (then dashed, dotted, ...)."""
    unknown = sorted(i for i in dict.fromkeys(ids) if i not in FIXED_SCENARIO_COLOURS)
    out = {i: "-" for i in ids}
    for k, sid in enumerate(unknown):
        out[sid] = CYCLE_LINESTYLES[(k // len(EXTRA_SCENARIO_COLOURS)) % len(CYCLE_LINESTYLES)]
    return out


def scenario_name(sid: str, scenarios_meta: Mapping | None, lang: str) -> str:
    """Display name of scenario ``sid`` from ``{id: {"name": {zh, en}}}``; its id if absent."""
    meta = (scenarios_meta or {}).get(sid) or {}
    return pick(meta.get("name"), lang, default=sid) or sid


@contextmanager
def house_style():
    """Matplotlib rc settings of the house style (CJK font, sizes, export settings)."""
    with plt.rc_context({**HOUSE_RC, **font_rc()}):
        yield


def new_figure(nrows: int = 1, ncols: int = 1, figsize: Sequence[float] = FIGSIZE, *,
               lang: str = "zh", **kw):
    """A constrained-layout figure with room for the caption line(s) at the bottom."""
    fig, axes = plt.subplots(nrows, ncols, figsize=figsize, layout="constrained",
                             squeeze=False, **kw)
    band = CAPTION_BAND * CAPTION_LINES[lang] * FIGSIZE[1] / figsize[1]
    fig.get_layout_engine().set(rect=(0, band, 1, 1 - band), h_pad=0.08, w_pad=0.08)
    return fig, axes


def add_caption(fig, labels: Labels, lang: str, source: Mapping | str | None,
                scenario_ids: Sequence[str], scenarios_meta: Mapping | None,
                data_files: Sequence[str] = ()) -> None:
    """Caption line: source, the scenarios shown and, when observed points are drawn, the
    data files they come from (``data_files``), bottom left, small type."""
    def line(one):
        src = pick(source, one) if source else labels.t("default_source", one)
        names = labels.t("list_sep", one).join(
            scenario_name(s, scenarios_meta, one) for s in scenario_ids)
        colon = labels.t("colon", one)
        data = (labels.t("gap", one) + labels.t("data_source", one, files=labels.t(
            "list_sep", one).join(data_files))) if data_files else ""
        return (f"{labels.t('source', one)}{colon}{src}{labels.t('gap', one)}"
                f"{labels.t('scenarios', one)}{colon}{names}{data}")
    fig.text(0.01, 0.01, compose(lang, line), fontsize=CAPTION_SIZE, color="#444444",
             ha="left", va="bottom", gid="caption", wrap=True)


#: Observed (published) data: hollow markers, never a line (not to be read as a model run).
DATA_STYLE = dict(marker="o", ms=10, ls="none", mfc="white", mec="#222222", mew=2.2, zorder=6)
#: The line between history (the model follows data) and projection (scenarios diverge).
PROJECTION_LINE = dict(color="#777777", lw=2.0, ls=(0, (5, 2, 1, 2)), zorder=1)


def projection_start(scenarios_meta: Mapping | None) -> float | None:
    """First year of the projection: the earliest ``projection_start`` of the scenarios'
    metadata (set by a run seen from a vantage year: its levers start the year after),
    else the earliest ``policy_start`` (None when no scenario sets either)."""
    metas = [m for m in (scenarios_meta or {}).values() if isinstance(m, Mapping)]
    for key in ("projection_start", "policy_start"):
        starts = [float(m[key]) for m in metas if m.get(key) is not None]
        if starts:
            return min(starts)
    return None


def mark_projection(ax, start: float | None, labels: Labels, lang: str) -> None:
    """A dash-dot line half a year before ``start`` (between the last history year's point
    and the first projected one; gid ``projection_start``), explained in the legend
    ("history | projection from 2016") rather than by text over the data."""
    if start is None:
        return
    ax.axvline(float(start) - 0.5, gid="projection_start", **PROJECTION_LINE,
               label=compose(lang, lambda one: labels.t("projection_from", one,
                                                        year=f"{float(start):g}")))


def mark_horizons(ax, horizons: Iterable[float] = DEFAULT_HORIZONS, emphasise=None,
                  label: bool = True) -> None:
    """Vertical lines at the planning horizons, labelled with the year at the top (unless
    ``label`` is false: small panels, where the x ticks already name the years and a label
    would collide with threshold notes); whole years on the x axis."""
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))
    for year in horizons:
        strong = emphasise is not None and float(year) == float(emphasise)
        ax.axvline(year, color="#666666", lw=2.5 if strong else 1.5,
                   ls="-" if strong else (0, (1, 2)), zorder=1, gid=f"horizon:{year:g}")
        if not label:
            continue
        ax.text(year, 0.99, f"{year:g} ", transform=ax.get_xaxis_transform(), ha="right",
                va="top", fontsize=14, color="#666666")


def save(fig, path_stem: Path, formats: Sequence[str] = FORMATS, dpi: int = DPI) -> list[Path]:
    """Write ``fig`` as ``path_stem.<fmt>`` for each format; close it; return the paths."""
    path_stem = Path(path_stem)
    path_stem.parent.mkdir(parents=True, exist_ok=True)
    out = []
    with house_style():  # export settings (pdf.fonttype) are read at save time
        for fmt in formats:
            p = path_stem.with_suffix(f".{fmt}")
            if fmt == "png":   # matplotlib's pixels, a faster encoder (sim.report.png)
                save_png(fig, p, dpi)
            else:
                fig.savefig(p, format=fmt, dpi=dpi)
            out.append(p)
            # positions are in figure fractions, valid for every format: lay out once
            fig.set_layout_engine("none")
    plt.close(fig)
    return out

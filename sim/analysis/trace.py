"""Traceability: clause → measure → lever → model variables → targets, by walking the model.

The causal paths come from the model's equations (:func:`sim.modelfile.mdl.read_mdl`: each
element's ``dependencies``): a lever can move a target when the target's indicator lies
downstream of the lever in the dependency graph. Two kinds of path are told apart:

* **direct**: paths that do not pass through the lever programmes' shared budget demand
  (``lever spending requested``);
* **via the budget**: targets reachable only because a programme's spending request
  changes ``fiscal feasibility`` and so scales every other programme (crowding out).

``python -m sim trace`` writes ``docs/traceability_zh.md`` and ``docs/traceability_en.md``
from ``scenarios/measures.yaml``, ``scenarios/levers.yaml``, ``scenarios/targets.yaml`` and
``models/jingdezhen.mdl``; a test keeps the committed files in step with a fresh generation.
"""
from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from sim.modelfile.mdl import MdlModel, read_mdl
from sim.policy.measures import CLAUSES, STATUSES, Measure, MeasureSet, load_measures
from sim.policy.scenario import Problem, ValidationError, load_registry
from sim.policy.targets import TargetSet, load_targets

#: Variables whose change reaches every programme through the shared budget.
BUDGET_NODES = ("lever spending requested",)
#: The tables name a lever's nearest targets: those at most this many links further than
#: its closest target (the economy's feedback loops - GDP, jobs, the budget - connect
#: every lever to almost every target in the end; those are counted, not named).
NEAR_WINDOW = 2
OUT_FILES = {"zh": "traceability_zh.md", "en": "traceability_en.md"}


def dependents(model: MdlModel) -> dict[str, set[str]]:
    """``{variable: variables whose equation (or initial value) reads it}``."""
    out: dict[str, set[str]] = {e.name: set() for e in model.elements}
    for e in model.elements:
        for dep in e.dependencies:
            out.setdefault(dep, set()).add(e.name)
    return out


def downstream(graph: Mapping[str, set[str]], sources: Iterable[str],
               blocked: Iterable[str] = (), stop: Iterable[str] = ()) -> dict[str, int]:
    """``{variable: number of links on the shortest path}`` from ``sources`` (breadth first),
    never passing through a ``blocked`` variable (which is itself not reached); ``stop``
    variables are reached but the walk does not continue past them."""
    blocked, stop = set(blocked), set(stop)
    dist = {s: 0 for s in sources}
    queue = deque(dist)
    while queue:
        v = queue.popleft()
        if v in stop and dist[v] > 0:
            continue
        for w in sorted(graph.get(v, ())):
            if w not in dist and w not in blocked:
                dist[w] = dist[v] + 1
                queue.append(w)
    return dist


@dataclass(frozen=True)
class Reach:
    """What a lever (or a set of structure variables) acts on and which targets it can move."""

    acts_on: tuple          # variables reading the sources directly
    direct: dict            # {target id: links on the shortest path}, not via the budget
    via_budget: tuple       # target ids reachable only through the shared budget

    def nearest(self, window: int = NEAR_WINDOW) -> dict:
        """``{target id: links}`` of the targets within ``window`` links of the closest one."""
        if not self.direct:
            return {}
        first = min(self.direct.values())
        return {t: d for t, d in sorted(self.direct.items(), key=lambda kv: (kv[1], kv[0]))
                if d <= first + window}


def reach(model: MdlModel, sources: Iterable[str], targets: TargetSet,
          graph: Mapping[str, set[str]] | None = None) -> Reach:
    """Walk the model from ``sources`` to the targets' indicators."""
    graph = graph if graph is not None else dependents(model)
    sources = list(sources)
    free = downstream(graph, sources, blocked=BUDGET_NODES)
    full = downstream(graph, sources)
    acts_on = sorted({w for s in sources for w in graph.get(s, ())})
    direct, via = {}, []
    for t in targets:
        hops = [free[v] for v in t.variables() if v in free]
        if hops:
            direct[t.id] = min(hops)
        elif any(v in full for v in t.variables()):
            via.append(t.id)
    return Reach(tuple(acts_on), direct, tuple(via))


@dataclass
class Trace:
    """Everything the traceability tables show."""

    measures: MeasureSet
    registry: dict
    targets: TargetSet
    lever_reach: dict       # {lever name: Reach}
    measure_reach: dict     # {measure id: Reach} (levers combined, or structure variables)


def build(scenario_dir: str | os.PathLike = "scenarios", model: str | os.PathLike = "models/jingdezhen.mdl") -> Trace:
    """Read the register, the registry, the targets and the model; walk every lever and measure."""
    scenario_dir = Path(scenario_dir)
    mdl = read_mdl(model)
    names = [e.name for e in mdl.elements]
    registry = load_registry(scenario_dir / "levers.yaml")
    missing = [n for n in registry if n not in mdl]
    if missing:
        raise ValidationError([Problem(str(scenario_dir / "levers.yaml"), n, f"not a variable of {model}")
                               for n in missing])
    measures = load_measures(scenario_dir / "measures.yaml", registry, names)
    targets = load_targets(scenario_dir / "targets.yaml", names)
    graph = dependents(mdl)
    lever_reach = {n: reach(mdl, [n], targets, graph) for n in registry}
    measure_reach = {}
    for m in measures:
        sources = m.levers or m.variables
        if sources:
            measure_reach[m.id] = reach(mdl, sources, targets, graph)
    return Trace(measures, registry, targets, lever_reach, measure_reach)


# --------------------------------------------------------------------------- rendering
TEXT = {
    "title": {"zh": "规划措施可追溯表", "en": "Traceability of the plan's measures"},
    "intro": {
        "zh": ("由 `python -m sim trace` 根据 `scenarios/measures.yaml`（措施登记表）、`scenarios/levers.yaml`、"
               "`scenarios/targets.yaml` 和 `models/jingdezhen.mdl` 生成，请勿手工修改。"
               "可影响的目标来自模型方程的依赖关系遍历：目标指标位于杠杆下游即可被其影响；括号内为最短因果链的环节数。"
               f"表中列出最近的目标（不超过最近目标再加 {NEAR_WINDOW} 个环节）；经济的反馈回路（GDP、就业、预算）最终把几乎每个杠杆与几乎每个目标相连，更远的目标只计个数。"
               "“仅经预算”为只有通过各项目共享的财政预算（`lever spending requested` → `fiscal feasibility`，挤出其他项目）才能到达的目标个数。"),
        "en": ("Generated by `python -m sim trace` from `scenarios/measures.yaml` (the measures register), "
               "`scenarios/levers.yaml`, `scenarios/targets.yaml` and `models/jingdezhen.mdl`; do not edit by hand. "
               "\"Targets it can move\" come from a walk over the model's equations: a target can move when its "
               "indicator lies downstream of the lever; the number in brackets counts the links on the shortest "
               f"causal chain. The table names the nearest targets (at most {NEAR_WINDOW} links further than the closest); "
               "the economy's feedback loops (GDP, jobs, the budget) connect almost every lever to almost every "
               "target in the end, so the further ones are counted. \"Via the budget only\" counts the targets "
               "reached only through the programmes' shared budget "
               "(`lever spending requested` → `fiscal feasibility`: crowding out the other programmes)."),
    },
    "counts": {"zh": "各条款措施的建模情况", "en": "Measures modelled, per clause"},
    "clause": {"zh": "条款", "en": "clause"},
    "lever": {"zh": "杠杆承载", "en": "by a lever"},
    "partly": {"zh": "部分承载", "en": "partly"},
    "structure": {"zh": "模型结构承载", "en": "by structure"},
    "out_of_scope": {"zh": "未纳入模型", "en": "out of scope"},
    "total": {"zh": "合计", "en": "total"},
    "all": {"zh": "全部", "en": "all"},
    "by_clause": {"zh": "逐条措施", "en": "Measure by measure"},
    "measure": {"zh": "措施", "en": "measure"},
    "how": {"zh": "模型承载方式", "en": "carried by"},
    "acts_on": {"zh": "直接作用的模型变量", "en": "model variables it acts on"},
    "moves": {"zh": "最近的目标（因果链环节数）", "en": "nearest targets it can move (links)"},
    "gdp": {"zh": "更远的目标（个）", "en": "further targets (count)"},
    "via": {"zh": "仅经预算（个）", "en": "via the budget only (count)"},
    "levers": {"zh": "杠杆一览", "en": "Levers"},
    "claimed": {"zh": "承载的措施", "en": "measures it carries"},
    "reason": {"zh": "原因", "en": "reason"},
    "out_list": {"zh": "未纳入模型的措施及原因", "en": "Measures left out, and why"},
    "lever_kw": {"zh": "杠杆", "en": "lever"},
    "structure_kw": {"zh": "结构", "en": "structure"},
    "partial_kw": {"zh": "（部分）", "en": " (partly)"},
    "none": {"zh": "—", "en": "—"},
}


def _t(key: str, lang: str) -> str:
    return TEXT[key][lang]


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown_table(header: list[str], rows: Iterable[Iterable]) -> str:
    """A GitHub Markdown table (cells escaped)."""
    lines = ["| " + " | ".join(map(_cell, header)) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _targets_text(r: Reach | None, lang: str) -> tuple[str, str, str]:
    if r is None:
        return (_t("none", lang),) * 3
    near = r.nearest()
    further = len(r.direct) - len(near)
    return (", ".join(f"{t} ({d})" for t, d in near.items()) or _t("none", lang),
            str(further) if further else _t("none", lang),
            str(len(r.via_budget)) if r.via_budget else _t("none", lang))


def _how(m: Measure, lang: str) -> str:
    if m.kind == "lever":
        text = f"{_t('lever_kw', lang)}: " + ", ".join(f"`{n}`" for n in m.levers)
    elif m.kind == "structure":
        text = f"{_t('structure_kw', lang)}: " + ", ".join(f"`{n}`" for n in m.variables)
    else:
        return _t("out_of_scope", lang)
    return text + (_t("partial_kw", lang) if m.partial else "")


def render(trace: Trace, lang: str) -> str:
    """The traceability document in one language (``zh`` or ``en``)."""
    out = [f"# {_t('title', lang)}", "", _t("intro", lang), "", f"## {_t('counts', lang)}", ""]
    counts = trace.measures.counts()
    header = [_t("clause", lang), *(_t(s, lang) for s in STATUSES), _t("total", lang)]
    rows = []
    for clause, row in counts.items():
        label = _t("all", lang) if clause == "all" else f"({clause})"
        rows.append([label, *(row[s] for s in STATUSES), row["total"]])
    out += [markdown_table(header, rows), "", f"## {_t('by_clause', lang)}", ""]
    header = ["id", _t("measure", lang), _t("how", lang), _t("acts_on", lang), _t("moves", lang),
              _t("gdp", lang), _t("via", lang)]
    rows = []
    for m in trace.measures:
        r = trace.measure_reach.get(m.id)
        acts = ", ".join(f"`{v}`" for v in r.acts_on) if r else _t("none", lang)
        rows.append([m.id, m.name[lang], _how(m, lang), acts, *_targets_text(r, lang)])
    out += [markdown_table(header, rows), "", f"## {_t('levers', lang)}", ""]
    header = [_t("lever_kw", lang), _t("clause", lang), _t("claimed", lang), _t("acts_on", lang),
              _t("moves", lang), _t("gdp", lang), _t("via", lang)]
    by_lever = trace.measures.by_lever()
    rows = []
    for name, lever in trace.registry.items():
        r = trace.lever_reach[name]
        rows.append([f"`{name}` ({lever.zh if lang == 'zh' else lever.en})", lever.clause,
                     ", ".join(m.id for m in by_lever.get(name, [])),
                     ", ".join(f"`{v}`" for v in r.acts_on), *_targets_text(r, lang)])
    out += [markdown_table(header, rows), "", f"## {_t('out_list', lang)}", ""]
    rows = [[m.id, m.name[lang], m.reason] for m in trace.measures if m.kind == "out_of_scope"]
    out += [markdown_table(["id", _t("measure", lang), _t("reason", lang)], rows), ""]
    return "\n".join(out)


def write_docs(scenario_dir: str | os.PathLike = "scenarios", model: str | os.PathLike = "models/jingdezhen.mdl",
               out_dir: str | os.PathLike = "docs") -> list[Path]:
    """Write ``traceability_zh.md`` and ``traceability_en.md`` into ``out_dir``; returns the paths."""
    trace = build(scenario_dir, model)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for lang, name in OUT_FILES.items():
        path = out_dir / name
        path.write_text(render(trace, lang), encoding="utf-8")
        paths.append(path)
    return paths

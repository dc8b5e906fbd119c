"""The command line, kept thin: parse arguments, call a function, print the result.

    python -m sim simulate PATH.mdl [--set NAME=VALUE ...] [--method M] [--rtol R] [-o out.csv]
    python -m sim run [--scenario ID ...] [--out DIR] [--name NAME]
    python -m sim validate
    python -m sim compare A B
    python -m sim figures RESULTS_DIR [--lang zh|en|both]
    python -m sim brief [RESULTS_DIR] [--lang zh|en|both] [--search DIR] [--ensemble DIR]
    python -m sim slides RESULTS_DIR [--lang zh|en]
    python -m sim calibrate SPEC [--out DIR]
    python -m sim optimize [--from plan] [--goals ID ...] [--horizon 2020] [--start YEAR] [--doc FILE]
    python -m sim docs [MODEL]
    python -m sim units [MODEL]
    python -m sim trace [--docs-dir docs]
    python -m sim contributions [--scenario plan] [--against baseline] [--method auto|exact|permutations]
    python -m sim ensemble --scenario S --n N [--method lhs|sobol|mc] [--seed K] [--scheduler tcp://host:port] [--out DIR]

Every user mistake (a bad option value, a bad file, an output location that exists or
cannot be written) ends in one line ``error: ...`` naming the option or file and the fix,
and exit status 2; an internal error says so in one line and exits 1 (``SIM_DEBUG=1``
shows the traceback).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from sim.defaults import DEFAULT_MODEL, DEFAULT_SCENARIO_DIR


def _parse_set(items: list[str], option: str = "--set") -> dict[str, float]:
    """``["a=1", "b c=2.5"]`` → ``{"a": 1.0, "b c": 2.5}``; clear error otherwise."""
    import math

    from sim.errors import UsageError

    params, problems = {}, []
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            problems.append(f"{option} {item!r}: expected NAME=VALUE")
            continue
        try:
            number = float(value)
        except ValueError:
            problems.append(f"{option} {item!r}: value {value!r} is not a number")
            continue
        if not math.isfinite(number):
            problems.append(f"{option} {item!r}: value {value!r} is not a finite number")
        elif name.strip() in params:
            problems.append(f"{option} {item!r}: {name.strip()!r} is given twice")
        else:
            params[name.strip()] = number
    if problems:
        raise UsageError("; ".join(problems))
    return params


#: ``--set`` rules by element type (PySD's doc "Type"): only constants may be set.
CONTROL_OPTIONS = {"INITIAL TIME": "--initial-time", "FINAL TIME": "--final-time",
                   "SAVEPER": "--saveper", "TIME STEP": "--method/--rtol (the engine's steps are adaptive)",
                   "Time": "--initial-time/--final-time"}


def check_set(handle, params: dict, option: str = "--set") -> None:
    """``--set`` takes the model's constants only: a stock points to ``--initial``, a
    control variable to its option, an equation or lookup is refused, an unknown name
    gets the closest names. Raises :class:`~sim.errors.UsageError` (all problems)."""
    from sim.errors import UsageError, suggest

    doc = handle.doc
    by_name = {}
    for _, row in doc.iterrows():
        for key in (row["Real Name"], row["Py Name"]):
            if isinstance(key, str):
                by_name[key.lower()] = row
    problems = []
    for name in params:
        row = by_name.get(name.lower())
        if row is None:
            problems.append(f"{option} {name!r}: not a variable of {handle.path.name}"
                            + suggest(name, handle.constants()))
            continue
        real, kind = row["Real Name"], str(row["Type"])
        if real in CONTROL_OPTIONS:
            problems.append(f"{option} {name!r}: a control variable; use {CONTROL_OPTIONS[real]}")
        elif kind == "Stateful":
            problems.append(f"{option} {name!r}: a stock; set its initial value with "
                            f"--initial \"{real}=VALUE\"" if "Integ" in str(row["Subtype"]) else
                            f"{option} {name!r}: the state of a {row['Subtype']} function; it cannot be set")
        elif kind != "Constant":
            problems.append(f"{option} {name!r}: computed by an equation ({kind}); {option} "
                            "takes constants only")
    if problems:
        raise UsageError("; ".join(problems))


def _times(ctl: dict, args):
    """Output times from ``--initial-time/--final-time/--saveper`` within the model's span."""
    import numpy as np

    from sim.errors import UsageError

    t0, tf, dt = ctl["initial_time"], ctl["final_time"], ctl["saveper"]
    if args.initial_time is None and args.final_time is None and args.saveper is None:
        return None
    a = t0 if args.initial_time is None else args.initial_time
    b = tf if args.final_time is None else args.final_time
    step = dt if args.saveper is None else args.saveper
    if not t0 <= a <= tf:
        raise UsageError(f"--initial-time {a:g}: outside the model's span {t0:g}-{tf:g} (the "
                         "run always starts at the model's INITIAL TIME; edit the model to start earlier)")
    if not a <= b <= tf:
        raise UsageError(f"--final-time {b:g}: expected a time from {a:g} to the model's FINAL "
                         f"TIME {tf:g} (edit FINAL TIME in the model to run longer)")
    n = int(np.floor((b - a) / step + 1e-9))
    if n > 1_000_000:
        raise UsageError(f"--saveper {step:g}: {n:,} output times; choose a larger step")
    return np.unique(np.append(a + step * np.arange(n + 1), b))


def cmd_simulate(args) -> int:
    from sim.engine.integrate import simulate
    from sim.engine.load import load_model
    from sim.provenance import check_output

    check_output(args.output, "-o", kind="output file")
    handle = load_model(args.model)
    params = _parse_set(args.set)
    check_set(handle, params)
    initial = _parse_set(args.initial, "--initial")
    stocks = {s.lower() for s in handle.stocks()}
    bad = [k for k in initial if k.lower() not in stocks]
    if bad:
        from sim.errors import UsageError, suggest
        raise UsageError("; ".join(f"--initial {k!r}: not a stock of {handle.path.name}"
                                   + suggest(k, handle.stocks()) for k in bad))
    df = simulate(handle, params=params, initial_conditions=initial or None, method=args.method,
                  rtol=args.rtol, atol=args.atol, return_columns=args.columns or None,
                  times=_times(handle.control(), args), max_evals=args.max_evals,
                  allow_nonfinite=args.allow_nonfinite)
    if args.output:
        tmp = Path(args.output).with_name(Path(args.output).name + ".incomplete")
        df.to_csv(tmp)
        tmp.rename(args.output)
        print(f"wrote {args.output} ({len(df)} rows, {df.shape[1]} columns, "
              f"{df.attrs['nfev']} derivative evaluations)", file=sys.stderr)
    else:
        df.to_csv(sys.stdout)
    return 0


def cmd_run(args) -> int:
    from sim import run

    import pandas as pd

    from sim.report.scorecard import format_matrix

    t0 = time.perf_counter()

    def progress(msg):
        print(f"[{time.perf_counter() - t0:5.1f} s] {msg}", file=sys.stderr, flush=True)

    out = run.run_all(scenario_dir=args.scenarios, model=args.model, out=args.out,
                      scenarios=args.scenario or None, name=args.name,
                      figures=not args.no_figures, lang=args.lang, formats=args.formats,
                      workers=args.workers, progress=progress, constants=args.with_constants)
    progress(f"done: {out}")
    card = pd.read_csv(Path(out) / "scorecard.csv")
    print("Goal scorecard (✓ met, ✗ missed; measured value in the goal's unit; actual: the "
          "published outcome, † = verdict reversed by it)\n")
    print(format_matrix(card))
    print(f"\nfull table: {Path(out) / 'scorecard.md'}\nresults: {out}")
    return 0


def cmd_validate(args) -> int:
    from sim import run

    problems = run.validate_all(scenario_dir=args.scenarios, model=args.model)
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        print(f"{len(problems)} problem(s) found", file=sys.stderr)
        return 2
    print("all scenario, target and measure files are valid")
    return 0


def cmd_compare(args) -> int:
    from sim import run

    from sim.report.comparison import to_text

    table, out = run.compare(args.a, args.b, scenario_dir=args.scenarios, model=args.model,
                             out=args.out, save=True, figures=not args.no_figures,
                             results_dir=args.results)
    a, b = args.a, args.b
    flips = int((table[f"passed_{a}"] != table[f"passed_{b}"]).sum())
    print(f"{a} → {b}: {flips} of {len(table)} verdicts flip (listed first)\n")
    print(to_text(table.attrs["human"]))
    print(f"\ntable: {out / 'compare.md'}\nresults: {out}")
    return 0


def cmd_figures(args) -> int:
    from sim import plots

    paths = plots.regenerate(args.results_dir, lang=args.lang, formats=args.formats)
    where = paths[0].parent.parent if paths else args.results_dir   # <folder>/<lang>/<figure>
    print(f"wrote {len(paths)} figure files under {where}")
    return 0


def _latest_results(kind: str = "main") -> Path:
    """The newest results folder of the main job under results/ (names start with a UTC time)."""
    from sim.errors import SimError
    from sim.run import DEFAULT_RESULTS_ROOT

    root = Path(DEFAULT_RESULTS_ROOT)
    found = sorted((p for p in root.glob(f"*-{kind}*") if (p / "scorecard.csv").is_file()
                    and (p / "timeseries").is_dir()), key=lambda p: p.name) if root.is_dir() else []
    if not found:
        raise SimError(f"{root}: no results folder of python -m sim run found; give RESULTS_DIR "
                       "or run `make run` first")
    return found[-1]


def cmd_brief(args) -> int:
    from sim.report.brief import write_brief

    folder = Path(args.results_dir) if args.results_dir else _latest_results()
    for lang in ("zh", "en") if args.lang == "both" else (args.lang,):
        for p in write_brief(folder, lang, search_dir=args.search, ensemble_dir=args.ensemble,
                             pdf=not args.no_pdf):
            print(p)
    return 0


def cmd_slides(args) -> int:
    from sim.report.slides import write_slides

    print(write_slides(args.results_dir, args.lang, search_dir=args.search, ensemble_dir=args.ensemble))
    return 0


def cmd_calibrate(args) -> int:
    from sim.report import calibration

    out = calibration.main_calibrate(args.spec, out=args.out)
    report = Path(out) / "report.md"
    if report.is_file():
        print(report.read_text(encoding="utf-8"))
    print(f"\nresults: {out}")
    return 0


def cmd_optimize(args) -> int:
    from sim.report import policy_search as optimize

    command = "python -m sim " + " ".join(sys.argv[1:]) if sys.argv[1:2] == ["optimize"] else ""
    _, out = optimize.optimize(args.from_id, goals=args.goals or None, levers=args.levers or None,
                               start=args.start, horizon=args.horizon, scenario_dir=args.scenarios,
                               model=args.model, out=args.out, command=command,
                               progress=lambda msg: print(msg, file=sys.stderr, flush=True))
    print((Path(out) / "policy_search.md").read_text(encoding="utf-8"))
    if args.doc:
        print(f"report copied to {optimize.write_doc(out, args.doc)}")
    print(f"\nresults: {out}")
    return 0


def cmd_docs(args) -> int:
    from sim.modelfile import doc as modeldoc

    for p in modeldoc.main_docs(args.model):
        print(p)
    return 0


def cmd_contributions(args) -> int:
    from sim import run
    from sim.analysis.contributions import contributions
    from sim.analysis.whatif import Workspace

    ws = Workspace(args.scenarios, args.model)
    contrib = contributions(args.scenario, args.against, levers=args.levers or None, goals=args.goals or None,
                            method=args.method, permutations=args.permutations, seed=args.seed, workspace=ws)
    out = run.write_contributions(contrib, args.out, scenarios_meta=ws.meta(), figure_goals=args.figure_goals,
                                  model=args.model)
    print((out / "contributions.md").read_text(encoding="utf-8"))
    print(f"results: {out}")
    return 0


def cmd_trace(args) -> int:
    from sim.report import traceability

    for p in traceability.write_docs(args.scenarios, args.model, args.docs_dir):
        print(p)
    return 0


def cmd_units(args) -> int:
    from sim.modelfile import units

    problems = units.check_units(args.model)
    for p in problems:
        print(p)
    print(f"{len(problems)} units problem(s) in {args.model}")
    return 1 if problems else 0


def cmd_ensemble(args) -> int:
    from sim.report import ensemble

    out, ens = ensemble.main_ensemble(args.scenario or ["plan"], args.n, args.method, args.seed,
                                      scheduler=args.scheduler, out=args.out,
                                      chunk_size=args.chunk_size, workers=args.workers,
                                      scenario_dir=args.scenarios, model=args.model,
                                      uncertainty_file=args.uncertainties)
    probs = out / "probabilities.md"
    print(probs.read_text(encoding="utf-8"))
    if (out / "influence.md").is_file():
        print((out / "influence.md").read_text(encoding="utf-8"))
    seen = (f" and vantage ({', '.join(f'{v:g}' for v in ens.vantages)}; the earlier ones run to their "
            "last horizon only)") if len(ens.vantages) > 1 else ""
    print(f"{ens.rows} runs per scenario{seen} in {ens.info['run_seconds']:.1f} s "
          f"({ens.info['executor']}, {ens.info['chunks']} chunks of {ens.info['chunk_size']})")
    print(f"\nresults: {out}")
    return 0


def _formats(text: str) -> tuple[str, ...]:
    """``"png,svg"`` → ``("png", "svg")``; an unknown format is a clear argparse error."""
    allowed = ("png", "svg", "pdf")
    out = tuple(f.strip().lower() for f in text.split(",") if f.strip())
    bad = [f for f in out if f not in allowed]
    if bad or not out:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a comma-separated list of "
                                         f"{', '.join(allowed)} (e.g. png,svg)")
    return tuple(dict.fromkeys(out))


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``error: python -m sim ensemble: argument --seed: ...``."""

    def error(self, message):
        self.exit(2, f"error: {self.prog}: {message} (see {self.prog} --help)\n")


def _number(kind, low=None, *, strict=False, what=""):
    """An argparse type: ``kind`` (int/float) at least ``low`` (above it if ``strict``)."""
    import math

    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {what or kind.__name__}") from None
        if kind is float and not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
        if low is not None and (value <= low if strict else value < low):
            bound = f"greater than {low:g}" if strict else f"at least {low:g}"
            raise argparse.ArgumentTypeError(f"{text!r}: expected {what or 'a number'} {bound}")
        return value
    return parse


def _scheduler(text):
    from sim.analysis.chunks import resolve_scheduler
    from sim.errors import UsageError

    try:
        return resolve_scheduler(text)
    except UsageError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a Dask scheduler address; expected "
                                         "tcp://host:8786") from None


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m sim", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("simulate", help="run one model file with SciPy's solver")
    p.add_argument("model", help="Vensim .mdl or XMILE file")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="set a constant (repeatable); stocks: --initial, control variables: "
                        "--initial-time/--final-time/--saveper")
    p.add_argument("--initial", action="append", default=[], metavar="STOCK=VALUE",
                   help="initial value of a stock (repeatable)")
    p.add_argument("--initial-time", type=_number(float), default=None,
                   help="first output time (within the model's INITIAL TIME..FINAL TIME)")
    p.add_argument("--final-time", type=_number(float), default=None,
                   help="last output time (at most the model's FINAL TIME)")
    p.add_argument("--saveper", type=_number(float, 0, strict=True), default=None,
                   help="output interval (default the model's SAVEPER)")
    p.add_argument("--method", default="RK45", choices=["RK45", "RK23", "DOP853", "LSODA", "Radau", "BDF"],
                   help="solve_ivp method (default RK45; LSODA or BDF for stiff models)")
    p.add_argument("--rtol", type=_number(float, 0, strict=True), default=1e-6,
                   help="relative tolerance (default 1e-6)")
    p.add_argument("--atol", type=_number(float, 0, strict=True), default=None, help="absolute tolerance")
    p.add_argument("--max-evals", type=_number(int, 1, what="a whole number"), default=200_000,
                   help="budget of derivative evaluations (default 200000)")
    p.add_argument("--allow-nonfinite", action="store_true",
                   help="write NaN/inf values instead of stopping at the first one")
    p.add_argument("--columns", nargs="*", help="variables to return (default all)")
    p.add_argument("-o", "--output", help="CSV file to create (must not exist; default: standard output)")
    p.set_defaults(func=cmd_simulate)

    def scenario_args(q):
        q.add_argument("--scenarios", default=DEFAULT_SCENARIO_DIR, help="folder of scenario files")
        q.add_argument("--model", default=DEFAULT_MODEL, help="model file")

    p = sub.add_parser("run", help="the main job: all scenarios, scorecard, results folder")
    scenario_args(p)
    p.add_argument("--scenario", action="append", help="run only these scenario ids")
    p.add_argument("--out", help="results folder to create (must not exist)")
    p.add_argument("--name", default=None,
                   help="suffix of the results folder name (default: main, or the scenario ids run)")
    p.add_argument("--with-constants", action="store_true",
                   help="also write the model's constants into the time series files")
    p.add_argument("--no-figures", action="store_true", help="skip the figure set (faster)")
    p.add_argument("--lang", choices=["zh", "en", "both"], default="both",
                   help="figure languages (default both)")
    p.add_argument("--formats", type=_formats, default=("png", "svg"),
                   help="figure formats, comma-separated, of png,svg,pdf (default png,svg; "
                        "the forum set: png,svg,pdf)")
    p.add_argument("--workers", type=int, default=None,
                   help="processes drawing figures (default: one per CPU)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("validate", help="check scenario and target files without running")
    scenario_args(p)
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("compare", help="difference between two scenarios")
    scenario_args(p)
    p.add_argument("a")
    p.add_argument("b")
    p.add_argument("--out", help="results folder to create (default results/<UTC time>-compare-A-B)")
    p.add_argument("--results", help="read the two scenarios from this results folder instead of running them")
    p.add_argument("--no-figures", action="store_true", help="skip the comparison figures")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("figures", help="regenerate figures from a results folder")
    p.add_argument("results_dir")
    p.add_argument("--lang", choices=["zh", "en", "both"], default="both")
    p.add_argument("--formats", type=_formats, default=("png", "svg", "pdf"),
                   help="comma-separated, of png,svg,pdf (default all three: the forum set)")
    p.set_defaults(func=cmd_figures)

    def judgement_args(q):
        q.add_argument("--search", help="policy-search results folder (default: the run's own, else the "
                                        "newest sibling made with the same model, else docs/policy_search.md)")
        q.add_argument("--ensemble", help="ensemble results folder (default: the run's own, else the newest "
                                          "sibling made with the same model)")

    p = sub.add_parser("brief", help="policy brief (HTML and PDF) from a results folder")
    p.add_argument("results_dir", nargs="?", help="results folder of python -m sim run (default: the newest)")
    p.add_argument("--lang", choices=["zh", "en", "both"], default="both")
    p.add_argument("--no-pdf", action="store_true", help="HTML only")
    judgement_args(p)
    p.set_defaults(func=cmd_brief)

    p = sub.add_parser("slides", help="16:9 slide deck (.pptx) from a results folder")
    p.add_argument("results_dir")
    p.add_argument("--lang", choices=["zh", "en"], default="zh")
    judgement_args(p)
    p.set_defaults(func=cmd_slides)

    p = sub.add_parser("calibrate", help="fit parameters to historical data")
    p.add_argument("spec", help="calibration spec (YAML)")
    p.add_argument("--out", help="results folder to create (must not exist)")
    p.set_defaults(func=cmd_calibrate)

    p = sub.add_parser("optimize", help="least-cost lever mix that reaches the goals")
    scenario_args(p)
    p.add_argument("--from", dest="from_id", default="plan", help="starting scenario (default plan)")
    p.add_argument("--goals", nargs="+", metavar="ID", help="target ids (default: every target of the horizon)")
    p.add_argument("--horizon", type=float, default=None, help="horizon year of the default goals (2020)")
    p.add_argument("--levers", nargs="+", metavar="NAME", help="levers to move (default: every lever)")
    p.add_argument("--start", type=float, default=None, help="policy start year (default: the scenario's)")
    p.add_argument("--out", help="results folder to create (must not exist)")
    p.add_argument("--doc", help="also copy the report here (e.g. docs/policy_search.md)")
    p.set_defaults(func=cmd_optimize)

    p = sub.add_parser("docs", help="regenerate the model's equation table, diagrams, sketch")
    p.add_argument("model", nargs="?", default=DEFAULT_MODEL)
    p.set_defaults(func=cmd_docs)

    p = sub.add_parser("contributions", help="each lever's and clause's contribution to each goal")
    scenario_args(p)
    p.add_argument("--scenario", default="plan", help="scenario to decompose (default plan)")
    p.add_argument("--against", help="scenario to measure from (default: its parent)")
    p.add_argument("--levers", nargs="+", metavar="NAME", help="only these changed levers (others stay at the parent's)")
    p.add_argument("--goals", nargs="+", metavar="ID", help="target ids (default all)")
    p.add_argument("--figure-goals", nargs="+", metavar="ID", help="goals drawn (default: the missed ones, up to 6)")
    p.add_argument("--method", choices=["auto", "exact", "permutations"], default="auto",
                   help="exact Shapley values (2^n runs) or sampled orderings (default: exact up to 12 levers)")
    p.add_argument("--permutations", type=int, default=128, help="orderings for the sampled method (default 128)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="results folder to create (must not exist)")
    p.set_defaults(func=cmd_contributions)

    p = sub.add_parser("trace", help="traceability tables: clause → measure → lever → variables → targets")
    scenario_args(p)
    p.add_argument("--docs-dir", default="docs",
                   help="folder for traceability_zh.md and traceability_en.md (default docs; regenerated, like `docs`)")
    p.set_defaults(func=cmd_trace)

    p = sub.add_parser("units", help="check units consistency of a model")
    p.add_argument("model", nargs="?", default=DEFAULT_MODEL)
    p.set_defaults(func=cmd_units)

    p = sub.add_parser("ensemble", help="probability of each goal under uncertain parameters")
    scenario_args(p)
    p.add_argument("--scenario", action="append", help="scenario id (repeatable; default plan)")
    p.add_argument("--n", type=_number(int, 1, what="a whole number"), required=True,
                   help="samples (sobol: base size, a power of two; runs = n x (parameters + 2))")
    p.add_argument("--method", choices=["lhs", "sobol", "mc"], default="lhs")
    p.add_argument("--seed", type=_number(int, 0, what="a whole number"), default=0)
    p.add_argument("--scheduler", type=_scheduler,
                   help="Dask scheduler address tcp://host:port (default: $SIM_DASK_SCHEDULER, "
                        "else local processes; never read from a data file)")
    p.add_argument("--workers", type=_number(int, 1, what="a whole number"), default=2,
                   help="local worker processes (default 2)")
    p.add_argument("--chunk-size", type=_number(int, 1, what="a whole number"), default=None,
                   help="samples per batch call (fixed; changes the numbers in the last digits)")
    p.add_argument("--uncertainties", help="uncertainty file (default: uncertainties.yaml in --scenarios)")
    p.add_argument("--out", help="results folder to create (must not exist)")
    p.set_defaults(func=cmd_ensemble)
    return parser


def _check_out(args) -> None:
    """Every command that writes a results folder checks it before any work."""
    from sim.defaults import DEFAULT_RESULTS_ROOT
    from sim.provenance import refuse_existing

    if "out" in vars(args):
        refuse_existing(args.out, DEFAULT_RESULTS_ROOT if args.command != "compare" else None)


def main(argv: list[str] | None = None) -> int:
    """Run a command; every user mistake ends in one line ``error: ...`` and exit 2."""
    import os

    from sim.errors import SimError

    args = build_parser().parse_args(argv)
    try:
        _check_out(args)
        return args.func(args)
    except (SimError, FileExistsError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except MemoryError:
        print("error: out of memory; ask for fewer runs (--n) or smaller chunks (--chunk-size)",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted; nothing was written under the final name", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head`
        return 0
    except Exception as err:  # noqa: BLE001 - a bug, not the user's input: say so in one line
        if os.environ.get("SIM_DEBUG"):
            raise
        first = str(err).strip().splitlines()[0] if str(err).strip() else ""
        print(f"error: internal error {type(err).__name__}: {first} (a bug, not your input; "
              "rerun with SIM_DEBUG=1 for the traceback and report it)", file=sys.stderr)
        return 1

"""Bad input, class *model file*: a model file is untrusted text and must never run code.

Every case here failed on the code before the hardening (issue 11): the injections ran,
or the error was a traceback / a message without the variable.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest

import sim

ROOT = Path(__file__).resolve().parents[1]
DECAY = ROOT / "tests" / "models" / "analytic" / "exponential_decay.mdl"


def _decay_text() -> str:
    return DECAY.read_text(encoding="utf-8")


def _write(tmp_path, name, text) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _touch(marker: Path) -> str:
    return f'__import__("os").system("touch {marker}")'


# --- the case: a comment that closes PySD's docstring ------------------------------
def test_comment_closing_the_docstring_runs_nothing_and_the_model_still_runs(tmp_path):
    marker = tmp_path / "PWNED"
    text = _decay_text().replace("~\tTime constant tau.",
                                 f'~\tx """ ; {_touch(marker)} ; """')
    path = _write(tmp_path, "comment.mdl", text)
    out = sim.simulate(path, return_columns=["stock"])
    assert not marker.exists()
    assert out["stock"].iloc[-1] == pytest.approx(100 * 2.718281828459045 ** (-20 / 4), rel=1e-4)
    # the comment is kept (its quotes made harmless), not dropped
    doc = sim.load_model(path).doc.set_index("Real Name")["Comment"]
    assert "__import__('os')" in doc["decay time"]


def test_comment_injection_through_the_command_line_runs_nothing(tmp_path):
    marker = tmp_path / "PWNED"
    text = _decay_text().replace("~\tTime constant tau.",
                                 f'~\tx """ ; {_touch(marker)} ; """')
    path = _write(tmp_path, "cli.mdl", text)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-m", "sim", "simulate", str(path), "--columns", "stock"],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert not marker.exists()


# --- PySD evaluates a lookup's range while it parses the file ------------------------------
@pytest.mark.parametrize("form", ["definition", "with_lookup"])
def test_lookup_range_is_not_evaluated(tmp_path, form):
    marker = tmp_path / "PWNED"
    if form == "definition":
        new = (f"decay time = tbl(Time)\n\t~\tYear\n\t~\tt\n\t|\n\ntbl(\n\t[{_touch(marker)}],"
               "(0,4),(20,4))")
        var = "tbl"
    else:
        new = f"decay time = WITH LOOKUP(Time, ([{_touch(marker)}],(0,4),(20,4)))"
        var = "decay time"
    path = _write(tmp_path, "lookup.mdl", _decay_text().replace("decay time = 4", new))
    with pytest.raises(sim.ModelError, match=rf"lookup\.mdl: line \d+: variable '{var}': lookup range"):
        sim.load_model(path)
    assert not marker.exists()


def test_a_numeric_lookup_range_still_works(tmp_path):
    """Control (passes on the old code too): the range check does not refuse real ranges."""
    new = "decay time = tbl(Time)\n\t~\tYear\n\t~\tt\n\t|\n\ntbl(\n\t[(0,0)-(20,10)],(0,4),(20,4))"
    path = _write(tmp_path, "okrange.mdl", _decay_text().replace("decay time = 4", new))
    out = sim.simulate(path, return_columns=["stock"])
    assert out["stock"].iloc[-1] == pytest.approx(100 * 2.718281828459045 ** (-5), rel=1e-4)


# --- string arguments (external data) and quotes in names ----------------------------------
def test_external_data_function_is_refused(tmp_path):
    marker = tmp_path / "PWNED"
    # PySD evaluates the string literal (\x27 becomes ') and pastes the result between
    # single quotes: on the old code this touched the marker while translating
    payload = _touch(marker).replace('"', "\\x22")
    new = f"decay time := GET XLS DATA('a.xlsx', 'x\\x27, {payload}, \\x27', 'A', 'B2')"
    path = _write(tmp_path, "xls.mdl", _decay_text().replace("decay time = 4", new))
    with pytest.raises(sim.ModelError, match=r"xls\.mdl: line \d+: variable 'decay time': "
                                             r"GET XLS reads an external file"):
        sim.load_model(path)
    assert not marker.exists()


@pytest.mark.parametrize("name", ["decay's time", '"decay\\" time"'])
def test_quote_in_a_variable_name_is_refused(tmp_path, name):
    text = _decay_text().replace("stock / decay time", f"stock / {name}").replace(
        "decay time = 4", f"{name} = 4")
    path = _write(tmp_path, "names.mdl", text)
    with pytest.raises(sim.ModelError, match=r"names\.mdl: .*(quote|contains)"):
        sim.load_model(path)


def test_subscript_name_with_a_quote_is_refused(tmp_path):
    text = _decay_text().replace(
        "decay time = 4", "region: north, \"so'uth\"\n\t~\t\n\t~\t\n\t|\n\ndecay time = 4")
    path = _write(tmp_path, "subs.mdl", text)
    with pytest.raises(sim.ModelError, match=r"subs\.mdl: line \d+: variable 'region': contains ' "):
        sim.load_model(path)


def test_macro_name_with_a_quote_is_refused(tmp_path):
    """PySD pastes a used macro's name between single quotes; the old code accepted it."""
    macro = ':MACRO: "ev\'il x"(input)\n"ev\'il x" = input\n\t~\tDmnl\n\t~\t|\n\n:END OF MACRO:\n'
    text = _decay_text().replace("{UTF-8}\n", "{UTF-8}\n" + macro, 1)
    path = _write(tmp_path, "macro.mdl", text)
    with pytest.raises(sim.ModelError, match=r"macro\.mdl: macro .*ev\\'il_x.* contains '\"'; names "
                                             r"may not contain quotes"):
        sim.load_model(path)


def test_file_name_is_not_pasted_into_code(tmp_path):
    """Control (passes on the old code too): quotes in the file name stay out of the code."""
    path = tmp_path / 'a"b\'c); x.mdl'
    path.write_text(_decay_text(), encoding="utf-8")
    out = sim.simulate(path, return_columns=["stock"])
    assert out["stock"].iloc[0] == 100


# --- XMILE ---------------------------------------------------------------------------------
XMILE = """<?xml version="1.0" encoding="utf-8"?>
{doctype}<xmile version="1.0" xmlns="http://docs.oasis-open.org/xmile/ns/XMILE/v1.0">
  <header><name>x</name></header>
  <sim_specs><start>0</start><stop>10</stop><dt>0.25</dt></sim_specs>
  <model><variables>
    <stock name="S"><eqn>100</eqn><outflow>out</outflow><units>w</units><doc>{doc}</doc></stock>
    <flow name="out"><eqn>S/4</eqn><units>w/Year</units></flow>
  </variables></model>
</xmile>
"""


def test_xmile_doc_cannot_run_code(tmp_path):
    marker = tmp_path / "PWNED"
    path = _write(tmp_path, "m.xmile", XMILE.format(doctype="", doc=f'x """ ; {_touch(marker)} ; """'))
    out = sim.simulate(path)
    assert not marker.exists()
    assert out["S"].iloc[-1] == pytest.approx(100 * 2.718281828459045 ** (-2.5), rel=1e-4)


def test_xmile_entities_are_refused(tmp_path):
    doctype = '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/hostname">]>\n'
    path = _write(tmp_path, "ent.xmile", XMILE.format(doctype=doctype, doc="&e;"))
    with pytest.raises(sim.ModelError, match=r"ent\.xmile: line 2: .*may not declare a DOCTYPE"):
        sim.load_model(path)


# --- encodings, truncation -----------------------------------------------------------------
def test_non_utf8_model_names_the_line(tmp_path):
    path = tmp_path / "gbk.mdl"
    text = _decay_text().replace("The decaying stock S.", "库存")
    line = text[:text.index("库存")].count("\n") + 1
    path.write_bytes(text.encode("gbk"))
    with pytest.raises(sim.ModelError, match=rf"gbk\.mdl: line {line}: not UTF-8 .*save the model file as UTF-8"):
        sim.load_model(path)


def test_truncated_model_names_the_missing_variable_and_the_line(tmp_path):
    lines = (ROOT / "models" / "jingdezhen.mdl").read_text(encoding="utf-8").splitlines()
    path = _write(tmp_path, "cut.mdl", "\n".join(lines[:800]) + "\n")
    with pytest.raises(sim.ModelError) as err:
        sim.load_model(path)
    msg = str(err.value)
    assert msg.startswith(f"{path}: line ")
    assert "refers to 'fiscal feasibility', which the file does not define" in msg
    assert "looks truncated" in msg


# --- the last line of defence --------------------------------------------------------------
def test_a_poisoned_cached_translation_is_refused_before_import(tmp_path, monkeypatch):
    monkeypatch.setenv("SIM_CACHE_DIR", str(tmp_path / "cache"))
    marker = tmp_path / "PWNED"
    path = _write(tmp_path, "cached.mdl", _decay_text())
    handle = sim.load_model(path)
    with open(handle.py_file, "a", encoding="utf-8") as f:
        f.write(f"\n{_touch(marker)}\n")
    with pytest.raises(sim.ModelError, match=r"cached\.mdl: the translated model contains .*"
                                             r"model text escaped into code, refused"):
        sim.load_model(path)
    assert not marker.exists()


@pytest.mark.parametrize("body, why", [
    ('def f():\n    """doc"""\n    x = 1\n    """ """\n    return x\n', "not an assignment"),
    ("def f():\n    import os\n    return 1\n", "import"),
    ("import subprocess\n", "import of subprocess"),
    ("x = ().__class__\n", "attribute '__class__'"),
])
def test_check_generated_refuses_what_pysd_never_writes(tmp_path, body, why):
    from sim.engine import untrusted

    py = _write(tmp_path, "gen.py", body)
    with pytest.raises(sim.ModelError, match=why):
        untrusted.check_generated(py, "m.mdl")


def test_variables_named_like_modules_or_builtins_still_load(tmp_path):
    """Control (passes on the old code too): the generated-code check does not refuse a
    model whose variables are called ``os``, ``sys`` or ``open``."""
    extra = ("sys = 2\n\t~\tYear\n\t~\ts\n\t|\n\nos = 2\n\t~\tYear\n\t~\to\n\t|\n\n"
             "open = 1\n\t~\tDmnl\n\t~\to\n\t|\n\ndecay time = sys + os")
    path = _write(tmp_path, "names_ok.mdl", _decay_text().replace("decay time = 4", extra))
    out = sim.simulate(path, return_columns=["stock", "open"])
    assert out["open"].iloc[-1] == 1.0
    assert out["stock"].iloc[-1] == pytest.approx(100 * 2.718281828459045 ** (-5), rel=1e-4)

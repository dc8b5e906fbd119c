"""Translate an untrusted model file with PySD so that nothing in it can run as Python.

PySD writes a model's text into Python source, and not all of it is escaped
(PySD 3.14): a variable's comment becomes a ``\"\"\"`` docstring verbatim, so a comment
containing ``\"\"\"`` can close the docstring and add statements; a lookup's range
``[(x0,y0)-(x1,y1)]`` is passed to ``eval`` while the file is parsed; string arguments of
the external-data functions (``GET XLS DATA('file', ...)``), subscript names, data
variable names and macro names are pasted between single quotes. This module closes
those routes before and after PySD's parser:

1. the file must be UTF-8 (strict; the message names the line) without NUL bytes; an
   XMILE file may not declare a DOCTYPE or entities (no external entities, no entity bombs);
2. every equation is checked *before* PySD parses it: a ``[...]`` group holding
   parentheses must be a numeric lookup range, ``'`` (string literals) and the
   external-data functions are refused;
3. every name (variable, subscript range and value, macro and its arguments) may not
   contain quotes, backslashes or control characters; comments and units are cleaned
   (``"`` becomes ``'``, control characters become spaces), so a docstring cannot end early;
4. the generated module is checked with :func:`check_generated` (no bare statements
   after a docstring, no forbidden built-ins, no dunder attributes, imports only at the
   top) before it is ever imported, both after translation and when read from the cache.

Errors are :class:`~sim.errors.ModelError` messages naming the file and the variable
(and the line where it can be found).
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

from sim.errors import ModelError

#: bump when the rules change: cached translations made under older rules are not reused
RULES_VERSION = "safe1"

_BAD_NAME_CHARS = re.compile(r"[\"'\\\x00-\x1f\x7f]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_NUM = r"[+-]?\s*(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)"
_PAIR = rf"\(\s*{_NUM}\s*,\s*{_NUM}\s*\)"
_RANGE = re.compile(rf"\s*{_PAIR}(?:\s*[-,]\s*{_PAIR})*\s*")
_SUBSCRIPTS = re.compile(r"[\w\s,!$+\-\"]*")
_EXTERNAL = re.compile(r"\bGET[\s_]*(?:XLS|DIRECT|DATA|123|VDF|TIME[\s_]*VALUE)\b", re.I)


def read_text(path: Path, shown: str) -> str:
    """The file's text, decoded as strict UTF-8; a bad byte is reported with its line."""
    data = path.read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise ModelError(f"{shown}: line {line}: not UTF-8 (byte 0x{data[err.start]:02x}); "
                         f"save the model file as UTF-8") from None
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise ModelError(f"{shown}: line {line}: NUL byte in a model file; is it a text file?")
    return text


def _line_of(text: str, needle: str) -> str:
    """``"line N: "`` of the first occurrence of ``needle`` in ``text``, or ``""``."""
    needle = needle.strip()[:40]
    if not needle:
        return ""
    m = re.search(r"^[ \t]*" + re.escape(needle) + r"\s*[=(\[:]", text, re.M | re.I)
    i = m.start() if m else text.find(needle)
    return f"line {text[:i].count(chr(10)) + 1}: " if i >= 0 else ""


def clean_text(text: str) -> str:
    """A comment or units string that cannot end a Python string literal early."""
    return _CONTROL.sub(" ", str(text)).replace('"', "'").replace("\r", " ")


def check_name(name: str, what: str, shown: str, source: str = "") -> None:
    """Refuse a name that could leave a quoted string in the generated Python."""
    bad = _BAD_NAME_CHARS.search(str(name))
    if bad:
        raise ModelError(f"{shown}: {_line_of(source, str(name))}{what} {str(name)!r} contains "
                         f"{bad.group()!r}; names may not contain quotes, backslashes or "
                         f"control characters: rename it")


def _lhs(equation: str) -> str:
    """The defined name of an equation (text before ``=``, ``(``, ``[`` or ``:``)."""
    m = re.match(r'\s*("(?:\\"|[^"])*"|[^=(\[:~]*)', equation)
    return (m.group(1) if m else equation[:40]).strip() or equation[:40].strip()


def check_equation(equation: str, shown: str, source: str = "") -> None:
    """Refuse equation text that PySD's parser would evaluate or paste unescaped."""
    var = _lhs(equation)
    where = f"{shown}: {_line_of(source, var)}variable {var!r}: "
    for m in re.finditer(r"\[([^\]]*)\]", equation):
        body = m.group(1)
        if "(" in body or ")" in body:
            if not _RANGE.fullmatch(body):
                raise ModelError(where + f"lookup range [{body[:60]}] is not of the form "
                                 "[(x0,y0)-(x1,y1)] with numbers; fix the range")
        elif not _SUBSCRIPTS.fullmatch(body):
            raise ModelError(where + f"subscript [{body[:60]}] contains characters a "
                             "subscript name may not have; rename it")
    if _EXTERNAL.search(equation):
        raise ModelError(where + f"{_EXTERNAL.search(equation).group()} reads an external "
                         "file, which a model file may not do; put the values in the model "
                         "(a constant or a lookup)")
    if "'" in equation:
        raise ModelError(where + "contains ' (a string literal or a quote in a name); "
                         "string arguments and quotes in names are not allowed")


def _clean_abstract(abs_model, shown: str, source: str) -> None:
    """Check names and clean comments/units on PySD's abstract model, in place."""
    for section in abs_model.sections:
        if section.type != "main":
            check_name(section.name, "macro", shown, source)
        for p in list(section.params) + list(section.returns):
            check_name(p, "macro argument", shown, source)
        for sub in section.subscripts:
            check_name(sub.name, "subscript range", shown, source)
            values = sub.subscripts
            if isinstance(values, dict):
                values = list(values) + [str(v) for v in values.values()]
            elif isinstance(values, str):
                values = [values]
            for v in values or []:
                check_name(v, f"subscript of {sub.name!r}", shown, source)
        for el in section.elements:
            check_name(el.name, "variable", shown, source)
            el.documentation = clean_text(el.documentation or "")
            el.units = clean_text(el.units or "")
            for comp in el.components:
                subs = getattr(comp, "subscripts", None)
                for group in (subs or ()):
                    for s in (group or ()):
                        for name in (s if isinstance(s, (list, tuple)) else [s]):
                            check_name(name, f"subscript used by {el.name!r}", shown, source)


def _vensim_abstract(copy: Path, shown: str, source: str):
    from pysd.translators.vensim.vensim_element import (Component, Constraint,
                                                        SubscriptRange, TestInput)
    from pysd.translators.vensim.vensim_file import VensimFile
    from pysd.translators.vensim.vensim_utils import Grammar

    ven = VensimFile(copy, encoding="utf-8")
    try:
        ven.parse(parse_all=False)
    except Exception as err:
        raise ModelError(f"{shown}: could not translate: the file's sections cannot be read "
                         f"(a :MACRO: without :END OF MACRO:?): {str(err).splitlines()[0]}") from None
    from pysd.translators.vensim.vensim_section import SectionElementsVisitor
    for section in ven.sections:
        if section.type != "main":
            check_name(section.name, "macro", shown, source)
        for p in list(section.params) + list(section.returns):
            check_name(p, "macro argument", shown, source)
        # the first half of Section.parse: split into elements, nothing evaluated yet
        try:
            tree = Grammar.get("section_elements").parse(section.content)
        except Exception as err:
            raise ModelError(f"{shown}: {_syntax_where(err, section.content, source)}"
                             "could not translate: the model text ends or breaks inside an equation (every "
                             "equation needs 'name = expression ~ units ~ comment |')") from None
        elements = SectionElementsVisitor(tree).entries
        for el in elements:
            check_equation(el.equation, shown, source)
            el.documentation = clean_text(el.documentation)
        # the second half of Section.parse (PySD 3.14), on the checked elements
        parsed = []
        for el in elements:
            try:
                parsed.append(el.parse())
            except Exception as err:
                var = _lhs(el.equation)
                if not el.equation.strip():
                    raise ModelError(f"{shown}: could not translate: an empty equation (a '~' or "
                                     "'|' too many, or units and comment without a name)") from None
                raise ModelError(f"{shown}: {_line_of(source, var)}could not translate variable "
                                 f"{var!r}: PySD cannot parse the equation {el.equation[:80]!r}") from err
        section.elements = parsed
        section.subscripts = [e for e in parsed if isinstance(e, SubscriptRange)]
        section.components = [e for e in parsed if isinstance(e, Component)]
        section.constraints = [e for e in parsed if isinstance(e, Constraint)]
        section.test_inputs = [e for e in parsed if isinstance(e, TestInput)]
        section.elements = (section.subscripts + section.components + section.constraints
                            + section.test_inputs)
        for comp in section.components + section.constraints + section.test_inputs:
            try:
                comp.parse()
            except Exception as err:
                raise ModelError(f"{shown}: {_line_of(source, comp.name)}could not translate "
                                 f"variable {comp.name!r}: PySD cannot parse its expression "
                                 f"({type(err).__name__})") from err
    return ven.get_abstract_model()


def _syntax_where(err, content: str, source: str) -> str:
    pos = getattr(err, "pos", None)
    if pos is None:
        return ""
    snippet = content[max(0, pos - 30): pos].split("|")[-1]
    return _line_of(source, snippet.strip()[:30]) or ""


def _reference_where(source: str, py_name: str) -> str:
    """``"line N: "`` of the first use of a (Python-style) name in the text, or ``""``."""
    pattern = r"[ _]+".join(re.escape(p) for p in py_name.split("_") if p)
    m = re.search(r"(?<![\w])" + pattern + r"(?![\w])", source, re.I)
    return f"line {source[:m.start()].count(chr(10)) + 1}: " if m else ""


def _truncation_hint(source: str) -> str:
    if "\\\\\\---///" not in source and source.lstrip().startswith("{UTF-8}"):
        return "the file has no sketch section: it looks truncated"
    return "a truncated file or a misspelt name?"


def _xmile_abstract(copy: Path, shown: str, source: str):
    from pysd.translators.xmile.xmile_file import XmileFile

    if re.search(r"<!(DOCTYPE|ENTITY)", source, re.I):
        raise ModelError(f"{shown}: {_line_of(source, '<!')}an XMILE model file may not "
                         "declare a DOCTYPE or entities; remove them")
    xm = XmileFile(copy)
    try:
        xm.parse()
    except Exception as err:
        raise ModelError(f"{shown}: could not translate the XMILE model: "
                         f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}") from err
    return xm.get_abstract_model()


def translate(copy: Path, shown: str) -> Path:
    """Translate the model file ``copy`` (a safely named copy) into Python next to it.

    ``shown`` is the file name used in messages. Returns the main ``.py`` file, checked
    by :func:`check_generated`.
    """
    from pysd.builders.python.python_model_builder import ModelBuilder

    source = read_text(copy, shown)
    if copy.suffix.lower() == ".mdl":
        abs_model = _vensim_abstract(copy, shown, source)
    else:
        abs_model = _xmile_abstract(copy, shown, source)
    _clean_abstract(abs_model, shown, source)
    try:
        py_file = Path(ModelBuilder(abs_model).build_model())
    except KeyError as err:
        name = str(err.args[0]) if err.args else "?"
        raise ModelError(f"{shown}: {_reference_where(source, name)}could not translate: an "
                         f"equation refers to {name.replace('_', ' ')!r}, which the file does not "
                         f"define ({_truncation_hint(source)})") from None
    for generated in py_file.parent.glob("*.py"):
        check_generated(generated, shown)
    return py_file


# -- the last line of defence: what a translated module may contain -------------------

_FORBIDDEN_NAMES = {"__import__", "eval", "exec", "compile", "open", "getattr", "setattr",
                    "delattr", "globals", "locals", "vars", "breakpoint", "input",
                    "__builtins__", "__loader__", "__spec__", "memoryview", "exit", "quit",
                    "help"}  # built-ins only: PySD renames a model variable that shadows one
_ALLOWED_IMPORTS = ("pathlib", "numpy", "xarray", "scipy", "pysd", "pandas")


def check_generated(py_file: Path, shown: str) -> None:
    """Refuse a translated module that holds anything PySD would not write.

    PySD's modules are a docstring, imports, assignments and decorated functions whose
    body is an optional docstring followed by assignments and a ``return``. A stray
    expression statement, a forbidden built-in, a dunder attribute or an import
    inside a function means model text escaped its string: refused before import.
    """
    text = Path(py_file).read_text(encoding="utf-8")
    try:
        tree = ast.parse(text)
    except SyntaxError as err:
        raise ModelError(f"{shown}: the translation is not valid Python (line {err.lineno}); "
                         "the model text breaks PySD's output") from None

    def refuse(node, why):
        raise ModelError(f"{shown}: the translated model contains {why} "
                         f"(generated line {getattr(node, 'lineno', '?')}); model text escaped "
                         "into code, refused")

    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in _FORBIDDEN_NAMES:
            refuse(node, f"the name {node.id!r}")
        if isinstance(node, ast.Attribute) and node.attr.startswith("__"):
            refuse(node, f"the attribute {node.attr!r}")
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            mods = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            if any(m.split(".")[0] not in _ALLOWED_IMPORTS for m in mods):
                refuse(node, f"an import of {', '.join(mods)}")
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef)):
            for i, stmt in enumerate(node.body):
                if isinstance(stmt, (ast.Import, ast.ImportFrom)) and not isinstance(node, ast.Module):
                    refuse(stmt, "an import inside a function")
                if isinstance(stmt, ast.Expr):
                    is_doc = isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str)
                    if not (is_doc and i == 0):
                        refuse(stmt, "a statement that is not an assignment or a return")

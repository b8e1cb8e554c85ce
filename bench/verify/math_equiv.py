"""Math answer equivalence (MATH, Numina): a stage-1 checker with no false positives, plus a judge.

Stage 1 answers ``correct``, ``incorrect`` or ``unsure``:

* the response's answer is the content of its last ``\\boxed{}`` (nested braces allowed);
  no box -> ``unsure``;
* both answers are normalised strictly (spacing, ``\\dfrac`` -> ``\\frac``, ``\\left``, ...),
  never by stripping units, percent signs, degrees or text;
* each is parsed into a structure (number/expression, equation, tuple, set, interval or
  union, matrix, comma list, value-with-unit, text) by our own LaTeX reader, which builds
  sympy objects without ``eval`` of untrusted text;
* scalars are compared exactly: decimals become rationals, constants are compared at 60
  significant digits, expressions with symbols must simplify to a zero difference.  The
  comparison is symmetric, so the order of (answer, gold) never matters.

``correct`` needs a proof (equal strings, exact zero difference, or a zero difference to 50
digits with no long decimal in sight).  ``incorrect`` needs a proof of difference of two
comparable things (two constants that differ beyond any rounding of the decimals written,
tuples of different length, intervals with different brackets, ...).  Everything else, such
as ``50\\%`` against ``0.5``, ``5\\text{ m}`` against ``5``, or a list in a different order, is
``unsure``.

Sympy can hang or exhaust memory (``9^{9^{9^9}}``), so every comparison runs in a persistent
child process (a fresh interpreter fed over pipes) with a hard timeout: on timeout the child is killed, the verdict is ``unsure``
and the next call starts a fresh child.  This works from threads (signal-based timeouts do
not).

Stage 2 (optional) asks an :class:`~bench.verify.judge.LLMJudge` about the ``unsure`` cases
only, with the paper's YES/NO prompt.  Without a judge an ``unsure`` answer keeps status
``unsure`` and reward 0.0: it counts as incorrect only when no judge is configured.
"""

from __future__ import annotations

import json
import os
import re
import select
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sympy

from bench.errors import TaskConfigError
from bench.verify.answer_extraction import find_last_boxed
from bench.verify.base import Verdict

Status = str  # "correct" | "incorrect" | "unsure"


class UnparseableAnswer(ValueError):
    """An answer string our LaTeX reader does not accept (it is then compared as text)."""


# --------------------------------------------------------------------------- normalisation

_DROP_COMMANDS = (
    r"\displaystyle", r"\textstyle", r"\left", r"\right", r"\bigl", r"\bigr", r"\Bigl", r"\Bigr",
    r"\big", r"\Big", r"\!", r"\,", r"\;", r"\:", r"\quad", r"\qquad",
)
_RENAMES = {
    r"\dfrac": r"\frac", r"\tfrac": r"\frac", r"\cfrac": r"\frac", r"\dbinom": r"\binom", r"\tbinom": r"\binom",
    r"\mbox{": r"\text{", r"\mathrm{": r"\text{", r"\textbf{": r"\text{", r"\textnormal{": r"\text{",
    r"\textrm{": r"\text{", r"\operatorname{": r"\text{",
    r"\leq": r"\le", r"\geq": r"\ge", r"\neq": r"\ne", r"\lt": "<", r"\gt": ">",
    r"\degree": r"^\circ", r"^{\circ}": r"^\circ", r"{,}": ",", r"\emptyset": r"\varnothing",
}


def normalize_latex(text: str) -> str:
    """Strict, meaning-preserving normalisation of one LaTeX answer.

    Removes math delimiters, spacing commands, ``\\left``/``\\right``, a trailing period;
    renames ``\\dfrac``/``\\tfrac`` to ``\\frac``, ``\\mbox``/``\\mathrm`` to ``\\text``, unifies
    ``%`` and degrees; expands ``\\frac12`` and ``\\sqrt2``.  Whitespace is removed except a
    single space between two letters/digits (``2 3`` must not become ``23``).  Units, percent,
    degrees and text are kept.

    >>> normalize_latex(r"$\\left( \\dfrac12, 3 \\right)$.")
    '(\\\\frac{1}{2},3)'
    """
    s = text.strip().rstrip(".").rstrip()
    for opener, closer in (("$$", "$$"), ("$", "$"), (r"\(", r"\)"), (r"\[", r"\]")):
        if s.startswith(opener) and s.endswith(closer) and len(s) >= len(opener) + len(closer):
            s = s[len(opener) : len(s) - len(closer)].strip()
    s = re.sub(r"(?<!\\)\\ ", " ", s.replace("\n", " ").replace("~", " "))
    for command in _DROP_COMMANDS:
        s = re.sub(re.escape(command) + r"(?![A-Za-z])", " ", s)
    for old, new in _RENAMES.items():
        s = re.sub(re.escape(old) + (r"(?![A-Za-z])" if old[-1].isalpha() else ""), new.replace("\\", "\\\\"), s)
    s = re.sub(r"\\?%", r"\\%", s)
    s = re.sub(r"\\(frac|binom)\s*(\d)\s*(\d)", r"\\\1{\2}{\3}", s)
    s = re.sub(r"\\(frac|binom)\s*\{([^{}]*)\}\s*(\d)", r"\\\1{\2}{\3}", s)
    s = re.sub(r"\\sqrt\s*(\d|[a-zA-Z](?![a-zA-Z]))", r"\\sqrt{\1}", s)
    s = _squeeze_spaces(s)
    s = re.sub(r"(\\text\{[^{}]*\})", lambda m: r"\text{" + " ".join(m.group(1)[6:-1].split()) + "}", s)
    s = re.sub(r"\\text\{(-?\d+(?:\.\d+)?)\}", r"\1", s)  # \text{13} is just 13
    s = s.rstrip(".").rstrip()
    return s


def _squeeze_spaces(s: str) -> str:
    """Drop whitespace except one space between two alphanumerics (or inside ``\\text{}``)."""
    out: list[str] = []
    i = 0
    while i < len(s):
        if s.startswith(r"\text{", i):
            j = _match_brace(s, i + 5)
            out.append(s[i : j + 1])
            i = j + 1
            continue
        ch = s[i]
        if ch.isspace():
            j = i
            while j < len(s) and s[j].isspace():
                j += 1
            if out and out[-1][-1:].isalnum() and j < len(s) and s[j].isalnum():
                out.append(" ")
            i = j
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _match_brace(s: str, i: int) -> int:
    """Index of the ``}`` closing the ``{`` at ``s[i]`` (or the last index if unbalanced)."""
    depth = 0
    for j in range(i, len(s)):
        if s[j] == "{" and (j == 0 or s[j - 1] != "\\"):
            depth += 1
        elif s[j] == "}" and (j == 0 or s[j - 1] != "\\"):
            depth -= 1
            if depth == 0:
                return j
    raise UnparseableAnswer(f"unbalanced braces in {s!r}")


# --------------------------------------------------------------------------- structures


@dataclass(frozen=True)
class Node:
    """A parsed answer: ``kind`` plus its parts.

    kinds: ``expr`` (value: sympy expression, decimals: most decimal places written),
    ``eq`` (items: lhs, rhs), ``tuple``/``set``/``list``/``pair`` (items; ``pair`` is ``(a,b)``,
    a tuple or an open interval), ``interval`` (items: lo, hi; flags: open ends), ``union``
    (items: intervals), ``matrix`` (items: rows as ``tuple`` nodes), ``unit`` (items: value;
    text: the unit), ``text`` (text).
    """

    kind: str
    items: tuple["Node", ...] = ()
    value: Any = None
    decimals: int = 0
    text: str = ""
    flags: tuple[bool, bool] = (False, False)


def _split_top(s: str, separators: tuple[str, ...]) -> list[str]:
    """Split ``s`` at ``separators`` outside any bracket; brackets are ``{}()[]`` and ``\\{\\}``."""
    parts, depth, start, i = [], 0, 0, 0
    while i < len(s):
        if s.startswith(r"\{", i) or s.startswith(r"\}", i):
            depth += 1 if s[i + 1] == "{" else -1
            i += 2
            continue
        ch = s[i]
        if ch in "{([":
            depth += 1
        elif ch in "})]":
            depth -= 1
        elif depth == 0:
            for sep in separators:
                if s.startswith(sep, i):
                    parts.append(s[start:i])
                    start = i + len(sep)
                    i = start - 1
                    break
        i += 1
    parts.append(s[start:])
    return parts


def _outer_bracket_spans_all(s: str) -> bool:
    """True when the bracket opening at ``s[0]`` closes at ``s[-1]`` (any bracket types)."""
    depth = 0
    for j, ch in enumerate(s):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth == 0:
                return j == len(s) - 1
    return False


_LIST_SEPARATORS = (",", r"\text{or}", r"\text{and}", " or ", " and ", ";")
_THOUSANDS_RE = re.compile(r"^-?\d{1,3}(,\d{3})+(\.\d+)?$")
_UNIT_SUFFIX_RE = re.compile(r"^(.*?)(\\%|\^\\circ|\\text\{[^{}]*\}(\^\d|\^\{\d\})?)$")


def parse_answer(text: str) -> Node:
    """Parse one normalised answer into a :class:`Node` (never raises; unknown -> ``text``)."""
    s = text.strip()
    try:
        return _parse_structure(s)
    except (ValueError, sympy.SympifyError, TypeError, SyntaxError, ZeroDivisionError, AttributeError) as err:
        return Node("text", text=s, value=str(err))


def _parse_structure(s: str) -> Node:
    if not s:
        raise UnparseableAnswer("empty answer")
    if _THOUSANDS_RE.match(s):
        return _parse_scalar(s.replace(",", ""))
    matrix = re.fullmatch(r"\\begin\{([pb]?matrix)\}(.*)\\end\{\1\}", s)
    if matrix:
        rows = [r for r in matrix.group(2).split(r"\\") if r.strip()]
        return Node("matrix", tuple(Node("tuple", tuple(_parse_structure(c) for c in r.split("&"))) for r in rows))
    if "\\begin" in s:
        raise UnparseableAnswer("unsupported environment")
    eq = _split_top(s, ("=",))
    if len(eq) == 2:
        return Node("eq", (_parse_structure(eq[0]), _parse_structure(eq[1])))
    if len(eq) > 2 or re.search(r"<|>|\\le|\\ge|\\ne|\\approx|\\sim|\\equiv", s):
        raise UnparseableAnswer("relation or chained equation")
    pieces = _split_top(s, (r"\cup",))
    if len(pieces) > 1:
        return Node("union", tuple(_parse_interval(p) for p in pieces))
    if s.startswith(r"\{") and s.endswith(r"\}"):
        inner = s[2:-2]
        return Node("set", tuple(_parse_structure(p) for p in _split_top(inner, (",",)))) if inner else Node("set")
    if s[0] in "([" and s[-1] in ")]" and _outer_bracket_spans_all(s):
        entries = _split_top(s[1:-1], (",",))
        if len(entries) == 2:
            if s[0] + s[-1] == "()" and r"\infty" not in s:
                return Node("pair", tuple(_parse_structure(p) for p in entries))
            return _parse_interval(s)
        if len(entries) > 2 and s[0] + s[-1] == "()":
            return Node("tuple", tuple(_parse_structure(p) for p in entries))
    items = [p for p in _split_top(s, _LIST_SEPARATORS)]
    if len(items) > 1:
        if any(not p.strip() for p in items):
            raise UnparseableAnswer("empty list item")
        return Node("list", tuple(_parse_structure(p.strip()) for p in items))
    if r"\pm" in s:
        if s.count(r"\pm") != 1:
            raise UnparseableAnswer("several \\pm")
        return Node("list", (_parse_structure(s.replace(r"\pm", "+")), _parse_structure(s.replace(r"\pm", "-"))))
    unit = _UNIT_SUFFIX_RE.match(s)
    if unit and unit.group(1).strip():
        return Node("unit", (_parse_structure(unit.group(1).strip()),), text=unit.group(2).replace(" ", ""))
    if s.startswith(r"\$") and len(s) > 2:
        return Node("unit", (_parse_structure(s[2:]),), text="$")
    bare = re.sub(r"\\[A-Za-z]+", "", s)
    if r"\text{" in s or re.search(r"[A-Za-z]{3,}|\s[A-Za-z]{2}", bare):
        raise UnparseableAnswer("text or unit words")  # "5 cm", "meters"; "3qr" stays a product
    return _parse_scalar(s)


def _parse_interval(s: str) -> Node:
    if not (len(s) >= 5 and s[0] in "([" and s[-1] in ")]" and _outer_bracket_spans_all(s)):
        raise UnparseableAnswer(f"not an interval: {s!r}")
    inner = _split_top(s[1:-1], (",",))
    if len(inner) != 2:
        raise UnparseableAnswer(f"not an interval: {s!r}")
    lo, hi = _parse_scalar(inner[0]), _parse_scalar(inner[1])
    return Node("interval", (lo, hi), flags=(s[0] == "(", s[-1] == ")"))


# --------------------------------------------------------------------------- LaTeX -> sympy

_FUNCTIONS = {
    "sqrt": sympy.sqrt, "log": sympy.log, "exp": sympy.exp, "sin": sympy.sin, "cos": sympy.cos,
    "tan": sympy.tan, "cot": sympy.cot, "sec": sympy.sec, "csc": sympy.csc, "asin": sympy.asin,
    "acos": sympy.acos, "atan": sympy.atan, "binomial": sympy.binomial, "Abs": sympy.Abs,
    "root": sympy.root, "factorial": sympy.factorial,
}
_CONSTANTS = {"pi": sympy.pi, "oo": sympy.oo}
_GREEK = (
    "alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa lambda mu nu xi "
    "rho sigma tau upsilon phi varphi chi psi omega Gamma Delta Theta Lambda Xi Sigma Phi Psi Omega"
).split()
#: LaTeX functions that need a parenthesised argument -> sympy names.
_LATEX_FUNCTIONS = {
    "ln": "log", "sin": "sin", "cos": "cos", "tan": "tan", "cot": "cot", "sec": "sec", "csc": "csc",
    "arcsin": "asin", "arccos": "acos", "arctan": "atan",
}
_TOKEN_RE = re.compile(r"\s*(?:(\d+\.\d*|\.\d+|\d+)|([A-Za-z]+(?:_[A-Za-z0-9]+)?)|(\*\*|[-+*/(),!]))")


def _latex_to_python(s: str) -> tuple[str, int]:
    """Rewrite LaTeX into a restricted Python expression; returns (code, max decimal places)."""
    if re.search(r"\d\s+\d", s):
        raise UnparseableAnswer("digits separated by a space")
    if re.search(r"\d[eE][-+]?\d", s):
        raise UnparseableAnswer("e-notation is ambiguous (1e-3 or 1*e-3)")
    s = re.sub(r"(?<![\w.^}])(\d+)\\frac\{(\d+)\}\{(\d+)\}", r"(\1+\\frac{\2}{\3})", s)  # mixed number
    s = _rewrite_commands(s)
    if s.count("|") == 2:
        s = re.sub(r"\|(.*)\|", r"Abs(\1)", s)
    if "|" in s:
        raise UnparseableAnswer(f"unpaired absolute-value bars in {s!r}")
    s = s.replace("^", "**").replace("{", "(").replace("}", ")").replace("[", "(").replace("]", ")")
    return _tokens_to_python(s)


def _rewrite_commands(s: str) -> str:
    """Replace ``\\frac``, ``\\sqrt``, ``\\binom``, ``\\log_b``, constants and operators."""
    out: list[str] = []
    i = 0
    while i < len(s):
        if s[i] != "\\":
            if s[i] == "_":
                j, sub = _read_arg(s, i + 1)
                if not re.fullmatch(r"[A-Za-z0-9]+", sub):
                    raise UnparseableAnswer(f"unsupported subscript {sub!r}")
                out.append("_" + sub)
                i = j
                continue
            out.append(s[i])
            i += 1
            continue
        command = re.match(r"\\([A-Za-z]+|.)", s[i:])
        if command is None:
            raise UnparseableAnswer("trailing backslash")
        name = command.group(1)
        i += 1 + len(name)
        if name == "frac":
            i, num = _read_arg(s, i)
            i, den = _read_arg(s, i)
            out.append(f"(({_rewrite_commands(num)})/({_rewrite_commands(den)}))")
        elif name == "binom":
            i, top = _read_arg(s, i)
            i, bottom = _read_arg(s, i)
            out.append(f"binomial({_rewrite_commands(top)},{_rewrite_commands(bottom)})")
        elif name == "sqrt":
            index = None
            if i < len(s) and s[i] == "[":
                close = s.index("]", i)
                index, i = s[i + 1 : close], close + 1
            i, arg = _read_arg(s, i)
            arg = _rewrite_commands(arg)
            out.append(f"root(({arg}),({_rewrite_commands(index)}))" if index else f"sqrt({arg})")
        elif name == "log" and s.startswith("_", i):
            i, base = _read_arg(s, i + 1)
            i, arg = _read_arg(s, i)
            out.append(f"log(({_rewrite_commands(arg)}),({_rewrite_commands(base)}))")
        elif name in _LATEX_FUNCTIONS:
            if i >= len(s) or s[i] not in "({":
                raise UnparseableAnswer(f"\\{name} without parenthesised argument")
            out.append(" " + _LATEX_FUNCTIONS[name])
        elif name == "exp":
            out.append(" exp")
        elif name == "pi":
            out.append(" pi ")
        elif name == "infty":
            out.append(" oo ")
        elif name in ("cdot", "times"):
            out.append("*")
        elif name == "div":
            out.append("/")
        elif name in _GREEK:
            out.append(" lamda " if name == "lambda" else f" {name} ")  # `lambda` is a Python keyword
        elif name in ("{", "}"):
            out.append("(" if name == "{" else ")")
        else:
            raise UnparseableAnswer(f"unsupported command \\{name}")
    return "".join(out)


def _read_arg(s: str, i: int) -> tuple[int, str]:
    """Read one ``{group}`` or single character at ``s[i]``; returns (next index, content)."""
    while i < len(s) and s[i] == " ":
        i += 1
    if i >= len(s):
        raise UnparseableAnswer("missing argument")
    if s[i] == "{":
        j = _match_brace(s, i)
        return j + 1, s[i + 1 : j]
    if s[i] == "\\":
        name = re.match(r"\\([A-Za-z]+)", s[i:])
        if name:
            return i + len(name.group(0)), name.group(0)
    return i + 1, s[i]


_KNOWN_NAMES = set(_FUNCTIONS) | set(_CONSTANTS) | (set(_GREEK) - {"lambda"}) | {"lamda"}


def _tokens_to_python(s: str) -> tuple[str, int]:
    """Tokenise, split letter runs into single-letter symbols, make multiplication explicit."""
    tokens: list[tuple[str, str]] = []
    decimals = 0
    pos = 0
    s = s.rstrip()
    while pos < len(s):
        match = _TOKEN_RE.match(s, pos)
        if not match or match.end() == pos:
            raise UnparseableAnswer(f"unexpected character {s[pos:pos + 1]!r}")
        pos = match.end()
        number, name, op = match.groups()
        if number:
            if "." in number:
                whole, frac = number.split(".")
                decimals = max(decimals, len(frac))
                number = f"({int((whole or '0') + frac)}/1{'0' * len(frac)})" if frac else str(int(whole))
            tokens.append(("num", number if "." in match.group(1) else str(int(number))))
        elif name:
            if name in _KNOWN_NAMES:
                tokens.append(("func" if name in _FUNCTIONS else "sym", name))
            else:
                base, _, sub = name.partition("_")
                letters = list(base)
                for letter in letters[:-1]:
                    tokens.append(("sym", letter))
                tokens.append(("sym", letters[-1] + ("_" + sub if sub else "")))
        else:
            tokens.append(("op", op))
    code: list[str] = []
    for k, (kind, tok) in enumerate(tokens):
        if k:
            prev_kind, prev = tokens[k - 1]
            left = prev_kind in ("num", "sym") or prev in (")", "!")
            right = kind in ("num", "sym", "func") or tok == "("
            if left and right:
                if prev_kind == "num" and kind == "num":
                    raise UnparseableAnswer("two numbers side by side")
                code.append("*")
        if tok == "!":
            _apply_factorial(code)
            continue
        code.append(tok)
    if not code:
        raise UnparseableAnswer("empty expression")
    return " ".join(code), decimals


def _apply_factorial(code: list[str]) -> None:
    """Wrap the operand that ends ``code`` (a number, a symbol or a parenthesised group) in factorial."""
    if not code or code[-1] in "+-*/(,":
        raise UnparseableAnswer("'!' without an operand")
    start = len(code) - 1
    if code[-1] == ")":
        depth = 0
        for start in range(len(code) - 1, -1, -1):
            depth += {")": 1, "(": -1}.get(code[start], 0)
            if depth == 0:
                break
        if start > 0 and code[start - 1] in _KNOWN_NAMES:
            start -= 1
    code[start:] = ["factorial(", *code[start:], ")"]


def _parse_scalar(s: str) -> Node:
    """Parse a scalar LaTeX expression into an ``expr`` node (exact: decimals are rationals)."""
    from sympy.parsing.sympy_parser import parse_expr, standard_transformations

    code, decimals = _latex_to_python(s)
    names = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", code))
    local: dict[str, Any] = {}
    for name in names:
        if name in _FUNCTIONS:
            local[name] = _FUNCTIONS[name]
        elif name in _CONSTANTS:
            local[name] = _CONSTANTS[name]
        elif name == "i":
            local[name] = sympy.I
        elif re.fullmatch(r"[A-Za-z]+(_[A-Za-z0-9]+)?", name):
            local[name] = sympy.Symbol(name)
        else:
            raise UnparseableAnswer(f"unexpected name {name!r}")
    global_dict = {"Integer": sympy.Integer, "Rational": sympy.Rational, "Float": sympy.Float,
                   "Symbol": sympy.Symbol, "factorial": sympy.factorial}
    value = parse_expr(code, local_dict=local, global_dict=global_dict, transformations=standard_transformations)
    if not isinstance(value, sympy.Expr):
        raise UnparseableAnswer(f"not an expression: {s!r}")
    return Node("expr", value=value, decimals=decimals)


# --------------------------------------------------------------------------- comparison

_DIGITS = 60       # significant digits that prove two constants differ
_ZERO_DIGITS = 200  # a difference indistinguishable from zero at this precision counts as zero


def compare_answers(answer: str, gold: str) -> tuple[Status, str]:
    """Stage-1 verdict for two raw answer strings: ``(status, reason)``.  Symmetric.

    >>> compare_answers(r"\\frac{25}{2}", "12.5")[0]
    'correct'
    >>> compare_answers("0.5", r"50\\%")[0]
    'unsure'
    """
    a, g = normalize_latex(answer), normalize_latex(gold)
    if a == g:
        return "correct", "identical after normalisation"
    try:
        return compare_nodes(parse_answer(a), parse_answer(g))
    except UnparseableAnswer as err:
        return "unsure", f"cannot compare: {err}"


def compare_nodes(a: Node, b: Node) -> tuple[Status, str]:
    """Compare two parsed answers (see the module docstring for what counts as proof)."""
    if a.kind == "text" or b.kind == "text":
        if a.kind == b.kind and a.text == b.text:
            return "correct", "same text"
        return "unsure", "text answer"
    if a.kind == "eq" or b.kind == "eq":
        return _compare_equations(a, b)
    if a.kind == "unit" or b.kind == "unit":
        if a.kind == b.kind and a.text == b.text:
            status, reason = compare_nodes(a.items[0], b.items[0])
            return status, f"{reason} (same unit {a.text})"
        return "unsure", "different or missing unit/percent/degree"
    if a.kind == "expr" and b.kind == "expr":
        return compare_scalars(a, b)
    if {a.kind, b.kind} <= {"pair", "interval"}:
        if a.kind == b.kind == "pair":
            return _compare_sequences(a.items, b.items, "pair")
        ia, ib = (_as_interval(a), _as_interval(b))
        return _compare_intervals((ia,), (ib,))
    if {a.kind, b.kind} <= {"union", "interval", "pair"}:
        pa = a.items if a.kind == "union" else (_as_interval(a),)
        pb = b.items if b.kind == "union" else (_as_interval(b),)
        return _compare_intervals(pa, pb)
    if {a.kind, b.kind} <= {"pair", "tuple"}:
        return _compare_sequences(a.items, b.items, "tuple")
    if a.kind == b.kind == "matrix":
        if len(a.items) != len(b.items) or any(len(r.items) != len(s.items) for r, s in zip(a.items, b.items)):
            return "unsure", "matrix shapes differ"
        cells_a = tuple(c for r in a.items for c in r.items)
        cells_b = tuple(c for r in b.items for c in r.items)
        return _compare_sequences(cells_a, cells_b, "matrix")
    if a.kind == b.kind == "set":
        return _compare_unordered(a.items, b.items, "set", exact_order_is_proof=False)
    if {a.kind, b.kind} <= {"list", "expr"}:
        items_a = a.items if a.kind == "list" else (a,)
        items_b = b.items if b.kind == "list" else (b,)
        return _compare_unordered(items_a, items_b, "list", exact_order_is_proof=True)
    return "unsure", f"different structures ({a.kind} vs {b.kind})"


def _as_interval(node: Node) -> Node:
    if node.kind == "interval":
        return node
    if node.kind == "pair" and all(i.kind == "expr" for i in node.items):
        return Node("interval", node.items, flags=(True, True))
    raise UnparseableAnswer("not an interval")


def _compare_equations(a: Node, b: Node) -> tuple[Status, str]:
    if a.kind == b.kind == "eq":
        if compare_nodes(a.items[0], b.items[0])[0] == "correct":
            status, reason = compare_nodes(a.items[1], b.items[1])
            return status, f"same left side; right sides: {reason}"
        return "unsure", "equations with different left sides"
    eq, other = (a, b) if a.kind == "eq" else (b, a)
    lhs = eq.items[0]
    if lhs.kind == "expr" and isinstance(lhs.value, sympy.Symbol):
        status, reason = compare_nodes(eq.items[1], other)
        return status, f"{lhs.value} = value: {reason}"
    return "unsure", "equation against a non-equation"


def _compare_sequences(a: tuple[Node, ...], b: tuple[Node, ...], what: str) -> tuple[Status, str]:
    """Ordered comparison: all parts correct -> correct; any part proven different -> incorrect."""
    if len(a) != len(b):
        return "incorrect", f"{what}s of length {len(a)} and {len(b)}"
    results = [compare_nodes(x, y) for x, y in zip(a, b)]
    for k, (status, reason) in enumerate(results):
        if status == "incorrect":
            return "incorrect", f"{what} entry {k + 1}: {reason}"
    if all(status == "correct" for status, _ in results):
        return "correct", f"every {what} entry equal"
    return "unsure", f"some {what} entries undecided"


def _compare_unordered(a: tuple[Node, ...], b: tuple[Node, ...], what: str, *, exact_order_is_proof: bool) -> tuple[Status, str]:
    """Sets (order irrelevant) and bare lists (``2, 3`` or ``2 or 3``; only in-order is proof)."""
    if len(a) == len(b):
        in_order = [compare_nodes(x, y) for x, y in zip(a, b)]
        if all(s == "correct" for s, _ in in_order):
            return "correct", f"every {what} item equal in order"
    table = [[compare_nodes(x, y)[0] for y in b] for x in a]
    for k, row in enumerate(table):
        if all(s == "incorrect" for s in row):
            return "incorrect", f"{what} item {k + 1} of the answer equals nothing in the gold"
    for k in range(len(b)):
        if all(table[j][k] == "incorrect" for j in range(len(a))):
            return "incorrect", f"{what} item {k + 1} of the gold equals nothing in the answer"
    if len(a) != len(b):
        if all(n.kind == "expr" and not n.value.free_symbols for n in a + b) and _distinct(a) and _distinct(b):
            return "incorrect", f"{what}s of {len(a)} and {len(b)} distinct numbers"
        return "unsure", f"{what}s of different length"
    if what == "set" and _has_perfect_matching(table):
        return "correct", "sets equal"
    return "unsure", f"{what} items match only in another order or are undecided"


def _distinct(items: tuple[Node, ...]) -> bool:
    return all(compare_nodes(x, y)[0] == "incorrect" for k, x in enumerate(items) for y in items[k + 1 :])


def _has_perfect_matching(table: list[list[Status]]) -> bool:
    n = len(table)
    match: dict[int, int] = {}

    def augment(row: int, seen: set[int]) -> bool:
        for col in range(n):
            if table[row][col] == "correct" and col not in seen:
                seen.add(col)
                if col not in match or augment(match[col], seen):
                    match[col] = row
                    return True
        return False

    return all(augment(row, set()) for row in range(n))


def _compare_intervals(a: tuple[Node, ...], b: tuple[Node, ...]) -> tuple[Status, str]:
    if len(a) != len(b):
        return "unsure", "unions with different numbers of pieces"
    results = []
    for x, y in zip(a, b):
        ends = _compare_sequences(x.items, y.items, "endpoint")
        if ends[0] == "correct" and x.flags != y.flags:
            return "incorrect", "same endpoints, different brackets"
        results.append(ends)
    for status, reason in results:
        if status == "incorrect":
            return "incorrect", f"interval {reason}"
    if all(status == "correct" for status, _ in results):
        return "correct", "intervals equal"
    return "unsure", "interval endpoints undecided"


def compare_scalars(a: Node, b: Node) -> tuple[Status, str]:
    """Compare two ``expr`` nodes exactly (decimals are rationals; constants to 60 digits)."""
    x, y = a.value, b.value
    bad = (sympy.zoo, sympy.nan)
    if any(x.has(v) or y.has(v) for v in bad):
        return "unsure", "undefined value"
    if x.has(sympy.oo, -sympy.oo) or y.has(sympy.oo, -sympy.oo):
        return ("correct", "same infinity") if x == y else ("unsure", "infinite value")
    if x.free_symbols or y.free_symbols:
        return _compare_symbolic(x, y)
    diff = x - y
    if diff == 0:
        return "correct", "exactly equal"
    if not diff.is_Rational:
        try:
            diff.evalf(_DIGITS, strict=True, maxn=_ZERO_DIGITS)
        except sympy.core.evalf.PrecisionExhausted:
            if max(a.decimals, b.decimals) < _ZERO_DIGITS // 2:
                return "correct", f"difference is zero to {_ZERO_DIGITS} digits"
            return "unsure", "numerically equal, but a very long decimal is involved"
    if not all(sympy.N(v, 15).is_finite for v in (x, y)):
        return "unsure", "value could not be evaluated"
    for rounded, exact in ((a, y), (b, x)):
        if rounded.decimals and _rounds_to(exact, rounded.value, rounded.decimals):
            return "unsure", f"equal after rounding to {rounded.decimals} decimal places"
    return "incorrect", f"values differ ({sympy.N(x, 8)} vs {sympy.N(y, 8)})"


def _rounds_to(exact: sympy.Expr, literal: sympy.Expr, places: int) -> bool:
    """Whether ``exact`` rounded half-way or truncated to ``places`` decimals gives ``literal``."""
    value = sympy.N(exact, _DIGITS)
    if not (value.is_real and literal.is_real):
        return False
    step = sympy.Float(10, _DIGITS) ** -places
    gap = value - sympy.N(literal, _DIGITS)
    truncated = 0 <= (gap if literal >= 0 else -gap) < step
    return bool(abs(gap) <= step / 2 or truncated)


def _compare_symbolic(x: sympy.Expr, y: sympy.Expr) -> tuple[Status, str]:
    if x.free_symbols != y.free_symbols:
        return "unsure", "different variables"
    diff = sympy.simplify(x - y)
    if diff == 0:
        return "correct", "difference simplifies to 0"
    if diff.is_number and sympy.N(diff, _DIGITS) != 0:
        return "incorrect", f"expressions differ by the constant {sympy.N(diff, 8)}"
    symbols = sorted(x.free_symbols, key=str)
    if x.is_rational_function(*symbols) and y.is_rational_function(*symbols) and sympy.cancel(x - y) != 0:
        return "incorrect", "rational functions differ"
    return "unsure", "could not prove the expressions equal or different"


# --------------------------------------------------------------------------- worker process


def _worker_main(memory_limit_bytes: int) -> None:
    """Child loop over stdin/stdout JSON lines: ``[answer, gold]`` in, ``[status, reason]`` out.

    The parent kills this process on timeout; exceptions become ``unsure`` with their name.
    """
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (memory_limit_bytes, memory_limit_bytes))
    except (ImportError, ValueError, OSError):
        pass
    out = sys.stdout.buffer
    out.write(b'["ready", ""]\n')
    out.flush()
    for line in sys.stdin.buffer:
        answer, gold = json.loads(line)
        try:
            result = compare_answers(answer, gold)
        except (MemoryError, RecursionError) as err:
            result = ("unsure", f"comparison failed: {type(err).__name__}")
        except Exception as err:  # noqa: BLE001 - sympy raises anything; recorded as unsure, never hidden
            result = ("unsure", f"comparison raised {type(err).__name__}: {err}"[:300])
        out.write(json.dumps(list(result)).encode("utf-8") + b"\n")
        out.flush()


class ComparisonWorker:
    """A persistent child process running :func:`compare_answers` with a hard timeout.

    The child is a fresh interpreter (``subprocess``, not ``multiprocessing``: it never
    re-imports the caller's ``__main__``) talking JSON lines over pipes.  Thread-safe: a lock
    serialises calls.  On timeout the child is killed and the next call starts a new one; the
    child's start-up (importing sympy) does not count against the timeout.
    """

    def __init__(self, *, memory_limit_bytes: int = 4 << 30, startup_timeout_s: float = 120.0) -> None:
        self.memory_limit_bytes = memory_limit_bytes
        self.startup_timeout_s = startup_timeout_s
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._buffer = b""
        self._owner_pid = os.getpid()

    def compare(self, answer: str, gold: str, timeout_s: float) -> tuple[Status, str]:
        """Run one comparison; ``("unsure", "timed out ...")`` when it takes over ``timeout_s``."""
        if self._owner_pid != os.getpid():  # forked copy: the parent's child and lock are not ours
            self._lock, self._process, self._buffer, self._owner_pid = threading.Lock(), None, b"", os.getpid()
        with self._lock:
            if self._process is None or self._process.poll() is not None:
                self._start()
            assert self._process is not None and self._process.stdin is not None
            try:
                self._process.stdin.write(json.dumps([answer, gold]).encode("utf-8") + b"\n")
                self._process.stdin.flush()
                line = self._read_line(timeout_s)
            except (EOFError, BrokenPipeError, OSError) as err:
                self._stop()
                return "unsure", f"comparison worker died ({type(err).__name__})"
            if line is None:
                self._stop()
                return "unsure", f"comparison timed out after {timeout_s:g} s (worker killed)"
            status, reason = json.loads(line)
            return str(status), str(reason)

    def close(self) -> None:
        """Stop the child process."""
        with self._lock:
            self._stop()

    def _start(self) -> None:
        root = str(Path(__file__).resolve().parent.parent.parent)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep))
        code = f"from bench.verify.math_equiv import _worker_main; _worker_main({int(self.memory_limit_bytes)})"
        self._process = subprocess.Popen(
            [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, close_fds=True
        )
        self._buffer = b""
        try:
            ready = self._read_line(self.startup_timeout_s)
        except EOFError:
            ready = None
        if ready is None:
            self._stop()
            raise RuntimeError(f"math comparison worker did not start within {self.startup_timeout_s} s")

    def _read_line(self, timeout_s: float) -> bytes | None:
        """One line from the child, or None after ``timeout_s``; EOFError if the child died."""
        assert self._process is not None and self._process.stdout is not None
        fd = self._process.stdout.fileno()
        deadline = time.monotonic() + timeout_s
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            ready, _, _ = select.select([fd], [], [], remaining)
            if ready:
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    raise EOFError("comparison worker exited")
                self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line

    def _stop(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait(5)
            for pipe in (self._process.stdin, self._process.stdout):
                if pipe is not None:
                    pipe.close()
        self._process, self._buffer = None, b""

    def __del__(self) -> None:
        if getattr(self, "_process", None) is not None and self._owner_pid == os.getpid():
            self._stop()


_SHARED_WORKER = ComparisonWorker()


# --------------------------------------------------------------------------- the verifier


class MathVerifier:
    """Two-stage MATH/Numina verifier: strict stage 1, optional LLM judge for ``unsure``.

    Parameters
    ----------
    judge : LLMJudge, mapping or None
        Stage 2.  An :class:`~bench.verify.judge.LLMJudge`, or a mapping accepted by
        :func:`bench.verify.judge.build_judge` (as a task YAML gives it), or ``None``
        (no stage 2: ``unsure`` stays ``unsure`` with reward 0.0).
    judge_incorrect : bool
        Also ask the judge when stage 1 proved ``incorrect`` (the paper's pipeline, whose
        stage 1 had no ``unsure``: it judged every stage-1 failure).  Default False: the
        judge only settles ``unsure``, so a proven difference cannot be overturned.
    timeout_s : float
        Hard wall-clock limit of one stage-1 comparison (in a child process).
    worker : ComparisonWorker or None
        The child process to use; ``None`` shares one per Python process.

    Notes
    -----
    ``reference["answer"]`` is the gold answer (a ``\\boxed{}`` inside it is unwrapped).
    The judge sees the boxed answer when there is one and the whole response otherwise,
    as in the paper's appendix A.1.
    """

    def __init__(
        self, *, judge: Any = None, judge_incorrect: bool = False, timeout_s: float = 5.0,
        worker: ComparisonWorker | None = None,
    ) -> None:
        self.judge = judge
        self.judge_incorrect = judge_incorrect
        self.timeout_s = timeout_s
        self.worker = worker

    def verify(self, sample: str, reference: Mapping[str, Any]) -> Verdict:
        """Verify one response against ``reference["answer"]``."""
        if "answer" not in reference:
            raise TaskConfigError("MathVerifier: reference has no 'answer' field")
        gold = str(reference["answer"])
        gold = find_last_boxed(gold) or gold
        answer = find_last_boxed(sample)
        if answer is None:
            status, reason = "unsure", "no \\boxed{} answer in the response"
        else:
            worker = self.worker or _SHARED_WORKER
            status, reason = worker.compare(answer, gold, float(self.timeout_s))
        ask = status == "unsure" or (status == "incorrect" and self.judge_incorrect)
        if not ask or self.judge is None:
            return Verdict(1.0 if status == "correct" else 0.0, status, f"stage 1: {reason}")
        return self._ask_judge(answer if answer is not None else sample, gold, reason)

    def _ask_judge(self, response: str, gold: str, stage1_reason: str) -> Verdict:
        from bench.verify.judge import JudgeError, as_judge

        judge = getattr(self, "judge_", None)
        if judge is None:
            judge = self.judge_ = as_judge(self.judge)  # built once: a local model loads once
        try:
            decision = judge.judge_math(gold_answer=gold, response=response)
        except JudgeError as err:
            return Verdict(0.0, "error", f"stage 1: {stage1_reason}; stage 2 failed: {err}")
        if decision.equivalent is None:
            return Verdict(0.0, "unsure", f"stage 1: {stage1_reason}; stage 2 unparseable: {decision.text[:200]!r}")
        status = "correct" if decision.equivalent else "incorrect"
        return Verdict(1.0 if decision.equivalent else 0.0, status, f"stage 2 judge: {decision.text[:200]}")

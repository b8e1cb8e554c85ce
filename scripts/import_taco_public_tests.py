"""Build ``tasks/taco/data/test_public.jsonl.gz``: TACO's test problems with the worked examples
of their own statements as tests (the *public* examples; TACO's hidden tests are hub-only).

Source: ``tasks/taco/data/upstream/`` (``FlagOpen/TACO`` @ 245eba3b, Apache-2.0):
``taco_generation_example.json.gz`` (TACO's file, gzipped here) holds, for each of the 1,000
problems of TACO's test split, ``task_id`` (its row index in ``BAAI/TACO``'s test split, see
TACO's generation.py) and ``prompt``, TACO's generation prompt ``"\\nQUESTION:\\n" + question +
starter_code + "\\nUse Standard Input format" | "\\nUse Call-Based format" + "\\nANSWER:\\n"``.
``output_spj.jsonl`` flags the 218 problems that need a special judge.

Each statement's examples (``Input``/``Output`` pairs under ``Examples``, ``Sample Input 1`` /
``Sample Output 1``, ``SAMPLE INPUT``, ...) become tests in TACO's format
(``input_output = {"inputs": [...], "outputs": [...]}``).  A problem is skipped, with the reason
counted, when it is call-based, needs a special judge, or its examples cannot be read without
guessing (see :data:`SKIP_REASONS`); a wrong test is worse than a skipped problem.  The counts
go to ``tasks/taco/data/test_public.provenance.json``.  Run from the repository root::

    python scripts/import_taco_public_tests.py [--from-upstream ../shared/data/taco]

The output is a pure function of the two raw files (tests rebuild it and compare the bytes).
"""

from __future__ import annotations

import gzip
import io
import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.fileio import atomic_write_bytes
from bench.importing import ImportSourceError, copy_files, importer_main, require_files

SOURCE_REPO = "FlagOpen/TACO"
SOURCE_COMMIT = "245eba3beb2d23a07082307de303de2589e4321a"
RAW_DIR = Path("tasks/taco/data/upstream")
PROMPTS_FILE = "taco_generation_example.json"
SPJ_FILE = "output_spj.jsonl"
OUT_FILE = Path("tasks/taco/data/test_public.jsonl.gz")
PROVENANCE_FILE = Path("tasks/taco/data/test_public.provenance.json")
#: value of the rows' ``tests_source`` field: where the tests come from.
TESTS_SOURCE = "statement_examples"

PROMPT_HEAD = "\nQUESTION:\n"
STDIN_TAIL = "\nUse Standard Input format\nANSWER:\n"
CALL_TAIL = "\nUse Call-Based format\nANSWER:\n"

#: every reason a problem is left out, in the order they are checked (the first that applies).
SKIP_REASONS = {
    "special_judge": "needs a special judge (output_spj.jsonl): many outputs are right, the examples show one",
    "call_based": "call-based (a function, not a stdin/stdout program)",
    "interactive": "interactive (the statement mentions an interactor or flushing output)",
    "many_outputs": ("the statement accepts other outputs too (print any valid answer, several solutions, an "
                     "error tolerance) though output_spj.jsonl does not flag a special judge"),
    "no_examples": "no example headers found in the statement",
    "unpaired_headers": "example headers do not alternate input, output (or their numbers disagree)",
    "input_interrupted": ("something other than the output header ends an example input (e.g. HackerRank's "
                          "annotated 'STDIN  Function' table)"),
    "header_with_text": "an example header carries its content on the same line (e.g. 'Input: 5')",
    "empty_block": "an example input or output is empty",
    "prose_in_block": "an example block holds a line that reads like a sentence (its end may be misread)",
    "blank_line_in_block": "an example block holds blank lines that are not a uniform double spacing",
    "markup_in_block": ("an example block holds markup (<image>, LaTeX, HTML), a tab or a non-ASCII character "
                        "(scrape artifacts such as '≥' for '>=', or leading tabs)"),
}


# --------------------------------------------------------------------------------------------
# line classification
# --------------------------------------------------------------------------------------------

_NUMBER = r"(?:\s*#?\s*(\d+))?"
_IN = re.compile(rf"(sample |example )?input{_NUMBER}")
_OUT = re.compile(rf"(sample |example )?output{_NUMBER}")
_SECTION = re.compile(r"(examples?|samples?|sample tests?|example tests?|sample cases?|примеры|пример)")
#: lines that end an example block without being an example header themselves.
_END = re.compile(r"(notes?|explanations?|explanation\b.*|hints?|constraints|subtasks?|scoring|"
                  r"example case\b.*|sample explanation\b.*|note\b.*|test case \d+.*|case #?\d+.*)")
_INTERACTIVE = re.compile(r"interactive|interactor|interaction protocol|\bflush", re.IGNORECASE)
_MANY_OUTPUTS = re.compile(
    r"\b(print|output|choose|select|find|return|give) any\b"
    r"|\b(multiple|several|many|more than one) (possible |valid |correct |such |different )?(answers|solutions|outputs)\b"
    r"|\bany (valid|correct|possible|such) (answer|solution|output)"
    r"|(absolute|relative) (error|precision)|\berror (of|less than|not exceeding|does not exceed|at most)",
    re.IGNORECASE)
_STRIP = " \t\u00a0-#*[]:"


@dataclass(frozen=True)
class Line:
    """One statement line classified: ``kind`` is in, out, section, end or text."""

    kind: str
    number: int | None = None
    #: whether the header needs an examples section before it to count (a bare ``Input``).
    weak: bool = False
    #: text after the header on the same line (``Input: 5``).
    trailing: str = ""


def normalise_header(line: str) -> str:
    """A line as a header candidate: dashes, ``#``, ``*``, brackets and colons stripped from both
    ends, spaces collapsed, lower case (``"----- Sample Input 1 ------ "`` -> ``"sample input 1"``)."""
    return re.sub(r"\s+", " ", line.strip(_STRIP)).lower()


def classify(line: str) -> Line:
    """What a statement line is (see :class:`Line`); ``text`` for anything that is not a header."""
    raw = line.strip()
    if not raw or len(raw) > 60:
        return Line("text")
    head = normalise_header(raw)
    colon = re.fullmatch(r"(sample |example )?(input|output)(\s*#?\s*\d+)?\s*:\s*(\S.*)", raw, re.IGNORECASE)
    if colon:       # "Input: 5": a header with its content on the same line
        kind = "in" if colon.group(2).lower() == "input" else "out"
        return Line(kind, weak=not (colon.group(1) or colon.group(3)), trailing=colon.group(4))
    for kind, pattern in (("in", _IN), ("out", _OUT)):
        match = pattern.fullmatch(head)
        if match:
            prefixed, number = match.group(1), match.group(2)
            return Line(kind, int(number) if number else None, weak=not (prefixed or number))
    if _SECTION.fullmatch(head) or re.fullmatch(r"examples? #?\d+", head):
        return Line("section")
    if _END.fullmatch(head) or raw.startswith("---") or raw.endswith("---"):
        return Line("end")
    return Line("text")


# --------------------------------------------------------------------------------------------
# examples
# --------------------------------------------------------------------------------------------


class Skip(Exception):
    """This statement's examples cannot be read without guessing; ``reason`` is a SKIP_REASONS key."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


def _trim_blank(lines: list[str]) -> list[str]:
    """Drop leading and trailing blank lines."""
    start, end = 0, len(lines)
    while start < end and not lines[start].strip():
        start += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    return lines[start:end]


def _is_double_spaced(lines: list[str]) -> bool:
    """Every other line blank, starting with content (CodeChef statements in TACO print their
    samples this way: ``"1\\n\\n20 2\\n\\nabc"`` for the judge's ``"1\\n20 2\\nabc"``)."""
    return len(lines) >= 3 and len(lines) % 2 == 1 and all(
        bool(line.strip()) == (i % 2 == 0) for i, line in enumerate(lines))


_PROSE_WORDS = frozenset("the a an of is are and contains contain print line lines output input each integer "
                         "integers number numbers first second test case should must".split())


def _looks_like_prose(line: str) -> bool:
    """A sentence rather than data: five or more words, and either ending like a sentence or
    holding common statement words ("the", "contains", "print", ...).  Such lines in an example
    block mean the block's end was misread (or the data is prose we cannot tell from it)."""
    words = line.split()
    if len(words) < 5 or sum(w.isalpha() for w in words) < 4:
        return False
    return line.rstrip().endswith((".", ":", ";")) or any(w.lower().strip(",.") in _PROSE_WORDS for w in words)


def _block_text(lines: list[str], *, dashed: bool, is_output: bool) -> str:
    """The text of one example block, ending in one newline as TACO stores its tests: blank
    edges trimmed and each line's trailing spaces removed.

    Blank lines inside a block: under a dashed header (``----- Sample Input 1 ------``, the
    CodeChef statements) a uniform double spacing is TACO's scrape, undone; any other blank line
    there is ambiguous.  Under a plain header (Codeforces ``Input``) blank lines in an input are
    the input's own (test cases separated by empty lines) and kept; in an output they may be
    optional (a judge that ignores them), so the problem is skipped.
    """
    body = _trim_blank(lines)
    if not body:
        raise Skip("empty_block")
    if any(not line.strip() for line in body):
        if dashed and _is_double_spaced(body):
            body = body[::2]
        elif dashed or is_output:
            raise Skip("blank_line_in_block", " | ".join(body)[:80])
    prose = next((line for line in body if _looks_like_prose(line)), None)
    if prose is not None:
        raise Skip("prose_in_block", prose[:60])
    text = "\n".join(line.rstrip() for line in body)
    if re.search(r"<image>|<[a-z/][^>]*>|\$|\\[a-z]+|[^\n\x20-\x7e]", text):
        raise Skip("markup_in_block", text[:60])
    return text + "\n"


def extract_examples(statement: str) -> tuple[list[str], list[str]]:
    """The statement's example tests: (inputs, outputs), each ending in a newline.

    Raises :class:`Skip` when the examples cannot be read without guessing.
    """
    lines = statement.split("\n")
    kinds = [classify(line) for line in lines]
    in_section = False
    headers: list[tuple[int, Line]] = []    # sample headers that count, in order
    stops: list[int] = []                   # every line that ends a block
    section_opened = False                  # a section header and nothing yet after it
    for i, line in enumerate(kinds):
        if line.kind == "section":
            in_section = section_opened = True
            stops.append(i)
        elif line.kind in ("in", "out"):
            stops.append(i)
            if not line.weak or in_section:
                headers.append((i, line))
            section_opened = False
        elif line.kind == "end":
            stops.append(i)
            in_section = section_opened = False
        elif lines[i].strip() and section_opened:
            # "Example:" followed by prose is not an examples section: a bare "Input" counts
            # only when it opens the section
            in_section = section_opened = False
    if not headers:
        raise Skip("no_examples")
    if any(h.trailing for _, h in headers):
        raise Skip("header_with_text", lines[next(i for i, h in headers if h.trailing)][:60])
    pattern = [h.kind for _, h in headers]
    if len(pattern) % 2 or pattern != ["in", "out"] * (len(pattern) // 2):
        raise Skip("unpaired_headers", " ".join(pattern))
    for (_, a), (_, b) in zip(headers[::2], headers[1::2]):
        if a.number is not None and b.number is not None and a.number != b.number:
            raise Skip("unpaired_headers", f"input {a.number} with output {b.number}")
    inputs, outputs = [], []
    for n, (start, header) in enumerate(headers):
        end = next((s for s in stops if s > start), len(lines))
        if header.kind == "in" and end != headers[n + 1][0]:
            # an input runs up to its output header; anything between ("-----  ------" under
            # HackerRank's "STDIN  Function" table, a stray "Note") means it was misread
            raise Skip("input_interrupted", lines[end][:60])
        if header.kind == "in" and re.match(r"\s*STDIN\s+Function", "\n".join(lines[start + 1:end])):
            raise Skip("input_interrupted", "HackerRank's annotated STDIN / Function table")
        block = _block_text(lines[start + 1:end], dashed=lines[start].lstrip().startswith("-"),
                            is_output=header.kind == "out")
        (inputs if header.kind == "in" else outputs).append(block)
    return inputs, outputs


# --------------------------------------------------------------------------------------------
# rows
# --------------------------------------------------------------------------------------------


def split_prompt(prompt: str) -> tuple[str, bool]:
    """(question + starter code, whether the problem is call-based) from TACO's generation prompt."""
    if not prompt.startswith(PROMPT_HEAD):
        raise ImportSourceError(f"a TACO prompt does not start with {PROMPT_HEAD!r}: {prompt[:60]!r}")
    for tail, call_based in ((STDIN_TAIL, False), (CALL_TAIL, True)):
        if prompt.endswith(tail):
            return prompt[len(PROMPT_HEAD):-len(tail)], call_based
    raise ImportSourceError(f"a TACO prompt ends with neither call format: {prompt[-60:]!r}")


def read_raw(root: Path) -> tuple[list[dict[str, Any]], dict[int, bool]]:
    """TACO's 1,000 test prompts (task_id order) and task_id -> needs a special judge."""
    folder = root / RAW_DIR
    require_files(folder, [PROMPTS_FILE + ".gz", SPJ_FILE])
    with gzip.open(folder / (PROMPTS_FILE + ".gz"), "rt", encoding="utf-8") as fh:
        problems = json.load(fh)
    spj = {}
    for line in (folder / SPJ_FILE).read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        spj[int(row["idx"])] = bool(row["special_judge"])
    ids = [int(p["task_id"]) for p in problems]
    if ids != list(range(len(problems))) or set(spj) != set(ids):
        raise ImportSourceError(f"{folder}: task ids are not 0..{len(problems) - 1} in both files")
    return problems, spj


def public_test_row(task_id: int, question: str, inputs: list[str], outputs: list[str]) -> dict[str, Any]:
    """One output row, in the hub's row format as far as it is known here (no source,
    difficulty, url or solutions: TACO's prompt file does not hold them)."""
    return {
        "hub_split": "test",
        "hub_index": task_id,
        "question": question,
        "starter_code": "",
        "input_output": json.dumps({"inputs": inputs, "outputs": outputs}, ensure_ascii=False),
        "tests_source": TESTS_SOURCE,
    }


def extract_all(problems: list[dict[str, Any]], spj: dict[int, bool]) -> tuple[list[dict[str, Any]], dict[int, str]]:
    """(kept rows, task_id -> skip reason) over every problem."""
    rows, skipped = [], {}
    for problem in problems:
        task_id = int(problem["task_id"])
        question, call_based = split_prompt(problem["prompt"])
        if spj[task_id]:
            skipped[task_id] = "special_judge"
            continue
        if call_based:
            skipped[task_id] = "call_based"
            continue
        if _INTERACTIVE.search(question):
            skipped[task_id] = "interactive"
            continue
        if _MANY_OUTPUTS.search(question):
            skipped[task_id] = "many_outputs"
            continue
        try:
            inputs, outputs = extract_examples(question)
        except Skip as skip:
            skipped[task_id] = skip.reason
            continue
        rows.append(public_test_row(task_id, question, inputs, outputs))
    return rows, skipped


def _gzip_bytes(data: bytes) -> bytes:
    """gzip with no name and mtime 0: the same data gives the same bytes."""
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=9) as fh:
        fh.write(data)
    return buffer.getvalue()


def provenance(rows: list[dict[str, Any]], skipped: dict[int, str], total: int) -> dict[str, Any]:
    """Counts kept and skipped by reason, and where the data comes from."""
    counts = Counter(skipped.values())
    return {
        "source": f"{SOURCE_REPO} @ {SOURCE_COMMIT}: {PROMPTS_FILE}, {SPJ_FILE}",
        "licence": "Apache-2.0 (FlagOpen/TACO); the TACO dataset card says parts are under MIT / CC BY 4.0",
        "tests_source": TESTS_SOURCE,
        "tests_note": ("tests are the worked examples printed in each statement (public examples), NOT TACO's "
                       "hidden unit tests, which exist only on the hub (BAAI/TACO); passing them is weaker"),
        "script": "scripts/import_taco_public_tests.py",
        "problems": total,
        "kept": len(rows),
        "tests_kept": sum(len(json.loads(r["input_output"])["inputs"]) for r in rows),
        "skipped": {reason: counts.get(reason, 0) for reason in SKIP_REASONS},
        "skip_reasons": SKIP_REASONS,
        "skipped_ids": {reason: sorted(i for i, r in skipped.items() if r == reason) for reason in SKIP_REASONS},
    }


def build(root: Path, out: Path) -> Path:
    """Write the public-test rows (``out``) and their provenance next to the shipped file."""
    problems, spj = read_raw(root)
    rows, skipped = extract_all(problems, spj)
    text = "".join(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n" for row in rows)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out, _gzip_bytes(text.encode("utf-8")))
    meta = provenance(rows, skipped, len(problems))
    atomic_write_bytes(out.parent / PROVENANCE_FILE.name,
                       (json.dumps(meta, indent=1, ensure_ascii=False) + "\n").encode("utf-8"))
    return out


def copy_raw(upstream: Path, root: Path) -> None:
    """Copy TACO's special-judge flags byte for byte and its prompt file gzipped (mtime 0)."""
    copy_files(upstream, root / RAW_DIR, [SPJ_FILE])
    require_files(upstream, [PROMPTS_FILE])
    atomic_write_bytes(root / RAW_DIR / (PROMPTS_FILE + ".gz"), _gzip_bytes((upstream / PROMPTS_FILE).read_bytes()))


if __name__ == "__main__":
    importer_main(__doc__.split("\n")[0], "a FlagOpen/TACO checkout (or ../shared/data/taco) holding "
                  f"{PROMPTS_FILE} and {SPJ_FILE}", copy_raw, build, OUT_FILE)

"""taco/test_public: the statements' worked examples as tests.  Hand-checked extractions for each
statement format (task ids are rows of TACO's test split; expected values copied by eye from the
statement), hand-checked skips, the counts, TACO's own prompt reproduced, and a byte-identical
rebuild."""

from __future__ import annotations

import gzip
import json

import pytest

from bench.tasks import load_task, read_rows
from tests.importers.conftest import load_script

imp = load_script("import_taco_public_tests")


@pytest.fixture(scope="module")
def raw(root):
    return imp.read_raw(root)


@pytest.fixture(scope="module")
def statements(raw):
    problems, _ = raw
    return {int(p["task_id"]): imp.split_prompt(p["prompt"])[0] for p in problems}


@pytest.fixture(scope="module")
def shipped(root):
    return {row["hub_index"]: row for row in read_rows(root / imp.OUT_FILE)}


# (task id, statement format, inputs, outputs): read off the statement by hand
HAND_CHECKED = [
    (0, "Codeforces '-----Examples-----' / 'Input' / 'Output'", ["5\n"], ["120\n"]),
    (292, "Codeforces, three examples", ["4 2\n", "5 3\n", "12 5\n"], ["2\n", "-1\n", "6\n"]),
    (2, "Codeforces without dashes ('Examples', blank lines around blocks)",
     ["400 4\n100 300 450 500\n", "50 2\n100 25\n"], ["2\n", "3\n"]),
    (33, "CodeChef '----- Sample Input 1 ------', double-spaced (undone)",
     ["1\n20 2\nstayinghomesaveslife\n1\n3\n"], ["6\n0\n"]),
    (9, "CodeChef '----- Sample Input 1 ------', trailing spaces removed",
     ["2\n5 3\n5 4 3 2 1\n3 2\n4 1 1\n"], ["YES\nNO\n"]),
    (34, "CodeChef, two numbered samples with explanations between",
     ["3\n1 1\n0 2\n1 2\n", "8\n2 4\n2 4\n1 4\n0 7\n0 3\n1 2\n1 2\n1 1\n"], ["2\n", "3\n"]),
    (187, "CodeChef '-----Sample Input:-----', double-spaced", ["2\n3 a\n3 ab\n"], ["1326\n76\n"]),
    (184, "CodeChef '-----Example Input-----'", ["2\n2 2\n3 4\n"], ["4\n60\n"]),
    (846, "old CodeChef '------ Example ------' then 'Input:' / 'Output:'", ["1\n1\n4\n"], ["Little Chef\n"]),
    (697, "'-----Example-----' / 'Input' / 'Output'", ["4\n1 5\n314 15\n-99 99\n123 987\n"],
     ["6\n329\n0\n1110\n"]),
    (11, "HackerEarth 'SAMPLE INPUT' / 'SAMPLE OUTPUT'", ["2\nababca\naaabb\n"], ["YES\nNO\n"]),
    (860, "HackerEarth, 'INPUT:' format section before the samples", ["5\n7 6 5\n5 7 6\n8 2 9\n2 3 4\n2 4 3\n"],
     ["1\n"]),
    (24, "HackerRank 'Sample Input 0'", ['HackerRank.com presents "Pythonist 2".\n'],
     ['hACKERrANK.COM PRESENTS "pYTHONIST 2".\n']),
    (757, "HackerRank 'Sample Input 0' and 'Sample Input 1'",
     ["6 0\n1 2 1 2 1 2\n4 3 4 3 4 3\n", "4 2\n1 10 100 1000\n0 0 0 0\n"], ["1\n", "-1\n"]),
    (12, "HackerRank 'Sample Input' (blank line after the header)",
     ["4\n1 1 0 5\n2 1 0 3\n2 1 1 3\n2 1 2 3\n"], ["1\n8\n6\n6\n"]),
    (53, "lower-case 'Sample input'", ["3\n0\n1\n5\n"], ["4\n6\n66\n"]),
    (276, "'Input #1' / 'Output #1' (and '#2')", ["4\n0 1\n2 5\n3 1\n4 0\n",
                                                "6\n12 -14\n-3 3\n-14 7\n-14 -3\n2 -12\n-1 -6\n"], ["8\n", "54\n"]),
    (472, "Codeforces input whose blank lines are its own (pieces separated by an empty line)",
     ["1\n0\n\n0\n\n1\n\n0\n", "3\n101\n010\n101\n\n101\n000\n101\n\n010\n101\n011\n\n010\n101\n010\n"],
     ["1\n", "2\n"]),
]


@pytest.mark.parametrize(("task_id", "fmt", "inputs", "outputs"), HAND_CHECKED, ids=[f"{t}" for t, *_ in HAND_CHECKED])
def test_hand_checked_examples(statements, shipped, task_id, fmt, inputs, outputs):
    assert imp.extract_examples(statements[task_id]) == (inputs, outputs), fmt
    assert json.loads(shipped[task_id]["input_output"]) == {"inputs": inputs, "outputs": outputs}


def test_example_header_before_prose_opens_no_section(statements, shipped):
    """766: "Example :" is followed by prose, so the format section's bare "Input:" / "Output:"
    that come later are not samples; only SAMPLE INPUT / SAMPLE OUTPUT are.  (The problem is
    shipped without it all the same: "If many such answers are possible" sends it to
    many_outputs, a cautious false alarm.)"""
    assert imp.extract_examples(statements[766]) == (["3 1\n2 2 3\n4 5 6\n7 8 9\n"], ["yes\n2\n2 2\n"])
    assert 766 not in shipped


# (task id, reason, why, checked by hand)
HAND_CHECKED_SKIPS = [
    (730, "input_interrupted", "HackerRank's annotated 'STDIN  Function' table is not the input"),
    (256, "input_interrupted", "the same annotated table"),
    (177, "blank_line_in_block", "the output's blank lines are optional ('you don't need to output a new line')"),
    (539, "no_examples", "headers in Russian ('Входные данные'): not read"),
    (222, "many_outputs", "'you can print any of them'"),
    (736, "interactive", "an interaction protocol, not stdin/stdout"),
    (5, "special_judge", "flagged in output_spj.jsonl"),
    (445, "markup_in_block", "S holds only '<', '=', '>' but the sample shows '>≥>>' (4 characters for N - 1 = 5)"),
    (622, "markup_in_block", "every sample line starts with a tab (an indentation artifact)"),
]


@pytest.mark.parametrize(("task_id", "reason", "why"), HAND_CHECKED_SKIPS, ids=[f"{t}" for t, *_ in HAND_CHECKED_SKIPS])
def test_hand_checked_skips(raw, shipped, task_id, reason, why):
    problems, spj = raw
    _, skipped = imp.extract_all([problems[task_id]], spj)
    assert skipped == {task_id: reason}, why
    assert task_id not in shipped


def test_call_based_problems_are_skipped(raw):
    problems, spj = raw
    call_based = [p for p in problems if imp.split_prompt(p["prompt"])[1] and not spj[int(p["task_id"])]]
    assert len(call_based) == 51
    assert set(imp.extract_all(call_based, spj)[1].values()) == {"call_based"}


@pytest.mark.parametrize(
    ("line", "kind", "number", "weak"),
    [
        ("----- Sample Input 1 ------ ", "in", 1, False),
        ("----- Sample Output 1 ------ ", "out", 1, False),
        ("SAMPLE INPUT", "in", None, False),
        ("Sample Output #2:", "out", 2, False),
        ("Input", "in", None, True),            # counts only right after an examples header
        ("------ Input ------", "in", None, True),
        ("-----Examples-----", "section", None, False),
        ("Example", "section", None, False),
        ("-----Note-----", "end", None, False),
        ("----- explanation 1 ------", "end", None, False),
        ("The first line contains the input.", "text", None, False),
        ("3 4", "text", None, False),
    ],
)
def test_classify(line, kind, number, weak):
    got = imp.classify(line)
    assert (got.kind, got.number, got.weak) == (kind, number, weak)


def test_header_with_its_content_on_the_line_is_skipped():
    with pytest.raises(imp.Skip, match="header_with_text"):
        imp.extract_examples("Statement.\n\nSample Input: 5\nSample Output: 25\n")


def test_unpaired_and_misnumbered_headers_are_skipped():
    with pytest.raises(imp.Skip, match="unpaired_headers"):
        imp.extract_examples("SAMPLE INPUT\n1 2\n")
    with pytest.raises(imp.Skip, match="unpaired_headers"):
        imp.extract_examples("Sample Input 1\n1\nSample Output 2\n1\n")


def test_double_spacing_is_undone_only_when_uniform():
    assert imp._is_double_spaced(["1", "", "2", "", "3"])
    assert not imp._is_double_spaced(["1", "", "", "2"])
    assert not imp._is_double_spaced(["1", "2", "", "3"])
    with pytest.raises(imp.Skip, match="blank_line_in_block"):
        imp.extract_examples("----- Sample Input 1 ------\n1\n2\n\n3\n----- Sample Output 1 ------\n6\n")


def test_counts_match_the_provenance(root, raw, shipped):
    problems, spj = raw
    rows, skipped = imp.extract_all(problems, spj)
    meta = json.loads((root / imp.PROVENANCE_FILE).read_text())
    assert len(problems) == 1000 and sum(spj.values()) == 218
    assert meta["kept"] == len(rows) == len(shipped) == 675
    assert meta["skipped"] == {
        "special_judge": 218, "call_based": 51, "interactive": 2, "many_outputs": 37, "no_examples": 3,
        "unpaired_headers": 4, "input_interrupted": 2, "header_with_text": 0, "empty_block": 0,
        "prose_in_block": 2, "blank_line_in_block": 3, "markup_in_block": 3}
    assert sum(meta["skipped"].values()) + meta["kept"] == 1000
    assert meta["tests_kept"] == sum(len(json.loads(r["input_output"])["inputs"]) for r in rows) == 1162
    assert {i for ids in meta["skipped_ids"].values() for i in ids} == set(skipped)


def test_rows_say_their_tests_are_the_statement_examples(shipped):
    assert all(r["tests_source"] == "statement_examples" and r["starter_code"] == "" and r["hub_split"] == "test"
               for r in shipped.values())


def test_task_reproduces_tacos_own_prompt_for_every_kept_problem(raw):
    """The default prompt of each test_public query is TACO's published prompt, byte for byte,
    and the query id is the problem's id on the hub."""
    problems, _ = raw
    queries = load_task("taco").load_queries("test_public")
    assert len(queries) == 675
    for query in queries:
        index = int(query["query_id"].removeprefix("taco-test-"))
        assert query["prompt"] == problems[index]["prompt"]


def test_upstream_copy_is_tacos_file(root):
    import hashlib

    data = gzip.decompress((root / imp.RAW_DIR / (imp.PROMPTS_FILE + ".gz")).read_bytes())
    assert hashlib.sha256(data).hexdigest() == "defcdc64947a68a45022cd729309d7a557df82bc82b56b54407a299d60d11e1b"


def test_rebuild_is_byte_identical(root, tmp_path):
    out = imp.build(root, tmp_path / imp.OUT_FILE.name)
    assert out.read_bytes() == (root / imp.OUT_FILE).read_bytes()
    assert (tmp_path / imp.PROVENANCE_FILE.name).read_bytes() == (root / imp.PROVENANCE_FILE).read_bytes()

"""These docs build with warnings as errors; every row of the security and machinery pages names a test that
exists."""

import glob
import os
import re

import pytest

from conftest import repo_path, run


def test_docs_build_without_warnings(tmp_path):
    run([repo_path("bin", "sphinx-build"), "-W", "--keep-going", "-n", "-q", "-b", "html",
         repo_path("docs"), str(tmp_path)], timeout=300)
    assert (tmp_path / "index.html").exists()
    assert (tmp_path / "machinery.html").exists()


# A test named in the docs (``test_...`` or a test class), and a test file named by its path.
TEST_NAME = re.compile(r"``((?:test_|Test)\w+)``")
TEST_FILE = re.compile(r"``((?:tests|src)/[\w./-]+\.py)``")
ROW, SECOND_CELL = re.compile(r"^   \* - (.*)"), re.compile(r"^     - (.*)")


def defined_tests():
    """Every test function, method and class the suite and the add-on define."""
    paths = glob.glob(repo_path("tests", "*.py")) + glob.glob(repo_path("src", "*", "surge", "*", "tests", "*.py"))
    return {name for path in paths
            for name in re.findall(r"^\s*(?:def|class) ((?:test_|Test)\w+)", open(path).read(), re.M)}


def table_rows(path):
    """[(first cell, second cell)] of every two-column list-table of PATH, header rows left out."""
    rows, cell = [], None
    for line in open(path).read().splitlines():
        if match := ROW.match(line):
            rows.append([match.group(1), ""])
            cell = 0
        elif (match := SECOND_CELL.match(line)) and rows:
            rows[-1][1] = match.group(1)
            cell = 1
        elif line.startswith("       ") and rows and cell is not None:
            rows[-1][cell] += " " + line.strip()
        elif line.strip():
            cell = None
    return [(what, shown) for what, shown in rows if shown != "Shown by"]


@pytest.mark.parametrize("page, least", [("security.rst", 15), ("machinery.rst", 60)])
def test_every_row_of_the_security_and_machinery_pages_names_a_test_that_exists(page, least):
    path = repo_path("docs", page)
    rows = table_rows(path)
    assert len(rows) > least, rows
    untested = [what[:80] for what, shown in rows if not (TEST_NAME.search(shown) or TEST_FILE.search(shown))]
    assert not untested, f"rows of docs/{page} that name no test: {untested}"
    text = open(path).read()
    assert not set(TEST_NAME.findall(text)) - defined_tests(), "tests the page names that do not exist"
    assert not [name for name in TEST_FILE.findall(text) if not os.path.exists(repo_path(name))]

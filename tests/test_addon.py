"""The add-on's own tests (``bin/test``, plone.app.testing layers) under coverage: every test the add-on
defines ran, and none failed."""

import glob
import os
import re

import pytest

from conftest import repo_path, run


def defined_tests():
    """The test methods and functions the add-on's test modules define."""
    return sum(len(re.findall(r"^(?:    )?def test_", open(path).read(), re.M))
               for path in glob.glob(repo_path("src", "surge.policy", "surge", "policy", "tests", "test_*.py")))


@pytest.mark.slow
def test_policy_tests_pass_under_coverage():
    os.makedirs(repo_path("var", "coverage"), exist_ok=True)
    output = run([repo_path("bin", "coverage"), "run", "--rcfile", repo_path(".coveragerc"),
                  repo_path("bin", "test")], timeout=900).stdout
    total = re.search(r"Total: (\d+) tests, (\d+) failures, (\d+) errors and (\d+) skipped", output)
    assert total, output[-2000:]
    assert total.groups() == (str(defined_tests()), "0", "0", "0"), total.group(0)
    report = run([repo_path("bin", "coverage"), "report", "--rcfile", repo_path(".coveragerc")]).stdout
    assert "TOTAL" in report

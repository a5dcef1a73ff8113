"""The add-on's own tests (``bin/test``, plone.app.testing layers) under coverage."""

import os

import pytest

from conftest import repo_path, run


@pytest.mark.slow
def test_policy_tests_pass_under_coverage():
    os.makedirs(repo_path("var", "coverage"), exist_ok=True)
    output = run([repo_path("bin", "coverage"), "run", "--rcfile", repo_path(".coveragerc"),
                  repo_path("bin", "test")], timeout=900).stdout
    assert " 0 failures, 0 errors" in output
    report = run([repo_path("bin", "coverage"), "report", "--rcfile", repo_path(".coveragerc")]).stdout
    assert "TOTAL" in report

""".ci/publish: the docs and the test reports reach the documentation host by rsync over ssh.

The host is a folder of this machine: a stand-in for ssh on PATH runs the
command rsync asks ssh to run on the other side, and records how it was called.
"""

import os
import shutil
import stat
import subprocess

import pytest

from conftest import repo_path

SSH_STANDIN = """#!/bin/sh
# ssh [-o OPTION]... HOST COMMAND...: run COMMAND here, after noting the call.
echo "$@" >> "$SSH_CALLS"
while [ "$1" = "-o" ]; do shift 2; done
shift
exec sh -c "$*"
"""


@pytest.fixture
def checkout(tmp_path):
    """A checkout with built docs and two test reports, and ssh replaced by the stand-in."""
    root = tmp_path / "checkout"
    (root / ".ci").mkdir(parents=True)
    shutil.copy(repo_path(".ci", "publish"), root / ".ci" / "publish")
    (root / "var" / "docs" / "html" / "_static").mkdir(parents=True)
    (root / "var" / "docs" / "html" / "index.html").write_text("<p>docs</p>")
    (root / "var" / "docs" / "html" / "old.html").write_text("<p>old</p>")
    (root / "var" / "test-reports").mkdir()
    (root / "var" / "test-reports" / "fast.xml").write_text("<testsuite/>")
    (root / "var" / "test-reports" / "slow.xml").write_text("<testsuite/>")
    bin_directory = tmp_path / "bin"
    bin_directory.mkdir()
    ssh = bin_directory / "ssh"
    ssh.write_text(SSH_STANDIN)
    ssh.chmod(ssh.stat().st_mode | stat.S_IXUSR)
    return root


def publish(checkout, target, build="7"):
    env = {**os.environ, "PATH": f"{checkout.parent / 'bin'}:{os.environ['PATH']}",
           "SSH_CALLS": str(checkout.parent / "ssh-calls"), "BUILD_NUMBER": build}
    if target is not None:
        env["SURGE_DOCS_TARGET"] = target
    return subprocess.run([str(checkout / ".ci" / "publish")], env=env, capture_output=True, text=True)


def test_docs_and_reports_reach_the_host_over_ssh_and_a_second_publish_replaces_the_docs(checkout, tmp_path):
    host = tmp_path / "docs-host"
    result = publish(checkout, f"docs.example.org:{host}")
    assert result.returncode == 0, result.stderr
    assert (host / "docs" / "index.html").read_text() == "<p>docs</p>"
    assert sorted(os.listdir(host / "test-reports" / "7")) == ["fast.xml", "slow.xml"]
    assert sorted(os.listdir(host / "test-reports" / "latest")) == ["fast.xml", "slow.xml"]
    calls = (tmp_path / "ssh-calls").read_text()
    assert "-o BatchMode=yes -o StrictHostKeyChecking=yes docs.example.org rsync --server" in calls

    (checkout / "var" / "docs" / "html" / "old.html").unlink()
    (checkout / "var" / "test-reports" / "slow.xml").unlink()
    assert publish(checkout, f"docs.example.org:{host}", build="8").returncode == 0
    assert not (host / "docs" / "old.html").exists()
    assert sorted(os.listdir(host / "test-reports" / "8")) == ["fast.xml"]
    assert sorted(os.listdir(host / "test-reports" / "latest")) == ["fast.xml"]
    assert sorted(os.listdir(host / "test-reports" / "7")) == ["fast.xml", "slow.xml"]


def test_publish_without_a_target_or_anything_built_fails_saying_why(checkout, tmp_path):
    result = publish(checkout, None)
    assert result.returncode != 0 and "SURGE_DOCS_TARGET" in result.stderr
    shutil.rmtree(checkout / "var")
    result = publish(checkout, str(tmp_path / "docs-host"))
    assert result.returncode == 1 and "nothing to publish" in result.stderr

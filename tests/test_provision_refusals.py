"""``provision.py`` refuses, before it changes anything, anyone but root, a hostname that names no production
server (without ``-c``) and a file that does not exist.
"""

import subprocess

import pytest

from conftest import repo_path


def provision(*arguments, user=None):
    command = ["python3", repo_path("provision.py"), *arguments]
    if user:
        command = ["runuser", "-u", user, "--", *command]
    return subprocess.run(command, capture_output=True, text=True, cwd="/")


def test_anyone_but_root_is_refused():
    result = provision(user="nobody")
    assert result.returncode == 2 and "run me as root" in result.stderr


def test_a_hostname_that_names_no_server_is_refused_naming_the_way_out():
    # This machine's hostname is no production server's (the tests would not run on one).
    result = subprocess.run(["unshare", "--uts", "sh", "-c", f"hostname not-a-surge-server && python3 "
                             f"{repo_path('provision.py')}"], capture_output=True, text=True, cwd="/")
    assert result.returncode == 2, result.stderr
    assert "'not-a-surge-server' is not a production server's name" in result.stderr
    assert "--show-servers" in result.stderr


@pytest.mark.parametrize("config", ["prod-web-9.cfg", "../prod-web-1.cfg.orig"])
def test_a_file_that_does_not_exist_is_refused(config):
    result = provision("-c", config)
    assert result.returncode == 2 and f"{config} does not exist" in result.stderr

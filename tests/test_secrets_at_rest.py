"""No built file lets another local user read a secret, and .installed.cfg holds none. What the build wrote only
(var/, where the daemons write, is left out): the result does not depend on what ran before
(tests/test_operations.py scans var/ of the running cluster)."""

import os
import pwd
import stat

import pytest
from secrets_scan import cluster_secrets, files_holding, readable_by_others

from running import SERVER_NAMES, ZOPE_USER

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def secret_files(cluster):
    root, _ = cluster
    values = cluster_secrets(root)
    return root, {name: files_holding(os.path.join(root, name), values, leave_out=("var",)) for name in SERVER_NAMES}


def test_no_file_of_any_server_shows_a_secret_to_other_users(secret_files):
    _, found = secret_files
    exposed = [f"{path} holds {', '.join(names)}" for files in found.values() for path, names in files.items()
               if readable_by_others(path)]
    assert not exposed, exposed
    # The files that must hold secrets were looked at: the test is not passing on nothing.
    assert any(path.endswith("/etc/zope.conf") for path in found["app-master"]), found["app-master"]
    assert any(path.endswith("/etc/rsyslog.conf") for path in found["app-master"]), found["app-master"]


def test_the_instances_files_are_for_the_zope_users_group_only(secret_files):
    root, found = secret_files
    group = pwd.getpwnam(ZOPE_USER).pw_gid
    for name in ("app-master", "app-slave"):
        for path in (p for p in found[name] if "/parts/instance" in p):
            status = os.stat(path)
            assert (status.st_gid, stat.S_IMODE(status.st_mode)) == (group, 0o640), path


def test_installed_cfg_holds_no_secret(secret_files):
    _, found = secret_files
    assert not [path for files in found.values() for path in files if path.endswith(".installed.cfg")]


def test_zopes_initial_user_file_has_a_salted_hash(cluster):
    root, _ = cluster
    with open(os.path.join(root, "app-master", "parts", "instance", "inituser")) as stream:
        user, hashed = stream.read().strip().split(":", 1)
    assert hashed.startswith("{SSHA}"), hashed

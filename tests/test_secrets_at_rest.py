"""No built file lets another local user read a secret, and .installed.cfg holds none."""

import os
import pwd
import stat

import pytest

from running import SERVER_NAMES, ZOPE_USER
from surge.buildout import secretsfile

pytestmark = pytest.mark.slow


def readable_by_others(path):
    """True when a user who is neither the owner nor in the group can read PATH (every parent searchable)."""
    if not os.stat(path).st_mode & stat.S_IROTH:
        return False
    parent = os.path.dirname(path)
    while parent != os.path.dirname(parent):
        if not os.stat(parent).st_mode & stat.S_IXOTH:
            return False
        parent = os.path.dirname(parent)
    return True


def files_holding(directory, values):
    """{path: [secret names]} of the regular files under DIRECTORY that contain a value of VALUES."""
    found = {}
    for top, _, names in os.walk(directory):
        for name in names:
            path = os.path.join(top, name)
            if not os.path.isfile(path) or os.path.islink(path) or os.path.getsize(path) > 20_000_000:
                continue
            with open(path, "rb") as stream:
                content = stream.read()
            held = [secret for secret, value in values.items() if value.encode() in content]
            if held:
                found[path] = held
    return found


@pytest.fixture(scope="module")
def secret_files(cluster):
    root, _ = cluster
    values = secretsfile.read(os.path.join(root, "secrets.cfg"))
    assert len(values) >= 5, values
    return root, {name: files_holding(os.path.join(root, name), values) for name in SERVER_NAMES}


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

"""``bin/rotate-secret --store`` writes one secret into a server's secrets file and keeps the others (mode 0600),
refusing a name the file does not hold or a short value and changing nothing then; ``[secrets] takes`` lines
are read per secret; the database's primary builds last when the secret is one of its roles' passwords, and a
rotation stops when the primary cannot be told. The rotation itself runs under load in the cluster
(``tests/test_cluster_up.py``).
"""

import os
import stat

import pytest

from surge.buildout import build_secrets, secretsfile
from surge.buildout.ops import rotate_secret

VALUES = {"beaker-secret": "b" * 32, "zope-admin-password": "z" * 32}


@pytest.fixture
def secrets_file(tmp_path):
    path = str(tmp_path / "secrets.cfg")
    secretsfile.write(path, dict(VALUES), "test")
    return path


def test_store_changes_one_secret_and_keeps_the_others(secrets_file):
    rotate_secret.store(secrets_file, "beaker-secret", "n" * 32)
    assert secretsfile.read(secrets_file) == {**VALUES, "beaker-secret": "n" * 32}
    assert stat.S_IMODE(os.stat(secrets_file).st_mode) == 0o600


@pytest.mark.parametrize("name, value, says", [
    ("postgres-site-password", "n" * 32, "has no [secrets] postgres-site-password"),
    ("beaker-secret", "short", "empty, short or padded"),
    ("beaker-secret", "", "empty, short or padded"),
])
def test_store_refuses_and_changes_nothing(secrets_file, name, value, says):
    before = open(secrets_file).read()
    with pytest.raises(SystemExit) as refused:
        rotate_secret.store(secrets_file, name, value)
    assert says in str(refused.value) and open(secrets_file).read() == before


def test_takes_are_read_per_secret():
    text = "\nzope-admin-password runuser -u plone -- /srv/surge/bin/admin-password\nlonely\n"
    assert rotate_secret.takes_of(text) == {
        "zope-admin-password": ["runuser", "-u", "plone", "--", "/srv/surge/bin/admin-password"]}


class Server:
    def __init__(self, key, roles, primary):
        self.key, self.roles, self.primary = key, roles, primary

    def database_roles(self):
        return self.roles

    def database_primary(self):
        return self.primary


def test_the_primary_builds_last_for_a_database_password_and_order_is_kept_otherwise():
    roles = {"postgres-site-password": "surge"}
    master, slave = Server("app-master", roles, primary=True), Server("app-slave", roles, primary=False)
    assert rotate_secret.build_order([master, slave], "postgres-site-password") == [slave, master]
    assert rotate_secret.build_order([master, slave], "beaker-secret") == [master, slave]


def test_a_database_password_is_not_rotated_when_no_primary_answers():
    roles = {"postgres-site-password": "surge"}
    servers = [Server("app-master", roles, primary=False), Server("app-slave", roles, primary=False)]
    with pytest.raises(SystemExit) as refused:
        rotate_secret.build_order(servers, "postgres-site-password")
    assert "the primary among app-master, app-slave cannot be told" in str(refused.value)


def test_a_new_value_has_the_other_parity_so_the_site_password_goes_to_the_other_login():
    for current in ("a", "b"):
        value = rotate_secret.new_value(current)
        assert build_secrets.parity(value) != current and len(value) == 32
    assert {build_secrets.login_name("surge", rotate_secret.new_value(p)) for p in "ab"} == {"surge_a", "surge_b"}
    value = rotate_secret.new_value("a")
    assert build_secrets.other_login("surge", value) == "surge_a" != build_secrets.login_name("surge", value)


def test_the_database_roles_are_read_with_their_logins_word():
    from surge.buildout.ops.remote import Server as Remote

    roles = "\nsurge postgres-site-password logins\nlogs\nlogs_writer postgres-logs-writer-password"
    config = {"hosts": {"app-master": "10.0.0.1"}, "postgres": {"roles": roles}}
    assert Remote("app-master", config).database_roles() == {"postgres-site-password": "surge",
                                                              "postgres-logs-writer-password": "logs_writer"}

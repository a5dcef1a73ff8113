"""Recipes for PostgreSQL on the database servers (Patroni runs it: buildout.d/patroni.cfg).

surge.buildout:postgres-hba renders pg_hba.conf: option ``access`` has one
line per rule, ``DATABASE ROLE HOSTS-KEY...``, where each HOSTS-KEY is a key
of [hosts]; the addresses are resolved here (PostgreSQL's host names need
reverse DNS, addresses do not), and every rule requires scram-sha-256.

surge.buildout:postgres renders postgresql.conf (``settings =
postgres-settings``): what this build tunes. Patroni's own postgresql.conf
includes it and adds where the data, the sockets and the ports are; the
check is PostgreSQL reading it (surge.buildout.ops.config_checkers
postgres-conf), as the database's system user ``user``.

surge.buildout:postgres-provision renders the psql script that gives the
site its roles (lines ``ROLE SECRET``: the password is the secret of that
name; ``ROLE`` alone: a role that never logs in, an owner), databases
(lines ``DATABASE OWNER``) and schemas (lines ``DATABASE OWNER FILE``: each
file applied in one transaction as its owner; the files must be
idempotent). A throwaway PostgreSQL runs it whole before it goes
live, so SQL that does not apply fails the build before anything changes.
bin/postgres-provision runs it on this server's PostgreSQL whenever that is
the primary: when Patroni has created the cluster, when it starts or is
promoted (Patroni's callbacks), and after every build of the running primary.

They run the PostgreSQL programs as ``user`` (the build runs as root, or as
that user).
"""

import hashlib
import os
import pwd
import re
import subprocess

from surge.buildout import build_secrets
from surge.buildout.errors import ConfigError, fail, where
from surge.buildout.network import addresses_of, host_networks
from surge.buildout.ops import provision
from surge.buildout.rendering import Template
from surge.buildout.schema import EXISTING_DIRECTORY, POSTGRES_SIZE, Integer, Schema, Setting

NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

SETTINGS = Schema("postgres-settings", {
    "bin": Setting(EXISTING_DIRECTORY),
    # PostgreSQL's own minimums, named here instead of by a server that does not start.
    "shared-buffers": Setting(POSTGRES_SIZE.at_least("128kB", "PostgreSQL's minimum")),
    "effective-cache-size": Setting(POSTGRES_SIZE.at_least("8kB", "PostgreSQL's minimum")),
    "work-mem": Setting(POSTGRES_SIZE.at_least("64kB", "PostgreSQL's minimum")),
    "maintenance-work-mem": Setting(POSTGRES_SIZE.at_least("1MB", "PostgreSQL's minimum")),
    "wal-sender-timeout": Setting(Integer(1, 3600, unit="seconds")),
})


def as_user(user, argv):
    """ARGV run as USER: through runuser when the build is root."""
    if pwd.getpwuid(os.geteuid()).pw_name == user:
        return argv
    if os.geteuid() == 0:
        return ["runuser", "-u", user, "--", *argv]
    raise ConfigError(f"PostgreSQL runs as {user!r}: build as root or as {user!r}")


def psql_literal(value):
    """A psql meta-command argument in single quotes."""
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


class PostgresHba(Template):
    def derive(self):
        rules, problems = [], []
        for line in self.options.get("access", "").splitlines():
            words = line.split()
            if not words:
                continue
            if len(words) < 3:
                problems.append(f"{where(self.buildout, self.name, 'access')}: {line.strip()!r} is not "
                                "DATABASE ROLE HOSTS-KEY...")
                continue
            database, role, keys = words[0], words[1], words[2:]
            for key in keys:
                host = self.buildout["hosts"].get(key, "")
                addresses = addresses_of(host.strip())
                if not addresses:
                    problems.append(f"{where(self.buildout, self.name, 'access')}: [hosts] {key} "
                                    f"({host!r}) does not resolve to an address here")
                rules.extend({"database": database, "role": role, "address": network}
                             for network in host_networks(addresses))
        fail(problems)
        return {"rules": rules}


class Postgres(Template):
    schema = SETTINGS

    def __init__(self, buildout, name, options):
        bin_directory = buildout[options["settings"]]["bin"]
        # PostgreSQL's own reading, as its user; published, so bin/cluster check reruns it.
        options["check"] = (f"{{python}} -m surge.buildout.ops.config_checkers postgres-conf {bin_directory} "
                            f"{options['user']} {{file}}")
        super().__init__(buildout, name, options)


class PostgresProvision(Template):
    def __init__(self, buildout, name, options):
        self.buildout, self.name, self.options = buildout, name, options
        self.bin = buildout[options["settings"]]["bin"]
        problems = []
        self.role_lines = self.pairs("roles", problems)
        self.database_lines = self.pairs("databases", problems)
        self.schema_lines = self.schemas(problems)
        fail(problems)
        # The roles' passwords: the rendered script is protected like any file holding secrets.
        options["secrets"] = " ".join(dict.fromkeys(line[1] for line in self.role_lines if len(line) > 1))
        options["check"] = (f"{{python}} -m surge.buildout.ops.config_checkers postgres-sql {self.bin} "
                            f"{options['user']} {{file}}")
        options.setdefault("comment", "--")
        super().__init__(buildout, name, options)

    def derive(self):
        return {
            "roles": [self.role(*line) for line in self.role_lines],
            "databases": [{"name": database, "owner": owner} for database, owner in self.database_lines],
            "schemas": self.schema_lines,
        }

    def role(self, role, secret=None, *kind):
        """A role of [postgres] roles for the template. Without SECRET: ROLE never logs in. ``logins``:
        ROLE owns and never logs in; its members ROLE_a and ROLE_b do, the secret's parity naming the one
        with its password (the other is retired with ``--retire`` once nobody uses it: bin/rotate-secret)."""
        if secret is None:
            return {"name": role, "nologin": True}
        password = self.secrets[secret]
        if not kind:
            return {"name": role, "nologin": False, "login": None, "password": psql_literal(password)}
        return {"name": role, "nologin": False, "login": build_secrets.login_name(role, password),
                "retired": build_secrets.other_login(role, password), "password": psql_literal(password)}

    def pairs(self, key, problems):
        """Lines of two names (roles: one name, or two and ``logins``)."""
        pairs = []
        for line in self.options.get(key, "").splitlines():
            words = line.split()
            if not words:
                continue
            extra = [[], ["logins"]] if key == "roles" else [[]]
            shapes_ok = len(words) >= 2 or (key == "roles" and len(words) == 1)
            if not shapes_ok or not NAME.match(words[0]) or words[2:] not in extra:
                problems.append(f"{where(self.buildout, self.name, key)}: {line.strip()!r} is not "
                                + ("ROLE, ROLE SECRET or ROLE SECRET logins" if key == "roles" else "two names"))
                continue
            pairs.append(tuple(words))
        return pairs

    def schemas(self, problems):
        schemas = []
        directory = self.buildout["buildout"]["directory"]
        for line in self.options.get("schemas", "").splitlines():
            words = line.split()
            if not words:
                continue
            if len(words) != 3 or not (NAME.match(words[0]) and NAME.match(words[1])):
                problems.append(f"{where(self.buildout, self.name, 'schemas')}: {line.strip()!r} is not "
                                "DATABASE OWNER FILE")
                continue
            path = os.path.join(directory, words[2])
            if not os.path.isfile(path):
                problems.append(f"{where(self.buildout, self.name, 'schemas')}: {path} does not exist")
                continue
            with open(path, "rb") as stream:
                digest = hashlib.sha256(stream.read()).hexdigest()
            schemas.append({"database": words[0], "owner": words[1], "path": psql_literal(path),
                            "relative": os.path.relpath(path, directory), "sha256": digest})
        return schemas

    def install(self):
        Template.install(self)
        data_dir = self.options["data-dir"]
        if self.run([f"{self.bin}/pg_ctl", "status", "-D", data_dir]).returncode == 0:
            # A running server rereads postgresql.conf and pg_hba.conf, primary or replica.
            self.run([f"{self.bin}/pg_ctl", "reload", "-D", data_dir])
        if provision.primary_here(self.run, self.bin, self.options["socket-dir"], self.options["port"]):
            try:
                output = provision.apply(self.run, self.bin, self.options["socket-dir"], self.options["port"],
                                         self.output)
            except RuntimeError as error:
                raise ConfigError(f"[{self.name}] {error}") from None
            for line in output.splitlines():
                print(f"surge: {line}")
        else:
            print(f"surge: PostgreSQL here is not the running primary: {os.path.relpath(self.output)} is applied "
                  "when it is (Patroni runs bin/postgres-provision when it creates the cluster, starts or "
                  "promotes this server)")
        return ()

    update = install

    def run(self, argv):
        return subprocess.run(as_user(self.options["user"], argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, stdin=subprocess.DEVNULL)

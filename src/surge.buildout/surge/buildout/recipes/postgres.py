"""Recipes for PostgreSQL on app-master.

surge.buildout:postgres-hba renders pg_hba.conf: option ``access`` has one
line per rule, ``DATABASE ROLE HOSTS-KEY...``, where each HOSTS-KEY is a key
of [hosts]; the addresses are resolved here (PostgreSQL's host names need
reverse DNS, addresses do not), and every rule requires scram-sha-256.

surge.buildout:postgres renders postgresql.conf (``settings =
postgres-settings``; ``listen`` is its [listen] entry) and checks it with
``postgres -C`` as the database's system user ``user``.

surge.buildout:postgres-provision runs after the files went live:

- initialises the cluster in ``data-dir`` the first time (``initdb``);
- creates the roles of ``roles`` (lines ``ROLE SECRET``: the password is the
  secret of that name) and the databases of ``databases`` (lines ``DATABASE
  OWNER``) when they do not exist, and sets each role's password;
- applies the SQL files of ``schemas`` (lines ``DATABASE OWNER FILE``), each
  in one transaction as its owner, so a file that does not apply fails the
  build and changes nothing; the files must be idempotent.

If the server is not running, a private one is started for that (no TCP, the
socket in ``socket-dir``) and stopped again. Its lines are checked when the
part is read, before anything is installed.

They run the PostgreSQL programs as ``user`` (the build runs as root, or as
that user).
"""

import os
import pwd
import re
import subprocess

from surge.buildout import build_secrets
from surge.buildout.errors import ConfigError, fail, where
from surge.buildout.network import addresses_of, host_networks, split_bind
from surge.buildout.rendering import Template
from surge.buildout.schema import EXISTING_DIRECTORY, POSTGRES_SIZE, Integer, Schema, Setting

NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

SETTINGS = Schema("postgres-settings", {
    "bin": Setting(EXISTING_DIRECTORY),
    "shared-buffers": Setting(POSTGRES_SIZE),
    "effective-cache-size": Setting(POSTGRES_SIZE),
    "work-mem": Setting(POSTGRES_SIZE),
    "maintenance-work-mem": Setting(POSTGRES_SIZE),
    # PostgreSQL keeps a few for its superuser; fewer than 10 leaves no room for the site.
    "max-connections": Setting(Integer(10, 10000)),
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
        # PostgreSQL's own check, as its user; published, so bin/cluster check reruns it.
        options["check"] = " ".join(as_user(options["user"], [f"{bin_directory}/postgres", "--config-file={file}",
                                                              "-C", "data_directory"]))
        super().__init__(buildout, name, options)

    def derive(self):
        host, port = split_bind(self.options["listen"])
        return {"listen_address": host, "port": port}


class PostgresProvision:
    def __init__(self, buildout, name, options):
        self.buildout, self.name, self.options = buildout, name, options
        self.user = options["user"]
        self.bin = buildout[options["settings"]]["bin"]
        self.data_dir = options["data-dir"]
        self.socket_dir = options["socket-dir"]
        self.config = options["config"]
        problems = []
        self.role_lines = self.pairs("roles", problems)
        self.database_lines = self.pairs("databases", problems)
        self.schema_lines = self.schemas(problems)
        fail(problems)
        # The passwords are read by name when the roles are made; their digest makes a changed one reinstall.
        self.passwords = build_secrets.values(buildout, [secret for _, secret in self.role_lines], name, "roles")
        options["secrets-digest"] = build_secrets.digest(self.passwords)

    def pairs(self, key, problems):
        pairs = []
        for line in self.options.get(key, "").splitlines():
            words = line.split()
            if not words:
                continue
            if len(words) != 2 or not NAME.match(words[0]):
                problems.append(f"{where(self.buildout, self.name, key)}: {line.strip()!r} is not two names")
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
            schemas.append((words[0], words[1], path))
        return schemas

    def run(self, argv, **kwargs):
        result = subprocess.run(as_user(self.user, argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, **kwargs)
        if result.returncode:
            raise ConfigError(f"[{self.name}] {' '.join(argv[:2])} failed:\n{result.stdout.strip()}")
        return result.stdout

    def install(self):
        self.own(os.path.dirname(self.data_dir), self.socket_dir)
        if not os.path.exists(os.path.join(self.data_dir, "PG_VERSION")):
            print(f"surge: initialising the PostgreSQL cluster in {self.data_dir}", flush=True)
            self.run([f"{self.bin}/initdb", "-D", self.data_dir, "--auth-local=peer",
                      "--auth-host=scram-sha-256", "--encoding=UTF8", "--locale=C.UTF-8"])
        self.ensure_roles_and_databases()
        return ()

    update = install

    def own(self, *paths):
        user = pwd.getpwnam(self.user)
        for path in paths:
            os.makedirs(path, exist_ok=True)
            if os.geteuid() == 0:
                os.chown(path, user.pw_uid, user.pw_gid)
            os.chmod(path, 0o700)

    def running(self):
        status = subprocess.run(as_user(self.user, [f"{self.bin}/pg_ctl", "status", "-D", self.data_dir]),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return status.returncode == 0

    def ensure_roles_and_databases(self):
        script = self.sql()
        if self.running():
            self.psql(script)
            # The running server rereads postgresql.conf and pg_hba.conf.
            self.run([f"{self.bin}/pg_ctl", "reload", "-D", self.data_dir])
            return
        log = os.path.join(os.path.dirname(self.data_dir), "build-server.log")
        private = f"--config-file={self.config} -c listen_addresses='' -c unix_socket_directories='{self.socket_dir}'"
        self.run([f"{self.bin}/pg_ctl", "start", "-D", self.data_dir, "-w", "-t", "120", "-l", log, "-o", private])
        try:
            self.psql(script)
        finally:
            self.run([f"{self.bin}/pg_ctl", "stop", "-D", self.data_dir, "-m", "fast", "-w"])

    def psql(self, script):
        output = self.run([f"{self.bin}/psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", self.socket_dir,
                           "-p", self.options["port"], "-d", "postgres", "-f", "-"], input=script)
        for line in output.splitlines():
            print(f"surge: {line}")
        for database, owner, path in self.schema_lines:
            with open(path) as stream:
                sql = stream.read()
            try:
                self.run([f"{self.bin}/psql", "-X", "-q", "-1", "-v", "ON_ERROR_STOP=1", "-h", self.socket_dir,
                          "-p", self.options["port"], "-d", database, "-c", f"SET ROLE {owner}", "-f", "-"],
                         input=sql)
            except ConfigError as error:
                raise ConfigError(f"{where(self.buildout, self.name, 'schemas')}: {path} does not apply to "
                                  f"database {database}; none of it was applied. {error}") from None
            print(f"surge: {os.path.relpath(path, self.buildout['buildout']['directory'])} applied to {database}")

    def sql(self):
        lines = []
        for role, secret in self.role_lines:
            lines += [
                f"SELECT 'CREATE ROLE {role} LOGIN' WHERE NOT EXISTS "
                f"(SELECT FROM pg_roles WHERE rolname = '{role}')\\gexec",
                f"\\set password {psql_literal(self.passwords[secret])}",
                f"ALTER ROLE {role} LOGIN PASSWORD :'password';",
            ]
        for database, owner in self.database_lines:
            lines.append(
                f"SELECT 'CREATE DATABASE {database} OWNER {owner}' WHERE NOT EXISTS "
                f"(SELECT FROM pg_database WHERE datname = '{database}')\\gexec"
            )
        return "\n".join(lines) + "\n"

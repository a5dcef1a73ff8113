"""Recipe surge.buildout:patroni: etc/patroni.yml, this database server's failover manager.

A surge.buildout:template (``settings = patroni-settings``) whose options
also include:

api-listen, postgres-listen
    This server's [listen] patroni and postgres entries.
etcd
    The voters' etcd endpoints ([roles] etcd).
postgres-settings
    The section with PostgreSQL's ``bin`` directory ([postgres-settings]).
data-dir, socket-dir, custom-conf, hba-file, pgpass, superuser
    Where PostgreSQL keeps its data and socket, the postgresql.conf and
    pg_hba.conf this build renders (Patroni includes the first and points
    PostgreSQL at the second), Patroni's password file, and the superuser
    (the database's system user, over the local socket only).
provision
    The program Patroni runs once it created the cluster, and when
    PostgreSQL starts or changes role (bin/postgres-provision).

Derived for the template: ``name`` (this server's [hosts] key, which must be
one of [topology] database-servers), ``postgres_bin``, ``maximum_lag_bytes``.
Refused: a ttl shorter than Patroni's own rule, loop-wait plus twice
retry-timeout (a leader could lose its lock while it retries etcd).

The check is Patroni's validator (surge.buildout.ops.patroni_check), run by
the Python of Debian's patroni program.
"""

import os

from surge.buildout import roles
from surge.buildout.errors import ConfigError, fail, where
from surge.buildout.ops import patroni_check
from surge.buildout.rendering import Template
from surge.buildout.schema import (
    PATRONI,
    PATRONICTL,
    POSTGRES_SIZE,
    SQL_NAME,
    Boolean,
    Integer,
    Schema,
    Setting,
    Text,
)

SETTINGS = Schema("patroni-settings", {
    "binary": Setting(PATRONI),
    "ctl-binary": Setting(PATRONICTL),
    "scope": Setting(Text(r"[A-Za-z0-9_-]{1,63}", "a word of letters, digits, _ -")),
    "ttl": Setting(Integer(5, 3600, unit="seconds")),
    "loop-wait": Setting(Integer(1, 600, unit="seconds")),
    "retry-timeout": Setting(Integer(1, 600, unit="seconds")),
    "maximum-lag-on-failover": Setting(POSTGRES_SIZE.at_least("1MB", "a replica a few bytes behind a busy "
                                                                       "primary would never be promoted")),
    "synchronous": Setting(Boolean()),
    # Patroni's own minimum.
    "max-connections": Setting(Integer(25, 10000)),
    "replication-role": Setting(SQL_NAME),
    "rewind-role": Setting(SQL_NAME),
    "api-user": Setting(Text(r"[A-Za-z0-9_.-]{1,64}", "a user name")),
})

UNITS = {"kB": 1024, "MB": 1024 ** 2, "GB": 1024 ** 3, "TB": 1024 ** 4}


def size_bytes(value):
    number, unit = value[:-2], value[-2:]
    return int(float(number) * UNITS[unit])


def interpreter(program):
    """The interpreter a script names on its first line (#!/usr/bin/python3)."""
    with open(program, "rb") as stream:
        first = stream.readline().decode(errors="replace").strip()
    if not first.startswith("#!"):
        raise ConfigError(f"{program} is not a script with a #! line")
    return first[2:].split()[0]


class Patroni(Template):
    schema = SETTINGS

    def __init__(self, buildout, name, options):
        binary = buildout[options["settings"]]["binary"]
        if os.path.isfile(binary):
            # Patroni's validator, by the Python Debian's patroni runs on; published so bin/cluster check reruns it.
            options["check"] = f"{interpreter(binary)} -I {patroni_check.__file__} {{file}}"
        super().__init__(buildout, name, options)

    def derive(self):
        problems = []
        me = roles.this_server(self.buildout)
        if me not in roles.keys(self.buildout, "database-servers"):
            problems.append(f"{where(self.buildout, 'topology', 'database-servers')} does not name {me}, this "
                            "server, which runs Patroni (buildout.d/patroni.cfg): name it there, or build this "
                            "server without a database")
        ttl, loop, retry = (int(self.settings[key]) for key in ("ttl", "loop-wait", "retry-timeout"))
        if ttl < loop + 2 * retry:
            section = self.settings_section
            problems.append(f"{where(self.buildout, section, 'ttl')} = {ttl} is shorter than "
                            f"{where(self.buildout, section, 'loop-wait')} ({loop}) plus twice "
                            f"{where(self.buildout, section, 'retry-timeout')} ({retry}) = {loop + 2 * retry}: "
                            "the primary could lose its lock while it retries etcd")
        fail(problems)
        return {"name": me, "postgres_bin": self.buildout[self.options["postgres-settings"]]["bin"],
                "maximum_lag_bytes": size_bytes(self.settings["maximum-lag-on-failover"])}

"""Who runs what and who owns what: identities that would give a server away.

- The Zope instances hold the site's secrets and run its code; PostgreSQL
  owns the data files. In production neither runs as a user another daemon
  of this build runs as ([users]).
- HAProxy's group is never root's (gid 0): after binding, HAProxy keeps it.
- The site's database role and database are never the superuser's, the
  replication roles', the logs' or PostgreSQL's own.
"""

import grp

from surge.buildout.errors import where

# Each runs as a user no other daemon of the build shares.
OWN_USERS = ("zope", "postgres")
# Databases PostgreSQL keeps for itself.
SYSTEM_DATABASES = ("postgres", "template0", "template1")
LOGS = "logs"
# The logs database's roles (buildout.d/sql/logs.sql): its owner, rsyslog's and the readers'.
LOGS_ROLES = (LOGS, "logs_writer", "logs_reader")


def value(buildout, section, key):
    return buildout[section][key].strip()


def shared_users(buildout, used):
    """USED: the [users] keys this build refers to."""
    if buildout["settings"].get("mode") != "production":
        return []
    problems = []
    for own in OWN_USERS:
        if own not in used:
            continue
        user = value(buildout, "users", own)
        problems += [f"{where(buildout, 'users', own)} = {user!r} is also {where(buildout, 'users', other)}: "
                     f"the {own} user must be its own, or that daemon could read what it holds"
                     for other in sorted(used - {own}) if value(buildout, "users", other) == user]
    return problems


def haproxy_group(buildout):
    group = buildout._raw.get("haproxy-settings", {}).get("group")
    if group is None or buildout["settings"].get("mode") != "production":
        return []
    try:
        gid = grp.getgrnam(value(buildout, "haproxy-settings", "group")).gr_gid
    except KeyError:
        return []  # HAProxy's own check names a group that does not exist
    if gid:
        return []
    return [f"{where(buildout, 'haproxy-settings', 'group')} = {value(buildout, 'haproxy-settings', 'group')!r} "
            "is root's group: HAProxy keeps it after binding its ports"]


def database_names(buildout):
    role, database = (value(buildout, "settings", key) for key in ("site-role", "site-database"))
    taken_roles = {value(buildout, "users", "postgres"): "the superuser", **dict.fromkeys(LOGS_ROLES, "the logs'")}
    patroni = buildout._raw.get("patroni-settings", {})
    for key in ("replication-role", "rewind-role"):
        if key in patroni:
            taken_roles[value(buildout, "patroni-settings", key)] = f"Patroni's {key}"
    taken_databases = {**{name: "PostgreSQL's own" for name in SYSTEM_DATABASES}, LOGS: "the logs'"}
    problems = []
    if role in taken_roles:
        problems.append(f"{where(buildout, 'settings', 'site-role')} = {role!r} is {taken_roles[role]} role: "
                        "the site's role must be its own")
    if database in taken_databases:
        problems.append(f"{where(buildout, 'settings', 'site-database')} = {database!r} is "
                        f"{taken_databases[database]} database: the site's must be its own")
    return problems


def problems(buildout, used_users):
    return shared_users(buildout, used_users) + haproxy_group(buildout) + database_names(buildout)

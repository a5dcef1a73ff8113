"""Which server plays which role, and where each role's service answers: one answer from [topology].

[topology] names the servers of each role by their [hosts] keys (web-servers,
app-servers, database-servers, voters, log-server, munin-server). Everything
a server needs to reach another role's service (the database's primary,
memcached, etcd, the log server) is computed here from [topology], [hosts]
and [ports], so a role moves, or a server is added, by editing [topology]
only; the recipes, the cross-server checks and the firewall agree because
they ask this module.
"""

import urllib.parse

from surge.buildout.errors import ConfigError, where
from surge.buildout.network import address_of


def keys(buildout, role):
    """The [hosts] keys [topology] ROLE names."""
    return buildout["topology"][role].split()


def host(buildout, key):
    return buildout["hosts"][key].strip()


def endpoints(buildout, role, port_key):
    """['HOST:PORT'] of every server of ROLE, at [ports] PORT_KEY (their own [hosts] values)."""
    port = buildout["ports"][port_key].strip()
    return [join(host(buildout, key), port) for key in keys(buildout, role)]


def join(host_name, port):
    return f"[{host_name}]:{port}" if ":" in host_name else f"{host_name}:{port}"


def this_server(buildout):
    """The [hosts] key of the server this build is for: the one of [topology] servers whose
    [hosts] value is [hosts] server (the same text, else the same address)."""
    server = host(buildout, "server")
    candidates = [key for key in keys(buildout, "servers") if host(buildout, key) == server]
    if not candidates:
        candidates = [key for key in keys(buildout, "servers") if address_of(host(buildout, key)) == address_of(server)]
    if len(candidates) != 1:
        found = ", ".join(candidates) if candidates else "none"
        raise ConfigError(f"{where(buildout, 'hosts', 'server')} = {server!r} must be the address of exactly one "
                          f"server of {where(buildout, 'topology', 'servers')} "
                          f"({buildout['topology']['servers'].strip()}); it is that of {found}")
    return candidates[0]


def database_conninfo(buildout, settings):
    """libpq's connection parameters that reach whichever database server is the primary now.

    Every database server is listed; libpq tries them in turn and keeps the
    one that accepts writes (target_session_attrs=read-write), so a client
    follows a failover with its next connection. A server that does not
    answer is given up after connect-timeout; an open connection to a server
    that died without closing it (power, network) fails after dead-after
    seconds instead of TCP's quarter of an hour: tcp_user_timeout for data
    sent, keepalives for an idle connection (half of it idle, then three
    probes).
    """
    values = buildout[settings]
    servers = keys(buildout, "database-servers")
    port = buildout["ports"]["postgres"].strip()
    dead_after = int(values["dead-after"])
    idle, interval = max(1, dead_after // 2), max(1, dead_after // 6)
    return " ".join([
        f"host={','.join(host(buildout, key) for key in servers)}",
        f"port={','.join(port for _ in servers)}",
        "target_session_attrs=read-write",
        f"connect_timeout={values['connect-timeout']}",
        f"tcp_user_timeout={dead_after * 1000}",
        f"keepalives=1 keepalives_idle={idle} keepalives_interval={interval} keepalives_count=3",
    ])


def conninfo_uri(conninfo, database, user, password):
    """The same connection as a libpq URI (postgresql://...), for clients that take no spaces (rsyslog)."""
    parameters = dict(word.split("=", 1) for word in conninfo.split())
    hosts, ports = parameters.pop("host").split(","), parameters.pop("port").split(",")
    netloc = ",".join(join(host_name, port) for host_name, port in zip(hosts, ports))
    credentials = f"{urllib.parse.quote(user, safe='')}:{urllib.parse.quote(password, safe='')}"
    return (f"postgresql://{credentials}@{netloc}/{urllib.parse.quote(database, safe='')}?"
            + urllib.parse.urlencode(parameters))


def patroni_urls(buildout, path):
    """Every database server's Patroni REST API URL of PATH (/primary answers 200 on the primary only)."""
    return [f"http://{endpoint}{path}" for endpoint in endpoints(buildout, "database-servers", "patroni")]


def single(buildout, role):
    """The [hosts] key of a role held by one server (log-server, munin-server)."""
    named = keys(buildout, role)
    if len(named) != 1:
        raise ConfigError(f"{where(buildout, 'topology', role)} = {buildout['topology'][role].strip()!r} must name "
                          "exactly one server")
    return named[0]

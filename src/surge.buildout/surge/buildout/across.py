"""What one production build says about the other servers, checked against their own files, from every
side.

Every app server's HAProxy describes every app server's instances, each app
server's Plone purges every web server's Varnish, each web server's Varnish
admits PURGE from the app servers and sends misses to every app server's
HAProxy, the instances spread their cache over every app server's memcached,
the app servers serve one site (site, database, history mode, session store),
a web server's virtual host names the app servers' site, every server's
rsyslog forwards to a log server that receives there (checked by the log
server and by each sender), the database servers run one Patroni cluster and
the voters one etcd: a value set on one server must match what the other
server's own top-level file builds: prod-KEY.cfg for the [hosts] key KEY, or
the file [topology] server-files names for it (KEY=FILE, relative to this
build's directory; a KEY that is no server is refused). Each is loaded with
zc.buildout itself, so extends, ``+=`` and substitutions are what that
server's build sees; what the checks read of it is remembered between builds
while its files are unchanged (MEMORY, a surge.buildout.remembered.Memory).

Every mismatch names both files.
"""

import logging
import os
import urllib.parse

import zc.buildout.buildout

from surge.buildout import roles
from surge.buildout.errors import ConfigError, where
from surge.buildout.network import address_of, split_bind


def known_servers(buildout):
    """Every [hosts] key the topology gives a role."""
    return {key for role in ("servers", "app-servers", "database-servers", "voters")
            for key in buildout["topology"][role].split()}


def server_files(buildout):
    """{[hosts] key: absolute path}: prod-KEY.cfg, unless [topology] server-files names another file."""
    directory = buildout["buildout"]["directory"]
    files = {key: os.path.join(directory, f"prod-{key}.cfg") for key in known_servers(buildout)}
    pairs = (word.partition("=") for word in buildout["topology"].get("server-files", "").split())
    files.update({key: os.path.join(directory, path) for key, _, path in pairs})
    return files


def unknown_server_files(buildout):
    """[topology] server-files entries whose KEY is no server of the topology: a typo that leaves the real
    server checked against prod-KEY.cfg, or against nothing."""
    known = known_servers(buildout)
    entries = buildout["topology"].get("server-files", "").split()
    return [f"{where(buildout, 'topology', 'server-files')} names {key!r}, which is no server of [topology] "
            f"(servers: {', '.join(sorted(known))})"
            for key in (entry.partition("=")[0] for entry in entries) if key not in known]


def load(path, options=()):
    """The merged configuration of another top-level file (with OPTIONS, (section, key, value) as the command
    line gives them), without touching this build's logging."""
    root, buildout_logger = logging.getLogger(), logging.getLogger("zc.buildout")
    saved = (list(root.handlers), root.level, list(buildout_logger.handlers), buildout_logger.propagate)
    try:
        return zc.buildout.buildout.Buildout(path, list(options))
    finally:
        root.handlers[:], buildout_logger.handlers[:] = saved[0], saved[2]
        root.setLevel(saved[1])
        buildout_logger.propagate = saved[3]


def problems(buildout, memory):
    """Every disagreement with the other servers' files, read through MEMORY."""
    if buildout["settings"].get("mode") != "production":
        return []
    files = server_files(buildout)
    parts = buildout["buildout"]["parts"].split()
    found, loaded = unknown_server_files(buildout), {}
    me = this_server(buildout)

    def other(key):
        path = files[key]
        if key == me:
            # What this build says of itself is this build: loading its file again only costs time.
            return buildout, os.path.relpath(path, buildout["buildout"]["directory"])
        if path not in loaded:
            if not os.path.isfile(path):
                found.append(f"{path}, the top-level file of the server {key}, does not exist: name it in "
                             f"{where(buildout, 'topology', 'server-files')} (KEY=FILE)")
                loaded[path] = None
            else:
                loaded[path] = memory.config(path, load)
        return loaded[path], os.path.relpath(path, buildout["buildout"]["directory"])

    if "haproxy-config" in parts:
        found.extend(haproxy_instances(buildout, other))
    if "instance" in parts and buildout._raw.get("instance-settings", {}).get("caching-proxies") is not None:
        found.extend(caching_proxies(buildout, other))
    if "varnish-config" in parts:
        found.extend(purgers(buildout, other))
    if "rsyslog" in buildout._raw.get("listen", {}):
        found.extend(log_sources(buildout, other))
    if "varnish-config" in parts:
        found.extend(runs_everywhere(buildout, other, "app-servers", "haproxy", "Varnish sends misses to its HAProxy"))
    if "instance" in parts:
        found.extend(runs_everywhere(buildout, other, "app-servers", "memcached",
                                     "the instances keep part of their cache in its memcached"))
    if "instance" in parts:
        found.extend(same_values(buildout, other, "app-servers", APP_AGREEMENT,
                                 "the app servers serve one site from one database and one session store"))
    if "nginx-config" in parts:
        found.extend(same_values(buildout, other, "app-servers", SITE_AGREEMENT,
                                 "nginx's virtual host names the site the app servers' instances hold"))
    if "rsyslog-config" in parts and "rsyslog" not in buildout._raw.get("listen", {}):
        found.extend(runs_everywhere(buildout, other, "log-server", "rsyslog", "this server's rsyslog forwards there"))
    if "patroni-config" in parts:
        found.extend(runs_everywhere(buildout, other, "database-servers", "patroni", "Patroni expects a member there"))
        found.extend(same_values(buildout, other, "database-servers", DATABASE_AGREEMENT,
                                 "the database servers form one Patroni cluster"))
    if "etcd-peer" in buildout._raw.get("listen", {}):
        found.extend(runs_everywhere(buildout, other, "voters", "etcd-peer", "etcd lists it as a member"))
        found.extend(same_values(buildout, other, "voters", VOTER_AGREEMENT, "the voters form one etcd cluster"))
    return found


# What every database server must say alike: one Patroni cluster, one set of
# roles, databases and schemas (whichever is primary applies its own).
DATABASE_AGREEMENT = (
    *(("patroni-settings", key) for key in (
        "scope", "ttl", "loop-wait", "retry-timeout", "maximum-lag-on-failover", "synchronous", "max-connections",
        "replication-role", "rewind-role", "api-user")),
    ("postgres", "roles"), ("postgres", "databases"), ("postgres", "schemas"),
    ("ports", "postgres"), ("ports", "patroni"), ("ports", "etcd-client"),
    ("topology", "database-servers"), ("topology", "voters"),
)
# What every app server must say alike: one site in one database, one session store (a member's cookie
# read on either), one history mode (RelStorage refuses the other's tables).
APP_AGREEMENT = (
    ("settings", "site-id"), ("settings", "site-database"), ("settings", "site-role"),
    ("relstorage-settings", "keep-history"), ("relstorage-settings", "cache-prefix"),
    ("beaker-settings", "type"), ("beaker-settings", "timeout"), ("beaker-settings", "secure"),
    ("topology", "app-servers"),
)
# What a web server must say as the app servers do: its virtual host's path.
SITE_AGREEMENT = (("settings", "site-id"),)
# What every voter must say alike: one etcd cluster.
VOTER_AGREEMENT = (("etcd-settings", "cluster-token"), ("ports", "etcd-client"), ("ports", "etcd-peer"),
                   ("topology", "voters"))


def this_server(buildout):
    """This build's [hosts] key, or None when [hosts] server names no single server (refused elsewhere)."""
    try:
        return roles.this_server(buildout)
    except ConfigError:
        return None


def others(buildout, role):
    """The servers of ROLE but this one: what this build says, it says of itself."""
    me = roles.this_server(buildout)
    return [key for key in buildout["topology"][role].split() if key != me]


def words(value):
    return " ".join(value.split())


def each_other(buildout, other, role):
    """(key, configuration, file name) of every other server of ROLE whose file exists."""
    for key in others(buildout, role):
        config, name = other(key)
        if config is not None:
            yield key, config, name


def same_values(buildout, other, role, keys, why):
    """Each other server of ROLE builds the same value for every (section, key) of KEYS as this build."""
    found = []
    for key, config, name in each_other(buildout, other, role):
        for section, option in keys:
            mine, theirs = words(buildout[section].get(option, "")), words(config[section].get(option, ""))
            if mine != theirs:
                found.append(f"{where(buildout, section, option)} = {mine!r} here, but {name} ({role} {key}) "
                             f"builds {section} {option} = {theirs!r}: {why}")
    return found


def runs_everywhere(buildout, other, role, listen_key, why):
    """Each other server of ROLE binds [listen] LISTEN_KEY on its own address, at this build's [ports] LISTEN_KEY."""
    found = []
    for key, config, name in each_other(buildout, other, role):
        listen = config._raw.get("listen", {})
        if listen_key not in listen:
            found.append(f"{where(buildout, 'topology', role)} names {key}, but {name} runs no {listen_key}: {why}")
            continue
        host, port = split_bind(config["listen"][listen_key])
        expected = buildout["ports"][listen_key].strip()
        if (address_of(host), port) != (address_of(buildout["hosts"][key]), expected):
            found.append(f"{where(buildout, 'topology', role)} names {key} ([hosts] {key} = "
                         f"{buildout['hosts'][key]!r}, [ports] {listen_key} = {expected}), but {name} binds "
                         f"{listen_key} on {config['listen'][listen_key]!r}: {why}")
    return found


def haproxy_instances(buildout, other):
    """Each app server runs the instances HAProxy sends requests to: count, threads, pools, ports, address."""
    section = buildout["haproxy-config"]["instances"]
    mine = {("instance-settings", "count"): buildout[section]["count"],
            ("instance-settings", "threads"): buildout[section]["threads"],
            # Each app server gives its instances their pool's priority: the pools must be HAProxy's.
            ("instance-settings", "author-instances"): buildout[section]["author-instances"],
            ("instance-settings", "member-instances"): buildout[section]["member-instances"],
            ("ports", "instance-base"): buildout["ports"]["instance-base"]}
    found = []
    for key in buildout["topology"]["app-servers"].split():
        config, name = other(key)
        if config is None:
            continue
        for (theirs_section, theirs_key), value in mine.items():
            theirs = config[theirs_section][theirs_key]
            if theirs.strip() != value.strip():
                found.append(f"{where(buildout, theirs_section, theirs_key)} = {value!r} here, but {name} "
                             f"(app server {key}) builds {theirs_section} {theirs_key} = {theirs!r}: HAProxy "
                             "would describe instances (or pools) that server does not run")
        if address_of(config["hosts"]["server"]) != address_of(buildout["hosts"][key]):
            found.append(f"{where(buildout, 'hosts', key)} = {buildout['hosts'][key]!r} here, but {name} binds "
                         f"its instances on {config['hosts']['server']!r}")
    return found


def caching_proxies(buildout, other):
    """Plone purges every web server's Varnish, where that web server binds it."""
    listed = set()
    for url in buildout["instance-settings"]["caching-proxies"].split():
        parts = urllib.parse.urlsplit(url)
        listed.add((address_of(parts.hostname or ""), str(parts.port or 80)))
    found = []
    for key in buildout["topology"]["web-servers"].split():
        config, name = other(key)
        if config is None:
            continue
        host, port = split_bind(config["listen"]["varnish"])
        if (address_of(host), port) not in listed:
            found.append(f"{where(buildout, 'instance-settings', 'caching-proxies')} does not list {host}:{port}, "
                         f"where {name} (web server {key}) binds Varnish: its cache would never be purged")
    return found


def purgers(buildout, other):
    """Each web server's Varnish admits PURGE from every app server's address."""
    admitted = {address_of(buildout["hosts"][key]) for key in buildout["topology"]["app-sources"].split()}
    found = []
    for key in buildout["topology"]["app-servers"].split():
        config, name = other(key)
        if config is None:
            continue
        address = address_of(config["hosts"]["server"])
        if address not in admitted:
            found.append(f"{where(buildout, 'topology', 'app-sources')} does not admit {address}, the address of "
                         f"{name} (app server {key}): Varnish would refuse its purges")
    return found


def log_sources(buildout, other):
    """Every server's rsyslog forwards to where this log server receives."""
    host, port = split_bind(buildout["listen"]["rsyslog"])
    found = []
    for key in buildout["topology"]["servers"].split():
        config, name = other(key)
        if config is None:
            continue
        # Where that server's rsyslog sends: its [roles] log-server, asked of the roles it builds.
        target_host = roles.host(config, roles.single(config, "log-server"))
        target_port = config["ports"]["rsyslog"].strip()
        if (address_of(target_host), target_port) != (address_of(host), port):
            found.append(f"{where(buildout, 'listen', 'rsyslog')} = {buildout['listen']['rsyslog']!r} here, but "
                         f"{name} (server {key}) forwards its logs to {target_host}:{target_port}: they would "
                         "never arrive")
    return found
